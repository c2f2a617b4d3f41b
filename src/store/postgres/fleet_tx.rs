//! PostgreSQL implementation of [`FleetTx`]: the write transaction of the device area
//! (commands, their events, clients, rollouts).
//!
//! Semantics, and why:
//! - **One writer per device at a time.** Every transaction locks the devices whose rows it
//!   reads or writes before it reads them: one transaction-scoped advisory lock per device
//!   (`pg_advisory_xact_lock(DEVICE_CLASS, hashtext(client_uuid))`, [`LOCK_DEVICES`]), held
//!   until commit or rollback. A read-decide-write on one device (the safety lockout: at most
//!   3 disruptive commands per device per 15 minutes; a command's state transition; the
//!   count of a device message's copies) therefore cannot interleave with another's, across
//!   every connection and every server sharing the database, while transactions of other
//!   devices run at the same time. Reads outside a transaction (the
//!   [`crate::store::CommandStore`] reads, the API's lists) take no lock and see the last
//!   committed state.
//! - **Locks in one order.** A transaction names its devices up front ([`FleetTx::prefetch`]:
//!   the devices given, and the devices of the commands given, read from their rows) and
//!   takes all their locks in one statement, in ascending key order: transactions that lock
//!   up front wait for each other but never deadlock. A device met later (a read of a row
//!   nobody named, a command inserted by another transaction since) is locked when met and
//!   its rows read again; such a late lock is out of order, so it can deadlock, which
//!   PostgreSQL detects and breaks by failing one transaction with `40P01` (UNAVAILABLE,
//!   retried by its caller). Every caller in the domain names its devices up front.
//! - **The whole area, for what spans devices.** Every device transaction also holds the
//!   area lock in shared mode ([`BEGIN_DEVICES`]). A transaction that reads or changes rows
//!   of devices it cannot name up front (starting a rollout, an abort cancelling a rollout's
//!   commands, retention) takes the area lock exclusively instead ([`BEGIN_WHOLE`],
//!   [`crate::store::CommandStore::fleet_tx_whole`]) and runs alone, as every transaction
//!   did before devices were locked one by one.
//! - **Rows shared between devices** are locked as rows: a rollout step reads its rollout
//!   `FOR UPDATE`, members are locked by [`FleetTx::unissued_members_of`], and the rollout's
//!   progress counters are added to (`+ delta`), never written back from a read, one rollout
//!   at a time in id order at commit.
//! - **No retry otherwise.** The isolation level stays READ COMMITTED: once a transaction
//!   holds a device's lock, every statement on that device's rows sees the previous writers'
//!   commits, so no serialization failure can happen.
//! - **Poolers.** Transaction-scoped locks are released at commit/rollback (or when the
//!   connection drops), so they are safe behind a pooler in transaction mode; a lost
//!   connection rolls the transaction back and frees its locks.
//! - **Nothing is carried over between transactions.** Another server may have written in
//!   between, so each transaction starts knowing no rows. [`FleetTx::prefetch`] and
//!   [`FleetTx::prefetch_lockout`] load rows in bulk (`= ANY($1)`) inside the transaction.
//! - **Writes are held back and sent in bulk** ([`FleetCache`], shared with SQLite): before a
//!   read that depends on them and at commit, as one `UNNEST` statement per table (a batch
//!   of 500 acks costs a few round trips, not a thousand), always inside the transaction.
//! - **Other processes hear of the changes** at commit: the transaction ends with a
//!   `pg_notify` naming every event it stored and every rollout it wrote (`notify`).
//! - **Event ids** come from `command_events`' identity sequence, reserved in blocks that
//!   grow as a transaction writes more events; ids a transaction reserved and did not use
//!   are skipped (ids increase, they are not contiguous). Transactions of different devices
//!   commit in any order, so ids do not follow commit order across devices; a command's
//!   events do, as its device's transactions take turns and reserve ids only while they
//!   hold its lock (a late lock drops the ids reserved before it).

