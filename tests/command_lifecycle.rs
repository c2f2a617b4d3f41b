//! The command lifecycle of `contracts/mqtt-v1.md` end to end: a real `rebound serve`, a real
//! Mosquitto with authentication and the shipped ACL, and fake devices speaking the contract.

mod support;

use std::collections::HashMap;

use rebound::proto::v1 as pb;
use support::device::{
    Device, event_states, get, issue, issue_id, rpc, wait_client, wait_registered, wait_state,
};
use support::mosquitto::Broker;
use support::{Server, postgres_store, wait_for};
use uuid::Uuid;

use pb::CommandState as S;

/// Short timers so timeouts happen in seconds.
const TIMERS: &str = "[commands]\nack_timeout = \"2s\"\nreconnect_ceiling = \"3s\"\nreconnect_target = \"1s\"\n\
    [scheduler]\ntick = \"100ms\"\n";

async fn setup(devices: usize, mqtt_extra: &str) -> (Broker, Server, Vec<Uuid>) {
    setup_on(&[], devices, mqtt_extra).await
}

/// [`setup`] with the server's store chosen by `store` (empty: the default SQLite; or
/// [`postgres_store`]).
async fn setup_on(
    store: &[(&str, &str)],
    devices: usize,
    mqtt_extra: &str,
) -> (Broker, Server, Vec<Uuid>) {
    let uuids: Vec<Uuid> = (0..devices).map(|_| Uuid::new_v4()).collect();
    let broker = Broker::start(&uuids);
    let config = format!("{}{TIMERS}", broker.server_config(mqtt_extra));
    let server = Server::start_with(&config, store).await;
    (broker, server, uuids)
}

async fn online(broker: &Broker, rpc: &support::device::Rpc, uuid: Uuid) -> Device {
    let device = Device::connect(broker, uuid).await;
    device.health("running", Some("boot-1")).await;
    wait_for("first heartbeat stored", || {
        let mut rpc = rpc.clone();
        async move {
            let client = rpc
                .get_client(pb::GetClientRequest { client_uuid: uuid.to_string() })
                .await
                .ok()?;
            client.into_inner().client.filter(|c| c.last_health_at.is_some())
        }
    })
    .await;
    device
}

#[tokio::test]
async fn completed_and_failed_with_every_transition_stored() {
    completed_and_failed_with_every_transition_stored_on(&[]).await;
}

#[tokio::test]
async fn completed_and_failed_with_every_transition_stored_on_postgres() {
    let Some((key, url)) = postgres_store().await else { return };
    completed_and_failed_with_every_transition_stored_on(&[(key, &url)]).await;
}

async fn completed_and_failed_with_every_transition_stored_on(store: &[(&str, &str)]) {
    let (broker, server, uuids) = setup_on(store, 2, "").await;
    let mut rpc = rpc(&server).await;
    let mut ok = online(&broker, &rpc, uuids[0]).await;
    let mut bad = online(&broker, &rpc, uuids[1]).await;

    let issued = issue(&mut rpc, ok.uuid, pb::Action::RestartApp).await.unwrap();
    assert!(issued.created);
    let id = issued.command.unwrap().command_id;
    let wire = ok.next_command().await;
    assert_eq!((wire.command_id.to_string(), wire.action.as_str()), (id.clone(), "restart_app"));
    assert_eq!(wire.client_uuid, ok.uuid);
    wait_state(&rpc, &id, S::Published).await;
    for status in ["accepted", "execution_started", "completed"] {
        ok.ack(&id, status, None).await;
    }
    let done = wait_state(&rpc, &id, S::Completed).await;
    assert_eq!(
        event_states(&done),
        [S::Queued, S::Published, S::Accepted, S::ExecutionStarted, S::Completed]
    );
    assert_eq!(done.completion_evidence(), pb::CompletionEvidence::Ack);
    assert!(done.events[1..].iter().all(|e| e.source() == pb::CommandEventSource::Mqtt));
    assert!(done.finished_at.is_some() && done.timeout_at.is_some());

    let id = issue_id(&mut rpc, bad.uuid, pb::Action::RestartApp).await;
    bad.next_command().await;
    bad.ack(&id, "accepted", None).await;
    bad.ack_on("commands/ack", &id, "failed", None, Some(("execution_failed", "systemctl exit 1")))
        .await;
    let failed = wait_state(&rpc, &id, S::Failed).await;
    assert_eq!(
        (failed.error_code.as_str(), failed.error_message.as_str()),
        ("execution_failed", "systemctl exit 1")
    );
    drop(broker);
}

