//! Device-side safety and resilience against a real broker: malformed payloads on every
//! inbound topic, broker authentication and ACLs, acks that arrive while the server is down,
//! crash recovery with escalation, rollouts and their abort rule, service failures, streams
//! and the CLI.

mod support;

use rebound::proto::v1 as pb;
use rebound::proto::v1::health_service_client::HealthServiceClient;
use support::device::{
    Device, eavesdrop, get, issue, issue_id, observe, restart_app_to_all, rpc, try_connect,
    wait_client, wait_registered, wait_state,
};
use support::mosquitto::{Broker, SERVER_PASSWORD, device_password};
use support::{Server, run_rebound, wait_for};
use tokio_stream::StreamExt;
use uuid::Uuid;

use pb::CommandState as S;

const FAST: &str = "[commands]\nack_timeout = \"3s\"\nreconnect_ceiling = \"3s\"\nreconnect_target = \"1s\"\n\
    [scheduler]\ntick = \"100ms\"\n";

async fn setup(devices: usize, extra: &str) -> (Broker, Server, Vec<Uuid>) {
    setup_on(&[], devices, extra).await
}

/// [`setup`] with the server's store chosen by `store` (empty: the default SQLite; or
/// [`support::postgres_store`]).
async fn setup_on(
    store: &[(&str, &str)],
    devices: usize,
    extra: &str,
) -> (Broker, Server, Vec<Uuid>) {
    let uuids: Vec<Uuid> = (0..devices).map(|_| Uuid::new_v4()).collect();
    let broker = Broker::start(&uuids);
    let config = format!("{}{FAST}{extra}", broker.server_config("max_payload_bytes = 1024"));
    let server = Server::start_with(&config, store).await;
    (broker, server, uuids)
}

async fn mqtt_health(server: &Server) -> pb::ComponentHealth {
    let report = HealthServiceClient::new(server.channel().await)
        .get_health(pb::GetHealthRequest {})
        .await
        .unwrap()
        .into_inner();
    report.components.into_iter().find(|c| c.name == "mqtt").expect("mqtt component")
}

