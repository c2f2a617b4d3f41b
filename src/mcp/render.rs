//! Readable text for tool results, written from the same JSON the structured content
//! carries (see [`super::json`]), so the two never disagree. Short, one fact per line,
//! enum names without their type prefix.

use serde_json::Value;
use std::fmt::Write as _;

/// The value at a dotted `path` (Null when absent).
fn get<'a>(value: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(value, |value, key| &value[key])
}

/// A scalar as text: strings unquoted, Null as "".
fn s(value: &Value, path: &str) -> String {
    match get(value, path) {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// An enum name without its prefix, lower case: ("SERVING_STATUS_SERVING", "SERVING_STATUS_") → "serving".
fn e(value: &Value, path: &str, prefix: &str) -> String {
    s(value, path).trim_start_matches(prefix).to_lowercase()
}

fn items<'a>(value: &'a Value, path: &str) -> &'a [Value] {
    get(value, path).as_array().map(Vec::as_slice).unwrap_or_default()
}

/// `GetHealthResponse`.
pub fn health(report: &Value) -> String {
    let mut out = format!(
        "status      {}\nversion     {} ({})\npid         {}\ngeneration  {}\nuptime      {}\ncomponents\n",
        e(report, "status", "SERVING_STATUS_"),
        s(report, "version"),
        s(report, "git_sha"),
        s(report, "pid"),
        s(report, "generation"),
        s(report, "uptime"),
    );
    for component in items(report, "components") {
        component_line(&mut out, component);
    }
    out
}

fn component_line(out: &mut String, component: &Value) {
    let _ = writeln!(
        out,
        "  {:<9} {:<10} {}",
        s(component, "name"),
        e(component, "status", "COMPONENT_STATUS_"),
        s(component, "detail")
    );
}

/// The store component of a health report.
pub fn database(component: &Value) -> String {
    let mut out = "database\n".to_owned();
    component_line(&mut out, component);
    out
}

/// This adapter's buffer of held calls ([`super::gateway::BufferStatus`]).
pub fn buffer(status: &Value) -> String {
    format!(
        "held calls  {} now of {} (buffer); {} held in all: {} recovered, {} expired at the {} ms call deadline, {} refused (buffer full); {} connections made\n",
        s(status, "held_now"),
        s(status, "capacity"),
        s(status, "held_total"),
        s(status, "recovered_total"),
        s(status, "expired_total"),
        s(status, "call_deadline_ms"),
        s(status, "rejected_total"),
        s(status, "connections_total"),
    )
}

/// `TestReconnectResponse`.
pub fn reconnect(test: &Value, include_stats: bool) -> String {
    let mut out = if test["success"] == true {
        format!(
            "reconnect test: ok — fresh connection to {} in {}, call in {} (pid {}, generation {})\n",
            s(test, "target"),
            s(test, "connect_latency"),
            s(test, "call_latency"),
            s(test, "pid"),
            s(test, "generation")
        )
    } else {
        format!("reconnect test: FAILED — {}\n", s(test, "error"))
    };
    if !get(test, "session").is_null() {
        let _ = writeln!(
            out,
            "session {}: {} calls, reconnected across a restart: {}",
            s(test, "session.session_id"),
            s(test, "session.calls"),
            s(test, "session.reconnected_across_restart")
        );
    }
    if include_stats {
        let _ = writeln!(
            out,
            "restarts: {} total, {} succeeded, {} rolled back, {} failed; drains: {} connections, {} streams told to reconnect, {} RPCs completed, {} canceled",
            s(test, "stats.restarts_total"),
            s(test, "stats.restarts_succeeded"),
            s(test, "stats.restarts_rolled_back"),
            s(test, "stats.restarts_failed"),
            s(test, "stats.connections_drained"),
            s(test, "stats.streams_told_to_reconnect"),
            s(test, "stats.rpcs_completed_during_drain"),
            s(test, "stats.rpcs_canceled_during_drain"),
        );
    }
    out
}

/// `PrepareShutdownResponse` (with `checks` already reduced to what was asked for).
pub fn readiness(report: &Value) -> String {
    let mut out = format!(
        "restart readiness: {} (mode {})\n",
        if report["ready"] == true { "ready" } else { "NOT ready" },
        e(report, "resolved_mode", "RESTART_MODE_")
    );
    for issue in items(report, "blocking_issues") {
        let _ = writeln!(
            out,
            "  blocked: {} — {}",
            e(issue, "code", "BLOCKING_ISSUE_CODE_"),
            s(issue, "message")
        );
    }
    if let Some(checks) = get(report, "checks").as_object() {
        for (name, value) in checks {
            let _ = writeln!(out, "  {name}: {value}");
        }
    }
    out
}

