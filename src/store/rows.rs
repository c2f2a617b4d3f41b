//! Row shapes of the tables the server's own bookkeeping writes (`server_runs`,
//! `restart_events`, `config_reload_events`, `recovery_reports`, `audit_events`), their
//! decoding into records and the order their values bind in: one definition for both backends.
//!
//! The columns read back the same on SQLite and PostgreSQL (BIGINT/INTEGER as `i64`, TEXT as
//! `String`), except PostgreSQL's INTEGER 0/1 flags, which its statements select `::BIGINT`.
//! No statement lives here: each backend writes its own SQL around these shapes.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::audit::AuditRow;
use super::recovery::RecoveryReportRow;
use super::reloads::{ReloadEventRow, ReloadStatsRow};
use super::{PreviousRun, RestartCursor, RestartPage, RestartTotals, RunEnd, RunId, StoreError};
use crate::model::restart::{
    DrainStats, Mode, Outcome, Phase, PhaseTiming, Reason, RequestedMode, RestartRecord,
    SnapshotOutcome,
};
use uuid::Uuid;

/// Converts a stored `*_ms` column back to a timestamp; `op` names the failing operation.
pub(crate) fn from_ms(op: &'static str, ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::decode(op, format!("timestamp {ms} ms out of range")))
}

/// A value that must fit a signed 64-bit column.
pub(super) fn int(op: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|e| StoreError::encode(op, e))
}

// ---- server_runs ----

#[derive(sqlx::FromRow)]
pub(super) struct RunRow {
    pub run_id: i64,
    pub started_ms: i64,
    pub stopped_ms: Option<i64>,
    pub clean_shutdown: i64,
    pub pid: i64,
    pub generation: i64,
    pub server_version: String,
}

impl RunRow {
    pub(super) fn into_previous(self, op: &'static str) -> Result<PreviousRun, StoreError> {
        let end = match self.stopped_ms {
            None => RunEnd::Crashed,
            Some(ms) if self.clean_shutdown != 0 => RunEnd::Clean { stopped_at: from_ms(op, ms)? },
            Some(ms) => RunEnd::Unclean { stopped_at: from_ms(op, ms)? },
        };
        Ok(PreviousRun {
            run_id: RunId(self.run_id),
            started_at: from_ms(op, self.started_ms)?,
            pid: u32::try_from(self.pid).map_err(|e| StoreError::decode(op, e))?,
            generation: u64::try_from(self.generation).map_err(|e| StoreError::decode(op, e))?,
            server_version: self.server_version,
            end,
        })
    }
}

// ---- restart_events ----

pub(super) const RESTART_COLUMNS: &str = "restart_id, requested_mode, mode, reason, phase, outcome, failed_phase, \
    principal, binary_path, preserve_state, drain_timeout_ms, old_pid, new_pid, generation, \
    generation_before, started_ms, successor_ready_ms, finished_ms, phase_durations_json, error, \
    snapshot_outcome, snapshot_detail, trace_id, connections_drained, streams_reconnected, \
    drain_rpcs_completed, drain_rpcs_canceled";

