//! SQLite implementation of [`RestartStore`]: the `restart_events` table (0001 + 0003).

use std::path::PathBuf;
use std::time::Duration;

use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite};
use tracing::instrument;
use uuid::Uuid;

use super::SqliteStore;
use crate::model::restart::{
    DrainStats, Mode, Outcome, Phase, PhaseTiming, Reason, RequestedMode, RestartRecord,
    SnapshotOutcome,
};
use crate::store::audit::AuditRow;
use crate::store::{
    RestartCursor, RestartPage, RestartQuery, RestartStore, RestartTotals, StoreError,
};

const COLUMNS: &str = "restart_id, requested_mode, mode, reason, phase, outcome, failed_phase, \
    principal, binary_path, preserve_state, drain_timeout_ms, old_pid, new_pid, generation, \
    generation_before, started_ms, successor_ready_ms, finished_ms, phase_durations_json, error, \
    snapshot_outcome, snapshot_detail, trace_id, connections_drained, streams_reconnected, \
    drain_rpcs_completed, drain_rpcs_canceled";

#[derive(sqlx::FromRow)]
struct RestartRow {
    restart_id: String,
    requested_mode: String,
    mode: String,
    reason: String,
    phase: String,
    outcome: Option<String>,
    failed_phase: Option<String>,
    principal: Option<String>,
    binary_path: Option<String>,
    preserve_state: i64,
    drain_timeout_ms: i64,
    old_pid: i64,
    new_pid: Option<i64>,
    generation: i64,
    generation_before: i64,
    started_ms: i64,
    successor_ready_ms: Option<i64>,
    finished_ms: Option<i64>,
    phase_durations_json: Option<String>,
    error: Option<String>,
    snapshot_outcome: Option<String>,
    snapshot_detail: Option<String>,
    trace_id: Option<String>,
    connections_drained: i64,
    streams_reconnected: i64,
    drain_rpcs_completed: i64,
    drain_rpcs_canceled: i64,
}

fn name<T>(
    op: &'static str,
    what: &str,
    text: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| StoreError::decode(op, format!("unknown {what} {text:?}")))
}

fn count(op: &'static str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|e| StoreError::decode(op, e))
}

fn pid(op: &'static str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|e| StoreError::decode(op, e))
}

impl RestartRow {
    fn into_record(self, op: &'static str) -> Result<RestartRecord, StoreError> {
        let phases: Vec<PhaseTiming> = match &self.phase_durations_json {
            Some(json) => serde_json::from_str(json).map_err(|e| StoreError::decode(op, e))?,
            None => Vec::new(),
        };
        Ok(RestartRecord {
            id: self.restart_id.parse().map_err(|e| StoreError::decode(op, e))?,
            requested_mode: name(op, "mode", &self.requested_mode, RequestedMode::parse)?,
            mode: name(op, "mode", &self.mode, Mode::parse)?,
            reason: name(op, "reason", &self.reason, Reason::parse)?,
            phase: name(op, "phase", &self.phase, Phase::parse)?,
            outcome: self
                .outcome
                .as_deref()
                .map(|o| name(op, "outcome", o, Outcome::parse))
                .transpose()?,
            failed_phase: self
                .failed_phase
                .as_deref()
                .map(|p| name(op, "phase", p, Phase::parse))
                .transpose()?,
            error: self.error,
            phases,
            generation_before: count(op, self.generation_before)?,
            generation_after: count(op, self.generation)?,
            old_pid: pid(op, self.old_pid)?,
            new_pid: self.new_pid.map(|p| pid(op, p)).transpose()?,
            snapshot: self
                .snapshot_outcome
                .as_deref()
                .map(|s| name(op, "snapshot outcome", s, SnapshotOutcome::parse))
                .transpose()?,
            snapshot_detail: self.snapshot_detail,
            drain_timeout: Duration::from_millis(count(op, self.drain_timeout_ms)?),
            preserve_state: self.preserve_state != 0,
            binary: PathBuf::from(self.binary_path.unwrap_or_default()),
            principal: self.principal.unwrap_or_default(),
            trace_id: self.trace_id,
            requested_ms: self.started_ms,
            successor_ready_ms: self.successor_ready_ms,
            finished_ms: self.finished_ms,
            drain: DrainStats {
                connections_drained: count(op, self.connections_drained)?,
                streams_told_to_reconnect: count(op, self.streams_reconnected)?,
                rpcs_completed: count(op, self.drain_rpcs_completed)?,
                rpcs_canceled: count(op, self.drain_rpcs_canceled)?,
            },
        })
    }
}

