//! Statements of the device area (`commands`, `command_events`, `clients`, `rollouts`,
//! `rollout_members`, `rollout_progress`) on PostgreSQL: the column lists as PostgreSQL reads
//! them, point and bulk reads by id, and the bulk writes a [`super::fleet_tx::PgFleetTx`]
//! sends.
//!
//! The rows decode with the SQLite backend's row structs (`sqlite::rows`: same columns, same
//! Rust types), so representation is decided once. Bulk writes bind one array per column and
//! read them back with `UNNEST`: one fixed statement whatever the batch size, so PostgreSQL
//! parses it once per connection, and a batch of 500 acks costs a few round trips.

use std::sync::LazyLock;

use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::model::clients::{CapabilityTier, ClientRecord, ProcessStatus};
use crate::model::commands::{AckTopic, CommandEvent, CommandRecord, Evidence};
use crate::model::rollouts::{AbortCause, RolloutRecord};
use crate::store::StoreError;
use crate::store::sqlite::fleet_tx::LOCKOUT_COUNTED;
use crate::store::sqlite::progress::{self, Row as ProgressRow, SLOTS};
use crate::store::sqlite::rows::{
    CLIENT_COLUMNS, COMMAND_COLUMNS, COMMAND_UPDATABLE, ROLLOUT_COLUMNS,
};

/// `$1, $2, …, $n`.
fn params(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// The columns of `clients` as PostgreSQL selects them: its INTEGER 0/1 flags read as
/// BIGINT, like every other integer of the row.
pub(super) static CLIENTS: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<String> = CLIENT_COLUMNS
        .split(',')
        .map(str::trim)
        .map(|c| match c {
            "online" | "needs_attention" => format!("{c}::BIGINT AS {c}"),
            c => c.to_owned(),
        })
        .collect();
    columns.join(", ")
});

/// `SELECT <columns> FROM commands WHERE 1 = 1`, for conditions to follow as ` AND …`.
pub(super) fn select_commands() -> QueryBuilder<Postgres> {
    QueryBuilder::new(format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE 1 = 1"))
}

/// `SELECT <columns> FROM clients WHERE 1 = 1`, for conditions to follow as ` AND …`.
pub(super) fn select_clients() -> QueryBuilder<Postgres> {
    QueryBuilder::new(format!("SELECT {} FROM clients WHERE 1 = 1", CLIENTS.as_str()))
}

/// `SELECT <columns> FROM rollouts WHERE 1 = 1`, for conditions to follow as ` AND …`.
pub(super) fn select_rollouts() -> QueryBuilder<Postgres> {
    QueryBuilder::new(format!("SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE 1 = 1"))
}

/// Pushes ` AND column = ANY(values)` for text values.
pub(super) fn push_any(builder: &mut QueryBuilder<Postgres>, column: &str, values: Vec<String>) {
    builder.push(format!(" AND {column} = ANY(")).push_bind(values).push(")");
}

/// The text of each id (how the device area stores UUIDs).
pub(super) fn texts(ids: &[Uuid]) -> Vec<String> {
    ids.iter().map(Uuid::to_string).collect()
}

/// Runs `builder` and decodes each row with `decode` (a row struct's `into_record`).
pub(super) async fn fetch<'c, R, T>(
    conn: impl sqlx::PgExecutor<'c>,
    mut builder: QueryBuilder<Postgres>,
    decode: fn(R, &'static str) -> Result<T, StoreError>,
    op: &'static str,
) -> Result<Vec<T>, StoreError>
where
    R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let rows: Vec<R> =
        builder.build_query_as().fetch_all(conn).await.map_err(StoreError::query(op))?;
    rows.into_iter().map(|r| decode(r, op)).collect()
}

/// Which commands count towards the lockout: `(client_uuid, issued_ms)` of `$1`'s clients
/// since `$2`, oldest first.
pub(super) static LOCKOUT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT client_uuid, issued_ms FROM commands WHERE {LOCKOUT_COUNTED} \
         AND client_uuid = ANY($1) AND issued_ms >= $2 ORDER BY issued_ms"
    )
});

