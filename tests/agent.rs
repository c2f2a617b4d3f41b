//! `rebound-agent` end to end: the real agent binary (simulated executor), a real
//! `rebound serve`, and a real Mosquitto with per-device passwords and the shipped ACL.

mod support;

use rebound::mqtt::payload::rfc3339;
use rebound::proto::v1 as pb;
use serde_json::json;
use support::agent::{AgentProc, Operator};
use support::device::{Device, event_states, get, issue, rpc, wait_client, wait_state};
use support::mosquitto::Broker;
use support::{Server, wait_for};
use uuid::Uuid;

use pb::CommandState as S;

const TIMERS: &str = "[commands]\nack_timeout = \"20s\"\nreconnect_ceiling = \"20s\"\nreconnect_target = \"5s\"\n\
    [scheduler]\ntick = \"100ms\"\n";

async fn setup(devices: usize) -> (Broker, Server, Vec<Uuid>) {
    let uuids: Vec<Uuid> = (0..devices).map(|_| Uuid::new_v4()).collect();
    let broker = Broker::start(&uuids);
    let server = Server::start(&format!("{}{TIMERS}", broker.server_config(""))).await;
    (broker, server, uuids)
}

/// Wait until the server has the agent's heartbeat with its current boot id.
async fn wait_online(rpc: &support::device::Rpc, agent: &AgentProc) -> pb::Client {
    let boot = wait_for("agent boot id written", || async {
        let boot = agent.boot_id();
        (!boot.is_empty()).then_some(boot)
    })
    .await;
    wait_client(rpc, agent.uuid, "heartbeat with the boot id", |c| {
        c.boot_id == boot && c.last_health_at.is_some()
    })
    .await
}

/// A contract command for `client`, expiring `expires_in_s` from now.
fn command(client: Uuid, action: &str, expires_in_s: i64) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp_millis();
    json!({
        "schema_version": "1.0", "command_id": Uuid::new_v4(), "client_uuid": client,
        "action": action, "issued_at": rfc3339(now - 1000),
        "expires_at": rfc3339(now + expires_in_s * 1000), "requested_by": 1, "reason": null,
    })
}

#[tokio::test]
async fn reboot_cycle_completes_with_a_new_boot_id() {
    let (broker, server, uuids) = setup(1).await;
    let mut rpc = rpc(&server).await;
    let agent = AgentProc::start(&broker, uuids[0], "");
    let client = wait_online(&rpc, &agent).await;
    assert_eq!(
        (client.app_version.as_str(), client.process_status()),
        ("2.3.1", pb::ProcessStatus::Running)
    );
    let first_boot = agent.boot_id();

    let id = issue(&mut rpc, agent.uuid, pb::Action::RebootHost)
        .await
        .unwrap()
        .command
        .unwrap()
        .command_id;
    let done = wait_state(&rpc, &id, S::Completed).await;
    assert_eq!(
        event_states(&done),
        [S::Queued, S::Published, S::Accepted, S::ExecutionStarted, S::Completed]
    );
    assert_eq!(done.boot_id_at_issue, first_boot);
    assert_ne!(done.boot_id_at_completion, first_boot);
    assert_eq!(done.boot_id_at_completion, agent.boot_id());
    assert_eq!(agent.executions(), [format!("{id} reboot_host")]);
    // The rebooted agent reconnected and reports its new boot.
    wait_online(&rpc, &agent).await;
    // Its stderr is a file, not a terminal: plain text, as the server writes it.
    let log = agent.log();
    assert!(log.contains("agent started"), "{log}");
    assert!(!log.contains('\x1b'), "colour codes in a log that is not a terminal: {log:?}");
}

#[tokio::test]
async fn crash_between_accepted_and_started_executes_once_and_redelivery_only_reacks() {
    let (broker, server, uuids) = setup(1).await;
    let mut rpc = rpc(&server).await;
    let mut agent = AgentProc::start(&broker, uuids[0], "start_delay = \"5s\"");
    wait_online(&rpc, &agent).await;

    let issued =
        issue(&mut rpc, agent.uuid, pb::Action::RestartApp).await.unwrap().command.unwrap();
    let id = issued.command_id.clone();
    wait_state(&rpc, &id, S::Accepted).await;
    agent.kill9();
    assert!(agent.executions().is_empty(), "killed before execution_started");
    agent.spawn();
    let done = wait_state(&rpc, &id, S::Completed).await;
    assert_eq!(
        event_states(&done),
        [S::Queued, S::Published, S::Accepted, S::ExecutionStarted, S::Completed]
    );
    assert_eq!(agent.executions(), [format!("{id} restart_app")]);

    // The same command again (as a broker redelivery would): the latest ack, nothing run.
    let mut operator = Operator::watch_acks(&broker, agent.uuid).await;
    let seconds = |t: &Option<prost_types::Timestamp>| rfc3339(t.as_ref().unwrap().seconds * 1000);
    let again = json!({
        "schema_version": "1.0", "command_id": id, "client_uuid": agent.uuid,
        "action": "restart_app", "issued_at": seconds(&issued.issued_at),
        "expires_at": seconds(&issued.expires_at), "requested_by": issued.requested_by,
        "reason": issued.reason,
    });
    operator.send(agent.uuid, &again).await;
    let ack = operator.ack_for(&id).await;
    assert_eq!(ack["status"], "completed");
    wait_for("duplicate ack counted by the server", || {
        let mut rpc = rpc.clone();
        let id = id.clone();
        async move { (get(&mut rpc, &id).await.ignored_acks >= 1).then_some(()) }
    })
    .await;
    assert_eq!(agent.executions().len(), 1, "a redelivered command is never executed twice");
    assert_eq!(get(&mut rpc, &id).await.state(), S::Completed);
}

