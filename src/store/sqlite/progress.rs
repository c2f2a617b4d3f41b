//! Rollout progress counters (`rollout_progress`, migration 0006): one row per rollout with
//! its member count, its unissued members and its commands per state.
//!
//! A fleet transaction collects the changes it makes ([`Progress`]: members added, members
//! assigned a command, rollout commands inserted or moved to another state) and adds them
//! to the row when it flushes, inside the same transaction as the writes themselves. A
//! command updated without the transaction knowing its previous state marks its rollout for
//! a recount from the members instead, so the row is right whatever the caller did.
//!
//! It decides nothing about rollouts; it only counts.

use std::sync::LazyLock;

use rusqlite::Connection;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, FromRow, QueryBuilder, Sqlite};
use uuid::Uuid;

use super::rows::{ROLLOUT_COLUMNS, RolloutRow};
use super::shapes::{Binder, execute_one, select_by_id};

use crate::ids::{IdMap, IdSet};
use crate::model::commands::{CommandRecord, CommandState};
use crate::model::rollouts::{RolloutCounters, RolloutRecord};
use crate::store::StoreError;

/// Counter slots: total, unissued, then one per command state in [`CommandState::ALL`] order.
pub(in crate::store) const SLOTS: usize = 12;
const TOTAL: usize = 0;
const UNISSUED: usize = 1;

pub(in crate::store) type Row = [i64; SLOTS];

/// Column of each slot, in slot order.
pub(in crate::store) fn columns() -> impl Iterator<Item = &'static str> {
    ["total", "unissued"].into_iter().chain(CommandState::ALL.iter().map(|s| s.as_str()))
}

fn slot(state: CommandState) -> usize {
    2 + CommandState::ALL.iter().position(|s| *s == state).unwrap_or_default()
}

static SELECT: LazyLock<String> = LazyLock::new(|| {
    let list: Vec<_> = columns().collect();
    format!("SELECT {} FROM rollout_progress WHERE rollout_id = ?", list.join(", "))
});

static ADD: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<_> = columns().map(|c| format!("{c} = {c} + ?")).collect();
    format!("UPDATE rollout_progress SET {} WHERE rollout_id = ?", sets.join(", "))
});

static SET: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<_> = columns().map(|c| format!("{c} = ?")).collect();
    format!("UPDATE rollout_progress SET {} WHERE rollout_id = ?", sets.join(", "))
});

/// The row of a rollout (nothing counted yet); an existing row is left alone.
const CREATE: &str =
    "INSERT INTO rollout_progress (rollout_id) VALUES (?) ON CONFLICT (rollout_id) DO NOTHING";

/// Changes of one transaction, not yet added to the rows.
#[derive(Default)]
pub(in crate::store) struct Progress {
    deltas: IdMap<Row>,
    recount: IdSet,
}

impl Progress {
    fn add(&mut self, rollout: Uuid, slot: usize, by: i64) {
        self.deltas.entry(rollout).or_insert([0; SLOTS])[slot] += by;
    }

    pub fn members_added(&mut self, rollout: Uuid, count: usize) {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        self.add(rollout, TOTAL, count);
        self.add(rollout, UNISSUED, count);
    }

    /// A member without a command got one.
    pub fn member_assigned(&mut self, rollout: Uuid) {
        self.add(rollout, UNISSUED, -1);
    }

    pub fn command_inserted(&mut self, command: &CommandRecord) {
        if let Some(rollout) = command.rollout_id {
            self.add(rollout, slot(command.state), 1);
        }
    }

    /// `before`: the command as the transaction knew it, if it did.
    pub fn command_updated(&mut self, before: Option<&CommandRecord>, after: &CommandRecord) {
        let Some(rollout) = after.rollout_id else { return };
        match before {
            Some(before) if before.rollout_id == after.rollout_id => {
                if before.state != after.state {
                    self.add(rollout, slot(before.state), -1);
                    self.add(rollout, slot(after.state), 1);
                }
            }
            _ => {
                self.recount.insert(rollout);
            }
        }
    }

    /// Take the collected changes: the counters to add to each rollout's row, and the
    /// rollouts to count again from their members instead. Added changes that find no row
    /// mean the rollout must be counted instead.
    pub fn take(&mut self) -> (Vec<(Uuid, Row)>, Vec<Uuid>) {
        let recount = std::mem::take(&mut self.recount);
        let deltas = std::mem::take(&mut self.deltas)
            .into_iter()
            .filter(|(rollout, delta)| !recount.contains(rollout) && delta.iter().any(|d| *d != 0))
            .collect();
        (deltas, recount.into_iter().collect())
    }

