//! The working set of one [`super::fleet_tx::SqliteFleetTx`]: the command and client rows it
//! has read or written, and the writes not yet sent to SQLite. Writes are sent as a few
//! multi-row statements (group commit: a batch of 500 acks costs a handful of statements,
//! not thousands) when something must read the tables, and at commit — always inside the
//! same transaction, so atomicity and durability are unchanged.
//!
//! It decides nothing about commands: it only remembers rows and replays writes in an order
//! the foreign keys accept (commands, clients, events, rollout members, then the rollout
//! progress counters those writes changed). Reads that only
//! SQL can answer (`lockout_entries`, `sent_commands_for`) flush first, so a transaction
//! always reads its own writes.

use rusqlite::Connection;
use uuid::Uuid;

use super::progress::Progress;
use super::rows::{
    self, ALL_UPDATABLE, CLIENT_COLUMNS, COMMAND_COLUMNS, ClientRow, ColumnMask, CommandRow,
    bind_client, bind_command, bind_command_update, changed_columns,
};
use super::shapes::{Binder, Shapes, VariantShapes, id_list, pieces};
use crate::ids::{IdMap, IdSet};
use crate::model::clients::ClientRecord;
use crate::model::commands::{CommandEvent, CommandRecord};
use crate::store::StoreError;

/// Rows known to the transaction (`None`: known not to exist) and the pending writes.
#[derive(Default)]
pub(in crate::store) struct FleetCache {
    pub commands: IdMap<Option<CommandRecord>>,
    pub clients: IdMap<Option<ClientRecord>>,
    /// Lockout entries per client, valid for the `since_ms` they were read with.
    pub lockout: IdMap<(i64, Vec<i64>)>,
    inserted: Ordered,
    updated: Ordered,
    /// Columns of each updated command that differ from its stored row.
    changed: IdMap<ColumnMask>,
    dirty_clients: Ordered,
    pub events: Vec<CommandEvent>,
    /// Next `command_events.id` (read once; the transaction holds the write lock).
    pub next_event_id: Option<i64>,
    /// (rollout, client, command) assignments of rollout members.
    members: Vec<(Uuid, Uuid, Uuid)>,
    /// Rollout counter changes of the writes above.
    pub progress: Progress,
}

/// Ids in first-written order, each once.
#[derive(Default)]
struct Ordered {
    order: Vec<Uuid>,
    seen: IdSet,
}

impl Ordered {
    fn add(&mut self, id: Uuid) {
        if self.seen.insert(id) {
            self.order.push(id);
        }
    }

    fn contains(&self, id: &Uuid) -> bool {
        self.seen.contains(id)
    }

    fn take(&mut self) -> Vec<Uuid> {
        self.seen.clear();
        std::mem::take(&mut self.order)
    }
}

/// The writes a [`FleetCache`] holds back, in an order the foreign keys accept: new
/// commands, updated commands, clients, events, rollout members, then the rollout progress
/// counters those writes changed.
pub(in crate::store) struct PendingWrites<'a> {
    pub inserted: Vec<&'a CommandRecord>,
    /// Updated commands grouped by the columns they changed (see [`by_columns`]).
    pub updated: Vec<(ColumnMask, Vec<&'a CommandRecord>)>,
    pub clients: Vec<&'a ClientRecord>,
    pub events: Vec<CommandEvent>,
    /// (rollout, client, command) assignments of rollout members.
    pub members: Vec<(Uuid, Uuid, Uuid)>,
    pub progress: &'a mut Progress,
}

/// The updated commands grouped by the columns they changed (groups in first-seen order,
/// commands in update order within each); commands that changed nothing are left out.
fn by_columns<'a>(
    commands: &'a IdMap<Option<CommandRecord>>,
    ids: &[Uuid],
    changed: &IdMap<ColumnMask>,
) -> Vec<(ColumnMask, Vec<&'a CommandRecord>)> {
    let mut groups: Vec<(ColumnMask, Vec<&CommandRecord>)> = Vec::new();
    for id in ids {
        let columns = changed.get(id).copied().unwrap_or(ALL_UPDATABLE);
        let Some(Some(command)) = commands.get(id) else { continue };
        if columns == 0 {
            continue;
        }
        match groups.iter_mut().find(|(c, _)| *c == columns) {
            Some((_, group)) => group.push(command),
            None => groups.push((columns, vec![command])),
        }
    }
    groups
}

