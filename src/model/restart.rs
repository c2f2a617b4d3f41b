//! The restart vocabulary: modes, reasons, phases, outcomes and the [`RestartRecord`] that
//! follows one restart from request to outcome (stored, streamed, handed to the successor).
//!
//! Plain data with its storage names (`as_str` / `parse`, snake_case as in the schema). No
//! behaviour beyond small derivations (progress, duration); no I/O.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use uuid::Uuid;

use crate::macros::text_enum;

text_enum!(serde
    /// How the successor is started (after AUTO is resolved).
    Mode {
        /// Spawn a child that inherits the listeners; the pid changes.
        Handover = "handover",
        /// Drain and `execve` in place; the pid stays.
        Exec = "exec",
    }
);

text_enum!(serde
    /// The mode a client asked for.
    RequestedMode { Auto = "auto", Handover = "handover", Exec = "exec" }
);

text_enum!(serde
    /// Why a restart was requested (recorded; does not change how it runs).
    Reason {
        ConfigurationUpdate = "configuration_update",
        SchemaMigration = "schema_migration",
        ErrorRecovery = "error_recovery",
        ManualRequest = "manual_request",
        EmergencyShutdown = "emergency_shutdown",
        BinaryUpgrade = "binary_upgrade",
    }
);

text_enum!(serde
    /// Where a restart is; the last three are terminal.
    Phase {
        Preparing = "preparing",
        SuspendingTasks = "suspending_tasks",
        SerializingState = "serializing_state",
        StartingSuccessor = "starting_successor",
        ClosingConnections = "closing_connections",
        Finalizing = "finalizing",
        Complete = "complete",
        Failed = "failed",
        RolledBack = "rolled_back",
    }
);

text_enum!(serde
    /// How a restart ended.
    Outcome {
        Succeeded = "succeeded",
        Failed = "failed",
        RolledBack = "rolled_back",
        /// The process performing it died first; found by the next cold start.
        Interrupted = "interrupted",
    }
);

text_enum!(serde
    /// What the successor did with the snapshot.
    SnapshotOutcome {
        Restored = "restored",
        Missing = "missing",
        Tampered = "tampered",
        Undecryptable = "undecryptable",
        Disabled = "disabled",
        UnsupportedVersion = "unsupported_version",
    }
);

impl RequestedMode {
    /// AUTO is EXEC for PID 1 (a container's init keeps its pid), HANDOVER otherwise.
    pub fn resolve(self, pid: u32) -> Mode {
        match self {
            RequestedMode::Handover => Mode::Handover,
            RequestedMode::Exec => Mode::Exec,
            RequestedMode::Auto if pid == 1 => Mode::Exec,
            RequestedMode::Auto => Mode::Handover,
        }
    }
}

impl Phase {
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Complete | Phase::Failed | Phase::RolledBack)
    }

    /// The order phases run in for `mode` (see the module doc of `lifecycle::restart`).
    pub fn sequence(mode: Mode) -> [Phase; 6] {
        use Phase::*;
        match mode {
            Mode::Handover => [
                Preparing,
                SuspendingTasks,
                SerializingState,
                StartingSuccessor,
                ClosingConnections,
                Finalizing,
            ],
            Mode::Exec => [
                Preparing,
                SuspendingTasks,
                ClosingConnections,
                SerializingState,
                StartingSuccessor,
                Finalizing,
            ],
        }
    }
}

/// When one phase began and how long it took (so far, while it runs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseTiming {
    pub phase: Phase,
    pub started_ms: i64,
    /// `None` while the phase runs.
    pub duration_us: Option<u64>,
}

/// What the drain of one restart did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainStats {
    pub connections_drained: u64,
    pub streams_told_to_reconnect: u64,
    pub rpcs_completed: u64,
    pub rpcs_canceled: u64,
}

/// One restart from request to outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestartRecord {
    pub id: Uuid,
    pub requested_mode: RequestedMode,
    pub mode: Mode,
    pub reason: Reason,
    pub phase: Phase,
    pub outcome: Option<Outcome>,
    pub failed_phase: Option<Phase>,
    pub error: Option<String>,
    pub phases: Vec<PhaseTiming>,
    pub generation_before: u64,
    /// 0 until the successor serves, and on failure or rollback.
    pub generation_after: u64,
    pub old_pid: u32,
    pub new_pid: Option<u32>,
    pub snapshot: Option<SnapshotOutcome>,
    pub snapshot_detail: Option<String>,
    pub drain_timeout: Duration,
    pub preserve_state: bool,
    pub binary: PathBuf,
    pub principal: String,
    pub trace_id: Option<String>,
    pub requested_ms: i64,
    pub successor_ready_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub drain: DrainStats,
}

