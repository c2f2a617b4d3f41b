//! SQLite implementation of [`FleetTx`]: one `BEGIN IMMEDIATE` transaction over the device
//! tables, so that the read-decide-write of a command transition (and its event) is atomic
//! and never fails on a stale read snapshot.
//!
//! Command, client, event and member writes go through the transaction's [`FleetCache`] and
//! reach SQLite as multi-row statements before any query that reads them and at commit;
//! point reads of rows the transaction already knows (or prefetched) cost no statement.
//!
//! The transactions run one after the other on the writer connection ([`super::writer`]),
//! synchronously, and start out knowing the rows the earlier ones left.

use std::sync::LazyLock;

use rusqlite::Connection;
use uuid::Uuid;

use super::fleet_cache::{FleetCache, lockout_piece};
use super::rows::{
    self, CLIENT_COLUMNS, COMMAND_COLUMNS, ClientRow, CommandRow, ROLLOUT_COLUMNS, RolloutRow,
};
use super::shapes::{Binder, Shapes, execute_one, id_list, pieces, select_by_id};
use super::writer::{WriterTx, blocking};
use crate::model::clients::ClientRecord;
use crate::model::commands::{CommandEvent, CommandRecord, CommandState, EventSource};
use crate::model::rollouts::{RolloutMember, RolloutRecord};
use crate::store::StoreError;
use crate::store::audit::AuditRow;
use crate::store::commands::FleetTx;

/// Which commands count towards the lockout (see `lockout_entries`).
pub(in crate::store) const LOCKOUT_COUNTED: &str = "state <> 'rejected' \
    AND NOT (state IN ('canceled', 'expired') AND published_ms IS NULL)";

static SENT_COMMANDS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COMMAND_COLUMNS} FROM commands WHERE client_uuid = ? \
         AND state IN ('published', 'accepted', 'execution_started') ORDER BY issued_ms"
    )
});

static UPSERT_ROLLOUT: LazyLock<String> =
    LazyLock::new(|| rows::insert_sql("rollouts", ROLLOUT_COLUMNS, Some("rollout_id")));
static UNACCEPTED_COMMANDS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COMMAND_COLUMNS} FROM commands WHERE rollout_id = ? \
         AND state IN ('queued', 'published') ORDER BY issued_ms"
    )
});
static OTHER_ACTIVE_ROLLOUTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE rollout_id <> ? \
         AND state IN ('pending', 'canary', 'running') ORDER BY created_ms"
    )
});
static SELECT_COMMAND: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE command_id = ?"));
static SELECT_CLIENT: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_uuid = ?"));
static SELECT_ROLLOUT: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE rollout_id = ?"));

/// An open write transaction.
pub(super) struct SqliteFleetTx {
    writer: WriterTx,
    cache: FleetCache,
}

