//! Translation between `rebound.v1` restart messages and the restart domain, both ways.
//! Malformed fields become `InvalidArgument` naming the proto field.

use crate::error::Error;
use crate::lifecycle::restart::{
    DrainStats, IssueCode, Mode, Outcome, Phase, Readiness, Reason, ReconnectStats, RequestedMode,
    RestartRecord, SessionView, SnapshotOutcome,
};
use crate::proto::v1 as pb;
use std::time::Duration;
use uuid::Uuid;

pub fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

pub fn duration(value: Duration) -> Option<prost_types::Duration> {
    prost_types::Duration::try_from(value).ok()
}

/// An optional UUID field (`""` = unset).
pub fn optional_uuid(field: &str, text: &str) -> Result<Option<Uuid>, Error> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| Error::invalid_argument(field, "not a UUID"))
}

pub fn requested_mode(value: i32) -> Result<RequestedMode, Error> {
    match pb::RestartMode::try_from(value) {
        Ok(pb::RestartMode::Unspecified | pb::RestartMode::Auto) => Ok(RequestedMode::Auto),
        Ok(pb::RestartMode::Handover) => Ok(RequestedMode::Handover),
        Ok(pb::RestartMode::Exec) => Ok(RequestedMode::Exec),
        Err(_) => Err(Error::invalid_argument("mode", format!("unknown restart mode {value}"))),
    }
}

pub fn reason(value: i32) -> Result<Reason, Error> {
    use pb::RestartReason as R;
    Ok(match R::try_from(value) {
        Ok(R::Unspecified | R::ManualRequest) => Reason::ManualRequest,
        Ok(R::ConfigurationUpdate) => Reason::ConfigurationUpdate,
        Ok(R::SchemaMigration) => Reason::SchemaMigration,
        Ok(R::ErrorRecovery) => Reason::ErrorRecovery,
        Ok(R::EmergencyShutdown) => Reason::EmergencyShutdown,
        Ok(R::BinaryUpgrade) => Reason::BinaryUpgrade,
        Err(_) => return Err(Error::invalid_argument("reason", format!("unknown reason {value}"))),
    })
}

pub fn outcome_filter(values: &[i32]) -> Result<Vec<Option<Outcome>>, Error> {
    use pb::RestartOutcome as O;
    crate::api::page::filter_values("outcomes", values)?
        .iter()
        .map(|value| match O::try_from(*value) {
            Ok(O::Unspecified) => Ok(None),
            Ok(O::Succeeded) => Ok(Some(Outcome::Succeeded)),
            Ok(O::Failed) => Ok(Some(Outcome::Failed)),
            Ok(O::RolledBack) => Ok(Some(Outcome::RolledBack)),
            Ok(O::Interrupted) => Ok(Some(Outcome::Interrupted)),
            Err(_) => Err(Error::invalid_argument("outcomes", format!("unknown outcome {value}"))),
        })
        .collect()
}

fn mode(mode: Mode) -> pb::RestartMode {
    match mode {
        Mode::Handover => pb::RestartMode::Handover,
        Mode::Exec => pb::RestartMode::Exec,
    }
}

fn requested(mode: RequestedMode) -> pb::RestartMode {
    match mode {
        RequestedMode::Auto => pb::RestartMode::Auto,
        RequestedMode::Handover => pb::RestartMode::Handover,
        RequestedMode::Exec => pb::RestartMode::Exec,
    }
}

fn reason_out(reason: Reason) -> pb::RestartReason {
    use pb::RestartReason as R;
    match reason {
        Reason::ConfigurationUpdate => R::ConfigurationUpdate,
        Reason::SchemaMigration => R::SchemaMigration,
        Reason::ErrorRecovery => R::ErrorRecovery,
        Reason::ManualRequest => R::ManualRequest,
        Reason::EmergencyShutdown => R::EmergencyShutdown,
        Reason::BinaryUpgrade => R::BinaryUpgrade,
    }
}