impl FleetCache {
    pub fn insert_command(&mut self, command: &CommandRecord) {
        self.lockout.remove(&command.client_uuid);
        self.progress.command_inserted(command);
        self.inserted.add(command.command_id);
        self.commands.insert(command.command_id, Some(command.clone()));
    }

    pub fn update_command(&mut self, command: &CommandRecord) {
        self.lockout.remove(&command.client_uuid);
        let before = self.commands.get(&command.command_id).and_then(Option::as_ref);
        if !self.inserted.contains(&command.command_id) {
            self.updated.add(command.command_id);
            // The cached row is the stored one, or an update of it whose columns are noted.
            let columns = before.map_or(ALL_UPDATABLE, |before| changed_columns(before, command));
            *self.changed.entry(command.command_id).or_default() |= columns;
        }
        self.progress.command_updated(before, command);
        self.commands.insert(command.command_id, Some(command.clone()));
    }

    /// A rollout member was assigned its command.
    pub fn set_member_command(&mut self, rollout: Uuid, client: Uuid, command: Uuid) {
        self.progress.member_assigned(rollout);
        self.members.push((rollout, client, command));
    }

    pub fn put_client(&mut self, client: &ClientRecord) {
        self.dirty_clients.add(client.client_uuid);
        self.clients.insert(client.client_uuid, Some(client.clone()));
    }

    /// Whether a flush would write anything to `commands`.
    pub fn commands_dirty(&self) -> bool {
        !self.inserted.order.is_empty() || !self.updated.order.is_empty()
    }

    /// The devices the pending writes write rows of (repeats possible).
    pub fn dirty_devices(&self) -> Vec<Uuid> {
        let commands = self.inserted.order.iter().chain(&self.updated.order);
        let commands = commands.filter_map(|id| self.commands.get(id)?.as_ref());
        let devices = commands.map(|c| c.client_uuid);
        devices.chain(self.dirty_clients.order.iter().copied()).collect()
    }

    /// Send every pending write, in foreign-key order.
    #[tracing::instrument(name = "store.tx.flush", skip_all, fields(
        tx.commands = self.inserted.order.len() + self.updated.order.len(),
        tx.events = self.events.len(), tx.clients = self.dirty_clients.order.len()))]
    pub fn flush(&mut self, tx: &Connection) -> Result<(), StoreError> {
        let pending = self.take_pending();
        insert_commands(tx, &pending.inserted)?;
        update_commands(tx, pending.updated)?;
        write_clients(tx, &pending.clients)?;
        write_events(tx, &pending.events)?;
        write_members(tx, &pending.members)?;
        pending.progress.flush(tx)
    }

    /// Take the pending writes (the cache forgets them) for a backend to send, in the order
    /// the fields of [`PendingWrites`] list them. The rows are borrowed from the cache as
    /// they are, not copied.
    pub fn take_pending(&mut self) -> PendingWrites<'_> {
        let inserted = self.inserted.take();
        let updated = self.updated.take();
        let changed = std::mem::take(&mut self.changed);
        let dirty_clients = self.dirty_clients.take();
        let events = std::mem::take(&mut self.events);
        let members = std::mem::take(&mut self.members);
        let Self { commands, clients, progress, .. } = self;
        PendingWrites {
            inserted: inserted.iter().filter_map(|id| commands.get(id)?.as_ref()).collect(),
            updated: by_columns(commands, &updated, &changed),
            clients: dirty_clients.iter().filter_map(|id| clients.get(id)?.as_ref()).collect(),
            events,
            members,
            progress,
        }
    }

    /// Load the commands of `ids` not known yet, in one query per piece.
    pub fn load_commands(&mut self, tx: &Connection, ids: &[Uuid]) -> Result<(), StoreError> {
        const OP: &str = "tx.prefetch_commands";
        static SELECT: Shapes = Shapes::new(|rows| {
            format!(
                "SELECT {COMMAND_COLUMNS} FROM commands WHERE command_id IN ({})",
                id_list(rows)
            )
        });
        load_into(tx, &mut self.commands, ids, &SELECT, CommandRow::from_native, |row| {
            row.into_record(OP).map(|r| (r.command_id, r))
        })
    }

    /// Load the clients of `ids` not known yet, in one query per piece.
    pub fn load_clients(&mut self, tx: &Connection, ids: &[Uuid]) -> Result<(), StoreError> {
        const OP: &str = "tx.prefetch_clients";
        static SELECT: Shapes = Shapes::new(|rows| {
            format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_uuid IN ({})", id_list(rows))
        });
        load_into(tx, &mut self.clients, ids, &SELECT, ClientRow::from_native, |row| {
            row.into_record(OP).map(|r| (r.client_uuid, r))
        })
    }

    /// Load the lockout entries of `clients` since `since_ms` (after a flush).
    pub fn load_lockout(
        &mut self,
        tx: &Connection,
        clients: &[Uuid],
        since_ms: i64,
    ) -> Result<(), StoreError> {
        let wanted =
            unknown(clients, |id| self.lockout.get(id).is_some_and(|(s, _)| *s == since_ms));
        for piece in pieces(&wanted) {
            let found = lockout_piece(tx, piece, since_ms, "tx.prefetch_lockout")?;
            for id in piece {
                self.lockout.insert(*id, (since_ms, Vec::new()));
            }
            for (client, issued_ms) in found {
                if let Some((_, entries)) = self.lockout.get_mut(&client) {
                    entries.push(issued_ms);
                }
            }
        }
        Ok(())
    }
}

