//! Every transition of the command state machine, and the dedupe of a repeated command_id.

use std::collections::HashMap;

use serde_json::json;

use super::*;

const NOW: i64 = 1_775_393_400_000; // 2026-04-05T12:50:00Z, before the payloads expire
const DELAY: Duration = Duration::from_millis(250);

impl Records for HashMap<Uuid, CommandRecord> {
    fn get(&self, id: &Uuid) -> Option<&CommandRecord> {
        HashMap::get(self, id)
    }
}

/// A machine and the records it would have had stored.
struct Device {
    me: Uuid,
    machine: Machine,
    records: HashMap<Uuid, CommandRecord>,
}

impl Device {
    fn new(simulated: bool) -> Self {
        let me = Uuid::new_v4();
        Self { me, machine: Machine::new(me, simulated, "boot-1".into()), records: HashMap::new() }
    }

    /// Store what the effects record, as the loop does, and hand them back.
    fn keep(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        for effect in &effects {
            if let Effect::Record(record) = effect {
                self.records.insert(record.command_id, record.clone());
            }
        }
        effects
    }

    fn command(&mut self, payload: &serde_json::Value) -> Vec<Effect> {
        let payload = payload.to_string();
        let effects = self.machine.command(&self.records, payload.as_bytes(), NOW, DELAY);
        self.keep(effects)
    }

    fn begin(&mut self, id: Uuid, action: Action) -> Vec<Effect> {
        let effects = self.machine.begin(&self.records, id, action, NOW);
        self.keep(effects)
    }

    fn finished(&mut self, id: Uuid, outcome: Outcome) -> Vec<Effect> {
        let effects = self.machine.finished(&self.records, id, outcome, NOW);
        self.keep(effects)
    }

    /// A valid command for this device, and its id.
    fn payload(&self, action: &str) -> (serde_json::Value, Uuid) {
        let id = Uuid::new_v4();
        let payload = json!({
            "schema_version": "1.0", "command_id": id, "client_uuid": self.me,
            "action": action, "issued_at": "2026-04-05T12:48:10Z",
            "expires_at": "2026-04-05T12:52:10Z", "requested_by": 1, "reason": null
        });
        (payload, id)
    }

    /// Accept a command and start it: its id.
    fn running(&mut self, action: Action) -> Uuid {
        let (payload, id) = self.payload(action.as_str());
        self.command(&payload);
        self.begin(id, action);
        id
    }
}

fn record(effect: &Effect) -> &CommandRecord {
    match effect {
        Effect::Record(record) => record,
        other => panic!("expected a record, got {other:?}"),
    }
}

fn failed(effects: &[Effect], code: ErrorCode) -> &CommandRecord {
    assert_eq!(effects.len(), 1, "{effects:?}");
    let record = record(&effects[0]);
    assert_eq!(record.phase, Phase::Failed);
    assert_eq!(record.last_ack.status, "failed");
    assert_eq!(record.last_ack.error_code.as_deref(), Some(code.as_str()));
    record
}

#[test]
fn a_valid_command_is_recorded_accepted_then_scheduled() {
    let mut device = Device::new(true);
    let (payload, id) = device.payload("restart_app");
    let effects = device.command(&payload);
    let expected = CommandRecord {
        command_id: id,
        action: "restart_app".into(),
        phase: Phase::Accepted,
        boot_id_before: "boot-1".into(),
        last_ack: AckOut::new(id, "accepted"),
        updated_ms: NOW,
    };
    assert_eq!(
        effects,
        [
            Effect::Record(expected),
            Effect::Schedule { id, action: Action::RestartApp, delay: DELAY }
        ]
    );
    assert_eq!(device.machine.busy(), Some(id));
}

#[test]
fn a_repeated_command_id_gets_its_latest_ack_again_and_nothing_else() {
    let mut device = Device::new(true);
    let (payload, id) = device.payload("restart_app");
    device.command(&payload);
    assert_eq!(device.command(&payload), [Effect::Resend(AckOut::new(id, "accepted"))]);
    device.begin(id, Action::RestartApp);
    assert_eq!(device.command(&payload), [Effect::Resend(AckOut::new(id, "execution_started"))]);
    device.finished(id, Outcome::Completed);
    let completed = AckOut::new(id, "completed").with_boot("boot-1");
    assert_eq!(device.command(&payload), [Effect::Resend(completed)]);
    // Even a copy that would now be refused (expired) is answered from the record.
    let effects =
        device.machine.command(&device.records, payload.to_string().as_bytes(), i64::MAX, DELAY);
    assert!(matches!(&effects[..], [Effect::Resend(ack)] if ack.status == "completed"));
}

#[test]
fn a_refused_command_with_an_id_is_recorded_failed_with_its_code() {
    let mut device = Device::new(true);
    let (mut payload, id) = device.payload("restart_app");
    payload["client_uuid"] = json!(Uuid::new_v4());
    let effects = device.command(&payload);
    let refused = failed(&effects, ErrorCode::WrongClient);
    assert_eq!((refused.command_id, refused.action.as_str()), (id, ""));
    assert_eq!(device.machine.busy(), None);
    let (mut payload, _) = device.payload("format_disk");
    payload["action"] = json!("format_disk");
    failed(&device.command(&payload), ErrorCode::UnsupportedAction);
    // The refusal is remembered: the same id again gets the same ack.
    let (mut payload, _) = device.payload("restart_app");
    payload["schema_version"] = json!("2.0");
    let first = record(&device.command(&payload)[0]).last_ack.clone();
    assert_eq!(device.command(&payload), [Effect::Resend(first)]);
}

