//! The HTTP listener of a real `rebound serve`: Prometheus `/metrics`, read with the official
//! Python parser while real devices on a real Mosquitto complete and fail commands; the index
//! page; and a `server.http_listen` that is not an address, refused with its field path.

mod support;

use rebound::proto::v1 as pb;
use support::device::{Device, issue_id, rpc, wait_client, wait_state};
use support::http::{get, parse_with_prometheus, sample};
use support::mosquitto::Broker;
use support::{Server, run_rebound, wait_for};
use uuid::Uuid;

/// Scrape `/metrics` and parse it with the Prometheus parser.
async fn scrape(server: &Server) -> Vec<(String, String, f64)> {
    let (status, body) = get(server.http_port, "/metrics").await.expect("scrape");
    assert_eq!(status, 200, "{body}");
    parse_with_prometheus(&body)
}

#[tokio::test]
async fn counters_move_as_commands_complete_and_fail_and_the_gauges_follow_the_devices() {
    let uuids: Vec<Uuid> = (0..2).map(|_| Uuid::new_v4()).collect();
    let broker = Broker::start(&uuids);
    let server = Server::start(&broker.server_config("")).await;
    let mut rpc = rpc(&server).await;

    let before = scrape(&server).await;
    let none = |name: &str, labels: &[&str]| sample(&before, name, labels).unwrap_or(0.0);
    assert_eq!(none("rebound_commands_total", &["action=restart_app", "outcome=completed"]), 0.0);
    // The gRPC calls of Server::start (health checks) are counted already.
    assert!(
        none("rebound_grpc_server_started_total", &["grpc_service=grpc.health.v1.Health"]) > 0.0
    );

    let mut ok = Device::connect(&broker, uuids[0]).await;
    let mut bad = Device::connect(&broker, uuids[1]).await;
    ok.health("running", Some("boot-1")).await;
    bad.health("crashed", Some("boot-1")).await;
    let failure = r#"{"unit":"infoscreen-app.service","failed_at":"2026-04-05T12:48:10Z"}"#;
    bad.publish("service_failed", failure, true).await;
    wait_client(&rpc, uuids[1], "failure recorded", |c| !c.service_failed_unit.is_empty()).await;
    wait_client(&rpc, uuids[0], "online", |c| c.presence() == pb::Presence::Online).await;

    let completed = issue_id(&mut rpc, ok.uuid, pb::Action::RestartApp).await;
    ok.next_command().await;
    for status in ["accepted", "execution_started", "completed"] {
        ok.ack(&completed, status, None).await;
    }
    wait_state(&rpc, &completed, pb::CommandState::Completed).await;
    let failed = issue_id(&mut rpc, bad.uuid, pb::Action::RestartApp).await;
    bad.next_command().await;
    bad.ack(&failed, "accepted", None).await;
    bad.ack_on("commands/ack", &failed, "failed", None, Some(("execution_failed", "exit 1"))).await;
    wait_state(&rpc, &failed, pb::CommandState::Failed).await;
    bad.status(false).await;
    wait_client(&rpc, uuids[1], "offline", |c| c.presence() == pb::Presence::Offline).await;
    // A payload that is not JSON is dropped and counted by reason.
    ok.publish("health", "not json", false).await;

    // The device gauges read the shared fleet count, which may be up to 1 s old
    // (docs/metrics.md): wait for it to show the offline device too.
    let after = wait_for("malformed payload counted and the device gauges current", || async {
        let samples = scrape(&server).await;
        let dropped = sample(&samples, "rebound_mqtt_malformed_payloads_total", &[]);
        let offline = sample(&samples, "rebound_devices", &["state=offline"]);
        (dropped.is_some_and(|n| n >= 1.0) && offline == Some(1.0)).then_some(samples)
    })
    .await;
    let value = |name: &str, labels: &[&str]| {
        sample(&after, name, labels).unwrap_or_else(|| {
            let family: Vec<_> = after.iter().filter(|(n, _, _)| n == name).collect();
            panic!("no {name} {labels:?}; its samples: {family:?}")
        })
    };
    assert_eq!(value("rebound_commands_issued_total", &["action=restart_app"]), 2.0);
    assert_eq!(value("rebound_commands_total", &["action=restart_app", "outcome=completed"]), 1.0);
    assert_eq!(value("rebound_commands_total", &["action=restart_app", "outcome=failed"]), 1.0);
    let labels = ["action=restart_app", "outcome=completed"];
    assert_eq!(value("rebound_command_duration_seconds_count", &labels), 1.0);
    assert_eq!(value("rebound_mqtt_acks_total", &["status=completed"]), 1.0);
    assert_eq!(value("rebound_mqtt_acks_total", &["status=accepted"]), 2.0);
    assert!(value("rebound_mqtt_malformed_payloads_total", &["reason=invalid_json"]) >= 1.0);
    assert_eq!(value("rebound_mqtt_connected", &[]), 1.0);
    assert_eq!(value("rebound_devices", &["state=online"]), 1.0);
    assert_eq!(value("rebound_devices", &["state=offline"]), 1.0);
    assert_eq!(value("rebound_devices", &["state=crashed"]), 1.0);
    assert_eq!(value("rebound_devices", &["state=service_failed"]), 1.0);
    let issue = [
        "grpc_service=rebound.v1.ClientCommandService",
        "grpc_method=IssueCommand",
        "grpc_code=OK",
    ];
    assert_eq!(value("rebound_grpc_server_handled_total", &issue), 2.0);
    assert!(value("rebound_store_transaction_seconds_count", &["op=fleet_tx"]) > 0.0);
    // No device uuid ever appears in a label.
    for (name, labels, _) in &after {
        assert!(uuids.iter().all(|u| !labels.contains(&u.to_string())), "{name}{{{labels}}}");
    }
    drop(broker);
}

#[tokio::test]
async fn the_index_names_metrics_and_other_paths_are_not_found() {
    let server = Server::start("").await;
    let (status, body) = get(server.http_port, "/").await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("/metrics") && body.contains("console"), "{body}");
    let (status, _) = get(server.http_port, "/console/secret").await.unwrap();
    assert_eq!(status, 404);
    let url = format!("http://127.0.0.1:{}/", server.http_port);
    server.wait_log(&format!("http listener: console at {url}, metrics at {url}metrics")).await;
}

#[tokio::test]
async fn an_http_listen_that_is_not_an_address_is_refused_with_its_field_path() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        "version = 1\n[server]\nlisten = \"127.0.0.1:0\"\nhttp_listen = \"localhost:http\"\n";
    std::fs::write(dir.path().join("bad.toml"), config).unwrap();
    let out = run_rebound(dir.path(), &["serve", "--config", "bad.toml"]);
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("server.http_listen: \"localhost:http\" is not a host:port"),
        "{stderr}"
    );
    assert!(!dir.path().join("rebound-data").exists(), "nothing created");
}