/// The lockout entries of `clients` since `since_ms`, oldest first.
pub(super) async fn lockout<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    clients: &[Uuid],
    since_ms: i64,
    op: &'static str,
) -> Result<Vec<(Uuid, i64)>, StoreError> {
    let found: Vec<(String, i64)> = sqlx::query_as(LOCKOUT.as_str())
        .bind(texts(clients))
        .bind(since_ms)
        .fetch_all(conn)
        .await
        .map_err(StoreError::query(op))?;
    found
        .into_iter()
        .map(|(client, issued)| {
            Ok((Uuid::parse_str(&client).map_err(|e| StoreError::decode(op, e))?, issued))
        })
        .collect()
}

/// One array per column of `rows`.
fn column<T, U>(rows: &[&T], value: impl Fn(&T) -> U) -> Vec<U> {
    rows.iter().map(|row| value(row)).collect()
}

static INSERT_COMMANDS: LazyLock<String> = LazyLock::new(|| {
    format!("INSERT INTO commands ({COMMAND_COLUMNS}) SELECT * FROM UNNEST({})", params(32))
});

/// Rewrites every column a transition may change (`sqlite::rows::COMMAND_UPDATABLE`) of the
/// commands bound as for an insert. PostgreSQL writes a whole new row version whichever
/// columns change, so unlike SQLite one statement serves every kind of update.
static UPDATE_COMMANDS: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> =
        COMMAND_UPDATABLE.iter().map(|c| format!("{0} = v.{0}", c.name)).collect();
    format!(
        "UPDATE commands AS c SET {} FROM UNNEST({}) AS v ({COMMAND_COLUMNS}) \
         WHERE c.command_id = v.command_id",
        sets.join(", "),
        params(32)
    )
});

/// Inserts `commands` in one statement.
pub(super) async fn insert_commands(
    conn: &mut PgConnection,
    commands: &[&CommandRecord],
) -> Result<(), StoreError> {
    write_commands(conn, &INSERT_COMMANDS, commands, "tx.insert_commands").await
}

/// Stores the updatable columns of `commands` in one statement.
pub(super) async fn update_commands(
    conn: &mut PgConnection,
    commands: &[&CommandRecord],
) -> Result<(), StoreError> {
    write_commands(conn, &UPDATE_COMMANDS, commands, "tx.update_commands").await
}

/// Runs `sql` with one array per column of `commands` (in [`COMMAND_COLUMNS`] order).
async fn write_commands(
    conn: &mut PgConnection,
    sql: &'static str,
    commands: &[&CommandRecord],
    op: &'static str,
) -> Result<(), StoreError> {
    if commands.is_empty() {
        return Ok(());
    }
    let c = commands;
    let late = |c: &CommandRecord| c.late_outcome.clone();
    sqlx::query(sql)
        .bind(column(c, |c| c.command_id.to_string()))
        .bind(column(c, |c| c.client_uuid.to_string()))
        .bind(column(c, |c| c.action.as_str()))
        .bind(column(c, |c| c.state.as_str()))
        .bind(column(c, |c| c.reason.clone()))
        .bind(column(c, |c| c.requested_by))
        .bind(column(c, |c| c.origin.as_str()))
        .bind(column(c, |c| c.params_hash.clone()))
        .bind(column(c, |c| c.principal.clone()))
        .bind(column(c, |c| c.issued_ms))
        .bind(column(c, |c| c.expires_ms))
        .bind(column(c, |c| c.published_ms))
        .bind(column(c, |c| c.accepted_ms))
        .bind(column(c, |c| c.started_ms))
        .bind(column(c, |c| c.finished_ms))
        .bind(column(c, |c| c.deadline_ms))
        .bind(column(c, |c| c.offline_seen_ms))
        .bind(column(c, |c| c.boot_id_at_issue.clone()))
        .bind(column(c, |c| c.boot_id_at_completion.clone()))
        .bind(column(c, |c| c.error_code.clone()))
        .bind(column(c, |c| c.error_message.clone()))
        .bind(column(c, |c| late(c).map(|l| l.state.as_str())))
        .bind(column(c, |c| late(c).map(|l| l.received_ms)))
        .bind(column(c, |c| late(c).and_then(|l| l.error_code)))
        .bind(column(c, |c| late(c).and_then(|l| l.error_message)))
        .bind(column(c, |c| late(c).and_then(|l| l.boot_id)))
        .bind(column(c, |c| c.completion_evidence.map(Evidence::as_str)))
        .bind(column(c, |c| c.ignored_acks))
        .bind(column(c, |c| c.rollout_id.map(|r| r.to_string())))
        .bind(column(c, |c| c.trace_parent.clone()))
        .bind(column(c, |c| c.last_ack_topic.map(AckTopic::as_str)))
        .bind(column(c, |c| c.updated_ms))
        .execute(conn)
        .await
        .map_err(StoreError::query(op))?;
    Ok(())
}