use std::collections::VecDeque;
use std::sync::LazyLock;

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::PostgresStore;
use super::device_rows::{self as rows, fetch, push_any, select_clients, select_commands, texts};
use super::notify::Notices;
use crate::ids::IdSet;
use crate::model::clients::ClientRecord;
use crate::model::commands::{CommandEvent, CommandRecord, CommandState, EventSource};
use crate::model::rollouts::{RolloutMember, RolloutRecord};
use crate::store::StoreError;
use crate::store::audit::AuditRow;
use crate::store::commands::FleetTx;
use crate::store::sqlite::fleet_cache::FleetCache;
use crate::store::sqlite::rows::{ClientRow, CommandRow, RolloutRow};
use sqlx::QueryBuilder;

/// Begins a transaction of named devices: the area lock in shared mode, in the same round
/// trip (key 8243102923822621697: `"rebound"` in ASCII, then 1 for the device area).
const BEGIN_DEVICES: &str = "BEGIN; SELECT pg_advisory_xact_lock_shared(8243102923822621697)";

/// Begins a transaction of the whole device area: the area lock exclusively, so that no
/// device transaction runs beside it.
pub(super) const BEGIN_WHOLE: &str = "BEGIN; SELECT pg_advisory_xact_lock(8243102923822621697)";

/// The first key of a device's lock (`"rebo"` in ASCII); the second is `hashtext` of its
/// UUID. Two-key advisory locks live apart from the one-key area lock.
const DEVICE_CLASS: i32 = 0x7265_626f;

/// Locks the devices `$1` and the devices of the commands `$2` (those that exist), in
/// ascending key order, and returns every device locked. The keys are sorted in a subquery
/// whose rows the aggregate consumes in that order, so each lock is taken in turn.
static LOCK_DEVICES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH devices AS ( \
             SELECT unnest($1::TEXT[]) AS c \
             UNION SELECT client_uuid FROM commands WHERE command_id = ANY($2::TEXT[])), \
         locked AS ( \
             SELECT count(pg_advisory_xact_lock({DEVICE_CLASS}, k)) AS n \
             FROM (SELECT DISTINCT hashtext(c) AS k FROM devices ORDER BY k) AS keys) \
         SELECT c FROM devices, locked WHERE locked.n >= 0"
    )
});

/// Most event ids reserved at once.
const MAX_ID_BLOCK: i64 = 1024;

/// An open write transaction of the device area.
pub(super) struct PgFleetTx {
    tx: Transaction<'static, Postgres>,
    cache: FleetCache,
    /// The store, to record how the commit went.
    store: PostgresStore,
    /// Event ids reserved and not handed out yet.
    event_ids: VecDeque<i64>,
    /// How many ids the next reservation takes.
    next_block: i64,
    /// The changes to announce to the other processes at commit.
    notices: Notices,
    /// Whether the transaction holds the whole area (every device is its own).
    whole: bool,
    /// The devices whose locks the transaction holds.
    locked: IdSet,
    /// The commands whose device a lock statement looked up (whether or not it exists).
    resolved: IdSet,
}

impl PgFleetTx {
    /// Begins a transaction: of the devices it will name when `whole` is false, of the whole
    /// device area when it is true.
    pub(super) async fn begin(store: &PostgresStore, whole: bool) -> Result<Self, StoreError> {
        let begin = if whole { BEGIN_WHOLE } else { BEGIN_DEVICES };
        let tx = store.pool().begin_with(begin).await.map_err(StoreError::query("tx.begin"))?;
        Ok(Self {
            tx,
            cache: FleetCache::default(),
            store: store.clone(),
            event_ids: VecDeque::new(),
            next_block: 1,
            notices: Notices::default(),
            whole,
            locked: IdSet::default(),
            resolved: IdSet::default(),
        })
    }

