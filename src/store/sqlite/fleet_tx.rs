//! SQLite implementation of [`FleetTx`]: one `BEGIN IMMEDIATE` transaction over the device
//! tables, so that the read-decide-write of a command transition (and its event) is atomic
//! and never fails on a stale read snapshot.

use std::sync::LazyLock;

use sqlx::{AssertSqlSafe, Sqlite, Transaction};
use uuid::Uuid;

use super::rows::{
    self, CLIENT_COLUMNS, COMMAND_COLUMNS, ClientRow, CommandRow, ROLLOUT_COLUMNS, RolloutRow,
};
use crate::store::StoreError;
use crate::store::clients::ClientRecord;
use crate::store::commands::{CommandEvent, CommandRecord, CommandState, EventSource, FleetTx};
use crate::store::rollouts::{RolloutMember, RolloutRecord};

/// Issue times of the commands that count towards the lockout (see `lockout_entries`).
pub(super) const LOCKOUT_ENTRIES: &str = "SELECT issued_ms FROM commands \
    WHERE client_uuid = ? AND issued_ms >= ? AND state <> 'rejected' \
    AND NOT (state IN ('canceled', 'expired') AND published_ms IS NULL) ORDER BY issued_ms";

static SENT_COMMANDS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COMMAND_COLUMNS} FROM commands WHERE client_uuid = ? \
         AND state IN ('published', 'accepted', 'execution_started') ORDER BY issued_ms"
    )
});

static INSERT_COMMAND: LazyLock<String> =
    LazyLock::new(|| rows::insert_sql("commands", COMMAND_COLUMNS, None));
static UPSERT_COMMAND: LazyLock<String> =
    LazyLock::new(|| rows::insert_sql("commands", COMMAND_COLUMNS, Some("command_id")));
static UPSERT_CLIENT: LazyLock<String> =
    LazyLock::new(|| rows::insert_sql("clients", CLIENT_COLUMNS, Some("client_uuid")));
static UPSERT_ROLLOUT: LazyLock<String> =
    LazyLock::new(|| rows::insert_sql("rollouts", ROLLOUT_COLUMNS, Some("rollout_id")));
static SELECT_COMMAND: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE command_id = ?"));
static SELECT_CLIENT: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_uuid = ?"));
static SELECT_ROLLOUT: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE rollout_id = ?"));

/// An open write transaction.
pub(super) struct SqliteFleetTx {
    pub(super) tx: Transaction<'static, Sqlite>,
}

#[async_trait::async_trait]
impl FleetTx for SqliteFleetTx {
    async fn command(&mut self, id: Uuid) -> Result<Option<CommandRecord>, StoreError> {
        const OP: &str = "tx.command";
        let row: Option<CommandRow> = sqlx::query_as(AssertSqlSafe(SELECT_COMMAND.as_str()))
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(StoreError::query(OP))?;
        row.map(|r| r.into_record(OP)).transpose()
    }

    async fn insert_command(&mut self, command: &CommandRecord) -> Result<(), StoreError> {
        let query = sqlx::query(AssertSqlSafe(INSERT_COMMAND.as_str()));
        rows::bind_command(query, command)
            .execute(&mut *self.tx)
            .await
            .map_err(StoreError::query("tx.insert_command"))?;
        Ok(())
    }

    async fn update_command(&mut self, command: &CommandRecord) -> Result<(), StoreError> {
        let query = sqlx::query(AssertSqlSafe(UPSERT_COMMAND.as_str()));
        rows::bind_command(query, command)
            .execute(&mut *self.tx)
            .await
            .map_err(StoreError::query("tx.update_command"))?;
        Ok(())
    }