    /// Add the collected changes to the rows (after every other write of the flush).
    pub fn flush(&mut self, conn: &Connection) -> Result<(), StoreError> {
        const OP: &str = "tx.add_progress";
        let (deltas, mut recounts) = self.take();
        for (rollout, delta) in deltas {
            let changed = execute_one(conn, &ADD, OP, |b| {
                bind_row(b, &delta).uuid(rollout);
                Ok(())
            })?;
            if changed == 0 {
                recounts.push(rollout);
            }
        }
        for rollout in recounts {
            recount(conn, rollout)?;
        }
        Ok(())
    }
}

fn bind_row<'b, 's, 'c>(binder: &'b mut Binder<'s, 'c>, row: &Row) -> &'b mut Binder<'s, 'c> {
    for value in row {
        binder.bind(*value);
    }
    binder
}

/// Rollouts with their counter rows' columns after their own (a left join: `NULL`s for a
/// rollout without one); conditions follow as `AND …`.
static JOINED: LazyLock<String> = LazyLock::new(|| {
    let list: Vec<_> = columns().map(|c| format!("p.{c}")).collect();
    format!(
        "SELECT {ROLLOUT_COLUMNS}, {} FROM rollouts LEFT JOIN rollout_progress p \
         USING (rollout_id) WHERE 1 = 1",
        list.join(", ")
    )
});

/// The statement of [`rollout_with_counters`].
static WITH_ROLLOUT: LazyLock<String> =
    LazyLock::new(|| format!("{} AND rollout_id = ?", JOINED.as_str()));

/// A statement of rollouts and their counters, to which the caller adds its conditions.
pub(super) fn select_with_counters() -> QueryBuilder<Sqlite> {
    QueryBuilder::new(JOINED.as_str())
}

/// A rollout and its counters over every member, read together: one statement where
/// GetRollout and each scheduler step used to read twice (the counters as
/// [`rollout_counters`] gives them).
pub(super) async fn rollout_with_counters(
    pool: &sqlx::SqlitePool,
    rollout: Uuid,
) -> Result<Option<(RolloutRecord, RolloutCounters)>, StoreError> {
    const OP: &str = "rollout_with_counters";
    let Some(row) = row_of(pool, &WITH_ROLLOUT, rollout, OP).await? else { return Ok(None) };
    Ok(Some(with_counters(pool, &row, OP).await?))
}

/// The rollouts a statement of [`select_with_counters`] selects, each with its counters: one
/// statement for a whole page of ListRollouts, which used to read each rollout's counters
/// on their own.
pub(super) async fn fetch_with_counters(
    pool: &sqlx::SqlitePool,
    mut builder: QueryBuilder<Sqlite>,
    op: &'static str,
) -> Result<Vec<(RolloutRecord, RolloutCounters)>, StoreError> {
    let rows = builder.build().fetch_all(pool).await.map_err(StoreError::query(op))?;
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        found.push(with_counters(pool, row, op).await?);
    }
    Ok(found)
}

/// The rollout of a joined row and its counters (counted from the members when the row has
/// none).
async fn with_counters(
    pool: &sqlx::SqlitePool,
    row: &SqliteRow,
    op: &'static str,
) -> Result<(RolloutRecord, RolloutCounters), StoreError> {
    let record = RolloutRow::from_row(row).map_err(StoreError::query(op))?.into_record(op)?;
    let counters = stored_or_counted(pool, record.rollout_id, stored_values(row, op)?).await?;
    Ok((record, counters))
}

/// Counters from a rollout's stored row, or counted from its members when it has none
/// (started before migration 0006, or its row lost).
async fn stored_or_counted(
    pool: &sqlx::SqlitePool,
    rollout: Uuid,
    stored: Option<Row>,
) -> Result<RolloutCounters, StoreError> {
    let values = match stored {
        Some(values) => values,
        None => members_row(pool, rollout, None).await?,
    };
    Ok(counters(&values))
}

/// The one row `sql` selects with `rollout` bound to its parameter, if any.
async fn row_of(
    conn: impl sqlx::SqliteExecutor<'_>,
    sql: &'static str,
    rollout: Uuid,
    op: &'static str,
) -> Result<Option<SqliteRow>, StoreError> {
    sqlx::query(AssertSqlSafe(sql))
        .bind(rollout.to_string())
        .fetch_optional(conn)
        .await
        .map_err(StoreError::query(op))
}