#[derive(sqlx::FromRow)]
pub(super) struct RestartRow {
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

pub(super) fn count(op: &'static str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|e| StoreError::decode(op, e))
}

fn pid(op: &'static str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|e| StoreError::decode(op, e))
}

impl RestartRow {
    pub(super) fn into_record(self, op: &'static str) -> Result<RestartRecord, StoreError> {
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

/// One page of [`RestartRow`]s read with `LIMIT limit + 1`: the records and, when there was
/// one more row, the cursor of the page's last record.
pub(super) fn restart_page(
    rows: Vec<RestartRow>,
    limit: u32,
    op: &'static str,
) -> Result<RestartPage, StoreError> {
    let mut records =
        rows.into_iter().map(|row| row.into_record(op)).collect::<Result<Vec<_>, _>>()?;
    let next = if records.len() > limit as usize {
        records.truncate(limit as usize);
        records.last().map(|r| RestartCursor { requested_ms: r.requested_ms, id: r.id })
    } else {
        None
    };
    Ok(RestartPage { records, next })
}

/// The sums behind [`RestartTotals`], as one aggregate row.
#[derive(sqlx::FromRow)]
pub(super) struct RestartSums {
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

impl RestartSums {
    /// The totals, with the latest finished restart (`restart_id`, `finished_ms`) if any.
    pub(super) fn into_totals(
        self,
        last: Option<(String, i64)>,
        op: &'static str,
    ) -> Result<RestartTotals, StoreError> {
        let last_finished = match last {
            Some((id, ms)) => Some((id.parse().map_err(|e| StoreError::decode(op, e))?, ms)),
            None => None,
        };
        Ok(RestartTotals {
            total: count(op, self.total)?,
            succeeded: count(op, self.succeeded)?,
            rolled_back: count(op, self.rolled_back)?,
            failed: count(op, self.failed)?,
            drain: DrainStats {
                connections_drained: count(op, self.connections)?,
                streams_told_to_reconnect: count(op, self.streams)?,
                rpcs_completed: count(op, self.completed)?,
                rpcs_canceled: count(op, self.canceled)?,
            },
            last_finished,
            first_start_ms: self.first_start_ms,
        })
    }
}

/// The ids an `UPDATE … RETURNING restart_id` gave back.
pub(super) fn restart_ids(ids: &[String], op: &'static str) -> Result<Vec<Uuid>, StoreError> {
    ids.iter().map(|id| id.parse().map_err(|e| StoreError::decode(op, e))).collect()
}

/// The latest finished restart, for [`RestartSums::into_totals`].
pub(super) const LAST_FINISHED_RESTART: &str = "SELECT restart_id, finished_ms \
    FROM restart_events WHERE finished_ms IS NOT NULL \
    ORDER BY finished_ms DESC, restart_id DESC LIMIT 1";

/// Binds the values of a restart row, in [`RESTART_COLUMNS`] order then `updated_ms`, to
/// `$query`; evaluates to the query, or returns an encode error from the enclosing function.
macro_rules! bind_restart {
    ($query:expr, $record:expr, $op:expr) => {{
        use $crate::model::restart::{Outcome, Phase, SnapshotOutcome};
        use $crate::store::rows::int;
        let record = $record;
        let phases =
            serde_json::to_string(&record.phases).map_err(|e| StoreError::encode($op, e))?;
        $query
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
            .bind(int($op, record.drain_timeout.as_millis() as u64)?)
            .bind(i64::from(record.old_pid))
            .bind(record.new_pid.map(i64::from))
            .bind(int($op, record.generation_after)?)
            .bind(int($op, record.generation_before)?)
            .bind(record.requested_ms)
            .bind(record.successor_ready_ms)
            .bind(record.finished_ms)
            .bind(phases)
            .bind(record.error.as_deref())
            .bind(record.snapshot.map(SnapshotOutcome::as_str))
            .bind(record.snapshot_detail.as_deref())
            .bind(record.trace_id.as_deref())
            .bind(int($op, record.drain.connections_drained)?)
            .bind(int($op, record.drain.streams_told_to_reconnect)?)
            .bind(int($op, record.drain.rpcs_completed)?)
            .bind(int($op, record.drain.rpcs_canceled)?)
            .bind($crate::clock::now_ms())
    }};
}
pub(crate) use bind_restart;

// ---- config_reload_events ----

/// Columns of `config_reload_events` a reload row reads.
pub(super) const RELOAD_COLUMNS: &str = "id, at_ms, trigger, principal, result, version_before, \
    version_after, content_hash, diff_json, restart_required_json, validation_errors_json, \
    duration_us, error, failed_observer, source, source_path, restart_id";

/// Columns a new reload row writes, in the order [`bind_reload`] binds them (the id is the
/// store's to assign).
pub(super) const RELOAD_INSERT_COLUMNS: &str = "at_ms, trigger, principal, result, \
    version_before, version_after, content_hash, diff_json, restart_required_json, \
    validation_errors_json, duration_us, error, failed_observer, source, source_path, restart_id";

#[derive(sqlx::FromRow)]
pub(super) struct ReloadRow {
    id: i64,
    at_ms: i64,
    trigger: String,
    principal: Option<String>,
    result: String,
    version_before: Option<i64>,
    version_after: Option<i64>,
    content_hash: Option<String>,
    diff_json: Option<String>,
    restart_required_json: Option<String>,
    validation_errors_json: Option<String>,
    duration_us: i64,
    error: Option<String>,
    failed_observer: Option<String>,
    source: Option<String>,
    source_path: Option<String>,
    restart_id: Option<String>,
}

impl ReloadRow {
    pub(super) fn into_event(self, op: &'static str) -> Result<ReloadEventRow, StoreError> {
        let unsigned =
            |v: Option<i64>| u64::try_from(v.unwrap_or(0)).map_err(|e| StoreError::decode(op, e));
        Ok(ReloadEventRow {
            id: self.id,
            at: from_ms(op, self.at_ms)?,
            trigger: self.trigger,
            principal: self.principal,
            result: self.result,
            version_before: unsigned(self.version_before)?,
            version_after: unsigned(self.version_after)?,
            content_hash: self.content_hash,
            diff_json: self.diff_json.unwrap_or_else(|| "[]".into()),
            restart_required_json: self.restart_required_json.unwrap_or_else(|| "[]".into()),
            validation_errors_json: self.validation_errors_json.unwrap_or_else(|| "[]".into()),
            duration: Duration::from_micros(unsigned(Some(self.duration_us))?),
            error: self.error,
            failed_observer: self.failed_observer,
            source: self.source.unwrap_or_default(),
            source_path: self.source_path,
            restart_id: self.restart_id,
        })
    }
}

/// What the reload statistics queries read, before decoding.
pub(super) struct ReloadStatsParts {
    /// `(result, count)` per result.
    pub by_result: Vec<(String, i64)>,
    /// The newest event's `(result, at_ms)`.
    pub last: Option<(String, i64)>,
    pub last_success_ms: Option<i64>,
    pub oldest_ms: Option<i64>,
    /// `duration_us` of the newest events.
    pub durations: Vec<i64>,
}

impl ReloadStatsParts {
    pub(super) fn into_stats(self, op: &'static str) -> Result<ReloadStatsRow, StoreError> {
        let time = |ms: Option<i64>| ms.map(|ms| from_ms(op, ms)).transpose();
        Ok(ReloadStatsRow {
            by_result: self
                .by_result
                .into_iter()
                .map(|(result, n)| (result, u64::try_from(n).unwrap_or(0)))
                .collect(),
            last: self
                .last
                .map(|(result, ms)| from_ms(op, ms).map(|at| (result, at)))
                .transpose()?,
            last_success_at: time(self.last_success_ms)?,
            oldest_at: time(self.oldest_ms)?,
            recent_durations: self
                .durations
                .into_iter()
                .map(|us| Duration::from_micros(u64::try_from(us).unwrap_or(0)))
                .collect(),
        })
    }
}

/// Binds the values of [`RELOAD_INSERT_COLUMNS`] for `$event` to `$query`; returns an encode
/// error from the enclosing function when a value does not fit.
macro_rules! bind_reload {
    ($query:expr, $event:expr, $op:expr) => {{
        use $crate::store::rows::int;
        let event = $event;
        let duration_us = int($op, u64::try_from(event.duration.as_micros()).unwrap_or(u64::MAX))?;
        $query
            .bind(event.at.timestamp_millis())
            .bind(&event.trigger)
            .bind(&event.principal)
            .bind(&event.result)
            .bind(int($op, event.version_before)?)
            .bind(int($op, event.version_after)?)
            .bind(&event.content_hash)
            .bind(&event.diff_json)
            .bind(&event.restart_required_json)
            .bind(&event.validation_errors_json)
            .bind(duration_us)
            .bind(&event.error)
            .bind(&event.failed_observer)
            .bind(&event.source)
            .bind(&event.source_path)
            .bind(&event.restart_id)
    }};
}
pub(crate) use bind_reload;

// ---- recovery_reports ----

/// Columns of `recovery_reports`.
pub(super) const RECOVERY_COLUMNS: &str =
    "id, run_id, started_ms, duration_us, previous_run, previous_run_id, report_json";

#[derive(sqlx::FromRow)]
pub(super) struct RecoveryRow {
    id: i64,
    run_id: i64,
    started_ms: i64,
    duration_us: i64,
    previous_run: String,
    previous_run_id: Option<i64>,
    report_json: String,
}

impl RecoveryRow {
    pub(super) fn into_report(self, op: &'static str) -> Result<RecoveryReportRow, StoreError> {
        Ok(RecoveryReportRow {
            id: self.id,
            run_id: RunId(self.run_id),
            started_at: from_ms(op, self.started_ms)?,
            duration: Duration::from_micros(u64::try_from(self.duration_us).unwrap_or(0)),
            previous_run: self.previous_run,
            previous_run_id: self.previous_run_id.map(RunId),
            report_json: self.report_json,
        })
    }
}

// ---- audit_events ----

/// Columns of `audit_events` an audit row reads.
pub(super) const AUDIT_COLUMNS: &str = "id, at_ms, principal, role, peer, rpc, arguments, \
    outcome, code, message, trace_id, duration_us";

/// Columns a new audit row writes, in the order [`bind_audit`] binds them.
pub(super) const AUDIT_INSERT_COLUMNS: &str =
    "at_ms, principal, role, peer, rpc, arguments, outcome, code, message, trace_id, duration_us";

#[derive(sqlx::FromRow)]
pub(super) struct AuditEventRow {
    id: i64,
    at_ms: i64,
    principal: Option<String>,
    role: Option<String>,
    peer: Option<String>,
    rpc: String,
    arguments: Option<String>,
    outcome: String,
    code: Option<String>,
    message: Option<String>,
    trace_id: Option<String>,
    duration_us: Option<i64>,
}

impl AuditEventRow {
    pub(super) fn into_audit(self, op: &'static str) -> Result<AuditRow, StoreError> {
        Ok(AuditRow {
            id: self.id,
            at: from_ms(op, self.at_ms)?,
            principal: self.principal.unwrap_or_default(),
            role: self.role,
            peer: self.peer.unwrap_or_default(),
            rpc: self.rpc,
            arguments: self.arguments.unwrap_or_default(),
            outcome: self.outcome,
            code: self.code.unwrap_or_default(),
            message: self.message,
            trace_id: self.trace_id,
            duration: Duration::from_micros(
                u64::try_from(self.duration_us.unwrap_or(0)).unwrap_or(0),
            ),
        })
    }
}

/// Binds the values of [`AUDIT_INSERT_COLUMNS`] for `$event` to `$query` (a sqlx query or the
/// SQLite writer's `Binder`: both bind with `.bind(value)`).
macro_rules! bind_audit {
    ($query:expr, $event:expr) => {
        $query
            .bind($event.at.timestamp_millis())
            .bind(&$event.principal)
            .bind(&$event.role)
            .bind(&$event.peer)
            .bind(&$event.rpc)
            .bind(&$event.arguments)
            .bind(&$event.outcome)
            .bind(&$event.code)
            .bind(&$event.message)
            .bind(&$event.trace_id)
            .bind(i64::try_from($event.duration.as_micros()).unwrap_or(i64::MAX))
    };
}
pub(crate) use bind_audit;