    async fn insert_event(
        &mut self,
        command_id: Uuid,
        at_ms: i64,
        from_state: Option<CommandState>,
        to_state: CommandState,
        source: EventSource,
        detail: &str,
    ) -> Result<CommandEvent, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO command_events (id, command_id, at_ms, from_state, to_state, source, detail) \
             SELECT COALESCE(MAX(id), 0) + 1, ?, ?, ?, ?, ?, ? FROM command_events RETURNING id",
        )
        .bind(command_id.to_string())
        .bind(at_ms)
        .bind(from_state.map(CommandState::as_str))
        .bind(to_state.as_str())
        .bind(source.as_str())
        .bind(detail)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(StoreError::query("tx.insert_event"))?;
        Ok(CommandEvent {
            id,
            command_id,
            at_ms,
            from_state,
            to_state,
            source,
            detail: detail.to_owned(),
        })
    }

    async fn lockout_entries(
        &mut self,
        client: Uuid,
        since_ms: i64,
    ) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar(LOCKOUT_ENTRIES)
            .bind(client.to_string())
            .bind(since_ms)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(StoreError::query("tx.lockout_entries"))
    }

    async fn sent_commands_for(&mut self, client: Uuid) -> Result<Vec<CommandRecord>, StoreError> {
        const OP: &str = "tx.sent_commands_for";
        let rows: Vec<CommandRow> = sqlx::query_as(AssertSqlSafe(SENT_COMMANDS.as_str()))
            .bind(client.to_string())
            .fetch_all(&mut *self.tx)
            .await
            .map_err(StoreError::query(OP))?;
        rows.into_iter().map(|r| r.into_record(OP)).collect()
    }

    async fn client(&mut self, uuid: Uuid) -> Result<Option<ClientRecord>, StoreError> {
        const OP: &str = "tx.client";
        let row: Option<ClientRow> = sqlx::query_as(AssertSqlSafe(SELECT_CLIENT.as_str()))
            .bind(uuid.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(StoreError::query(OP))?;
        row.map(|r| r.into_record(OP)).transpose()
    }

    async fn put_client(&mut self, client: &ClientRecord) -> Result<(), StoreError> {
        let query = sqlx::query(AssertSqlSafe(UPSERT_CLIENT.as_str()));
        rows::bind_client(query, client)
            .execute(&mut *self.tx)
            .await
            .map_err(StoreError::query("tx.put_client"))?;
        Ok(())
    }

    async fn rollout(&mut self, id: Uuid) -> Result<Option<RolloutRecord>, StoreError> {
        const OP: &str = "tx.rollout";
        let row: Option<RolloutRow> = sqlx::query_as(AssertSqlSafe(SELECT_ROLLOUT.as_str()))
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(StoreError::query(OP))?;
        row.map(|r| r.into_record(OP)).transpose()
    }

    async fn put_rollout(&mut self, rollout: &RolloutRecord) -> Result<(), StoreError> {
        const OP: &str = "tx.put_rollout";
        let query = sqlx::query(AssertSqlSafe(UPSERT_ROLLOUT.as_str()));
        rows::bind_rollout(query, rollout, OP)?
            .execute(&mut *self.tx)
            .await
            .map_err(StoreError::query(OP))?;
        Ok(())
    }

    async fn insert_members(
        &mut self,
        rollout_id: Uuid,
        members: &[RolloutMember],
    ) -> Result<(), StoreError> {
        // SQLite allows 32766 bound parameters per statement; three per row.
        for chunk in members.chunks(5000) {
            let mut builder = sqlx::QueryBuilder::<Sqlite>::new(
                "INSERT INTO rollout_members (rollout_id, client_uuid, wave) ",
            );
            builder.push_values(chunk, |mut row, member| {
                row.push_bind(rollout_id.to_string())
                    .push_bind(member.client_uuid.to_string())
                    .push_bind(member.wave);
            });
            builder
                .build()
                .execute(&mut *self.tx)
                .await
                .map_err(StoreError::query("tx.insert_members"))?;
        }
        Ok(())
    }

    async fn set_member_command(
        &mut self,
        rollout_id: Uuid,
        client: Uuid,
        command_id: Uuid,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE rollout_members SET command_id = ? WHERE rollout_id = ? AND client_uuid = ?",
        )
        .bind(command_id.to_string())
        .bind(rollout_id.to_string())
        .bind(client.to_string())
        .execute(&mut *self.tx)
        .await
        .map_err(StoreError::query("tx.set_member_command"))?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(StoreError::query("tx.commit"))
    }
}