    /// Locks `devices` and the devices of `commands`, those not locked yet, in one statement.
    async fn lock(&mut self, devices: &[Uuid], commands: &[Uuid]) -> Result<(), StoreError> {
        if self.whole {
            return Ok(());
        }
        let devices = unknown(devices, |id| self.locked.contains(id));
        let commands = unknown(commands, |id| {
            self.resolved.contains(id) || self.cache.commands.contains_key(id)
        });
        if devices.is_empty() && commands.is_empty() {
            return Ok(());
        }
        if !self.locked.is_empty() {
            tracing::debug!(
                devices = devices.len(),
                commands = commands.len(),
                "device locks taken after others (out of order)"
            );
            // Ids reserved before this lock may be lower than those of the device's last
            // writer: events of one command keep increasing ids only with ids reserved after.
            self.event_ids.clear();
        }
        let found: Vec<(String,)> = sqlx::query_as(LOCK_DEVICES.as_str())
            .bind(texts(&devices))
            .bind(texts(&commands))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(StoreError::query("tx.lock_devices"))?;
        for (device,) in found {
            let device = device.parse().map_err(|e| StoreError::decode("tx.lock_devices", e))?;
            self.locked.insert(device);
        }
        self.resolved.extend(commands);
        Ok(())
    }

    /// The devices of `commands` whose lock the transaction does not hold.
    fn unlocked<'a>(&self, commands: impl IntoIterator<Item = &'a CommandRecord>) -> Vec<Uuid> {
        if self.whole {
            return Vec::new();
        }
        let devices = commands.into_iter().map(|c| c.client_uuid);
        devices.filter(|d| !self.locked.contains(d)).collect()
    }

    /// Runs the commands query `build` makes, and, when some of its rows are of devices not
    /// locked yet (rows another transaction wrote since this one named its devices), locks
    /// them and runs it again.
    async fn locked_commands(
        &mut self,
        build: impl Fn() -> QueryBuilder<Postgres>,
        op: &'static str,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        loop {
            let found = fetch(&mut *self.tx, build(), CommandRow::into_record, op).await?;
            let strays = self.unlocked(&found);
            if strays.is_empty() {
                return Ok(found);
            }
            self.lock(&strays, &[]).await?;
        }
    }

    /// Sends every held-back write, in foreign-key order.
    async fn flush(&mut self) -> Result<(), StoreError> {
        // Every caller locked these when it read them; a write of a device it never read is
        // locked here, before it is written.
        let written = self.cache.dirty_devices();
        self.lock(&written, &[]).await?;
        let pending = self.cache.take_pending();
        let conn = &mut *self.tx;
        rows::insert_commands(conn, &pending.inserted).await?;
        let updated: Vec<&CommandRecord> =
            pending.updated.into_iter().flat_map(|(_, group)| group).collect();
        rows::update_commands(conn, &updated).await?;
        rows::put_clients(conn, &pending.clients).await?;
        rows::insert_events(conn, &pending.events).await?;
        for event in &pending.events {
            self.notices.event(event.command_id, event.id);
        }
        rows::set_member_commands(conn, &pending.members).await?;
        let (deltas, recount) = pending.progress.take();
        rows::write_progress(conn, deltas, recount).await
    }

    /// The commands whose `column` is `id` and whose state is in `states` (an SQL list),
    /// oldest first, as the transaction sees them; remembered, so that later updates know
    /// their state.
    async fn commands_by(
        &mut self,
        column: &'static str,
        id: Uuid,
        states: &'static str,
        op: &'static str,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        self.flush().await?;
        let build = || {
            let mut builder = select_commands();
            builder.push(format_args!(" AND {column} = ")).push_bind(id.to_string());
            builder.push(format_args!(" AND state IN {states} ORDER BY issued_ms"));
            builder
        };
        let records = self.locked_commands(build, op).await?;
        for record in &records {
            self.cache.commands.insert(record.command_id, Some(record.clone()));
        }
        Ok(records)
    }

    /// Loads the commands of `ids` the transaction does not know, in one statement, after
    /// locking their devices.
    async fn load_commands(&mut self, ids: &[Uuid]) -> Result<(), StoreError> {
        let wanted = unknown(ids, |id| self.cache.commands.contains_key(id));
        if wanted.is_empty() {
            return Ok(());
        }
        self.lock(&[], &wanted).await?;
        let build = || {
            let mut builder = select_commands();
            push_any(&mut builder, "command_id", texts(&wanted));
            builder
        };
        let found = self.locked_commands(build, "tx.prefetch").await?;
        for id in wanted {
            self.cache.commands.insert(id, None);
        }
        for command in found {
            self.cache.commands.insert(command.command_id, Some(command));
        }
        Ok(())
    }

    /// Loads the clients of `ids` the transaction does not know, in one statement, after
    /// locking them.
    async fn load_clients(&mut self, ids: &[Uuid]) -> Result<(), StoreError> {
        let wanted = unknown(ids, |id| self.cache.clients.contains_key(id));
        if wanted.is_empty() {
            return Ok(());
        }
        self.lock(&wanted, &[]).await?;
        let mut builder = select_clients();
        push_any(&mut builder, "client_uuid", texts(&wanted));
        let found = fetch(&mut *self.tx, builder, ClientRow::into_record, "tx.prefetch").await?;
        for id in wanted {
            self.cache.clients.insert(id, None);
        }
        for client in found {
            self.cache.clients.insert(client.client_uuid, Some(client));
        }
        Ok(())
    }

    /// The next event id, reserving a larger block when none is left.
    async fn event_id(&mut self) -> Result<i64, StoreError> {
        if self.event_ids.is_empty() {
            let ids = rows::reserve_event_ids(&mut self.tx, self.next_block).await?;
            self.next_block = (self.next_block * 2).min(MAX_ID_BLOCK);
            self.event_ids.extend(ids);
        }
        self.event_ids.pop_front().ok_or_else(|| StoreError::decode("tx.insert_event", "no id"))
    }
}

