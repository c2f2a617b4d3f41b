//! The command state machine of `contracts/mqtt-v1.md`, as pure functions on a
//! [`CommandRecord`].
//!
//! Each function takes the stored record and one stimulus (a device ack, a presence change,
//! a timer, an operator's cancel), mutates the record and says what happened; the caller
//! stores the record and the event in one transaction. States only move forward: an ack
//! that would move a command backwards or sideways is ignored and counted, a terminal ack
//! after `timed_out` is kept as the late outcome. Nothing here does I/O.

use std::time::Duration;

use super::device::{AckStatus, DeviceAck};
use crate::config::CommandsConfig;
use crate::contract::Action;
use crate::error::Error;
use crate::model::commands::{AckTopic, CommandRecord, CommandState, Evidence, LateOutcome};

/// A stored state change (from == to for a late outcome).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: CommandState,
    pub to: CommandState,
    pub detail: String,
}

/// What an ack did to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckEffect {
    /// The command moved forward.
    Moved(Transition),
    /// A terminal ack after `timed_out`, recorded as the late outcome.
    Late(Transition),
    /// Nothing changed; `counted` when the ack was a duplicate, out of order or after the
    /// end (the same ack on the other topic of a pair is not counted).
    Ignored { counted: bool, why: &'static str },
}