static UPSERT_CLIENTS: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> = CLIENT_COLUMNS
        .split(',')
        .map(str::trim)
        .filter(|c| *c != "client_uuid")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO clients ({CLIENT_COLUMNS}) SELECT * FROM UNNEST({}) \
         ON CONFLICT (client_uuid) DO UPDATE SET {}",
        params(26),
        sets.join(", ")
    )
});

/// Inserts or replaces `clients` in one statement.
pub(super) async fn put_clients(
    conn: &mut PgConnection,
    clients: &[&ClientRecord],
) -> Result<(), StoreError> {
    if clients.is_empty() {
        return Ok(());
    }
    let c = clients;
    sqlx::query(UPSERT_CLIENTS.as_str())
        .bind(column(c, |c| c.client_uuid.to_string()))
        .bind(column(c, |c| c.group.clone()))
        .bind(column(c, |c| c.capability_tier.map(CapabilityTier::as_str)))
        .bind(column(c, |c| c.first_seen_ms))
        .bind(column(c, |c| c.last_seen_ms))
        .bind(column(c, |c| i32::from(c.online == Some(true))))
        .bind(column(c, |c| c.last_online_ms))
        .bind(column(c, |c| c.last_offline_ms))
        .bind(column(c, |c| c.last_health_ms))
        .bind(column(c, |c| c.boot_id.clone()))
        .bind(column(c, |c| c.uptime_s))
        .bind(column(c, |c| c.app_version.clone()))
        .bind(column(c, |c| c.process_status.map(ProcessStatus::as_str)))
        .bind(column(c, |c| c.mqtt_reconnect_count))
        .bind(column(c, |c| c.mqtt_last_disconnect_ms))
        .bind(column(c, |c| c.service_failed_unit.clone()))
        .bind(column(c, |c| c.service_failed_ms))
        .bind(column(c, |c| c.recovery_step.as_str()))
        .bind(column(c, |c| c.recovery_step_ms))
        .bind(column(c, |c| c.recovery_command_id.map(|id| id.to_string())))
        .bind(column(c, |c| c.recovery_detected_ms))
        .bind(column(c, |c| c.recovery_detail.clone()))
        .bind(column(c, |c| i32::from(c.needs_attention)))
        .bind(column(c, |c| c.attention_reason.clone()))
        .bind(column(c, |c| c.shut_down_ms))
        .bind(column(c, |c| c.updated_ms))
        .execute(conn)
        .await
        .map_err(StoreError::query("tx.put_clients"))?;
    Ok(())
}

