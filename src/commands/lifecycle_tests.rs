//! Unit tests of the pure state machine.

use super::*;
use crate::model::commands::Origin;
use uuid::Uuid;

fn command(action: Action, state: CommandState) -> CommandRecord {
    CommandRecord {
        state,
        boot_id_at_issue: Some("boot-a".into()),
        ..CommandRecord::new(Uuid::new_v4(), Uuid::new_v4(), action, Origin::Api, 0, 240_000)
    }
}

fn ack(status: AckStatus, boot_id: Option<&str>) -> DeviceAck {
    DeviceAck {
        command_id: Uuid::nil(),
        status,
        error_code: None,
        error_message: None,
        boot_id: boot_id.map(str::to_owned),
    }
}

fn apply(c: &mut CommandRecord, a: &DeviceAck, now: i64) -> AckEffect {
    apply_on(c, a, AckTopic::Canonical, now)
}

fn apply_on(c: &mut CommandRecord, a: &DeviceAck, topic: AckTopic, now: i64) -> AckEffect {
    let name = match topic {
        AckTopic::Canonical => "p/x/commands/ack",
        AckTopic::Alias => "p/x/command/ack",
    };
    apply_ack(c, a, topic, name, now, &CommandsConfig::default())
}

#[test]
fn full_path_to_completed_sets_timestamps_and_deadline() {
    let mut c = command(Action::RestartApp, CommandState::Published);
    assert!(matches!(apply(&mut c, &ack(AckStatus::Accepted, None), 10), AckEffect::Moved(_)));
    assert_eq!(
        (c.state, c.accepted_ms, c.deadline_ms),
        (CommandState::Accepted, Some(10), Some(60_010))
    );
    apply(&mut c, &ack(AckStatus::ExecutionStarted, None), 20);
    assert_eq!((c.started_ms, c.deadline_ms), (Some(20), Some(60_020)));
    apply(&mut c, &ack(AckStatus::Completed, None), 30);
    assert_eq!(c.state, CommandState::Completed);
    assert_eq!((c.finished_ms, c.completion_evidence), (Some(30), Some(Evidence::Ack)));
}

#[test]
fn duplicates_and_out_of_order_acks_are_ignored_and_counted() {
    let mut c = command(Action::RestartApp, CommandState::Published);
    apply(&mut c, &ack(AckStatus::ExecutionStarted, None), 10);
    let dup = apply(&mut c, &ack(AckStatus::ExecutionStarted, None), 11);
    assert_eq!(dup, AckEffect::Ignored { counted: true, why: "duplicate" });
    let old = apply(&mut c, &ack(AckStatus::Accepted, None), 12);
    assert_eq!(old, AckEffect::Ignored { counted: true, why: "out of order" });
    assert_eq!((c.state, c.ignored_acks), (CommandState::ExecutionStarted, 2));
    let alias = apply_on(&mut c, &ack(AckStatus::ExecutionStarted, None), AckTopic::Alias, 13);
    assert_eq!(alias, AckEffect::Ignored { counted: false, why: "same ack on the other topic" });
    assert_eq!(c.ignored_acks, 2);
    // A terminal ack, then the same one on the other topic: one ack, nothing counted.
    assert!(matches!(apply(&mut c, &ack(AckStatus::Completed, None), 14), AckEffect::Moved(_)));
    let alias = apply_on(&mut c, &ack(AckStatus::Completed, None), AckTopic::Alias, 15);
    assert_eq!(alias, AckEffect::Ignored { counted: false, why: "same ack on the other topic" });
    let again = apply(&mut c, &ack(AckStatus::Completed, None), 16);
    assert_eq!(again, AckEffect::Ignored { counted: true, why: "command already terminal" });
    assert_eq!((c.state, c.ignored_acks), (CommandState::Completed, 3));
}

