//! The agent's command state machine (`contracts/mqtt-v1.md`, device side), without I/O.
//!
//! It decides, the MQTT loop around it ([`super::session`]) acts. Each input (a command
//! payload, a scheduled start, an execution's outcome, a boot) returns the [`Effect`]s to carry
//! out in order: store a record and then publish its ack, publish an ack again, start or run
//! an action, end the session. A `command_id` seen before is answered with its latest ack and
//! nothing else; one command runs at a time (`busy` for another); a record is advanced only
//! from the phase it must be in. Nothing here touches the broker, the disk, a clock or tokio:
//! the caller passes the time and reads the records through [`Records`].

use std::time::Duration;

use uuid::Uuid;

use super::executor::Outcome;
use super::state::{CommandRecord, Phase, State};
use super::validate::{self, Rejection};
use super::wire::{AckOut, ErrorCode};
use crate::contract::Action;

/// How a session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Stop,
    Reboot,
    PowerOff,
}

/// What the loop carries out, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Store the record durably, then publish its `last_ack`.
    Record(CommandRecord),
    /// Publish this ack again and store nothing (a repeated `command_id`).
    Resend(AckOut),
    /// After `delay`, feed [`Machine::begin`] with `id` and `action`.
    Schedule { id: Uuid, action: Action, delay: Duration },
    /// Log the execution, run `action`, and feed [`Machine::finished`] with its outcome.
    Execute { id: Uuid, action: Action },
    /// Publish `offline` (retained) and end the session.
    End(End),
}

/// The command records the machine reads (the loop writes them from [`Effect::Record`]).
pub trait Records {
    fn get(&self, id: &Uuid) -> Option<&CommandRecord>;
}

impl Records for State {
    fn get(&self, id: &Uuid) -> Option<&CommandRecord> {
        State::get(self, id)
    }
}

/// One session's command state: the device, its boot, and the command running now.
#[derive(Debug)]
pub struct Machine {
    client_uuid: Uuid,
    /// A simulated executor: a reboot or power-off ends the session instead of the host.
    simulated: bool,
    boot_id: String,
    busy: Option<Uuid>,
}

impl Machine {
    pub fn new(client_uuid: Uuid, simulated: bool, boot_id: String) -> Self {
        Self { client_uuid, simulated, boot_id, busy: None }
    }

    /// The boot this session runs in (acks of a completed command carry it).
    pub fn boot_id(&self) -> &str {
        &self.boot_id
    }

    /// The command running now, if any.
    pub fn busy(&self) -> Option<Uuid> {
        self.busy
    }

    /// A command payload arrived; `start_delay` is how long until an accepted one starts.
    pub fn command(
        &mut self,
        records: &impl Records,
        payload: &[u8],
        now_ms: i64,
        start_delay: Duration,
    ) -> Vec<Effect> {
        if let Some(id) = validate::command_id(payload)
            && let Some(record) = records.get(&id)
        {
            tracing::info!(command_id = %id, "agent.command: seen before, re-sending the latest ack");
            return vec![Effect::Resend(record.last_ack.clone())];
        }
        match validate::validate(payload, self.client_uuid, now_ms) {
            Err(Rejection { command_id: None, code, message }) => {
                tracing::warn!(code = code.as_str(), %message, "agent.command: dropped, no command_id to ack");
                Vec::new()
            }
            Err(Rejection { command_id: Some(id), code, message }) => {
                tracing::warn!(command_id = %id, code = code.as_str(), %message, "agent.command: refused");
                let record = self.new_record(id, "", now_ms);
                vec![self.advance(record, Phase::Failed, AckOut::failed(id, code, message), now_ms)]
            }
            Ok((wire, action)) => {
                let id = wire.command_id;
                let record = self.new_record(id, action.as_str(), now_ms);
                if let Some(running) = self.busy {
                    let message = format!("command {running} is still running");
                    let ack = AckOut::failed(id, ErrorCode::Busy, message);
                    return vec![self.advance(record, Phase::Failed, ack, now_ms)];
                }
                tracing::info!(command_id = %id, action = action.as_str(), "agent.command: accepted");
                let accepted = AckOut::new(id, "accepted");
                vec![
                    self.advance(record, Phase::Accepted, accepted, now_ms),
                    self.schedule(id, action, start_delay),
                ]
            }
        }
    }