/// Inserts `events` (their ids reserved from the identity sequence) in one statement.
pub(super) async fn insert_events(
    conn: &mut PgConnection,
    events: &[CommandEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let e: Vec<&CommandEvent> = events.iter().collect();
    sqlx::query(
        "INSERT INTO command_events (id, command_id, at_ms, from_state, to_state, source, \
         detail) SELECT * FROM UNNEST($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(column(&e, |e| e.id))
    .bind(column(&e, |e| e.command_id.to_string()))
    .bind(column(&e, |e| e.at_ms))
    .bind(column(&e, |e| e.from_state.map(|s| s.as_str())))
    .bind(column(&e, |e| e.to_state.as_str()))
    .bind(column(&e, |e| e.source.as_str()))
    .bind(column(&e, |e| e.detail.clone()))
    .execute(conn)
    .await
    .map_err(StoreError::query("tx.insert_events"))?;
    Ok(())
}

/// `count` fresh ids of `command_events` from its identity sequence (named as PostgreSQL
/// names an identity column's sequence: a constant resolved once per statement, where
/// `pg_get_serial_sequence` per row cost eight times as much).
pub(super) async fn reserve_event_ids(
    conn: &mut PgConnection,
    count: i64,
) -> Result<Vec<i64>, StoreError> {
    sqlx::query_scalar("SELECT nextval('command_events_id_seq') FROM generate_series(1, $1)")
        .bind(count)
        .fetch_all(conn)
        .await
        .map_err(StoreError::query("tx.insert_event"))
}

/// Inserts the members of a rollout in one statement.
pub(super) async fn insert_members(
    conn: &mut PgConnection,
    rollout: Uuid,
    clients: Vec<String>,
    waves: Vec<i64>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO rollout_members (rollout_id, client_uuid, wave) \
         SELECT $1, * FROM UNNEST($2, $3)",
    )
    .bind(rollout.to_string())
    .bind(clients)
    .bind(waves)
    .execute(conn)
    .await
    .map_err(StoreError::query("tx.insert_members"))?;
    Ok(())
}

/// Those of `clients` that are members of `rollout` without a command, their rows locked
/// until the transaction ends (in one order, so that two lockers cannot deadlock). A row
/// another transaction locked is read once that one ended: in READ COMMITTED, `FOR UPDATE`
/// checks `command_id IS NULL` again on the row's newest version, so a member issued by a
/// transaction that committed meanwhile is left out.
pub(super) async fn lock_unissued_members(
    conn: &mut PgConnection,
    rollout: Uuid,
    clients: &[Uuid],
) -> Result<crate::ids::IdSet, StoreError> {
    const OP: &str = "tx.unissued_members_of";
    if clients.is_empty() {
        return Ok(crate::ids::IdSet::default());
    }
    let found: Vec<String> = sqlx::query_scalar(
        "SELECT client_uuid FROM rollout_members WHERE rollout_id = $1 \
         AND client_uuid = ANY($2) AND command_id IS NULL ORDER BY client_uuid FOR UPDATE",
    )
    .bind(rollout.to_string())
    .bind(texts(clients))
    .fetch_all(conn)
    .await
    .map_err(StoreError::query(OP))?;
    found.iter().map(|id| Uuid::parse_str(id).map_err(|e| StoreError::decode(OP, e))).collect()
}

/// Sets `command_id` of rollout members, from (rollout, client, command) triples.
pub(super) async fn set_member_commands(
    conn: &mut PgConnection,
    members: &[(Uuid, Uuid, Uuid)],
) -> Result<(), StoreError> {
    if members.is_empty() {
        return Ok(());
    }
    let m: Vec<&(Uuid, Uuid, Uuid)> = members.iter().collect();
    sqlx::query(
        "UPDATE rollout_members AS m SET command_id = v.command_id \
         FROM UNNEST($1, $2, $3) AS v (rollout_id, client_uuid, command_id) \
         WHERE m.rollout_id = v.rollout_id AND m.client_uuid = v.client_uuid",
    )
    .bind(column(&m, |m| m.0.to_string()))
    .bind(column(&m, |m| m.1.to_string()))
    .bind(column(&m, |m| m.2.to_string()))
    .execute(conn)
    .await
    .map_err(StoreError::query("tx.set_member_commands"))?;
    Ok(())
}

static UPSERT_ROLLOUT: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> = ROLLOUT_COLUMNS
        .split(',')
        .map(str::trim)
        .filter(|c| *c != "rollout_id")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO rollouts ({ROLLOUT_COLUMNS}) VALUES ({}) \
         ON CONFLICT (rollout_id) DO UPDATE SET {}",
        params(27),
        sets.join(", ")
    )
});