/// `RestartResponse`.
pub fn restart_started(response: &Value) -> String {
    format!(
        "restart {} started: mode {}, reason {}, drain timeout {}, preserve state {}; phase {}.\nFollow it with orchestrator_restart_status; calls made meanwhile are held until the new process serves.\n",
        s(response, "restart_id"),
        e(response, "restart.mode", "RESTART_MODE_"),
        e(response, "restart.reason", "RESTART_REASON_"),
        s(response, "restart.drain_timeout"),
        s(response, "restart.preserve_state"),
        e(response, "restart.phase", "RESTART_PHASE_"),
    )
}

/// One `RestartEvent`.
pub fn restart_event(event: &Value, include_errors: bool) -> String {
    let mut out = format!(
        "restart {}: phase {} ({}%), outcome {}, mode {}, reason {}, generation {} -> {}, pid {} -> {}, requested {}, took {}\n",
        s(event, "restart_id"),
        e(event, "phase", "RESTART_PHASE_"),
        s(event, "progress_percent"),
        e(event, "outcome", "RESTART_OUTCOME_"),
        e(event, "mode", "RESTART_MODE_"),
        e(event, "reason", "RESTART_REASON_"),
        s(event, "generation_before"),
        s(event, "generation_after"),
        s(event, "old_pid"),
        s(event, "new_pid"),
        s(event, "requested_at"),
        s(event, "duration"),
    );
    if include_errors && !s(event, "error").is_empty() {
        let _ = writeln!(
            out,
            "  error in phase {}: {}",
            e(event, "failed_phase", "RESTART_PHASE_"),
            s(event, "error")
        );
    }
    out
}

/// `ValidateResponse`.
pub fn validation(response: &Value) -> String {
    let mut out = format!(
        "candidate is {} (a reload would be: {})\n",
        if response["valid"] == true { "valid" } else { "INVALID" },
        e(response, "result", "RELOAD_RESULT_")
    );
    problems_and_changes(&mut out, response, "errors");
    if !s(response, "error").is_empty() {
        let _ = writeln!(out, "  error: {}", s(response, "error"));
    }
    out
}

/// `ReloadEvent`.
pub fn reload(event: &Value) -> String {
    let mut out = format!(
        "reload {}: {} (version {} -> {}, {})\n",
        s(event, "reload_id"),
        e(event, "result", "RELOAD_RESULT_"),
        s(event, "version_before"),
        s(event, "version_after"),
        s(event, "duration"),
    );
    problems_and_changes(&mut out, event, "validation_errors");
    for key in ["error", "failed_observer", "restart_id"] {
        if !s(event, key).is_empty() {
            let _ = writeln!(out, "  {key}: {}", s(event, key));
        }
    }
    out
}

fn problems_and_changes(out: &mut String, value: &Value, errors: &str) {
    for problem in items(value, errors) {
        let _ = writeln!(
            out,
            "  problem: {} (line {}): {}",
            s(problem, "path"),
            s(problem, "line"),
            s(problem, "reason")
        );
    }
    for change in items(value, "changes") {
        let restart = if change["restart_required"] == true { " [needs restart]" } else { "" };
        let _ = writeln!(
            out,
            "  {} {}: {} -> {}{restart}",
            e(change, "kind", "CONFIG_CHANGE_KIND_"),
            s(change, "path"),
            s(change, "old_value"),
            s(change, "new_value")
        );
    }
}

/// `ListClientsResponse`.
pub fn clients(response: &Value) -> String {
    let list = items(response, "clients");
    let mut out = format!("{} devices\n", list.len());
    for client in list {
        let _ = writeln!(
            out,
            "  {} group={} {} process={} crash={}{} last_seen={}",
            s(client, "client_uuid"),
            s(client, "group"),
            e(client, "presence", "PRESENCE_"),
            e(client, "process_status", "PROCESS_STATUS_"),
            e(client, "crash_state", "CRASH_STATE_"),
            if client["needs_attention"] == true { " NEEDS ATTENTION" } else { "" },
            s(client, "last_seen_at"),
        );
    }
    if !s(response, "next_page_token").is_empty() {
        let _ = writeln!(out, "more: page_token={}", s(response, "next_page_token"));
    }
    out
}