pub fn phase(phase: Phase) -> pb::RestartPhase {
    use pb::RestartPhase as P;
    match phase {
        Phase::Preparing => P::Preparing,
        Phase::SuspendingTasks => P::SuspendingTasks,
        Phase::SerializingState => P::SerializingState,
        Phase::StartingSuccessor => P::StartingSuccessor,
        Phase::ClosingConnections => P::ClosingConnections,
        Phase::Finalizing => P::Finalizing,
        Phase::Complete => P::Complete,
        Phase::Failed => P::Failed,
        Phase::RolledBack => P::RolledBack,
    }
}

fn outcome(outcome: Option<Outcome>) -> pb::RestartOutcome {
    use pb::RestartOutcome as O;
    match outcome {
        None => O::Unspecified,
        Some(Outcome::Succeeded) => O::Succeeded,
        Some(Outcome::Failed) => O::Failed,
        Some(Outcome::RolledBack) => O::RolledBack,
        Some(Outcome::Interrupted) => O::Interrupted,
    }
}

pub(in crate::api) fn snapshot(outcome: Option<SnapshotOutcome>) -> pb::SnapshotOutcome {
    use pb::SnapshotOutcome as S;
    match outcome {
        None => S::Unspecified,
        Some(SnapshotOutcome::Restored) => S::Restored,
        Some(SnapshotOutcome::Missing) => S::Missing,
        Some(SnapshotOutcome::Tampered) => S::Tampered,
        Some(SnapshotOutcome::Undecryptable) => S::Undecryptable,
        Some(SnapshotOutcome::Disabled) => S::Disabled,
        Some(SnapshotOutcome::UnsupportedVersion) => S::UnsupportedVersion,
    }
}