/// The one row `sql` selects by `id`, if any.
fn one_by_id<R>(
    conn: &Connection,
    sql: &str,
    id: Uuid,
    read: fn(&rusqlite::Row<'_>) -> rusqlite::Result<R>,
    op: &'static str,
) -> Result<Option<R>, StoreError> {
    Ok(select_by_id(conn, sql, id, read, op)?.into_iter().next())
}

impl SqliteFleetTx {
    /// A transaction on the writer connection, begun by [`WriterTx::begin`].
    pub(super) fn new(writer: WriterTx) -> Self {
        Self { writer, cache: FleetCache::default() }
    }

    /// The commands `sql` selects by `id`, as the transaction sees them; remembered, so that
    /// later updates know their state.
    fn commands_by(
        &mut self,
        sql: &str,
        id: Uuid,
        op: &'static str,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        self.flush()?;
        let rows = select_by_id(self.writer.conn()?, sql, id, CommandRow::from_native, op)?;
        let records: Vec<CommandRecord> =
            rows.into_iter().map(|r| r.into_record(op)).collect::<Result<_, _>>()?;
        for record in &records {
            self.cache.commands.insert(record.command_id, Some(record.clone()));
        }
        Ok(records)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        let conn = self.writer.conn()?;
        blocking(|| self.cache.flush(conn))
    }

    /// Move the remembered rows of `commands` and `clients` the transaction does not know
    /// into it. The commit gives them back (see `RememberedRows::absorb`); a transaction that
    /// does not commit makes the session forget every row anyway.
    fn recall(&mut self, commands: &[Uuid], clients: &[Uuid]) {
        let rows = &mut self.writer.rows;
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
        let conn = self.writer.conn()?;
        let cache = &mut self.cache;
        blocking(|| {
            cache.load_commands(conn, commands)?;
            cache.load_clients(conn, clients)
        })
    }

    async fn prefetch_lockout(
        &mut self,
        clients: &[Uuid],
        since_ms: i64,
    ) -> Result<(), StoreError> {
        if self.cache.commands_dirty() {
            self.flush()?;
        }
        let conn = self.writer.conn()?;
        blocking(|| self.cache.load_lockout(conn, clients, since_ms))
    }

    async fn command(&mut self, id: Uuid) -> Result<Option<CommandRecord>, StoreError> {
        const OP: &str = "tx.command";
        self.recall(&[id], &[]);
        if let Some(known) = self.cache.commands.get(&id) {
            return Ok(known.clone());
        }
        let row = one_by_id(self.writer.conn()?, &SELECT_COMMAND, id, CommandRow::from_native, OP)?;
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
            None => self
                .writer
                .conn()?
                .prepare_cached("SELECT COALESCE(MAX(id), 0) + 1 FROM command_events")
                .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
                .map_err(StoreError::statement("tx.insert_event"))?,
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
        self.flush()?;
        let found = lockout_piece(self.writer.conn()?, &[client], since_ms, "tx.lockout_entries")?;
        Ok(found.into_iter().map(|(_, issued_ms)| issued_ms).collect())
    }

    async fn sent_commands_for(&mut self, client: Uuid) -> Result<Vec<CommandRecord>, StoreError> {
        self.commands_by(&SENT_COMMANDS, client, "tx.sent_commands_for")
    }

    async fn unaccepted_rollout_commands(
        &mut self,
        rollout_id: Uuid,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        self.commands_by(&UNACCEPTED_COMMANDS, rollout_id, "tx.unaccepted_rollout_commands")
    }

    async fn client(&mut self, uuid: Uuid) -> Result<Option<ClientRecord>, StoreError> {
        const OP: &str = "tx.client";
        self.recall(&[], &[uuid]);
        if let Some(known) = self.cache.clients.get(&uuid) {
            return Ok(known.clone());
        }
        let row = one_by_id(self.writer.conn()?, &SELECT_CLIENT, uuid, ClientRow::from_native, OP)?;
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
        let row = one_by_id(self.writer.conn()?, &SELECT_ROLLOUT, id, RolloutRow::from_native, OP)?;
        row.map(|r| r.into_record(OP)).transpose()
    }

    async fn other_active_rollouts(&mut self, id: Uuid) -> Result<Vec<RolloutRecord>, StoreError> {
        const OP: &str = "tx.other_active_rollouts";
        let conn = self.writer.conn()?;
        let rows = select_by_id(conn, &OTHER_ACTIVE_ROLLOUTS, id, RolloutRow::from_native, OP)?;
        rows.into_iter().map(|r| r.into_record(OP)).collect()
    }

    async fn put_rollout(&mut self, rollout: &RolloutRecord) -> Result<(), StoreError> {
        const OP: &str = "tx.put_rollout";
        execute_one(self.writer.conn()?, &UPSERT_ROLLOUT, OP, |b| {
            rows::bind_rollout(b, rollout, OP)
        })?;
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
        let bind = |b: &mut Binder, member: &RolloutMember| {
            b.uuid(rollout_id).uuid(member.client_uuid).bind(member.wave);
        };
        let conn = self.writer.conn()?;
        blocking(|| INSERT.execute(conn, members, bind, "tx.insert_members"))?;
        self.cache.progress.members_added(rollout_id, members.len());
        Ok(())
    }

    async fn unissued_members_of(
        &mut self,
        rollout_id: Uuid,
        clients: &[Uuid],
    ) -> Result<crate::ids::IdSet, StoreError> {
        const OP: &str = "tx.unissued_members_of";
        static SELECT: Shapes = Shapes::new(|rows| {
            format!(
                "SELECT client_uuid FROM rollout_members WHERE rollout_id = ? \
                 AND command_id IS NULL AND client_uuid IN ({})",
                id_list(rows)
            )
        });
        self.flush()?;
        let conn = self.writer.conn()?;
        let mut found = crate::ids::IdSet::default();
        for piece in pieces(clients) {
            let mut statement =
                conn.prepare_cached(SELECT.sql(piece.len())).map_err(StoreError::statement(OP))?;
            let mut binder = Binder::new(&mut statement);
            binder.uuid(rollout_id);
            for id in piece {
                binder.uuid(*id);
            }
            binder.finish(OP)?;
            let ids: Vec<String> = statement
                .raw_query()
                .mapped(|row| row.get(0))
                .collect::<rusqlite::Result<_>>()
                .map_err(StoreError::statement(OP))?;
            for id in ids {
                found.insert(Uuid::parse_str(&id).map_err(|e| StoreError::decode(OP, e))?);
            }
        }
        Ok(found)
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
        super::audit::insert_on_writer(self.writer.conn()?, row).map(drop)
    }

    #[tracing::instrument(name = "store.tx.commit", skip_all)]
    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        let Self { writer, cache } = &mut *self;
        blocking(|| {
            let done = cache.flush(writer.conn()?).and_then(|()| writer.commit());
            writer.finish(done)
        })?;
        let cache = std::mem::take(&mut self.cache);
        self.writer.rows.absorb(cache.commands, cache.clients);
        Ok(())
    }
}