#[tokio::test]
async fn malformed_payloads_on_every_topic_are_counted_and_ignored() {
    let (broker, server, uuids) = setup(1, "").await;
    let mut rpc = rpc(&server).await;
    let mut device = Device::connect(&broker, uuids[0]).await;
    wait_registered(&rpc, device.uuid).await;
    let topics = ["commands/ack", "command/ack", "health", "status", "service_failed"];
    for topic in topics {
        device.publish(topic, "{not json", false).await;
        device.publish(topic, r#"{"unexpected":"shape"}"#, false).await;
        device.publish(topic, vec![b'x'; 2048], false).await;
    }
    let wrong_client = serde_json::json!({
        "schema_version": "1.0", "client_uuid": Uuid::new_v4(), "process_status": "running"
    });
    device.publish("health", wrong_client.to_string(), false).await;
    let old_schema = serde_json::json!({
        "schema_version": "0.9", "client_uuid": device.uuid, "process_status": "running"
    });
    device.publish("health", old_schema.to_string(), false).await;
    let expected =
        "malformed: oversized=5 invalid_json=5 wrong_schema=5 unsupported_schema=1 wrong_client=1";
    let component = wait_for("malformed payloads counted", || async {
        let component = mqtt_health(&server).await;
        component.detail.contains(expected).then_some(component)
    })
    .await;
    assert_eq!(component.status(), pb::ComponentStatus::Healthy, "{}", component.detail);
    server.wait_log("malformed mqtt payload dropped").await;
    assert!(
        server.logs().contains(&format!("infoscreen/{}/health", device.uuid)),
        "topic is logged"
    );

    // Nothing changed and the server keeps working.
    let client = wait_registered(&rpc, device.uuid).await;
    assert_eq!((client.service_failed_unit.as_str(), client.last_health_at), ("", None));
    let id = issue_id(&mut rpc, device.uuid, pb::Action::RestartApp).await;
    device.next_command().await;
    device.ack(&id, "completed", None).await;
    device.ack(&id, "accepted", None).await;
    wait_state(&rpc, &id, S::Completed).await;
}

#[tokio::test]
async fn broker_refuses_anonymous_and_devices_act_only_for_themselves() {
    let (broker, server, uuids) = setup(2, "").await;
    let mut rpc = rpc(&server).await;
    let anonymous = try_connect(&broker, None).await.unwrap_err();
    assert!(anonymous.starts_with("refused"), "{anonymous}");
    let wrong =
        try_connect(&broker, Some((uuids[0].to_string(), "wrong".into()))).await.unwrap_err();
    assert!(wrong.starts_with("refused"), "{wrong}");
    try_connect(&broker, Some((uuids[0].to_string(), device_password(&uuids[0])))).await.unwrap();

    let (a, b) = (uuids[0], uuids[1]);
    let (b_reads_a, _t1) = eavesdrop(&broker, b, &format!("infoscreen/{a}/commands")).await;
    let (b_reads_all, _t2) = eavesdrop(&broker, b, "infoscreen/#").await;
    let mut device_a = Device::connect(&broker, a).await;
    let device_b = Device::connect(&broker, b).await;
    wait_registered(&rpc, a).await;
    let id = issue_id(&mut rpc, a, pb::Action::RestartApp).await;
    device_a.next_command().await;
    wait_for("alias delivered to a", || async {
        (device_a.alias_received.load(std::sync::atomic::Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    let eavesdropped = b_reads_a.load(std::sync::atomic::Ordering::SeqCst)
        + b_reads_all.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(eavesdropped, 0, "b must not read a's commands");
    // b forges a failure for a's command: the broker drops it (ACL), so a's own ack decides.
    let forged = serde_json::json!({"command_id": id, "status": "failed", "error_code": "busy", "error_message": null});
    device_b.publish_to(&format!("infoscreen/{a}/commands/ack"), forged.to_string()).await;
    device_b.publish_to(&format!("infoscreen/{a}/health"), "{}").await;
    device_a.ack(&id, "accepted", None).await;
    let accepted = wait_state(&rpc, &id, S::Accepted).await;
    assert_eq!(accepted.ignored_acks, 0);
}

#[tokio::test]
async fn the_server_password_can_come_from_the_environment_alone() {
    let uuids = [Uuid::new_v4()];
    let broker = Broker::start(&uuids);
    let config = format!("{}{FAST}", broker.server_config_without_password());
    // A wrong password in the environment: the broker refuses, health says why.
    let refused = Server::spawn(&config, &[("REBOUND_MQTT_PASSWORD", "not-the-password")]).await;
    refused.wait_serving().await;
    let why = wait_for("refused connection reported", || async {
        let mqtt = mqtt_health(&refused).await;
        mqtt.detail.contains("last error").then_some(mqtt.detail)
    })
    .await;
    assert!(!why.starts_with("connected"), "{why}");
    drop(refused);

    let server = Server::spawn(&config, &[("REBOUND_MQTT_PASSWORD", SERVER_PASSWORD)]).await;
    server.wait_serving().await;
    wait_for("gateway connected with the password from the environment", || async {
        mqtt_health(&server).await.detail.starts_with("connected").then_some(())
    })
    .await;
    let mut rpc = rpc(&server).await;
    let mut device = Device::connect(&broker, uuids[0]).await;
    device.health("running", Some("boot-1")).await;
    wait_client(&rpc, uuids[0], "heartbeat stored", |c| c.last_health_at.is_some()).await;
    let id = issue_id(&mut rpc, uuids[0], pb::Action::RestartApp).await;
    assert_eq!(device.next_command().await.command_id.to_string(), id);
    for status in ["accepted", "execution_started", "completed"] {
        device.ack(&id, status, None).await;
    }
    wait_state(&rpc, &id, S::Completed).await;
    assert!(!server.logs().contains(SERVER_PASSWORD), "the password is never logged");
}

#[tokio::test]
async fn acks_sent_while_the_server_is_down_are_delivered_after_restart() {
    let uuids = vec![Uuid::new_v4()];
    let broker = Broker::start(&uuids);
    let config = format!("{}{FAST}", broker.server_config(""));
    let mut first = Server::start(&config).await;
    let mut rpc_first = rpc(&first).await;
    let mut device = Device::connect(&broker, uuids[0]).await;
    device.health("running", Some("boot-1")).await;
    wait_registered(&rpc_first, device.uuid).await;
    let id = issue(&mut rpc_first, device.uuid, pb::Action::RestartApp)
        .await
        .unwrap()
        .command
        .unwrap()
        .command_id;
    device.next_command().await;
    device.ack(&id, "accepted", None).await;
    wait_state(&rpc_first, &id, S::Accepted).await;

    first.signal(libc::SIGTERM);
    assert!(first.wait_exit().await.success());
    first.wait_log("mqtt gateway stopped").await;
    // The server is away; the broker keeps its persistent session and queues these.
    device.ack(&id, "execution_started", None).await;
    device.ack(&id, "completed", None).await;
    device.health("running", Some("boot-1")).await;

    let second = Server::spawn_in(&first.dir, &config, &[]).await;
    second.wait_serving().await;
    let rpc_second = rpc(&second).await;
    let done = wait_state(&rpc_second, &id, S::Completed).await;
    let states: Vec<_> = done.events.iter().map(|e| e.to_state()).collect();
    assert_eq!(states, [S::Queued, S::Published, S::Accepted, S::ExecutionStarted, S::Completed]);
    assert_eq!(done.ignored_acks, 0, "nothing was delivered twice");
    second.wait_log("session_present=true").await;
}

#[tokio::test]
async fn crash_recovery_restarts_the_app_then_reboots_then_needs_attention() {
    let hook_dir = tempfile::tempdir().unwrap();
    let marker = hook_dir.path().join("cycled-{client_uuid}");
    let extra = format!(
        "[crash_recovery]\nenabled = true\nstale_after = \"60s\"\n[safety]\nescalation_cooldown = \"1s\"\n\
         [escalation]\npower_cycle_command = [\"touch\", \"{}\"]\n",
        marker.display()
    );
    let (broker, server, uuids) = setup(2, &extra).await;
    let mut rpc = rpc(&server).await;
    let mut basic = Device::connect(&broker, uuids[0]).await;
    let mut managed = Device::connect(&broker, uuids[1]).await;
    basic.health("running", Some("b")).await;
    managed.health("running", Some("m")).await;
    wait_registered(&rpc, managed.uuid).await;
    let update = pb::UpdateClientRequest {
        client_uuid: managed.uuid.to_string(),
        group: Some("lobby".into()),
        capability_tier: pb::CapabilityTier::ManagedPower as i32,
    };
    let updated = rpc.update_client(update).await.unwrap().into_inner().client.unwrap();
    assert_eq!(
        (updated.group.as_str(), updated.capability_tier()),
        ("lobby", pb::CapabilityTier::ManagedPower)
    );

    for device in [&mut basic, &mut managed] {
        device.health("crashed", None).await;
        let restart = device.next_command().await;
        assert_eq!(restart.action, "restart_app");
        let id = restart.command_id.to_string();
        let command = wait_state(&rpc, &id, S::Published).await;
        assert_eq!(
            (command.origin(), command.principal.as_str()),
            (pb::CommandOrigin::CrashRecovery, "system")
        );
        device.ack(&id, "accepted", None).await;
        device
            .ack_on("commands/ack", &id, "failed", None, Some(("execution_failed", "unit failed")))
            .await;
        // After the cooldown the ladder escalates.
        let reboot = device.next_command().await;
        assert_eq!(reboot.action, "reboot_host");
        let id = reboot.command_id.to_string();
        device.ack(&id, "accepted", None).await;
        device.ack_on("commands/ack", &id, "failed", None, Some(("execution_failed", "no"))).await;
    }
    let attention = |c: &pb::Client| c.needs_attention;
    let basic_state = wait_client(&rpc, basic.uuid, "needs attention", attention).await;
    let recovery = basic_state.crash_recovery.unwrap();
    assert_eq!(recovery.step(), pb::CrashRecoveryStep::NeedsAttention);
    assert!(recovery.detail.contains("reboot_host failed"), "{}", recovery.detail);
    let managed_state = wait_client(&rpc, managed.uuid, "needs attention", attention).await;
    assert!(
        hook_dir.path().join(format!("cycled-{}", managed.uuid)).exists(),
        "power-cycle hook ran"
    );
    assert!(managed_state.crash_recovery.unwrap().detail.contains("power cycle"));

    // Running again clears it.
    basic.health("running", Some("b2")).await;
    wait_client(&rpc, basic.uuid, "attention cleared", |c| !c.needs_attention).await;
}

#[tokio::test]
async fn rollout_aborts_when_the_canary_fails_too_often() {
    rollout_aborts_when_the_canary_fails_too_often_on(&[]).await;
}

#[tokio::test]
async fn rollout_aborts_when_the_canary_fails_too_often_on_postgres() {
    let Some((key, url)) = support::postgres_store().await else { return };
    rollout_aborts_when_the_canary_fails_too_often_on(&[(key, &url)]).await;
}

async fn rollout_aborts_when_the_canary_fails_too_often_on(store: &[(&str, &str)]) {
    let (broker, server, uuids) = setup_on(store, 20, "").await;
    let mut rpc = rpc(&server).await;
    let mut responders = Vec::new();
    for (i, uuid) in uuids.iter().enumerate() {
        let device = Device::connect(&broker, *uuid).await;
        wait_registered(&rpc, *uuid).await;
        // Three devices in four fail: only 5 succeed, so whichever 10 the canary picks, at
        // least 5 of them fail (> 5 %). (With one in four failing, a canary without any
        // failing device — 1.6 % of the random device ids — let the rollout pass it.)
        responders.push(device.respond_forever(i % 4 != 3));
    }
    let request = pb::StartRolloutRequest {
        max_per_minute: 600,
        min_finished: Some(10),
        ..restart_app_to_all(10)
    };
    let started = rpc.start_rollout(request).await.unwrap().into_inner();
    let rollout = started.rollout.unwrap();
    assert_eq!((rollout.canary_size, rollout.counters.unwrap().total), (10, 20));
    let mut watch = rpc
        .watch_rollout(pb::WatchRolloutRequest { rollout_id: rollout.rollout_id.clone() })
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(message) = watch.next().await {
        last = message.unwrap().rollout;
    }
    let last = last.unwrap();
    assert_eq!(last.state(), pb::RolloutState::Aborted, "stream ends after the terminal snapshot");
    assert_eq!(last.abort_cause(), pb::RolloutAbortCause::FailureThreshold);
    let c = last.counters.unwrap();
    assert!(c.failed >= 5 && c.completed + c.failed == 10, "{c:?}");
    assert_eq!(c.canceled, 10, "targets after the canary are never issued");
    assert!(last.abort_reason.starts_with("failure rate"), "{}", last.abort_reason);
    let listed = rpc
        .list_commands(pb::ListCommandsRequest {
            rollout_id: rollout.rollout_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.commands.len(), 10);
    assert!(listed.commands.iter().all(|c| c.origin() == pb::CommandOrigin::Rollout));
}

#[tokio::test]
async fn a_rollout_started_while_the_broker_is_away_starts_when_it_is_back() {
    let (mut broker, server, uuids) = setup(3, "").await;
    let mut rpc = rpc(&server).await;
    for uuid in &uuids {
        Device::connect(&broker, *uuid).await.health("running", Some("boot-1")).await;
        wait_registered(&rpc, *uuid).await;
    }
    broker.stop();
    wait_for("the gateway to notice the broker is gone", || async {
        (!mqtt_health(&server).await.detail.starts_with("connected")).then_some(())
    })
    .await;
    let request = restart_app_to_all(1);
    let rollout = rpc.start_rollout(request).await.unwrap().into_inner().rollout.unwrap();
    assert_eq!(rollout.state(), pb::RolloutState::Pending, "{rollout:?}");
    let counters = rollout.counters.unwrap();
    assert_eq!((counters.total, counters.pending), (3, 3), "nothing issued without a broker");
    let commands = |rpc: &mut support::device::Rpc| {
        let request = pb::ListCommandsRequest {
            rollout_id: rollout.rollout_id.clone(),
            ..Default::default()
        };
        let mut rpc = rpc.clone();
        async move { rpc.list_commands(request).await.unwrap().into_inner().commands }
    };
    assert!(commands(&mut rpc).await.is_empty());

    // Back: the scheduler starts the rollout with its canary, and the broker takes it.
    broker.restart();
    let canary = wait_for("the canary command published", || {
        let listed = commands(&mut rpc);
        async move {
            let listed = listed.await;
            listed.first().is_some_and(|c| c.state() == S::Published).then_some(listed)
        }
    })
    .await;
    assert_eq!(canary.len(), 1, "the canary only: {canary:?}");
    let request = pb::GetRolloutRequest { rollout_id: rollout.rollout_id.clone() };
    let started = rpc.get_rollout(request).await.unwrap().into_inner().rollout.unwrap();
    assert_eq!(started.state(), pb::RolloutState::Canary, "{started:?}");
    assert!(started.started_at.is_some(), "{started:?}");
}

// The CLI runs as a blocking child process: the fake devices need other worker threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_completes_in_waves_and_cli_shows_progress() {
    rollout_completes_in_waves_and_cli_shows_progress_on(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_completes_in_waves_and_cli_shows_progress_on_postgres() {
    let Some((key, url)) = support::postgres_store().await else { return };
    rollout_completes_in_waves_and_cli_shows_progress_on(&[(key, &url)]).await;
}

async fn rollout_completes_in_waves_and_cli_shows_progress_on(store: &[(&str, &str)]) {
    let (broker, server, uuids) = setup_on(store, 6, "").await;
    let rpc = rpc(&server).await;
    let mut responders = Vec::new();
    for uuid in &uuids {
        let device = Device::connect(&broker, *uuid).await;
        wait_registered(&rpc, *uuid).await;
        responders.push(device.respond_forever(false));
    }
    let dir = tempfile::tempdir().unwrap();
    let out = run_rebound(
        dir.path(),
        &[
            "rollout",
            "start",
            "--action",
            "restart_app",
            "--all",
            "--max-per-minute",
            "6000",
            "--watch",
            "--addr",
            &server.addr,
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let last = stdout.lines().last().unwrap();
    assert!(
        last.contains("completed") && last.contains("total 6") && last.contains("completed 6"),
        "{stdout}"
    );

    // The listing shows each rollout with its counters, as the watch's last line did.
    let out = run_rebound(dir.path(), &["rollout", "list", "--addr", &server.addr]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(listed.trim(), last.trim(), "rollout list shows the watch's last progress");

    let out = run_rebound(dir.path(), &["clients", "list", "--addr", &server.addr]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 6);
    let out = run_rebound(
        dir.path(),
        &["command", "list", "--state", "completed", "--addr", &server.addr],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 6);
    let out = run_rebound(
        dir.path(),
        &[
            "command",
            "issue",
            "--client",
            &uuids[0].to_string(),
            "--action",
            "reboot_host",
            "--wait",
            "--addr",
            &server.addr,
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The responder's completed ack carries no boot id and it never went offline: no proof,
    // so the reboot times out (commands.reconnect_ceiling = 3s) and the watch ends there.
    assert!(stdout.lines().last().unwrap().contains("timed_out"), "{stdout}");
    let out = run_rebound(dir.path(), &["command", "get", "not-a-uuid", "--addr", &server.addr]);
    assert_eq!(out.status.code(), Some(64), "invalid argument is a usage error");
}

#[tokio::test]
async fn service_failure_is_recorded_and_clearing_removes_the_retained_message() {
    let (broker, server, uuids) = setup(1, "").await;
    let mut rpc = rpc(&server).await;
    let device = Device::connect(&broker, uuids[0]).await;
    let failure = r#"{"unit":"infoscreen-app.service","failed_at":"2026-04-05T12:48:10Z"}"#;
    device.publish("service_failed", failure, true).await;
    let client =
        wait_client(&rpc, uuids[0], "failure recorded", |c| !c.service_failed_unit.is_empty())
            .await;
    assert_eq!(client.service_failed_unit, "infoscreen-app.service");
    let listed = rpc
        .list_clients(pb::ListClientsRequest { service_failed: Some(true), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.clients.len(), 1);

    let cleared = rpc
        .clear_service_failed(pb::ClearServiceFailedRequest { client_uuid: uuids[0].to_string() })
        .await
        .unwrap()
        .into_inner();
    assert!(cleared.cleared && cleared.client.unwrap().service_failed_unit.is_empty());
    // The retained message is gone: a new subscriber gets the sentinel's retained message and
    // nothing for service_failed (retained messages arrive in subscription order).
    let failed_topic = format!("infoscreen/{}/service_failed", uuids[0]);
    let sentinel = format!("infoscreen/test-sentinel-{}", Uuid::new_v4());
    wait_for("retained service_failed cleared", || {
        let broker = &broker;
        let (failed_topic, sentinel) = (failed_topic.clone(), sentinel.clone());
        async move {
            publish_retained(broker, &sentinel).await;
            let seen = observe(broker, &[failed_topic, sentinel.clone()], 1).await;
            (seen[0].0 == sentinel).then_some(())
        }
    })
    .await;
    let again = rpc
        .clear_service_failed(pb::ClearServiceFailedRequest { client_uuid: uuids[0].to_string() })
        .await
        .unwrap()
        .into_inner();
    assert!(!again.cleared);
}

/// Publish a retained sentinel as the server user (so `observe` has something to wait for).
async fn publish_retained(broker: &Broker, topic: &str) {
    use support::mosquitto::{SERVER_PASSWORD, SERVER_USER};
    let mut options =
        rumqttc::MqttOptions::new(format!("sentinel-{}", Uuid::new_v4()), "127.0.0.1", broker.port);
    options.set_credentials(SERVER_USER, SERVER_PASSWORD);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 10);
    client.publish(topic, rumqttc::QoS::AtLeastOnce, true, "x").await.unwrap();
    support::until(support::DEADLINE, async || {
        let event = eventloop.poll().await;
        matches!(event, Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)))).then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn watch_commands_streams_transitions_and_ends_when_terminal() {
    let (broker, server, uuids) = setup(1, "").await;
    let mut rpc = rpc(&server).await;
    let device = Device::connect(&broker, uuids[0]).await;
    wait_registered(&rpc, uuids[0]).await;
    let mut all = rpc
        .watch_commands(pb::WatchCommandsRequest {
            client_uuid: uuids[0].to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let _responder = device.respond_forever(false);
    let id = issue_id(&mut rpc, uuids[0], pb::Action::RestartApp).await;
    let mut seen = Vec::new();
    while seen.last() != Some(&S::Completed) {
        let message = all.next().await.unwrap().unwrap();
        assert_eq!(message.command.unwrap().command_id, id);
        seen.push(message.event.unwrap().to_state());
    }
    assert_eq!(seen, [S::Queued, S::Published, S::Accepted, S::ExecutionStarted, S::Completed]);
    let mut one = rpc
        .watch_commands(pb::WatchCommandsRequest {
            command_id: id.clone(),
            include_current: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let current = one.next().await.unwrap().unwrap();
    assert_eq!(current.command.unwrap().state(), S::Completed);
    assert!(one.next().await.is_none(), "a terminal command's watch ends at once");
    let command = get(&mut rpc, &id).await;
    assert_eq!(command.state(), S::Completed);
}

#[tokio::test]
async fn safety_limits_follow_a_config_reload() {
    let (broker, server, uuids) = setup(1, "[safety]\nlockout_max = 1\n").await;
    let mut rpc = rpc(&server).await;
    let _device = Device::connect(&broker, uuids[0]).await;
    wait_registered(&rpc, uuids[0]).await;
    issue_id(&mut rpc, uuids[0], pb::Action::RestartApp).await;
    let refused = issue(&mut rpc, uuids[0], pb::Action::RestartApp).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);

    let file = server.dir.join("rebound.toml");
    let text =
        std::fs::read_to_string(&file).unwrap().replace("lockout_max = 1", "lockout_max = 5");
    std::fs::write(&file, text).unwrap();
    server.signal(libc::SIGHUP);
    let client =
        wait_client(&rpc, uuids[0], "lockout max 5", |c| c.lockout.unwrap().max == 5).await;
    assert!(!client.lockout.unwrap().locked_out);
    issue_id(&mut rpc, uuids[0], pb::Action::RestartApp).await;
}

/// Issue 23: the safety lockout (3 disruptive commands per device per 15 minutes) holds when
/// two servers share one PostgreSQL database and 24 reboots for one device reach them at once,
/// half through each: exactly 3 are admitted, every other one is RESOURCE_EXHAUSTED naming the
/// lockout.
#[tokio::test]
async fn concurrent_reboots_through_two_servers_on_postgres_admit_exactly_three() {
    const PER_SERVER: usize = 12;
    let Some((key, url)) = support::postgres_store().await else { return };
    let store = [(key, url.as_str())];
    let (broker, first, uuids) = setup_on(&store, 1, "").await;
    let config = format!("{}{FAST}", broker.server_config("max_payload_bytes = 1024"));
    let second = Server::start_with(&config, &store).await;
    let _device = Device::connect(&broker, uuids[0]).await;
    wait_registered(&rpc(&first).await, uuids[0]).await;
    wait_registered(&rpc(&second).await, uuids[0]).await;

    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2 * PER_SERVER));
    let mut issues = tokio::task::JoinSet::new();
    for server in [&first, &second] {
        for _ in 0..PER_SERVER {
            let (mut rpc, barrier, uuid) = (rpc(server).await, barrier.clone(), uuids[0]);
            issues.spawn(async move {
                barrier.wait().await;
                issue(&mut rpc, uuid, pb::Action::RebootHost).await
            });
        }
    }
    let (mut admitted, mut refused) = (0, 0);
    while let Some(outcome) = issues.join_next().await {
        match outcome.unwrap() {
            Ok(_) => admitted += 1,
            Err(status)
                if status.code() == tonic::Code::ResourceExhausted
                    && status.message().contains("safety lockout") =>
            {
                refused += 1
            }
            Err(status) => panic!("unexpected answer {status:?}"),
        }
    }
    assert_eq!((admitted, refused), (3, 2 * PER_SERVER - 3));
    let client = wait_client(&rpc(&second).await, uuids[0], "locked out", |c| {
        c.lockout.as_ref().is_some_and(|lockout| lockout.locked_out)
    })
    .await;
    assert_eq!(client.lockout.unwrap().max, 3);
}