fn clamp(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

fn drain(stats: &DrainStats) -> pb::DrainStats {
    pb::DrainStats {
        connections_drained: clamp(stats.connections_drained),
        streams_told_to_reconnect: clamp(stats.streams_told_to_reconnect),
        rpcs_completed: clamp(stats.rpcs_completed),
        rpcs_canceled: clamp(stats.rpcs_canceled),
    }
}

pub fn event(record: &RestartRecord) -> pb::RestartEvent {
    let now = crate::clock::now_ms();
    pb::RestartEvent {
        restart_id: record.id.to_string(),
        requested_mode: requested(record.requested_mode) as i32,
        mode: mode(record.mode) as i32,
        reason: reason_out(record.reason) as i32,
        phase: phase(record.phase) as i32,
        progress_percent: record.progress_percent(),
        outcome: outcome(record.outcome) as i32,
        failed_phase: record.failed_phase.map_or(pb::RestartPhase::Unspecified, phase) as i32,
        error: record.error.clone().unwrap_or_default(),
        phase_timings: record
            .phases
            .iter()
            .map(|timing| pb::RestartPhaseTiming {
                phase: phase(timing.phase) as i32,
                started_at: Some(timestamp(timing.started_ms)),
                duration: duration(match timing.duration_us {
                    Some(us) => Duration::from_micros(us),
                    None => {
                        Duration::from_millis(now.saturating_sub(timing.started_ms).max(0) as u64)
                    }
                }),
            })
            .collect(),
        generation_before: record.generation_before,
        generation_after: record.generation_after,
        old_pid: record.old_pid,
        new_pid: record.new_pid.unwrap_or_default(),
        snapshot: snapshot(record.snapshot) as i32,
        snapshot_detail: record.snapshot_detail.clone().unwrap_or_default(),
        drain_timeout: duration(record.drain_timeout),
        preserve_state: record.preserve_state,
        binary: record.binary.display().to_string(),
        principal: record.principal.clone(),
        trace_id: record.trace_id.clone().unwrap_or_default(),
        requested_at: Some(timestamp(record.requested_ms)),
        successor_ready_at: record.successor_ready_ms.map(timestamp),
        finished_at: record.finished_ms.map(timestamp),
        duration: duration(record.duration(now)),
        drain: Some(drain(&record.drain)),
    }
}

fn issue_code(code: IssueCode) -> pb::BlockingIssueCode {
    use pb::BlockingIssueCode as B;
    match code {
        IssueCode::RestartInProgress => B::RestartInProgress,
        IssueCode::ShuttingDown => B::ShuttingDown,
        IssueCode::SuccessorBinaryMissing => B::SuccessorBinaryMissing,
        IssueCode::SuccessorBinaryNotExecutable => B::SuccessorBinaryNotExecutable,
        IssueCode::StoreUnhealthy => B::StoreUnhealthy,
        IssueCode::SnapshotUnwritable => B::SnapshotUnwritable,
        IssueCode::ListenersNotInheritable => B::ListenersNotInheritable,
    }
}

pub fn readiness(report: &Readiness) -> pb::PrepareShutdownResponse {
    let checks = &report.checks;
    pb::PrepareShutdownResponse {
        ready: report.ready(),
        blocking_issues: report
            .issues
            .iter()
            .map(|issue| pb::BlockingIssue {
                code: issue_code(issue.code) as i32,
                message: issue.message.clone(),
            })
            .collect(),
        checks: Some(pb::ShutdownChecks {
            in_flight_rpcs: clamp(checks.in_flight_rpcs as u64),
            open_streams: clamp(checks.open_streams as u64),
            scheduler_tasks: clamp(checks.scheduler_tasks as u64),
            pending_store_writes: clamp(checks.pending_store_writes as u64),
            successor_binary: checks.successor_binary.display().to_string(),
            successor_binary_present: checks.successor_binary_present,
            successor_binary_executable: checks.successor_binary_executable,
            restart_in_progress: checks.restart_in_progress.is_some(),
            restart_in_progress_id: checks
                .restart_in_progress
                .map(|id| id.to_string())
                .unwrap_or_default(),
            open_connections: clamp(checks.open_connections as u64),
        }),
        resolved_mode: mode(report.mode) as i32,
        checked_at: Some(timestamp(report.checked_ms)),
    }
}

pub fn stats(stats: &ReconnectStats) -> pb::ReconnectStats {
    pb::ReconnectStats {
        connections_drained: stats.drain.connections_drained,
        streams_told_to_reconnect: stats.drain.streams_told_to_reconnect,
        rpcs_completed_during_drain: stats.drain.rpcs_completed,
        rpcs_canceled_during_drain: stats.drain.rpcs_canceled,
        restarts_total: stats.restarts_total,
        restarts_succeeded: stats.restarts_succeeded,
        restarts_rolled_back: stats.restarts_rolled_back,
        restarts_failed: stats.restarts_failed,
        last_restart_at: stats.last_restart_ms.map(timestamp),
        last_restart_id: stats.last_restart_id.map(|id| id.to_string()).unwrap_or_default(),
        counting_since: Some(timestamp(stats.counting_since_ms)),
    }
}

pub fn session(view: &SessionView) -> pb::ReconnectSession {
    pb::ReconnectSession {
        session_id: view.session_id.clone(),
        seen_before: view.seen_before,
        calls: view.calls,
        first_seen_at: Some(timestamp(view.first_seen_ms)),
        previous_call_at: view.previous_call_ms.map(timestamp),
        previous_generation: view.previous_generation,
        reconnected_across_restart: view.reconnected_across_restart,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_fields_name_themselves() {
        assert!(
            matches!(requested_mode(99), Err(Error::InvalidArgument { field, .. }) if field == "mode")
        );
        assert!(
            matches!(reason(42), Err(Error::InvalidArgument { field, .. }) if field == "reason")
        );
        assert!(
            matches!(optional_uuid("restart_id", "x"), Err(Error::InvalidArgument { field, .. }) if field == "restart_id")
        );
        assert!(
            matches!(outcome_filter(&[7]), Err(Error::InvalidArgument { field, .. }) if field == "outcomes")
        );
        assert_eq!(requested_mode(0).unwrap(), RequestedMode::Auto);
        assert_eq!(outcome_filter(&[0, 3]).unwrap(), vec![None, Some(Outcome::RolledBack)]);
    }

    #[test]
    fn timestamps_split_milliseconds() {
        assert_eq!(timestamp(1_500), prost_types::Timestamp { seconds: 1, nanos: 500_000_000 });
        assert_eq!(timestamp(-1), prost_types::Timestamp { seconds: -1, nanos: 999_000_000 });
    }
}