#[test]
fn late_outcome_after_timeout_is_recorded_once() {
    let mut c = command(Action::RestartApp, CommandState::Accepted);
    c.deadline_ms = Some(100);
    assert_eq!(on_timer(&mut c, 99), None);
    let t = on_timer(&mut c, 100).unwrap();
    assert_eq!((t.to, c.error_code.as_deref()), (CommandState::TimedOut, Some("ack_timeout")));
    let late = apply(&mut c, &ack(AckStatus::Completed, None), 150);
    assert!(matches!(late, AckEffect::Late(ref t) if t.from == t.to));
    assert_eq!(c.state, CommandState::TimedOut);
    assert_eq!(
        c.late_outcome.as_ref().map(|l| (l.state, l.received_ms)),
        Some((CommandState::Completed, 150))
    );
    let again = apply(&mut c, &ack(AckStatus::Failed, None), 160);
    assert!(matches!(again, AckEffect::Ignored { counted: true, .. }));
}

#[test]
fn reboot_needs_a_new_boot_id_or_an_offline_online_cycle() {
    let mut c = command(Action::RebootHost, CommandState::ExecutionStarted);
    let same = apply(&mut c, &ack(AckStatus::Completed, Some("boot-a")), 10);
    assert_eq!(same, AckEffect::Ignored { counted: true, why: "completed without reboot proof" });
    apply(&mut c, &ack(AckStatus::Completed, Some("boot-b")), 11);
    assert_eq!(c.completion_evidence, Some(Evidence::BootIdChanged));

    // No boot id: a completed ack before the device went offline proves nothing; one after
    // it does, even when it comes before the device's `online` status (as the agent sends).
    let mut c = command(Action::RebootHost, CommandState::ExecutionStarted);
    c.boot_id_at_issue = None;
    assert!(matches!(
        apply(&mut c, &ack(AckStatus::Completed, None), 5),
        AckEffect::Ignored { .. }
    ));
    assert_eq!(device_offline(&mut c, 20), None);
    apply(&mut c, &ack(AckStatus::Completed, None), 31);
    assert_eq!(
        (c.state, c.completion_evidence),
        (CommandState::Completed, Some(Evidence::Reconnected))
    );
}

#[test]
fn shutdown_completes_when_the_device_goes_offline_after_start() {
    let mut c = command(Action::ShutdownHost, CommandState::Accepted);
    assert_eq!(device_offline(&mut c, 5), None);
    let mut c = command(Action::ShutdownHost, CommandState::ExecutionStarted);
    let t = device_offline(&mut c, 5).unwrap();
    assert_eq!(
        (t.to, c.completion_evidence),
        (CommandState::Completed, Some(Evidence::WentOffline))
    );
}

#[test]
fn expiry_and_cancel_only_before_acceptance() {
    let mut c = command(Action::RestartApp, CommandState::Queued);
    assert_eq!(on_timer(&mut c, 239_999), None);
    assert_eq!(on_timer(&mut c, 240_000).unwrap().to, CommandState::Expired);
    let mut c = command(Action::RestartApp, CommandState::Published);
    assert_eq!(cancel(&mut c, 1, "op".into()).unwrap().unwrap().to, CommandState::Canceled);
    assert_eq!(cancel(&mut c, 2, "op".into()).unwrap(), None);
    let mut c = command(Action::RestartApp, CommandState::Accepted);
    assert!(matches!(cancel(&mut c, 1, "op".into()), Err(Error::FailedPrecondition(_))));
}

#[test]
fn a_reboot_slower_than_the_reconnect_target_completes_and_says_so() {
    let timers = CommandsConfig::default();
    let target = i64::try_from(timers.reconnect_target.as_millis()).unwrap();
    for (took, slow) in [(target, false), (target + 1000, true)] {
        let mut c = command(Action::RebootHost, CommandState::ExecutionStarted);
        c.started_ms = Some(1000);
        let done = ack(AckStatus::Completed, Some("boot-b"));
        let AckEffect::Moved(t) = apply(&mut c, &done, 1000 + took) else {
            panic!("a completed reboot with a new boot id moves");
        };
        assert_eq!(c.state, CommandState::Completed);
        assert_eq!(
            t.detail.contains("slower than commands.reconnect_target"),
            slow,
            "{}",
            t.detail
        );
    }
    let mut restart = command(Action::RestartApp, CommandState::ExecutionStarted);
    restart.started_ms = Some(0);
    assert_eq!(slow_reconnect(&restart, 10 * target, &timers), None, "only reboots");
}
