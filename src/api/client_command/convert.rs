//! Domain records → proto messages.

use crate::commands::{CrashState, Lockout, reported_counters};
use crate::contract::Action;
use crate::model::clients::{CapabilityTier, ClientRecord, ProcessStatus, RecoveryStep};
use crate::model::commands::{
    CommandEvent, CommandRecord, CommandState, EventSource, Evidence, Origin,
};
use crate::model::rollouts::{
    AbortCause, RolloutCounters, RolloutRecord, RolloutState, RolloutTarget,
};
use crate::proto::v1 as pb;

pub fn ts(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

fn opt_ts(ms: Option<i64>) -> Option<prost_types::Timestamp> {
    ms.map(ts)
}

fn duration(d: std::time::Duration) -> Option<prost_types::Duration> {
    prost_types::Duration::try_from(d).ok()
}

pub fn action(a: Action) -> pb::Action {
    match a {
        Action::RebootHost => pb::Action::RebootHost,
        Action::ShutdownHost => pb::Action::ShutdownHost,
        Action::RestartApp => pb::Action::RestartApp,
    }
}

pub fn state(s: CommandState) -> pb::CommandState {
    use pb::CommandState as P;
    match s {
        CommandState::Queued => P::Queued,
        CommandState::Published => P::Published,
        CommandState::Accepted => P::Accepted,
        CommandState::ExecutionStarted => P::ExecutionStarted,
        CommandState::Completed => P::Completed,
        CommandState::Failed => P::Failed,
        CommandState::TimedOut => P::TimedOut,
        CommandState::Expired => P::Expired,
        CommandState::Canceled => P::Canceled,
        CommandState::Rejected => P::Rejected,
    }
}

fn source(s: EventSource) -> pb::CommandEventSource {
    match s {
        EventSource::Api => pb::CommandEventSource::Api,
        EventSource::Mqtt => pb::CommandEventSource::Mqtt,
        EventSource::Scheduler => pb::CommandEventSource::Scheduler,
        EventSource::Recovery => pb::CommandEventSource::Recovery,
    }
}

pub fn event(e: &CommandEvent) -> pb::CommandEvent {
    pb::CommandEvent {
        occurred_at: Some(ts(e.at_ms)),
        from_state: e.from_state.map_or(pb::CommandState::Unspecified, state) as i32,
        to_state: state(e.to_state) as i32,
        source: source(e.source) as i32,
        detail: e.detail.clone(),
    }
}

/// The trace id inside a W3C traceparent (`00-<trace>-<span>-<flags>`).
fn trace_id(traceparent: Option<&str>) -> String {
    traceparent.and_then(|t| t.split('-').nth(1)).unwrap_or_default().to_owned()
}

pub fn command(c: &CommandRecord, events: &[CommandEvent]) -> pb::Command {
    let origin = match c.origin {
        Origin::Api => pb::CommandOrigin::Api,
        Origin::Rollout => pb::CommandOrigin::Rollout,
        Origin::CrashRecovery => pb::CommandOrigin::CrashRecovery,
    };
    let evidence = match c.completion_evidence {
        None => pb::CompletionEvidence::Unspecified,
        Some(Evidence::Ack) => pb::CompletionEvidence::Ack,
        Some(Evidence::BootIdChanged) => pb::CompletionEvidence::BootIdChanged,
        Some(Evidence::Reconnected) => pb::CompletionEvidence::Reconnected,
        Some(Evidence::WentOffline) => pb::CompletionEvidence::WentOffline,
    };
    pb::Command {
        command_id: c.command_id.to_string(),
        client_uuid: c.client_uuid.to_string(),
        action: action(c.action) as i32,
        state: state(c.state) as i32,
        reason: c.reason.clone(),
        requested_by: c.requested_by,
        issued_at: Some(ts(c.issued_ms)),
        expires_at: Some(ts(c.expires_ms)),
        updated_at: Some(ts(c.updated_ms)),
        error_code: c.error_code.clone().unwrap_or_default(),
        error_message: c.error_message.clone().unwrap_or_default(),
        boot_id_at_issue: c.boot_id_at_issue.clone().unwrap_or_default(),
        boot_id_at_completion: c.boot_id_at_completion.clone().unwrap_or_default(),
        late_outcome: c.late_outcome.as_ref().map(|l| pb::LateOutcome {
            state: state(l.state) as i32,
            received_at: Some(ts(l.received_ms)),
            error_code: l.error_code.clone().unwrap_or_default(),
            error_message: l.error_message.clone().unwrap_or_default(),
            boot_id: l.boot_id.clone().unwrap_or_default(),
        }),
        rollout_id: c.rollout_id.map(|id| id.to_string()).unwrap_or_default(),
        events: events.iter().map(event).collect(),
        origin: origin as i32,
        published_at: opt_ts(c.published_ms),
        accepted_at: opt_ts(c.accepted_ms),
        execution_started_at: opt_ts(c.started_ms),
        finished_at: opt_ts(c.finished_ms),
        timeout_at: opt_ts(c.started_ms.and(c.deadline_ms)),
        completion_evidence: evidence as i32,
        ignored_acks: u32::try_from(c.ignored_acks).unwrap_or(u32::MAX),
        principal: c.principal.clone(),
        trace_id: trace_id(c.trace_parent.as_deref()),
    }
}

pub fn tier(t: Option<CapabilityTier>) -> pb::CapabilityTier {
    match t {
        None => pb::CapabilityTier::Unspecified,
        Some(CapabilityTier::Basic) => pb::CapabilityTier::Basic,
        Some(CapabilityTier::ManagedPower) => pb::CapabilityTier::ManagedPower,
    }
}

/// A device with its lockout and crash state (computed by the caller at the same moment).
pub fn client(
    c: &ClientRecord,
    lockout: &Lockout,
    crash: CrashState,
    cooldown: std::time::Duration,
) -> pb::Client {
    let presence = match c.online {
        None => pb::Presence::Unspecified,
        Some(true) => pb::Presence::Online,
        Some(false) => pb::Presence::Offline,
    };
    let presence_changed = match c.online {
        Some(true) => c.last_online_ms,
        Some(false) => c.last_offline_ms,
        None => None,
    };
    let process = match c.process_status {
        None => pb::ProcessStatus::Unspecified,
        Some(ProcessStatus::Starting) => pb::ProcessStatus::Starting,
        Some(ProcessStatus::Running) => pb::ProcessStatus::Running,
        Some(ProcessStatus::Crashed) => pb::ProcessStatus::Crashed,
        Some(ProcessStatus::Stopped) => pb::ProcessStatus::Stopped,
    };
    let crash_state = match crash {
        CrashState::Unknown => pb::CrashState::Unspecified,
        CrashState::Healthy => pb::CrashState::Healthy,
        CrashState::Crashed => pb::CrashState::Crashed,
        CrashState::Stale => pb::CrashState::Stale,
    };
    let step = match c.recovery_step {
        RecoveryStep::Idle => pb::CrashRecoveryStep::Idle,
        RecoveryStep::RestartApp => pb::CrashRecoveryStep::RestartApp,
        RecoveryStep::RebootHost => pb::CrashRecoveryStep::RebootHost,
        RecoveryStep::PowerCycle => pb::CrashRecoveryStep::PowerCycle,
        RecoveryStep::NeedsAttention => pb::CrashRecoveryStep::NeedsAttention,
    };
    let active = !matches!(c.recovery_step, RecoveryStep::Idle);
    let next_step = matches!(
        c.recovery_step,
        RecoveryStep::RestartApp | RecoveryStep::RebootHost | RecoveryStep::PowerCycle
    );
    let cooldown_ms = i64::try_from(cooldown.as_millis()).unwrap_or(i64::MAX);
    pb::Client {
        client_uuid: c.client_uuid.to_string(),
        group: c.group.clone().unwrap_or_default(),
        capability_tier: tier(c.capability_tier) as i32,
        presence: presence as i32,
        presence_changed_at: opt_ts(presence_changed),
        last_seen_at: Some(ts(c.last_seen_ms)),
        last_health_at: opt_ts(c.last_health_ms),
        boot_id: c.boot_id.clone().unwrap_or_default(),
        uptime: c.uptime_s.and_then(|s| duration(std::time::Duration::from_secs(s.max(0) as u64))),
        app_version: c.app_version.clone().unwrap_or_default(),
        process_status: process as i32,
        mqtt_reconnect_count: c.mqtt_reconnect_count.unwrap_or(0).max(0) as u64,
        mqtt_last_disconnect_at: opt_ts(c.mqtt_last_disconnect_ms),
        service_failed_unit: c.service_failed_unit.clone().unwrap_or_default(),
        service_failed_at: opt_ts(c.service_failed_ms),
        crash_state: crash_state as i32,
        needs_attention: c.needs_attention,
        crash_recovery: Some(pb::CrashRecovery {
            step: step as i32,
            detected_at: opt_ts(c.recovery_detected_ms.filter(|_| active)),
            step_started_at: opt_ts(c.recovery_step_ms.filter(|_| active)),
            next_step_not_before: opt_ts(
                c.recovery_step_ms.filter(|_| next_step).map(|at| at.saturating_add(cooldown_ms)),
            ),
            command_id: c
                .recovery_command_id
                .filter(|_| next_step)
                .map(|id| id.to_string())
                .unwrap_or_default(),
            detail: c.recovery_detail.clone().unwrap_or_default(),
        }),
        lockout: Some(pb::LockoutStatus {
            commands_in_window: lockout.in_window,
            max: lockout.max,
            window: duration(lockout.window),
            locked_out: lockout.locked_out,
            next_allowed_at: opt_ts(lockout.next_allowed_ms),
        }),
        registered_at: Some(ts(c.first_seen_ms)),
        updated_at: Some(ts(c.updated_ms)),
    }
}

pub fn rollout_state(s: RolloutState) -> pb::RolloutState {
    match s {
        RolloutState::Pending => pb::RolloutState::Pending,
        RolloutState::Canary => pb::RolloutState::Canary,
        RolloutState::Waves => pb::RolloutState::Waves,
        RolloutState::Completed => pb::RolloutState::Completed,
        RolloutState::Aborted => pb::RolloutState::Aborted,
        RolloutState::Failed => pb::RolloutState::Failed,
    }
}

/// A rollout; `full_target` keeps a client list (GetRollout, StartRollout).
pub fn rollout(r: &RolloutRecord, raw: RolloutCounters, full_target: bool) -> pb::Rollout {
    use pb::rollout_target::Target;
    let target = match &r.target {
        RolloutTarget::All => Target::AllClients(true),
        RolloutTarget::Group(group) => Target::Group(group.clone()),
        RolloutTarget::Clients(list) => Target::Clients(pb::ClientUuidList {
            client_uuids: if full_target {
                list.iter().map(|id| id.to_string()).collect()
            } else {
                Vec::new()
            },
        }),
    };
    let c = reported_counters(r, raw);
    let cause = match r.abort_cause {
        None => pb::RolloutAbortCause::Unspecified,
        Some(AbortCause::FailureThreshold) => pb::RolloutAbortCause::FailureThreshold,
        Some(AbortCause::Operator) => pb::RolloutAbortCause::Operator,
    };
    pb::Rollout {
        rollout_id: r.rollout_id.to_string(),
        action: action(r.action) as i32,
        state: rollout_state(r.state) as i32,
        target: Some(pb::RolloutTarget { target: Some(target) }),
        canary_size: u32::try_from(r.canary_size).unwrap_or(0),
        max_per_minute: u32::try_from(r.max_per_minute).unwrap_or(0),
        abort_failure_percent: r.abort_failure_percent,
        min_finished: u32::try_from(r.min_finished).unwrap_or(0),
        reason: r.reason.clone(),
        requested_by: r.requested_by,
        principal: r.principal.clone(),
        counters: Some(pb::RolloutCounters {
            total: c.total,
            pending: c.unissued,
            queued: c.queued,
            in_flight: c.in_flight,
            completed: c.completed,
            failed: c.failed,
            timed_out: c.timed_out,
            expired: c.expired,
            canceled: c.canceled,
            rejected: c.rejected,
        }),
        failure_percent: c.failure_percent(),
        abort_reason: r.abort_reason.clone().unwrap_or_default(),
        abort_cause: cause as i32,
        error: r.error.clone().unwrap_or_default(),
        expires_in: duration(std::time::Duration::from_millis(r.expires_in_ms.max(0) as u64)),
        created_at: Some(ts(r.created_ms)),
        started_at: opt_ts(r.started_ms),
        canary_finished_at: opt_ts(r.canary_finished_ms),
        finished_at: opt_ts(r.finished_ms),
        updated_at: Some(ts(r.updated_ms)),
    }
}