fn int(op: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|e| StoreError::encode(op, e))
}

#[async_trait::async_trait]
impl RestartStore for SqliteStore {
    #[instrument(skip_all, name = "store.save_restart", fields(restart.id = %record.id, restart.phase = %record.phase))]
    async fn save_restart(
        &self,
        record: &RestartRecord,
        audit: Option<&AuditRow>,
    ) -> Result<(), StoreError> {
        const OP: &str = "save_restart";
        let mut tx = self.pool.begin().await.map_err(StoreError::query(OP))?;
        let phases =
            serde_json::to_string(&record.phases).map_err(|e| StoreError::encode(OP, e))?;
        let drain_ms = int(OP, record.drain_timeout.as_millis() as u64)?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT OR REPLACE INTO restart_events ({COLUMNS}, updated_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )))
        .bind(record.id.to_string())
        .bind(record.requested_mode.as_str())
        .bind(record.mode.as_str())
        .bind(record.reason.as_str())
        .bind(record.phase.as_str())
        .bind(record.outcome.map(Outcome::as_str))
        .bind(record.failed_phase.map(Phase::as_str))
        .bind(&record.principal)
        .bind(record.binary.to_string_lossy().into_owned())
        .bind(i64::from(record.preserve_state))
        .bind(drain_ms)
        .bind(i64::from(record.old_pid))
        .bind(record.new_pid.map(i64::from))
        .bind(int(OP, record.generation_after)?)
        .bind(int(OP, record.generation_before)?)
        .bind(record.requested_ms)
        .bind(record.successor_ready_ms)
        .bind(record.finished_ms)
        .bind(phases)
        .bind(record.error.as_deref())
        .bind(record.snapshot.map(SnapshotOutcome::as_str))
        .bind(record.snapshot_detail.as_deref())
        .bind(record.trace_id.as_deref())
        .bind(int(OP, record.drain.connections_drained)?)
        .bind(int(OP, record.drain.streams_told_to_reconnect)?)
        .bind(int(OP, record.drain.rpcs_completed)?)
        .bind(int(OP, record.drain.rpcs_canceled)?)
        .bind(crate::clock::now_ms())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        super::audit::commit_with(tx, audit, OP).await
    }

    #[instrument(skip_all, name = "store.restart", fields(restart.id = %id))]
    async fn restart(&self, id: Uuid) -> Result<Option<RestartRecord>, StoreError> {
        const OP: &str = "restart";
        let row: Option<RestartRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM restart_events WHERE restart_id = ?"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        row.map(|row| row.into_record(OP)).transpose()
    }

    #[instrument(skip_all, name = "store.latest_restart")]
    async fn latest_restart(&self) -> Result<Option<RestartRecord>, StoreError> {
        let page =
            self.list_restarts(&RestartQuery { limit: 1, ..RestartQuery::default() }).await?;
        Ok(page.records.into_iter().next())
    }

    #[instrument(skip_all, name = "store.list_restarts", fields(limit = query.limit))]
    async fn list_restarts(&self, query: &RestartQuery) -> Result<RestartPage, StoreError> {
        const OP: &str = "list_restarts";
        let limit = query.limit.max(1);
        let mut sql: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {COLUMNS} FROM restart_events WHERE 1 = 1"));
        if let Some(after) = &query.after {
            sql.push(" AND (started_ms < ")
                .push_bind(after.requested_ms)
                .push(" OR (started_ms = ")
                .push_bind(after.requested_ms)
                .push(" AND restart_id < ")
                .push_bind(after.id.to_string())
                .push("))");
        }
        if !query.outcomes.is_empty() {
            sql.push(" AND (0 = 1");
            for outcome in &query.outcomes {
                match outcome {
                    None => sql.push(" OR outcome IS NULL"),
                    Some(outcome) => sql.push(" OR outcome = ").push_bind(outcome.as_str()),
                };
            }
            sql.push(")");
        }
        sql.push(" ORDER BY started_ms DESC, restart_id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows: Vec<RestartRow> =
            sql.build_query_as().fetch_all(&self.pool).await.map_err(StoreError::query(OP))?;
        let mut records =
            rows.into_iter().map(|row| row.into_record(OP)).collect::<Result<Vec<_>, _>>()?;
        let next = if records.len() > limit as usize {
            records.truncate(limit as usize);
            records.last().map(|r| RestartCursor { requested_ms: r.requested_ms, id: r.id })
        } else {
            None
        };
        Ok(RestartPage { records, next })
    }

    #[instrument(skip_all, name = "store.interrupt_restarts")]
    async fn interrupt_restarts(
        &self,
        keep: Option<Uuid>,
        at_ms: i64,
    ) -> Result<Vec<Uuid>, StoreError> {
        const OP: &str = "interrupt_restarts";
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE restart_events SET failed_phase = phase, phase = 'failed', \
                 outcome = 'interrupted', generation = 0, finished_ms = ?, updated_ms = ?, \
                 error = 'the process performing the restart exited before it finished' \
             WHERE outcome IS NULL AND restart_id <> ? RETURNING restart_id",
        )
        .bind(at_ms)
        .bind(at_ms)
        .bind(keep.map(|id| id.to_string()).unwrap_or_default())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        ids.iter().map(|id| id.parse().map_err(|e| StoreError::decode(OP, e))).collect()
    }

    #[instrument(skip_all, name = "store.restart_totals")]
    async fn restart_totals(&self) -> Result<RestartTotals, StoreError> {
        const OP: &str = "restart_totals";
        #[derive(sqlx::FromRow)]
        struct Sums {
            total: i64,
            succeeded: i64,
            rolled_back: i64,
            failed: i64,
            connections: i64,
            streams: i64,
            completed: i64,
            canceled: i64,
            first_start_ms: Option<i64>,
        }
        let sums: Sums = sqlx::query_as(
            "SELECT COUNT(*) AS total, \
                 COALESCE(SUM(outcome = 'succeeded'), 0) AS succeeded, \
                 COALESCE(SUM(outcome = 'rolled_back'), 0) AS rolled_back, \
                 COALESCE(SUM(outcome IN ('failed', 'interrupted')), 0) AS failed, \
                 COALESCE(SUM(connections_drained), 0) AS connections, \
                 COALESCE(SUM(streams_reconnected), 0) AS streams, \
                 COALESCE(SUM(drain_rpcs_completed), 0) AS completed, \
                 COALESCE(SUM(drain_rpcs_canceled), 0) AS canceled, \
                 (SELECT MIN(started_ms) FROM server_runs) AS first_start_ms \
             FROM restart_events",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        let last: Option<(String, i64)> = sqlx::query_as(
            "SELECT restart_id, finished_ms FROM restart_events WHERE finished_ms IS NOT NULL \
             ORDER BY finished_ms DESC, restart_id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        let last_finished = match last {
            Some((id, ms)) => Some((id.parse().map_err(|e| StoreError::decode(OP, e))?, ms)),
            None => None,
        };
        Ok(RestartTotals {
            total: count(OP, sums.total)?,
            succeeded: count(OP, sums.succeeded)?,
            rolled_back: count(OP, sums.rolled_back)?,
            failed: count(OP, sums.failed)?,
            drain: DrainStats {
                connections_drained: count(OP, sums.connections)?,
                streams_told_to_reconnect: count(OP, sums.streams)?,
                rpcs_completed: count(OP, sums.completed)?,
                rpcs_canceled: count(OP, sums.canceled)?,
            },
            last_finished,
            first_start_ms: sums.first_start_ms,
        })
    }
}