#[test]
fn a_payload_without_a_command_id_is_dropped() {
    let mut device = Device::new(true);
    assert_eq!(device.machine.command(&device.records, b"{not json", NOW, DELAY), []);
    assert_eq!(device.command(&json!({"action": "restart_app"})), []);
    assert!(device.records.is_empty());
}

#[test]
fn a_second_command_while_one_runs_is_refused_busy() {
    let mut device = Device::new(true);
    let running = device.running(Action::RestartApp);
    let (payload, id) = device.payload("reboot_host");
    let effects = device.command(&payload);
    let record = failed(&effects, ErrorCode::Busy);
    assert_eq!(record.command_id, id);
    assert_eq!(record.action, "reboot_host");
    let message = format!("command {running} is still running");
    assert_eq!(record.last_ack.error_message.as_deref(), Some(message.as_str()));
    assert_eq!(device.machine.busy(), Some(running));
}

#[test]
fn a_due_start_runs_an_accepted_command_only() {
    let mut device = Device::new(true);
    let (payload, id) = device.payload("restart_app");
    device.command(&payload);
    let effects = device.begin(id, Action::RestartApp);
    assert_eq!(effects.len(), 2, "{effects:?}");
    let started = record(&effects[0]);
    assert_eq!(started.phase, Phase::ExecutionStarted);
    assert_eq!(started.last_ack, AckOut::new(id, "execution_started"));
    assert_eq!(effects[1], Effect::Execute { id, action: Action::RestartApp });
    assert_eq!(device.begin(id, Action::RestartApp), [], "started twice");
    assert_eq!(device.begin(Uuid::new_v4(), Action::RestartApp), [], "unknown id");
}

#[test]
fn an_outcome_finishes_the_command_and_frees_the_device() {
    let mut device = Device::new(true);
    let id = device.running(Action::RestartApp);
    let effects = device.finished(id, Outcome::Completed);
    assert_eq!(effects.len(), 1, "{effects:?}");
    let done = record(&effects[0]);
    assert_eq!(done.phase, Phase::Completed);
    assert_eq!(done.last_ack, AckOut::new(id, "completed").with_boot("boot-1"));
    assert_eq!(device.machine.busy(), None);

    let id = device.running(Action::RestartApp);
    let effects = device.finished(id, Outcome::Failed("exit status 3".into()));
    let record = failed(&effects, ErrorCode::ExecutionFailed);
    assert_eq!(record.last_ack.error_message.as_deref(), Some("exit status 3"));
    assert_eq!(device.machine.busy(), None);
    assert_eq!(device.finished(Uuid::new_v4(), Outcome::Completed), [], "unknown id");
}

#[test]
fn a_simulated_reboot_or_power_off_ends_the_session_and_a_real_one_waits_for_boot() {
    let mut device = Device::new(true);
    let id = device.running(Action::RebootHost);
    assert_eq!(device.finished(id, Outcome::Rebooting), [Effect::End(End::Reboot)]);
    assert_eq!(device.finished(id, Outcome::PoweringOff), [Effect::End(End::PowerOff)]);
    assert_eq!(device.records[&id].phase, Phase::ExecutionStarted);

    let mut device = Device::new(false);
    let id = device.running(Action::RebootHost);
    assert_eq!(device.finished(id, Outcome::Rebooting), []);
    assert_eq!(device.finished(id, Outcome::PoweringOff), []);
}

#[test]
fn at_boot_unfinished_commands_are_started_completed_or_failed() {
    let left = |action: &str, phase: Phase, boot: &str| {
        let id = Uuid::new_v4();
        CommandRecord {
            command_id: id,
            action: action.into(),
            phase,
            boot_id_before: boot.into(),
            last_ack: AckOut::new(id, "accepted"),
            updated_ms: 0,
        }
    };
    let accepted = left("restart_app", Phase::Accepted, "boot-1");
    let rebooted = left("reboot_host", Phase::ExecutionStarted, "boot-1");
    let not_down = left("shutdown_host", Phase::ExecutionStarted, "boot-2");
    let app = left("restart_app", Phase::ExecutionStarted, "boot-2");
    let done = left("restart_app", Phase::Completed, "boot-1");
    let unreadable = left("format_disk", Phase::Accepted, "boot-1");
    let mut machine = Machine::new(Uuid::new_v4(), false, "boot-2".into());
    let all = [&accepted, &rebooted, &not_down, &app, &done, &unreadable];
    let effects = machine.resume(all.into_iter().cloned().collect(), NOW);
    assert_eq!(effects.len(), 4, "{effects:?}");
    let id = accepted.command_id;
    assert_eq!(
        effects[0],
        Effect::Schedule { id, action: Action::RestartApp, delay: Duration::ZERO }
    );
    assert_eq!(machine.busy(), Some(id));
    let completed = record(&effects[1]);
    let ack = AckOut::new(rebooted.command_id, "completed").with_boot("boot-2");
    assert_eq!((completed.phase, &completed.last_ack), (Phase::Completed, &ack));
    let message = |effect| record(effect).last_ack.error_message.clone();
    assert_eq!(
        message(&effects[2]).as_deref(),
        Some("shutdown_host was started but the host did not go down")
    );
    assert_eq!(
        message(&effects[3]).as_deref(),
        Some("the agent restarted while the action ran; outcome unknown")
    );
    assert!(effects[1..].iter().all(|e| record(e).updated_ms == NOW));
}