/// Ids not yet known, each once.
fn unknown(ids: &[Uuid], known: impl Fn(&Uuid) -> bool) -> Vec<Uuid> {
    let mut seen = crate::ids::IdSet::default();
    ids.iter().filter(|id| !known(id) && seen.insert(**id)).copied().collect()
}

#[async_trait::async_trait]
impl FleetTx for PgFleetTx {
    async fn prefetch(&mut self, commands: &[Uuid], clients: &[Uuid]) -> Result<(), StoreError> {
        // About one event per command follows: reserve their ids with the first one.
        self.next_block = self.next_block.max(i64::try_from(commands.len()).unwrap_or(1));
        // Every device named, in one statement and one order, before anything is read.
        self.lock(clients, commands).await?;
        self.load_commands(commands).await?;
        self.load_clients(clients).await
    }

    async fn prefetch_lockout(
        &mut self,
        clients: &[Uuid],
        since_ms: i64,
    ) -> Result<(), StoreError> {
        let lockout = &self.cache.lockout;
        let wanted = unknown(clients, |id| lockout.get(id).is_some_and(|(s, _)| *s == since_ms));
        if wanted.is_empty() {
            return Ok(());
        }
        self.lock(&wanted, &[]).await?;
        if self.cache.commands_dirty() {
            self.flush().await?;
        }
        let found = rows::lockout(&mut *self.tx, &wanted, since_ms, "tx.prefetch_lockout").await?;
        for id in &wanted {
            self.cache.lockout.insert(*id, (since_ms, Vec::new()));
        }
        for (client, issued_ms) in found {
            if let Some((_, entries)) = self.cache.lockout.get_mut(&client) {
                entries.push(issued_ms);
            }
        }
        Ok(())
    }