/// The counter columns of `row` by name; `None` when the rollout has no counter row (a
/// left join found none).
fn stored_values(row: &SqliteRow, op: &'static str) -> Result<Option<Row>, StoreError> {
    let mut values = [0; SLOTS];
    for (value, column) in values.iter_mut().zip(columns()) {
        match sqlx::Row::try_get::<Option<i64>, _>(row, column).map_err(StoreError::query(op))? {
            Some(stored) => *value = stored,
            None => return Ok(None),
        }
    }
    Ok(Some(values))
}

/// The state counts of a rollout's members (`unissued` for those without a command), with
/// `$wave` added to the condition: the rollout id binds first, then (in [`MEMBERS_OF_WAVE`])
/// the wave.
macro_rules! members_sql {
    ($wave:literal) => {
        concat!(
            "SELECT COALESCE(c.state, 'unissued') AS state, COUNT(*) AS n \
             FROM rollout_members m LEFT JOIN commands c ON c.command_id = m.command_id \
             WHERE m.rollout_id = ?",
            $wave,
            " GROUP BY 1"
        )
    };
}
const MEMBERS: &str = members_sql!("");
const MEMBERS_OF_WAVE: &str = members_sql!(" AND m.wave = ?");

/// The counter row of `MEMBERS` results.
pub(in crate::store) fn tally(
    rows: Vec<(String, i64)>,
    op: &'static str,
) -> Result<Row, StoreError> {
    let mut values = [0; SLOTS];
    for (state, n) in rows {
        values[TOTAL] += n;
        let slot = match state.as_str() {
            "unissued" => UNISSUED,
            other => match CommandState::parse(other) {
                Some(state) => slot(state),
                None => return Err(StoreError::decode(op, format!("unknown state {other:?}"))),
            },
        };
        values[slot] += n;
    }
    Ok(values)
}

/// Counts per slot from the members and their commands (all members, or one wave's).
async fn members_row(
    conn: impl sqlx::SqliteExecutor<'_>,
    rollout: Uuid,
    wave: Option<i64>,
) -> Result<Row, StoreError> {
    const OP: &str = "rollout_counters";
    let query = match wave {
        None => sqlx::query_as(MEMBERS).bind(rollout.to_string()),
        Some(wave) => sqlx::query_as(MEMBERS_OF_WAVE).bind(rollout.to_string()).bind(wave),
    };
    tally(query.fetch_all(conn).await.map_err(StoreError::query(OP))?, OP)
}

/// Count a rollout's members again and store the counters (in the writer's transaction).
fn recount(conn: &Connection, rollout: Uuid) -> Result<(), StoreError> {
    const OP: &str = "tx.recount_progress";
    execute_one(conn, CREATE, OP, |b| {
        b.uuid(rollout);
        Ok(())
    })?;
    let rows = select_by_id(conn, MEMBERS, rollout, |row| Ok((row.get(0)?, row.get(1)?)), OP)?;
    let counts = tally(rows, OP)?;
    execute_one(conn, &SET, OP, |b| {
        bind_row(b, &counts).uuid(rollout);
        Ok(())
    })?;
    Ok(())
}

/// Counters over every member: the stored row, or counted from the members when a rollout
/// has none yet.
pub(super) async fn rollout_counters(
    pool: &sqlx::SqlitePool,
    rollout: Uuid,
) -> Result<RolloutCounters, StoreError> {
    const OP: &str = "rollout_progress";
    let stored = match row_of(pool, &SELECT, rollout, OP).await? {
        Some(row) => stored_values(&row, OP)?,
        None => None,
    };
    stored_or_counted(pool, rollout, stored).await
}

/// Counters of one wave, from its members and their commands.
pub(super) async fn count_wave(
    conn: impl sqlx::SqliteExecutor<'_>,
    rollout: Uuid,
    wave: i64,
) -> Result<RolloutCounters, StoreError> {
    Ok(counters(&members_row(conn, rollout, Some(wave)).await?))
}

fn count(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

pub(in crate::store) fn counters(row: &Row) -> RolloutCounters {
    let state = |s: CommandState| count(row[slot(s)]);
    RolloutCounters {
        total: count(row[TOTAL]),
        unissued: count(row[UNISSUED]),
        queued: state(CommandState::Queued),
        in_flight: state(CommandState::Published)
            + state(CommandState::Accepted)
            + state(CommandState::ExecutionStarted),
        completed: state(CommandState::Completed),
        failed: state(CommandState::Failed),
        timed_out: state(CommandState::TimedOut),
        expired: state(CommandState::Expired),
        canceled: state(CommandState::Canceled),
        rejected: state(CommandState::Rejected),
    }
}