/// `CountClientsResponse`.
pub fn client_counts(response: &Value) -> String {
    format!(
        "{} devices: {} online, {} offline, {} crashed, {} with a failed service (counted at {})\n",
        s(response, "total"),
        s(response, "online"),
        s(response, "offline"),
        s(response, "crashed"),
        s(response, "service_failed"),
        s(response, "counted_at"),
    )
}

/// One `Command`.
pub fn command(command: &Value) -> String {
    let mut out = format!(
        "command {}: {} for {} — state {}, issued {}, expires {}\n",
        s(command, "command_id"),
        e(command, "action", "ACTION_"),
        s(command, "client_uuid"),
        e(command, "state", "COMMAND_STATE_"),
        s(command, "issued_at"),
        s(command, "expires_at"),
    );
    if !s(command, "error_code").is_empty() {
        let _ =
            writeln!(out, "  error {}: {}", s(command, "error_code"), s(command, "error_message"));
    }
    for event in items(command, "events") {
        let _ = writeln!(
            out,
            "  {} {} -> {} ({}): {}",
            s(event, "occurred_at"),
            e(event, "from_state", "COMMAND_STATE_"),
            e(event, "to_state", "COMMAND_STATE_"),
            e(event, "source", "COMMAND_EVENT_SOURCE_"),
            s(event, "detail")
        );
    }
    out
}

/// One `Rollout`.
pub fn rollout(rollout: &Value) -> String {
    format!(
        "rollout {}: {} — state {}, {} targets: {} pending, {} queued, {} in flight, {} completed, {} failed, {} timed out, {} expired, {} canceled, {} rejected; failure rate {}% (abort above {}%){}\n",
        s(rollout, "rollout_id"),
        e(rollout, "action", "ACTION_"),
        e(rollout, "state", "ROLLOUT_STATE_"),
        s(rollout, "counters.total"),
        s(rollout, "counters.pending"),
        s(rollout, "counters.queued"),
        s(rollout, "counters.in_flight"),
        s(rollout, "counters.completed"),
        s(rollout, "counters.failed"),
        s(rollout, "counters.timed_out"),
        s(rollout, "counters.expired"),
        s(rollout, "counters.canceled"),
        s(rollout, "counters.rejected"),
        s(rollout, "failure_percent"),
        s(rollout, "abort_failure_percent"),
        match s(rollout, "abort_reason") {
            reason if reason.is_empty() => String::new(),
            reason => format!("; aborted: {reason}"),
        },
    )
}

/// `RecoveryReport`.
pub fn recovery(report: &Value) -> String {
    let mut out = format!(
        "recovery report {}: previous run {}, took {}, pid {}, generation {}, snapshot {}\n",
        s(report, "report_id"),
        e(report, "previous_run", "PREVIOUS_RUN_"),
        s(report, "duration"),
        s(report, "pid"),
        s(report, "generation"),
        e(report, "snapshot.snapshot", "SNAPSHOT_OUTCOME_"),
    );
    for category in items(report, "categories") {
        let _ = writeln!(
            out,
            "  {}: {} ({})",
            s(category, "name"),
            s(category, "count"),
            s(category, "action")
        );
    }
    for warning in items(report, "warnings") {
        let _ = writeln!(out, "  warning: {}", warning.as_str().unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn health_text_matches_the_report() {
        let text = health(&json!({
            "status": "SERVING_STATUS_SERVING", "version": "0.1.0", "git_sha": "abc", "pid": 7,
            "generation": 2, "uptime": "3s",
            "components": [{"name": "store", "status": "COMPONENT_STATUS_HEALTHY", "detail": "wal"}]
        }));
        assert!(text.starts_with("status      serving\n"), "{text}");
        assert!(text.contains("pid         7\ngeneration  2\n"), "{text}");
        assert!(text.contains("  store     healthy    wal"), "{text}");
    }

    #[test]
    fn restart_errors_only_when_asked() {
        let event = json!({"restart_id": "r", "phase": "RESTART_PHASE_ROLLED_BACK",
            "failed_phase": "RESTART_PHASE_STARTING_SUCCESSOR", "error": "successor exited"});
        assert!(
            restart_event(&event, true)
                .contains("error in phase starting_successor: successor exited")
        );
        assert!(!restart_event(&event, false).contains("successor exited"));
    }
}