/// The statement of [`lockout_piece`] for a piece of `rows` clients; the clients bind first,
/// then `since_ms`. Unordered: an `ORDER BY issued_ms` over the whole piece cost SQLite a
/// temporary B-tree per statement; the callers sort the few entries of each client.
pub(super) static LOCKOUT_PIECE: Shapes = Shapes::new(|rows| {
    format!(
        "SELECT client_uuid, issued_ms FROM commands WHERE {} AND client_uuid IN ({}) \
         AND issued_ms >= ?",
        super::fleet_tx::LOCKOUT_COUNTED,
        id_list(rows)
    )
});

/// The lockout entries (client, `issued_ms`, ascending) of one piece of `clients` since
/// `since_ms`, in the transaction.
pub(super) fn lockout_piece(
    tx: &Connection,
    clients: &[Uuid],
    since_ms: i64,
    op: &'static str,
) -> Result<Vec<(Uuid, i64)>, StoreError> {
    let mut statement =
        tx.prepare_cached(LOCKOUT_PIECE.sql(clients.len())).map_err(StoreError::statement(op))?;
    let mut binder = Binder::new(&mut statement);
    for id in clients {
        binder.uuid(*id);
    }
    binder.bind(since_ms).finish(op)?;
    let mut rows = statement.raw_query();
    let mut found = Vec::new();
    while let Some(row) = rows.next().map_err(StoreError::statement(op))? {
        let client: String = row.get(0).map_err(StoreError::statement(op))?;
        if let Ok(client) = Uuid::parse_str(&client) {
            found.push((client, row.get(1).map_err(StoreError::statement(op))?));
        }
    }
    found.sort_unstable_by_key(|&(_, issued_ms)| issued_ms);
    Ok(found)
}