#[tokio::test]
async fn refused_commands_get_the_contract_error_codes() {
    let (broker, server, uuids) = setup(2).await;
    let rpc = rpc(&server).await;
    let agent = AgentProc::start(&broker, uuids[0], "");
    wait_online(&rpc, &agent).await;
    let mut operator = Operator::watch_acks(&broker, agent.uuid).await;

    let cases = [
        (command(uuids[1], "restart_app", 60), "wrong_client"),
        (command(agent.uuid, "restart_app", -10), "expired"),
        (command(agent.uuid, "format_disk", 60), "unsupported_action"),
        (
            {
                let mut c = command(agent.uuid, "restart_app", 60);
                c["schema_version"] = "2.0".into();
                c
            },
            "unsupported_schema",
        ),
        (
            {
                let mut c = command(agent.uuid, "restart_app", 60);
                c["argv"] = json!(["sh", "-c", "reboot"]);
                c
            },
            "invalid_payload",
        ),
    ];
    for (payload, code) in cases {
        operator.send(agent.uuid, &payload).await;
        let id = payload["command_id"].as_str().unwrap();
        let ack = operator.ack_for(id).await;
        assert_eq!(
            (ack["status"].as_str(), ack["error_code"].as_str()),
            (Some("failed"), Some(code)),
            "{ack}"
        );
        assert!(ack["error_message"].is_string());
    }
    assert!(agent.executions().is_empty());

    // Busy: a second command while the first one runs.
    let mut slow = AgentProc::start(&broker, uuids[1], "run_time = \"3s\"");
    wait_online(&rpc, &slow).await;
    let mut operator = Operator::watch_acks(&broker, slow.uuid).await;
    let (first, second) =
        (command(slow.uuid, "restart_app", 60), command(slow.uuid, "restart_app", 60));
    operator.send(slow.uuid, &first).await;
    operator.send(slow.uuid, &second).await;
    let ack = operator.ack_for(second["command_id"].as_str().unwrap()).await;
    assert_eq!(ack["error_code"], "busy");
    let first_id = first["command_id"].as_str().unwrap();
    for status in ["accepted", "execution_started", "completed"] {
        assert_eq!(operator.ack_for(first_id).await["status"], status);
    }
    slow.kill9();
}

#[tokio::test]
async fn the_acl_stops_a_device_from_acking_for_another() {
    let (broker, server, uuids) = setup(2).await;
    let mut rpc = rpc(&server).await;
    let (a, b) = (uuids[0], uuids[1]);
    let agent = AgentProc::start(&broker, a, "start_delay = \"2s\"");
    wait_online(&rpc, &agent).await;
    let intruder = Device::connect(&broker, b).await;

    let id = issue(&mut rpc, a, pb::Action::RestartApp).await.unwrap().command.unwrap().command_id;
    wait_state(&rpc, &id, S::Accepted).await;
    // b forges a failure for a's command, then sends its own heartbeat on the same connection.
    let forged = json!({"command_id": id, "status": "failed", "error_code": "execution_failed", "error_message": "forged"});
    intruder.publish_to(&format!("infoscreen/{a}/commands/ack"), forged.to_string()).await;
    intruder.health("running", Some("b-boot")).await;
    wait_client(&rpc, b, "b's heartbeat after the forgery", |c| c.boot_id == "b-boot").await;

    let done = wait_state(&rpc, &id, S::Completed).await;
    assert_eq!(done.ignored_acks, 0, "the forged ack never reached the server");
    assert!(done.error_code.is_empty());
}

/// The device binary carries no server code: no database driver, no gRPC. This is the agent
/// of a default (`server`) build, which links against a crate that has them: the linker drops
/// what the agent does not reach, so this holds as long as `src/agent/` does not start
/// depending on server modules (the packaged agent-only build does not even compile them:
/// `scripts/package-agent.sh` checks its `cargo tree`). `nm` comes with binutils.
#[test]
fn the_agent_binary_links_no_database_or_grpc_code() {
    let output = std::process::Command::new("nm")
        .args(["-C", env!("CARGO_BIN_EXE_rebound-agent")])
        .output()
        .expect("nm (binutils) runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let symbols = String::from_utf8_lossy(&output.stdout);
    assert!(symbols.contains("rebound::agent::"), "nm read the agent's own symbols");
    for server_code in ["sqlx", "sqlite3_", "tonic::", "tonic_health", "h2::server"] {
        let found: Vec<&str> =
            symbols.lines().filter(|l| l.contains(server_code)).take(3).collect();
        assert!(found.is_empty(), "{server_code} linked into rebound-agent: {found:?}");
    }
}