    /// The scheduled start of `id` is due: it runs if it is still only accepted.
    pub fn begin(
        &mut self,
        records: &impl Records,
        id: Uuid,
        action: Action,
        now_ms: i64,
    ) -> Vec<Effect> {
        let Some(record) = records.get(&id).cloned() else { return Vec::new() };
        if record.phase != Phase::Accepted {
            return Vec::new();
        }
        let ack = AckOut::new(id, "execution_started");
        vec![
            self.advance(record, Phase::ExecutionStarted, ack, now_ms),
            Effect::Execute { id, action },
        ]
    }

    /// The execution of `id` ended with `outcome`.
    pub fn finished(
        &mut self,
        records: &impl Records,
        id: Uuid,
        outcome: Outcome,
        now_ms: i64,
    ) -> Vec<Effect> {
        let Some(record) = records.get(&id).cloned() else { return Vec::new() };
        tracing::info!(command_id = %id, ?outcome, "agent.execute: finished");
        match outcome {
            Outcome::Completed => {
                let ack = AckOut::new(id, "completed").with_boot(&self.boot_id);
                vec![self.advance(record, Phase::Completed, ack, now_ms)]
            }
            Outcome::Failed(message) => {
                let ack = AckOut::failed(id, ErrorCode::ExecutionFailed, message);
                vec![self.advance(record, Phase::Failed, ack, now_ms)]
            }
            Outcome::Rebooting if self.simulated => vec![Effect::End(End::Reboot)],
            Outcome::PoweringOff if self.simulated => vec![Effect::End(End::PowerOff)],
            // The host goes down; systemd stops the agent, and the next boot resumes.
            Outcome::Rebooting | Outcome::PoweringOff => Vec::new(),
        }
    }

    /// At (simulated) boot: finish what the previous run left open in `unfinished`.
    pub fn resume(&mut self, unfinished: Vec<CommandRecord>, now_ms: i64) -> Vec<Effect> {
        let mut effects = Vec::new();
        for record in unfinished {
            let id = record.command_id;
            let Some(action) = Action::parse(&record.action) else { continue };
            let rebooted = record.boot_id_before != self.boot_id;
            match (record.phase, action) {
                (Phase::Accepted, _) => {
                    tracing::info!(command_id = %id, "agent.resume: accepted before a restart, starting it now");
                    effects.push(self.schedule(id, action, Duration::ZERO));
                }
                (Phase::ExecutionStarted, Action::RebootHost | Action::ShutdownHost)
                    if rebooted =>
                {
                    tracing::info!(command_id = %id, boot_id = %self.boot_id, "agent.resume: back after {action}");
                    let ack = AckOut::new(id, "completed").with_boot(&self.boot_id);
                    effects.push(self.advance(record, Phase::Completed, ack, now_ms));
                }
                (Phase::ExecutionStarted, _) => {
                    let message = if action == Action::RestartApp {
                        "the agent restarted while the action ran; outcome unknown".to_owned()
                    } else {
                        format!("{action} was started but the host did not go down")
                    };
                    let ack = AckOut::failed(id, ErrorCode::ExecutionFailed, message);
                    effects.push(self.advance(record, Phase::Failed, ack, now_ms));
                }
                (Phase::Completed | Phase::Failed, _) => {}
            }
        }
        effects
    }

    /// `record` moved to `phase` with `ack` as its latest; a finished command frees the
    /// device for the next.
    fn advance(
        &mut self,
        mut record: CommandRecord,
        phase: Phase,
        ack: AckOut,
        now_ms: i64,
    ) -> Effect {
        if phase.is_terminal() && self.busy == Some(ack.command_id) {
            self.busy = None;
        }
        record.phase = phase;
        record.last_ack = ack;
        record.updated_ms = now_ms;
        Effect::Record(record)
    }

    /// `id` is the running command from now on; it starts after `delay`.
    fn schedule(&mut self, id: Uuid, action: Action, delay: Duration) -> Effect {
        self.busy = Some(id);
        Effect::Schedule { id, action, delay }
    }

    fn new_record(&self, id: Uuid, action: &str, now_ms: i64) -> CommandRecord {
        CommandRecord {
            command_id: id,
            action: action.to_owned(),
            phase: Phase::Accepted,
            boot_id_before: self.boot_id.clone(),
            last_ack: AckOut::new(id, "accepted"),
            updated_ms: now_ms,
        }
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