/// Read the rows of the `ids` not in `known` with the statement `select` shapes, and remember
/// each id: found, or `None`.
fn load_into<R, T>(
    tx: &Connection,
    known: &mut IdMap<Option<T>>,
    ids: &[Uuid],
    select: &'static Shapes,
    read: fn(&rusqlite::Row<'_>) -> rusqlite::Result<R>,
    decode: impl Fn(R) -> Result<(Uuid, T), StoreError>,
) -> Result<(), StoreError> {
    const OP: &str = "tx.prefetch";
    let wanted = unknown(ids, |id| known.contains_key(id));
    for piece in pieces(&wanted) {
        let mut statement =
            tx.prepare_cached(select.sql(piece.len())).map_err(StoreError::statement(OP))?;
        let mut binder = Binder::new(&mut statement);
        for id in piece {
            binder.uuid(*id);
        }
        binder.finish(OP)?;
        let found: Vec<R> = statement
            .raw_query()
            .mapped(read)
            .collect::<rusqlite::Result<_>>()
            .map_err(StoreError::statement(OP))?;
        for id in piece {
            known.insert(*id, None);
        }
        for row in found {
            let (id, record) = decode(row)?;
            known.insert(id, Some(record));
        }
    }
    Ok(())
}

/// Ids not yet known, each once.
fn unknown(ids: &[Uuid], known: impl Fn(&Uuid) -> bool) -> Vec<Uuid> {
    let mut seen = IdSet::default();
    ids.iter().filter(|id| !known(id) && seen.insert(**id)).copied().collect()
}

static INSERT_COMMANDS: Shapes =
    Shapes::new(|rows| rows::insert_rows_sql("commands", COMMAND_COLUMNS, None, rows));
static UPDATE_COMMANDS: std::sync::LazyLock<VariantShapes> =
    std::sync::LazyLock::new(|| VariantShapes::new(rows::update_commands_sql, ALL_UPDATABLE));
static UPSERT_CLIENTS: Shapes =
    Shapes::new(|rows| rows::insert_rows_sql("clients", CLIENT_COLUMNS, Some("client_uuid"), rows));
static INSERT_EVENTS: Shapes = Shapes::new(|rows| {
    rows::insert_rows_sql(
        "command_events",
        "id, command_id, at_ms, from_state, to_state, source, detail",
        None,
        rows,
    )
});
static SET_MEMBER_COMMANDS: Shapes = Shapes::new(|rows| {
    format!(
        "UPDATE rollout_members SET command_id = v.column3 FROM (VALUES {}) AS v \
         WHERE rollout_members.rollout_id = v.column1 AND rollout_members.client_uuid = v.column2",
        rows::placeholders(3, rows)
    )
});

fn insert_commands(tx: &Connection, commands: &[&CommandRecord]) -> Result<(), StoreError> {
    INSERT_COMMANDS.execute(tx, commands, |b, c| bind_command(b, c), "tx.insert_commands")
}

/// Rewrite updated commands, each group with a statement setting just its changed columns.
fn update_commands(
    tx: &Connection,
    groups: Vec<(ColumnMask, Vec<&CommandRecord>)>,
) -> Result<(), StoreError> {
    for (columns, commands) in groups {
        let bind = |b: &mut Binder, c: &&CommandRecord, columns| bind_command_update(b, c, columns);
        UPDATE_COMMANDS.execute(tx, columns, &commands, bind, "tx.update_commands")?;
    }
    Ok(())
}

fn write_clients(tx: &Connection, clients: &[&ClientRecord]) -> Result<(), StoreError> {
    UPSERT_CLIENTS.execute(tx, clients, |b, c| bind_client(b, c), "tx.put_clients")
}

fn write_events(tx: &Connection, events: &[CommandEvent]) -> Result<(), StoreError> {
    let bind = |b: &mut Binder, e: &CommandEvent| {
        b.bind(e.id)
            .uuid(e.command_id)
            .bind(e.at_ms)
            .bind(e.from_state.map(|s| s.as_str()))
            .bind(e.to_state.as_str())
            .bind(e.source.as_str())
            .bind(&e.detail);
    };
    INSERT_EVENTS.execute(tx, events, bind, "tx.insert_events")
}

/// Set `command_id` of rollout members: one `UPDATE … FROM (VALUES …)` per piece.
fn write_members(tx: &Connection, members: &[(Uuid, Uuid, Uuid)]) -> Result<(), StoreError> {
    let bind = |b: &mut Binder, (rollout, client, command): &(Uuid, Uuid, Uuid)| {
        b.uuid(*rollout).uuid(*client).uuid(*command);
    };
    SET_MEMBER_COMMANDS.execute(tx, members, bind, "tx.set_member_commands")
}