    async fn command(&mut self, id: Uuid) -> Result<Option<CommandRecord>, StoreError> {
        self.load_commands(&[id]).await?;
        Ok(self.cache.commands.get(&id).cloned().flatten())
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
        let event = CommandEvent {
            id: self.event_id().await?,
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
        self.lock(&[client], &[]).await?;
        self.flush().await?;
        let found = rows::lockout(&mut *self.tx, &[client], since_ms, "tx.lockout_entries").await?;
        Ok(found.into_iter().map(|(_, issued_ms)| issued_ms).collect())
    }

    async fn sent_commands_for(&mut self, client: Uuid) -> Result<Vec<CommandRecord>, StoreError> {
        let states = "('published', 'accepted', 'execution_started')";
        self.lock(&[client], &[]).await?;
        self.commands_by("client_uuid", client, states, "tx.sent_commands_for").await
    }

    async fn unaccepted_rollout_commands(
        &mut self,
        rollout_id: Uuid,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        let (states, op) = ("('queued', 'published')", "tx.unaccepted_rollout_commands");
        self.commands_by("rollout_id", rollout_id, states, op).await
    }

    async fn client(&mut self, uuid: Uuid) -> Result<Option<ClientRecord>, StoreError> {
        self.load_clients(&[uuid]).await?;
        Ok(self.cache.clients.get(&uuid).cloned().flatten())
    }

    async fn put_client(&mut self, client: &ClientRecord) -> Result<(), StoreError> {
        self.cache.put_client(client);
        Ok(())
    }

    async fn rollout(&mut self, id: Uuid) -> Result<Option<RolloutRecord>, StoreError> {
        let mut builder = rows::select_rollouts();
        builder.push(" AND rollout_id = ").push_bind(id.to_string()).push(" FOR UPDATE");
        let found = fetch(&mut *self.tx, builder, RolloutRow::into_record, "tx.rollout").await?;
        Ok(found.into_iter().next())
    }

    async fn other_active_rollouts(&mut self, id: Uuid) -> Result<Vec<RolloutRecord>, StoreError> {
        let mut builder = rows::select_rollouts();
        builder.push(" AND rollout_id <> ").push_bind(id.to_string());
        builder.push(" AND state IN ('pending', 'canary', 'running') ORDER BY created_ms");
        fetch(&mut *self.tx, builder, RolloutRow::into_record, "tx.other_active_rollouts").await
    }

    async fn put_rollout(&mut self, rollout: &RolloutRecord) -> Result<(), StoreError> {
        self.notices.rollout(rollout.rollout_id);
        rows::put_rollout(&mut self.tx, rollout).await
    }

    async fn insert_members(
        &mut self,
        rollout_id: Uuid,
        members: &[RolloutMember],
    ) -> Result<(), StoreError> {
        let clients = members.iter().map(|m| m.client_uuid.to_string()).collect();
        let waves = members.iter().map(|m| m.wave).collect();
        rows::insert_members(&mut self.tx, rollout_id, clients, waves).await?;
        self.notices.rollout(rollout_id);
        self.cache.progress.members_added(rollout_id, members.len());
        Ok(())
    }

    async fn unissued_members_of(
        &mut self,
        rollout_id: Uuid,
        clients: &[Uuid],
    ) -> Result<crate::ids::IdSet, StoreError> {
        self.flush().await?;
        rows::lock_unissued_members(&mut self.tx, rollout_id, clients).await
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
        super::audit::insert(&mut self.tx, row).await.map(drop)
    }

    async fn copies_seen_elsewhere(
        &mut self,
        process: Uuid,
        now_ms: i64,
        digests: &[String],
    ) -> Result<Vec<bool>, StoreError> {
        super::copies::seen_elsewhere(&mut self.tx, process, now_ms, digests).await
    }

    async fn fence(&mut self, fence: &crate::store::Fence) -> Result<(), StoreError> {
        super::cluster::check_fence(&mut self.tx, fence).await
    }

    #[tracing::instrument(name = "store.tx.commit", skip_all)]
    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        let mut flushed = self.flush().await;
        if flushed.is_ok() {
            let notices = std::mem::take(&mut self.notices);
            flushed = notices.send(&mut self.tx, self.store.process()).await;
        }
        let this = *self;
        let done = match flushed {
            Ok(()) => this.tx.commit().await.map_err(StoreError::query("tx.commit")),
            Err(e) => Err(e),
        };
        this.store.writes().record(done)
    }
}