#[tokio::test]
async fn duplicate_out_of_order_and_alias_acks_are_ignored_and_counted() {
    let (broker, server, uuids) = setup(1, "").await;
    let mut rpc = rpc(&server).await;
    let mut device = online(&broker, &rpc, uuids[0]).await;
    let id = issue_id(&mut rpc, device.uuid, pb::Action::RestartApp).await;
    device.next_command().await;
    wait_for("the alias topic got the command too", || async {
        (device.alias_received.load(std::sync::atomic::Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    device.ack(&id, "execution_started", None).await;
    wait_state(&rpc, &id, S::ExecutionStarted).await;
    // The same ack on the alias topic is the same ack: not counted.
    device.ack_on("command/ack", &id, "execution_started", None, None).await;
    // A duplicate on the same topic and an out-of-order one are counted.
    device.ack(&id, "execution_started", None).await;
    device.ack(&id, "accepted", None).await;
    let counted = wait_for("two ignored acks", || {
        let mut rpc = rpc.clone();
        let id = id.clone();
        async move {
            let c = get(&mut rpc, &id).await;
            (c.ignored_acks == 2).then_some(c)
        }
    })
    .await;
    assert_eq!(counted.state(), S::ExecutionStarted, "states only move forward");
    device.ack_on("command/ack", &id, "completed", None, None).await;
    let done = wait_state(&rpc, &id, S::Completed).await;
    // The terminal ack on the canonical topic too: still one ack, not counted. Another
    // outcome after the end is counted.
    device.ack(&id, "completed", None).await;
    device.ack(&id, "failed", None).await;
    // The device's messages are stored in the order they were sent: once a heartbeat sent
    // after the acks is in, both acks have been handled.
    device.health("running", Some("after-the-acks")).await;
    wait_client(&rpc, device.uuid, "heartbeat after the acks", |c| c.boot_id == "after-the-acks")
        .await;
    assert_eq!(get(&mut rpc, &id).await.ignored_acks, 3, "only the other outcome counted");
    assert_eq!(event_states(&done).len(), 4, "ignored acks store no transition");
}

#[tokio::test]
async fn idempotent_command_id_returns_the_existing_command_and_publishes_nothing() {
    let (broker, server, uuids) = setup(1, "").await;
    let mut rpc = rpc(&server).await;
    let mut device = online(&broker, &rpc, uuids[0]).await;
    let request = pb::IssueCommandRequest {
        command_id: Uuid::new_v4().to_string().to_uppercase(),
        client_uuid: device.uuid.to_string(),
        action: pb::Action::RestartApp as i32,
        reason: Some("operator_request".into()),
        requested_by: Some(7),
        expires_in: Some(prost_types::Duration { seconds: 60, nanos: 0 }),
    };
    let first = rpc.issue_command(request.clone()).await.unwrap().into_inner();
    assert!(first.created);
    let wire = device.next_command().await;
    assert_eq!((wire.requested_by, wire.reason.as_deref()), (Some(7), Some("operator_request")));
    let again = rpc.issue_command(request.clone()).await.unwrap().into_inner();
    assert!(!again.created);
    assert_eq!(again.command.unwrap().command_id, request.command_id.to_lowercase());
    let mut other = request.clone();
    other.action = pb::Action::RebootHost as i32;
    let status = rpc.issue_command(other).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::AlreadyExists, "{status:?}");
    // Nothing was published for the retry: the next command the device sees is a new one.
    let next =
        issue(&mut rpc, device.uuid, pb::Action::ShutdownHost).await.unwrap().command.unwrap();
    assert_eq!(device.next_command().await.command_id.to_string(), next.command_id);
}

#[tokio::test]
async fn expired_timed_out_and_late_outcome() {
    expired_timed_out_and_late_outcome_on(&[]).await;
}

#[tokio::test]
async fn expired_timed_out_and_late_outcome_on_postgres() {
    let Some((key, url)) = postgres_store().await else { return };
    expired_timed_out_and_late_outcome_on(&[(key, &url)]).await;
}

async fn expired_timed_out_and_late_outcome_on(store: &[(&str, &str)]) {
    let (broker, server, uuids) = setup_on(store, 2, "").await;
    let mut rpc = rpc(&server).await;
    // Registered (retained status) but never accepts: expires.
    let silent = Device::connect(&broker, uuids[0]).await;
    wait_registered(&rpc, silent.uuid).await;
    let request = pb::IssueCommandRequest {
        client_uuid: silent.uuid.to_string(),
        action: pb::Action::RebootHost as i32,
        expires_in: Some(prost_types::Duration { seconds: 1, nanos: 0 }),
        ..Default::default()
    };
    let id = rpc.issue_command(request).await.unwrap().into_inner().command.unwrap().command_id;
    let expired = wait_state(&rpc, &id, S::Expired).await;
    assert_eq!(expired.error_code, "expired");
    assert_eq!(expired.events.last().unwrap().source(), pb::CommandEventSource::Scheduler);

    // Starts, then never finishes within commands.ack_timeout (2 s): timed_out, and the late
    // completion is recorded without changing the state.
    let mut slow = online(&broker, &rpc, uuids[1]).await;
    let id = issue_id(&mut rpc, slow.uuid, pb::Action::RestartApp).await;
    slow.next_command().await;
    slow.ack(&id, "accepted", None).await;
    slow.ack(&id, "execution_started", None).await;
    let timed_out = wait_state(&rpc, &id, S::TimedOut).await;
    assert_eq!(timed_out.error_code, "ack_timeout");
    slow.ack(&id, "completed", Some("boot-1")).await;
    let late = wait_for("late outcome", || {
        let mut rpc = rpc.clone();
        let id = id.clone();
        async move { get(&mut rpc, &id).await.late_outcome }
    })
    .await;
    assert_eq!(late.state(), S::Completed);
    let after = get(&mut rpc, &id).await;
    assert_eq!(after.state(), S::TimedOut);
    let last = after.events.last().unwrap();
    assert_eq!((last.from_state(), last.to_state()), (S::TimedOut, S::TimedOut));
    assert!(last.detail.starts_with("late outcome: completed"), "{}", last.detail);
}

#[tokio::test]
async fn reboot_needs_proof_by_boot_id_or_reconnect_and_shutdown_completes_offline() {
    let (broker, server, uuids) = setup(3, "").await;
    let mut rpc = rpc(&server).await;

    // With boot ids: the same boot id is no proof; a new one is.
    let mut pi = online(&broker, &rpc, uuids[0]).await;
    let id = issue_id(&mut rpc, pi.uuid, pb::Action::RebootHost).await;
    pi.next_command().await;
    pi.ack(&id, "accepted", Some("boot-1")).await;
    pi.ack(&id, "execution_started", Some("boot-1")).await;
    pi.ack(&id, "completed", Some("boot-1")).await;
    wait_for("unproven completion ignored", || {
        let mut rpc = rpc.clone();
        let id = id.clone();
        async move { (get(&mut rpc, &id).await.ignored_acks == 1).then_some(()) }
    })
    .await;
    pi.ack(&id, "completed", Some("boot-2")).await;
    let done = wait_state(&rpc, &id, S::Completed).await;
    assert_eq!(done.completion_evidence(), pb::CompletionEvidence::BootIdChanged);
    assert_eq!(
        (done.boot_id_at_issue.as_str(), done.boot_id_at_completion.as_str()),
        ("boot-1", "boot-2")
    );

    // Without boot ids: completed counts only after the device went offline and came back.
    let mut old = Device::connect(&broker, uuids[1]).await;
    old.health("running", None).await;
    wait_registered(&rpc, old.uuid).await;
    let id = issue_id(&mut rpc, old.uuid, pb::Action::RebootHost).await;
    old.next_command().await;
    old.ack(&id, "accepted", None).await;
    old.ack(&id, "execution_started", None).await;
    wait_state(&rpc, &id, S::ExecutionStarted).await;
    old.kill(); // the broker publishes the Last Will: offline
    wait_client(&rpc, uuids[1], "offline", |c| c.presence() == pb::Presence::Offline).await;
    let back = Device::connect(&broker, uuids[1]).await;
    back.ack(&id, "completed", None).await;
    let done = wait_state(&rpc, &id, S::Completed).await;
    assert_eq!(done.completion_evidence(), pb::CompletionEvidence::Reconnected);

    // Shutdown: a powered-off device cannot ack; offline after execution_started completes it.
    let mut host = online(&broker, &rpc, uuids[2]).await;
    let id = issue_id(&mut rpc, host.uuid, pb::Action::ShutdownHost).await;
    host.next_command().await;
    host.ack(&id, "accepted", None).await;
    host.ack(&id, "execution_started", None).await;
    wait_state(&rpc, &id, S::ExecutionStarted).await;
    host.status(false).await;
    let done = wait_state(&rpc, &id, S::Completed).await;
    assert_eq!(done.completion_evidence(), pb::CompletionEvidence::WentOffline);
    let client = wait_registered(&rpc, uuids[2]).await;
    assert_eq!(client.crash_state(), pb::CrashState::Healthy, "shut down on purpose is not stale");
}

#[tokio::test]
async fn lockout_rejects_the_fourth_command_and_stores_it() {
    lockout_rejects_the_fourth_command_and_stores_it_on(&[]).await;
}

#[tokio::test]
async fn lockout_rejects_the_fourth_command_and_stores_it_on_postgres() {
    let Some((key, url)) = postgres_store().await else { return };
    lockout_rejects_the_fourth_command_and_stores_it_on(&[(key, &url)]).await;
}

async fn lockout_rejects_the_fourth_command_and_stores_it_on(store: &[(&str, &str)]) {
    let (broker, server, uuids) = setup_on(store, 2, "").await;
    let mut rpc = rpc(&server).await;
    let _device = online(&broker, &rpc, uuids[0]).await;
    let _idle = online(&broker, &rpc, uuids[1]).await;
    for action in [pb::Action::RestartApp, pb::Action::RebootHost, pb::Action::ShutdownHost] {
        issue(&mut rpc, uuids[0], action).await.unwrap();
    }
    let fourth_id = Uuid::new_v4().to_string();
    let request = pb::IssueCommandRequest {
        command_id: fourth_id.clone(),
        client_uuid: uuids[0].to_string(),
        action: pb::Action::RestartApp as i32,
        ..Default::default()
    };
    let status = rpc.issue_command(request.clone()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    assert!(
        status.message().contains(&fourth_id) && status.message().contains("next allowed at"),
        "{}",
        status.message()
    );
    let rejected = get(&mut rpc, &fourth_id).await;
    assert_eq!((rejected.state(), rejected.error_code.as_str()), (S::Rejected, "safety_lockout"));
    // The retry returns the stored rejection; nothing else is issued.
    let retry = rpc.issue_command(request).await.unwrap().into_inner();
    assert_eq!((retry.created, retry.command.unwrap().state()), (false, S::Rejected));
    let client = wait_registered(&rpc, uuids[0]).await;
    let lockout = client.lockout.unwrap();
    assert_eq!((lockout.commands_in_window, lockout.max, lockout.locked_out), (3, 3, true));
    // A listing reads every device's lockout at once; each gets its own.
    let listed = rpc.list_clients(pb::ListClientsRequest::default()).await.unwrap().into_inner();
    let in_window: HashMap<String, u32> = listed
        .clients
        .iter()
        .map(|c| (c.client_uuid.clone(), c.lockout.as_ref().unwrap().commands_in_window))
        .collect();
    let expected = HashMap::from([(uuids[0].to_string(), 3), (uuids[1].to_string(), 0)]);
    assert_eq!(in_window, expected);
}

#[tokio::test]
async fn requests_are_validated_field_by_field() {
    let (_broker, server, _) = setup(0, "").await;
    let mut rpc = rpc(&server).await;
    let cases = [
        (
            pb::IssueCommandRequest { client_uuid: "nope".into(), action: 1, ..Default::default() },
            "client_uuid: not a UUID",
        ),
        (
            pb::IssueCommandRequest {
                client_uuid: Uuid::new_v4().to_string(),
                ..Default::default()
            },
            "action: required",
        ),
        (
            pb::IssueCommandRequest {
                command_id: "x".into(),
                client_uuid: Uuid::new_v4().to_string(),
                action: 1,
                ..Default::default()
            },
            "command_id: not a UUID",
        ),
        (
            pb::IssueCommandRequest {
                client_uuid: Uuid::new_v4().to_string(),
                action: 1,
                reason: Some("r".repeat(2001)),
                ..Default::default()
            },
            "reason: longer than 2000 characters",
        ),
        (
            pb::IssueCommandRequest {
                client_uuid: Uuid::new_v4().to_string(),
                action: 1,
                requested_by: Some(0),
                ..Default::default()
            },
            "requested_by: must be at least 1",
        ),
    ];
    for (request, message) in cases {
        let status = rpc.issue_command(request).await.unwrap_err();
        assert_eq!((status.code(), status.message()), (tonic::Code::InvalidArgument, message));
    }
    let unknown = issue(&mut rpc, Uuid::new_v4(), pb::Action::RestartApp).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    let page = rpc
        .list_commands(pb::ListCommandsRequest { page_size: -1, ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(page.message(), "page_size: must not be negative");
    let token = rpc
        .list_commands(pb::ListCommandsRequest { page_token: "zz".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert!(token.message().starts_with("page_token:"), "{}", token.message());
}

#[tokio::test]
async fn without_a_broker_commands_are_refused_with_failed_precondition() {
    let server = Server::start("").await;
    let mut rpc = rpc(&server).await;
    let status = issue(&mut rpc, Uuid::new_v4(), pb::Action::RestartApp).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    assert!(status.message().starts_with("mqtt.url"), "{}", status.message());
}