impl RestartRecord {
    /// A restart just requested: in `preparing`, the rest filled in by the caller.
    pub fn new(
        id: Uuid,
        requested_mode: RequestedMode,
        mode: Mode,
        reason: Reason,
        requested_ms: i64,
    ) -> Self {
        Self {
            id,
            requested_mode,
            mode,
            reason,
            phase: Phase::Preparing,
            outcome: None,
            failed_phase: None,
            error: None,
            phases: vec![PhaseTiming {
                phase: Phase::Preparing,
                started_ms: requested_ms,
                duration_us: None,
            }],
            generation_before: 0,
            generation_after: 0,
            old_pid: 0,
            new_pid: None,
            snapshot: None,
            snapshot_detail: None,
            drain_timeout: Duration::ZERO,
            preserve_state: true,
            binary: PathBuf::new(),
            principal: String::new(),
            trace_id: None,
            requested_ms,
            successor_ready_ms: None,
            finished_ms: None,
            drain: DrainStats::default(),
        }
    }

    /// Rough progress 0–100: the share of the mode's phases already finished; 100 once
    /// terminal.
    pub fn progress_percent(&self) -> u32 {
        if self.phase.is_terminal() {
            return 100;
        }
        let sequence = Phase::sequence(self.mode);
        let position = sequence.iter().position(|p| *p == self.phase).unwrap_or(0);
        (position * 100 / sequence.len()) as u32
    }

    /// From request to terminal phase, or to `now_ms` while running.
    pub fn duration(&self, now_ms: i64) -> Duration {
        let end = self.finished_ms.unwrap_or(now_ms);
        Duration::from_millis(end.saturating_sub(self.requested_ms).max(0) as u64)
    }

    /// Enter `phase` at `now_ms`; the running phase (if any) is closed as having taken
    /// `closed_us`.
    pub fn enter(&mut self, phase: Phase, now_ms: i64, closed_us: u64) {
        if let Some(last) = self.phases.last_mut()
            && last.duration_us.is_none()
        {
            last.duration_us = Some(closed_us);
        }
        self.phase = phase;
        if !phase.is_terminal() {
            self.phases.push(PhaseTiming { phase, started_ms: now_ms, duration_us: None });
        }
    }

    /// End in the terminal phase of `outcome`; `error` for anything but success.
    pub fn finish(&mut self, outcome: Outcome, error: Option<String>, now_ms: i64, closed_us: u64) {
        let terminal = match outcome {
            Outcome::Succeeded => Phase::Complete,
            Outcome::RolledBack => Phase::RolledBack,
            Outcome::Failed | Outcome::Interrupted => Phase::Failed,
        };
        if outcome != Outcome::Succeeded {
            self.failed_phase = Some(self.phase);
            self.generation_after = 0;
        }
        self.enter(terminal, now_ms, closed_us);
        self.outcome = Some(outcome);
        self.error = error;
        self.finished_ms = Some(now_ms);
    }
}

/// A restart record for tests: handover, requested at `requested_ms`, in `preparing`.
#[cfg(test)]
pub(crate) fn sample_record(requested_ms: i64) -> RestartRecord {
    let mut record = RestartRecord::new(
        Uuid::new_v4(),
        RequestedMode::Auto,
        Mode::Handover,
        Reason::ManualRequest,
        requested_ms,
    );
    record.generation_before = 3;
    record.generation_after = 4;
    record.old_pid = 42;
    record.drain_timeout = Duration::from_secs(30);
    record.binary = "/bin/rebound".into();
    record.principal = "anonymous".into();
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for phase in Phase::ALL {
            assert_eq!(Phase::parse(phase.as_str()), Some(*phase));
        }
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(*outcome));
        }
        assert_eq!(Reason::parse("nope"), None);
        assert_eq!(serde_json::to_string(&Phase::RolledBack).unwrap(), "\"rolled_back\"");
    }

    #[test]
    fn auto_is_exec_only_for_pid_1() {
        assert_eq!(RequestedMode::Auto.resolve(1), Mode::Exec);
        assert_eq!(RequestedMode::Auto.resolve(77), Mode::Handover);
        assert_eq!(RequestedMode::Exec.resolve(77), Mode::Exec);
    }

    #[test]
    fn phases_are_timed_and_a_rollback_records_where_it_went_wrong() {
        let mut r = sample_record(1000);
        r.enter(Phase::SuspendingTasks, 1002, 2000);
        assert_eq!(r.phases[0].duration_us, Some(2000));
        assert_eq!(r.progress_percent(), 16);
        r.finish(Outcome::RolledBack, Some("successor exited".into()), 1010, 8000);
        assert_eq!(r.phase, Phase::RolledBack);
        assert_eq!(r.failed_phase, Some(Phase::SuspendingTasks));
        assert_eq!((r.progress_percent(), r.generation_after), (100, 0));
        assert_eq!(r.phases.len(), 2);
        assert_eq!(r.phases[1].duration_us, Some(8000));
        assert_eq!(r.duration(0), Duration::from_millis(10));
    }
}