/// How long after execution_started a terminal ack is due.
pub fn terminal_timeout(action: Action, timers: &CommandsConfig) -> Duration {
    match action {
        Action::RebootHost => timers.reconnect_ceiling,
        Action::ShutdownHost | Action::RestartApp => timers.ack_timeout,
    }
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn target_of(status: AckStatus) -> CommandState {
    match status {
        AckStatus::Accepted => CommandState::Accepted,
        AckStatus::ExecutionStarted => CommandState::ExecutionStarted,
        AckStatus::Completed => CommandState::Completed,
        AckStatus::Failed => CommandState::Failed,
    }
}

fn ignore(command: &mut CommandRecord, now_ms: i64, why: &'static str) -> AckEffect {
    command.ignored_acks += 1;
    command.updated_ms = now_ms;
    AckEffect::Ignored { counted: true, why }
}

/// Moves `command` to `to` and returns the transition.
fn moved(command: &mut CommandRecord, to: CommandState, now_ms: i64, detail: String) -> Transition {
    let from = command.state;
    command.state = to;
    command.updated_ms = now_ms;
    if to.is_terminal() {
        command.finished_ms = Some(now_ms);
    }
    Transition { from, to, detail }
}

/// Apply a device ack received on `topic_name` at `now_ms`.
pub fn apply_ack(
    command: &mut CommandRecord,
    ack: &DeviceAck,
    topic: AckTopic,
    topic_name: &str,
    now_ms: i64,
    timers: &CommandsConfig,
) -> AckEffect {
    let target = target_of(ack.status);
    let other_topic = command.last_ack_topic.is_some_and(|last| last != topic);
    if command.state.is_terminal() {
        if target == command.state && other_topic {
            return AckEffect::Ignored { counted: false, why: "same ack on the other topic" };
        }
        let terminal_ack = target.is_terminal();
        if command.state == CommandState::TimedOut && terminal_ack && command.late_outcome.is_none()
        {
            command.late_outcome = Some(LateOutcome {
                state: target,
                received_ms: now_ms,
                error_code: ack.error_code.clone(),
                error_message: ack.error_message.clone(),
                boot_id: ack.boot_id.clone(),
            });
            command.updated_ms = now_ms;
            let detail = format!("late outcome: {} via {topic_name}", ack.status.as_str());
            let state = command.state;
            return AckEffect::Late(Transition { from: state, to: state, detail });
        }
        return ignore(command, now_ms, "command already terminal");
    }
    if target.rank() < command.state.rank() {
        return ignore(command, now_ms, "out of order");
    }
    if target.rank() == command.state.rank() {
        if other_topic {
            return AckEffect::Ignored { counted: false, why: "same ack on the other topic" };
        }
        return ignore(command, now_ms, "duplicate");
    }
    if command.boot_id_at_issue.is_none() && !target.is_terminal() {
        command.boot_id_at_issue = ack.boot_id.clone();
    }
    let mut via = format!("ack {} via {topic_name}", ack.status.as_str());
    let deadline = now_ms.saturating_add(ms(terminal_timeout(command.action, timers)));
    match target {
        CommandState::Accepted => {
            command.published_ms.get_or_insert(now_ms);
            command.accepted_ms = Some(now_ms);
            command.deadline_ms = Some(deadline);
        }
        CommandState::ExecutionStarted => {
            command.published_ms.get_or_insert(now_ms);
            command.accepted_ms.get_or_insert(now_ms);
            command.started_ms = Some(now_ms);
            command.deadline_ms = Some(deadline);
        }
        CommandState::Failed => {
            command.error_code = ack.error_code.clone();
            command.error_message = ack.error_message.clone();
        }
        _ => {
            let evidence = match command.action {
                Action::RebootHost => match reboot_proof(command, ack) {
                    Some(evidence) => evidence,
                    None => return ignore(command, now_ms, "completed without reboot proof"),
                },
                Action::ShutdownHost | Action::RestartApp => Evidence::Ack,
            };
            command.completion_evidence = Some(evidence);
            command.boot_id_at_completion = ack.boot_id.clone();
            if let Some(took) = slow_reconnect(command, now_ms, timers) {
                via.push_str(&format!(
                    "; reconnect took {}, slower than commands.reconnect_target ({})",
                    humantime::format_duration(took),
                    humantime::format_duration(timers.reconnect_target),
                ));
            }
        }
    }
    command.last_ack_topic = Some(topic);
    AckEffect::Moved(moved(command, target, now_ms, via))
}

/// For a `reboot_host` completing at `now_ms`: how long the device took from
/// execution_started (or acceptance) to its completed ack, when that is more than
/// `commands.reconnect_target` — the time a healthy device achieves. Slower reboots still
/// complete (the ceiling decides `timed_out`); they are noted in the event and logged.
pub fn slow_reconnect(
    command: &CommandRecord,
    now_ms: i64,
    timers: &CommandsConfig,
) -> Option<Duration> {
    if command.action != Action::RebootHost {
        return None;
    }
    let since = command.started_ms.or(command.accepted_ms)?;
    let took = u64::try_from(now_ms.saturating_sub(since)).unwrap_or(0);
    let took = Duration::from_millis(took);
    (took > timers.reconnect_target).then_some(took)
}

/// Proof that a reboot happened: a new boot id, or (for devices that send none) the device
/// went offline after the command was sent and came back. The ack itself shows it came back:
/// it arrived after the offline status, over the device's new connection, whether or not the
/// device's `online` status came first (the agent sends its `completed` ack first).
fn reboot_proof(command: &CommandRecord, ack: &DeviceAck) -> Option<Evidence> {
    if let (Some(now), Some(before)) = (&ack.boot_id, &command.boot_id_at_issue) {
        return (now != before).then_some(Evidence::BootIdChanged);
    }
    command.offline_seen_ms.map(|_| Evidence::Reconnected)
}

/// The device went offline at `now_ms`: remember it as reboot proof, and complete a
/// shutdown that had started.
pub fn device_offline(command: &mut CommandRecord, now_ms: i64) -> Option<Transition> {
    if command.state.is_terminal() || command.state == CommandState::Queued {
        return None;
    }
    if command.action == Action::ShutdownHost && command.state == CommandState::ExecutionStarted {
        command.completion_evidence = Some(Evidence::WentOffline);
        let detail = "device went offline after execution_started".to_owned();
        return Some(moved(command, CommandState::Completed, now_ms, detail));
    }
    if command.offline_seen_ms.is_none() {
        command.offline_seen_ms = Some(now_ms);
        command.updated_ms = now_ms;
    }
    None
}

/// The broker acknowledged the publish.
pub fn published(command: &mut CommandRecord, now_ms: i64) -> Option<Transition> {
    if command.state != CommandState::Queued {
        return None;
    }
    command.published_ms = Some(now_ms);
    let detail = "broker acknowledged the publish (PUBACK)".to_owned();
    Some(moved(command, CommandState::Published, now_ms, detail))
}

/// Expiry and timeouts at `now_ms`.
pub fn on_timer(command: &mut CommandRecord, now_ms: i64) -> Option<Transition> {
    match command.state {
        CommandState::Queued | CommandState::Published if command.expires_ms <= now_ms => {
            command.error_code = Some("expired".to_owned());
            command.error_message = Some("expires_at passed before the device accepted".into());
            Some(moved(command, CommandState::Expired, now_ms, "expires_at passed".to_owned()))
        }
        CommandState::Accepted | CommandState::ExecutionStarted
            if command.deadline_ms.is_some_and(|deadline| deadline <= now_ms) =>
        {
            let (code, what) = match command.action {
                Action::RebootHost => ("reconnect_timeout", "commands.reconnect_ceiling"),
                _ => ("ack_timeout", "commands.ack_timeout"),
            };
            let detail = format!("no terminal ack within {what}");
            command.error_code = Some(code.to_owned());
            command.error_message = Some(detail.clone());
            Some(moved(command, CommandState::TimedOut, now_ms, detail))
        }
        _ => None,
    }
}

/// Cancel before acceptance. `Ok(None)`: already canceled, nothing to do.
pub fn cancel(
    command: &mut CommandRecord,
    now_ms: i64,
    detail: String,
) -> Result<Option<Transition>, Error> {
    match command.state {
        CommandState::Canceled => Ok(None),
        CommandState::Queued | CommandState::Published => {
            command.error_code = Some("canceled".to_owned());
            command.error_message = Some(detail.clone());
            Ok(Some(moved(command, CommandState::Canceled, now_ms, detail)))
        }
        state => Err(Error::FailedPrecondition(format!(
            "command {} is {state}; only queued or published commands can be canceled",
            command.command_id
        ))),
    }
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
