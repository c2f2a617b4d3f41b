//! SQLite implementation of [`FleetTx`]: one `BEGIN IMMEDIATE` transaction over the device
//! tables, so that the read-decide-write of a command transition (and its event) is atomic
//! and never fails on a stale read snapshot.
//!
//! Command, client, event and member writes go through the transaction's [`FleetCache`] and
//! reach SQLite as multi-row statements before any query that reads them and at commit;
//! point reads of rows the transaction already knows (or prefetched) cost no statement.
//!
//! On a database file the transactions run one after the other on one writer connection
//! ([`super::writer`]) and start out knowing the rows the earlier ones left.

use std::sync::LazyLock;

use sqlx::{AssertSqlSafe, Sqlite, SqliteConnection, Transaction};
use uuid::Uuid;

use super::fleet_cache::{FleetCache, lockout_piece};
use super::rows::{
    self, CLIENT_COLUMNS, COMMAND_COLUMNS, ClientRow, CommandRow, ROLLOUT_COLUMNS, RolloutRow,
};
use super::shapes::{Shapes, Statement};
use super::writer::{RememberedRows, WriterTx};
use crate::store::StoreError;
use crate::store::audit::AuditRow;
use crate::store::clients::ClientRecord;
use crate::store::commands::{CommandEvent, CommandRecord, CommandState, EventSource, FleetTx};
use crate::store::rollouts::{RolloutMember, RolloutRecord};

/// Which commands count towards the lockout (see `lockout_entries`).
pub(super) const LOCKOUT_COUNTED: &str = "state <> 'rejected' \
    AND NOT (state IN ('canceled', 'expired') AND published_ms IS NULL)";

static SENT_COMMANDS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COMMAND_COLUMNS} FROM commands WHERE client_uuid = ? \
         AND state IN ('published', 'accepted', 'execution_started') ORDER BY issued_ms"
    )
});

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
    conn: TxConn,
    cache: FleetCache,
}

/// Where the transaction runs: the writer connection, or (in-memory database) the pool's.
enum TxConn {
    Pool(Transaction<'static, Sqlite>),
    Writer(WriterTx),
}

impl TxConn {
    fn get(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        match self {
            TxConn::Pool(tx) => Ok(tx),
            TxConn::Writer(session) => session.conn(),
        }
    }

    fn remembered(&mut self) -> Option<&mut RememberedRows> {
        match self {
            TxConn::Pool(_) => None,
            TxConn::Writer(session) => Some(&mut session.rows),
        }
    }
}

impl SqliteFleetTx {
    pub(super) fn new(tx: Transaction<'static, Sqlite>) -> Self {
        Self { conn: TxConn::Pool(tx), cache: FleetCache::default() }
    }

    /// A transaction on the writer connection, begun by [`WriterTx::begin`].
    pub(super) fn on_writer(writer: WriterTx) -> Self {
        Self { conn: TxConn::Writer(writer), cache: FleetCache::default() }
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        self.cache.flush(self.conn.get()?).await
    }

    /// Move the remembered rows of `commands` and `clients` the transaction does not know
    /// into it. The commit gives them back (see `RememberedRows::absorb`); a transaction that
    /// does not commit makes the session forget every row anyway.
    fn recall(&mut self, commands: &[Uuid], clients: &[Uuid]) {
        let Some(rows) = self.conn.remembered() else { return };
        for id in commands {
            if !self.cache.commands.contains_key(id)
                && let Some(command) = rows.commands.remove(id)
            {
                self.cache.commands.insert(*id, Some(command));
            }
        }
        for id in clients {
            if !self.cache.clients.contains_key(id)
                && let Some(client) = rows.clients.remove(id)
            {
                self.cache.clients.insert(*id, Some(client));
            }
        }
    }
}

#[async_trait::async_trait]
impl FleetTx for SqliteFleetTx {
    async fn prefetch(&mut self, commands: &[Uuid], clients: &[Uuid]) -> Result<(), StoreError> {
        self.recall(commands, clients);
        self.cache.load_commands(self.conn.get()?, commands).await?;
        self.cache.load_clients(self.conn.get()?, clients).await
    }

    async fn prefetch_lockout(
        &mut self,
        clients: &[Uuid],
        since_ms: i64,
    ) -> Result<(), StoreError> {
        if self.cache.commands_dirty() {
            self.flush().await?;
        }
        self.cache.load_lockout(self.conn.get()?, clients, since_ms).await
    }

    async fn command(&mut self, id: Uuid) -> Result<Option<CommandRecord>, StoreError> {
        const OP: &str = "tx.command";
        self.recall(&[id], &[]);
        if let Some(known) = self.cache.commands.get(&id) {
            return Ok(known.clone());
        }
        let row: Option<CommandRow> = sqlx::query_as(AssertSqlSafe(SELECT_COMMAND.as_str()))
            .bind(id.to_string())
            .fetch_optional(self.conn.get()?)
            .await
            .map_err(StoreError::query(OP))?;
        let record = row.map(|r| r.into_record(OP)).transpose()?;
        self.cache.commands.insert(id, record.clone());
        Ok(record)
    }

    async fn insert_command(&mut self, command: &CommandRecord) -> Result<(), StoreError> {
        self.cache.insert_command(command);
        Ok(())
    }