/// Inserts or replaces a rollout row.
pub(super) async fn put_rollout(
    conn: &mut PgConnection,
    r: &RolloutRecord,
) -> Result<(), StoreError> {
    const OP: &str = "tx.put_rollout";
    let target = serde_json::to_string(&r.target).map_err(|e| StoreError::encode(OP, e))?;
    sqlx::query(UPSERT_ROLLOUT.as_str())
        .bind(r.rollout_id.to_string())
        .bind(r.action.as_str())
        .bind(target)
        .bind(r.canary_count)
        .bind(r.canary_percent)
        .bind(r.canary_size)
        .bind(r.max_per_minute)
        .bind(r.abort_failure_percent)
        .bind(r.min_finished)
        .bind(r.state.as_str())
        .bind(&r.reason)
        .bind(r.requested_by)
        .bind(&r.principal)
        .bind(&r.params_hash)
        .bind(r.expires_in_ms)
        .bind(r.total_members)
        .bind(r.issued_members)
        .bind(r.current_wave)
        .bind(r.last_issue_ms)
        .bind(r.created_ms)
        .bind(r.started_ms)
        .bind(r.canary_finished_ms)
        .bind(r.updated_ms)
        .bind(r.finished_ms)
        .bind(&r.abort_reason)
        .bind(r.abort_cause.map(AbortCause::as_str))
        .bind(&r.error)
        .execute(conn)
        .await
        .map_err(StoreError::query(OP))?;
    Ok(())
}

/// The counter columns of `rollout_progress`, in slot order.
fn progress_columns() -> Vec<&'static str> {
    progress::columns().collect()
}

/// Adds `$2…` to the counters of rollout `$1` (no row: nothing changes).
static ADD_PROGRESS: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> = progress_columns()
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = {c} + ${}", i + 2))
        .collect();
    format!("UPDATE rollout_progress SET {} WHERE rollout_id = $1", sets.join(", "))
});

/// Stores the counters `$2…` of rollout `$1`, creating its row.
static SET_PROGRESS: LazyLock<String> = LazyLock::new(|| {
    let columns = progress_columns();
    let sets: Vec<String> = columns.iter().map(|c| format!("{c} = excluded.{c}")).collect();
    format!(
        "INSERT INTO rollout_progress (rollout_id, {}) VALUES ({}) \
         ON CONFLICT (rollout_id) DO UPDATE SET {}",
        columns.join(", "),
        params(SLOTS + 1),
        sets.join(", ")
    )
});

/// The state counts of a rollout's members (`unissued` for those without a command), of
/// every wave or (`$2` not null) of one.
const MEMBER_COUNTS: &str = "SELECT COALESCE(c.state, 'unissued'), COUNT(*) \
    FROM rollout_members m LEFT JOIN commands c ON c.command_id = m.command_id \
    WHERE m.rollout_id = $1 AND ($2::BIGINT IS NULL OR m.wave = $2) GROUP BY 1";

/// Counts a rollout's members (all, or of one wave) by the state of their commands.
pub(super) async fn count_members<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    rollout: Uuid,
    wave: Option<i64>,
) -> Result<ProgressRow, StoreError> {
    const OP: &str = "rollout_counters";
    let rows: Vec<(String, i64)> = sqlx::query_as(MEMBER_COUNTS)
        .bind(rollout.to_string())
        .bind(wave)
        .fetch_all(conn)
        .await
        .map_err(StoreError::query(OP))?;
    progress::tally(rows, OP)
}

/// Adds a transaction's counter changes to the rollouts' rows, and counts again from the
/// members the rollouts without a row or marked for a recount.
pub(super) async fn write_progress(
    conn: &mut PgConnection,
    mut deltas: Vec<(Uuid, ProgressRow)>,
    mut recount: Vec<Uuid>,
) -> Result<(), StoreError> {
    const OP: &str = "tx.add_progress";
    // One rollout at a time in id order: transactions adding to the same rollouts wait for
    // each other in that order, never in a cycle.
    deltas.sort_unstable_by_key(|(rollout, _)| *rollout);
    recount.sort_unstable();
    for (rollout, delta) in deltas {
        let query = sqlx::query(ADD_PROGRESS.as_str()).bind(rollout.to_string());
        let query = delta.iter().fold(query, |q, d| q.bind(*d));
        let done = query.execute(&mut *conn).await.map_err(StoreError::query(OP))?;
        if done.rows_affected() == 0 {
            recount.push(rollout);
        }
    }
    for rollout in recount {
        let counts = count_members(&mut *conn, rollout, None).await?;
        let query = sqlx::query(SET_PROGRESS.as_str()).bind(rollout.to_string());
        let query = counts.iter().fold(query, |q, n| q.bind(*n));
        query.execute(&mut *conn).await.map_err(StoreError::query("tx.recount_progress"))?;
    }
    Ok(())
}