    async fn update_command(&mut self, command: &CommandRecord) -> Result<(), StoreError> {
        self.cache.update_command(command);
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
        let id = match self.cache.next_event_id {
            Some(id) => id,
            None => sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM command_events")
                .fetch_one(self.conn.get()?)
                .await
                .map_err(StoreError::query("tx.insert_event"))?,
        };
        self.cache.next_event_id = Some(id + 1);
        let event = CommandEvent {
            id,
            command_id,
            at_ms,
            from_state,
            to_state,
            source,
            detail: detail.to_owned(),
        };
        self.cache.events.push(event.clone());
        Ok(event)
    }

    async fn lockout_entries(
        &mut self,
        client: Uuid,
        since_ms: i64,
    ) -> Result<Vec<i64>, StoreError> {
        if let Some((since, entries)) = self.cache.lockout.get(&client)
            && *since == since_ms
        {
            return Ok(entries.clone());
        }
        self.flush().await?;
        let found =
            lockout_piece(self.conn.get()?, &[client], since_ms, "tx.lockout_entries").await?;
        Ok(found.into_iter().map(|(_, issued_ms)| issued_ms).collect())
    }

    async fn sent_commands_for(&mut self, client: Uuid) -> Result<Vec<CommandRecord>, StoreError> {
        const OP: &str = "tx.sent_commands_for";
        self.flush().await?;
        let rows: Vec<CommandRow> = sqlx::query_as(AssertSqlSafe(SENT_COMMANDS.as_str()))
            .bind(client.to_string())
            .fetch_all(self.conn.get()?)
            .await
            .map_err(StoreError::query(OP))?;
        let records: Vec<CommandRecord> =
            rows.into_iter().map(|r| r.into_record(OP)).collect::<Result<_, _>>()?;
        // Flushed above, so these are the transaction's rows: later updates know their state.
        for record in &records {
            self.cache.commands.insert(record.command_id, Some(record.clone()));
        }
        Ok(records)
    }

    async fn client(&mut self, uuid: Uuid) -> Result<Option<ClientRecord>, StoreError> {
        const OP: &str = "tx.client";
        self.recall(&[], &[uuid]);
        if let Some(known) = self.cache.clients.get(&uuid) {
            return Ok(known.clone());
        }
        let row: Option<ClientRow> = sqlx::query_as(AssertSqlSafe(SELECT_CLIENT.as_str()))
            .bind(uuid.to_string())
            .fetch_optional(self.conn.get()?)
            .await
            .map_err(StoreError::query(OP))?;
        let record = row.map(|r| r.into_record(OP)).transpose()?;
        self.cache.clients.insert(uuid, record.clone());
        Ok(record)
    }

    async fn put_client(&mut self, client: &ClientRecord) -> Result<(), StoreError> {
        self.cache.put_client(client);
        Ok(())
    }

    async fn rollout(&mut self, id: Uuid) -> Result<Option<RolloutRecord>, StoreError> {
        const OP: &str = "tx.rollout";
        let row: Option<RolloutRow> = sqlx::query_as(AssertSqlSafe(SELECT_ROLLOUT.as_str()))
            .bind(id.to_string())
            .fetch_optional(self.conn.get()?)
            .await
            .map_err(StoreError::query(OP))?;
        row.map(|r| r.into_record(OP)).transpose()
    }

    async fn put_rollout(&mut self, rollout: &RolloutRecord) -> Result<(), StoreError> {
        const OP: &str = "tx.put_rollout";
        let query = sqlx::query(AssertSqlSafe(UPSERT_ROLLOUT.as_str()));
        rows::bind_rollout(query, rollout, OP)?
            .execute(self.conn.get()?)
            .await
            .map_err(StoreError::query(OP))?;
        Ok(())
    }

    async fn insert_members(
        &mut self,
        rollout_id: Uuid,
        members: &[RolloutMember],
    ) -> Result<(), StoreError> {
        static INSERT: Shapes = Shapes::new(|rows| {
            rows::insert_rows_sql("rollout_members", "rollout_id, client_uuid, wave", None, rows)
        });
        let bind = |q: Statement, member: &RolloutMember| {
            q.bind(rollout_id.to_string()).bind(member.client_uuid.to_string()).bind(member.wave)
        };
        INSERT.execute(self.conn.get()?, members, bind, "tx.insert_members").await?;
        self.cache.progress.members_added(rollout_id, members.len());
        Ok(())
    }

    async fn set_member_command(
        &mut self,
        rollout_id: Uuid,
        client: Uuid,
        command_id: Uuid,
    ) -> Result<(), StoreError> {
        self.cache.set_member_command(rollout_id, client, command_id);
        Ok(())
    }

    async fn insert_audit(&mut self, row: &AuditRow) -> Result<(), StoreError> {
        super::audit::insert(self.conn.get()?, row).await.map(drop)
    }

    #[tracing::instrument(name = "store.tx.commit", skip_all)]
    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.flush().await?;
        match self.conn {
            TxConn::Pool(tx) => tx.commit().await.map_err(StoreError::query("tx.commit")),
            TxConn::Writer(mut session) => {
                session.commit().await?;
                let cache = std::mem::take(&mut self.cache);
                session.rows.absorb(cache.commands, cache.clients);
                Ok(())
            }
        }
    }
}
