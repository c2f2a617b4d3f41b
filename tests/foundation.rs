//! Foundation scenarios against the real `rebound serve` process: reflection, standard and
//! rich health, probes, the CLI, start-up errors and the drain on SIGTERM.

mod support;

use rebound::proto::v1 as pb;
use rebound::proto::v1::health_service_client::HealthServiceClient;
use std::collections::BTreeSet;
use support::{Server, run_rebound, tool, wait_for};
use tokio_stream::StreamExt;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const REGISTERED: [&str; 8] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "rebound.v1.ClientCommandService",
    "rebound.v1.ConfigService",
    "rebound.v1.HealthService",
    "rebound.v1.RecoveryService",
    "rebound.v1.RestartService",
];

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_every_registered_service() {
    use tonic_reflection::pb::v1 as r1;
    use tonic_reflection::pb::v1alpha as r1a;
    let server = Server::start("").await;

    let request = r1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(r1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream =
        r1::server_reflection_client::ServerReflectionClient::new(server.channel().await)
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
    let Some(r1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        stream.next().await.unwrap().unwrap().message_response
    else {
        panic!("v1 reflection did not answer with a service list");
    };
    let names: BTreeSet<_> = list.service.into_iter().map(|s| s.name).collect();
    assert_eq!(names, REGISTERED.into_iter().map(String::from).collect());

    let request = r1a::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(r1a::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream =
        r1a::server_reflection_client::ServerReflectionClient::new(server.channel().await)
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
    let Some(r1a::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        stream.next().await.unwrap().unwrap().message_response
    else {
        panic!("v1alpha reflection did not answer with a service list");
    };
    assert_eq!(list.service.len(), REGISTERED.len());
}

#[tokio::test]
async fn get_health_reports_this_process() {
    let server = Server::start("").await;
    let report = HealthServiceClient::new(server.channel().await)
        .get_health(pb::GetHealthRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.pid, server.pid());
    assert_eq!(report.status(), pb::ServingStatus::Serving);
    assert_eq!(report.generation, 0);
    assert_eq!(report.version, env!("CARGO_PKG_VERSION"));
    assert!(report.started_at.is_some() && report.uptime.is_some());
    let components: Vec<_> =
        report.components.iter().map(|c| (c.name.as_str(), c.status())).collect();
    assert_eq!(
        components,
        [
            ("store", pb::ComponentStatus::Healthy),
            ("config", pb::ComponentStatus::Healthy),
            ("mqtt", pb::ComponentStatus::Disabled),
            ("commands", pb::ComponentStatus::Healthy),
        ]
    );
    assert!(report.components[0].detail.contains("sqlite"), "{:?}", report.components[0]);
}

#[tokio::test]
async fn health_watch_sees_not_serving_when_shutdown_starts_and_the_process_exits_0() {
    let mut server = Server::start("").await;
    let mut health = HealthClient::new(server.channel().await);
    let check = health.check(HealthCheckRequest { service: String::new() }).await.unwrap();
    assert_eq!(check.into_inner().status(), ServingStatus::Serving);
    let check = health
        .check(HealthCheckRequest { service: "rebound.v1.HealthService".into() })
        .await
        .unwrap();
    assert_eq!(check.into_inner().status(), ServingStatus::Serving);

    let mut watch =
        health.watch(HealthCheckRequest { service: String::new() }).await.unwrap().into_inner();
    assert_eq!(watch.next().await.unwrap().unwrap().status(), ServingStatus::Serving);
    server.signal(libc::SIGTERM);
    assert_eq!(watch.next().await.unwrap().unwrap().status(), ServingStatus::NotServing);
    // The stream is then ended by the drain with a status telling the client to reconnect.
    match watch.next().await {
        Some(Err(status)) => {
            assert_eq!(status.code(), tonic::Code::Unavailable);
            assert!(status.message().contains("reconnect"), "{status:?}");
        }
        other => panic!("expected the watch to end with UNAVAILABLE, got {other:?}"),
    }
    let exit = server.wait_exit().await;
    assert_eq!(exit.code(), Some(0), "{}", server.logs());
}

#[tokio::test]
async fn sigterm_lets_a_slow_in_flight_rpc_finish_then_exits_0() {
    let mut server = Server::start("").await;
    let channel = server.channel().await;
    // A unary call whose request message is still on its way: the server has the RPC in
    // flight (headers received) but cannot answer until the body arrives.
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::GetHealthRequest>(1);
    let call = tokio::spawn(async move {
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.unwrap();
        let path = http::uri::PathAndQuery::from_static("/rebound.v1.HealthService/GetHealth");
        let codec =
            tonic_prost::ProstCodec::<pb::GetHealthRequest, pb::GetHealthResponse>::default();
        let mut stream = grpc
            .streaming(
                tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx)),
                path,
                codec,
            )
            .await?
            .into_inner();
        stream.message().await
    });
    server.wait_log("rpc started").await;
    server.signal(libc::SIGTERM);
    server.wait_log("shutdown requested").await;
    // New connections are refused once the listener is closed...
    let addr = server.addr.clone();
    wait_for("listener closed", || {
        let addr = addr.clone();
        async move { rebound::client::connect(&addr).await.is_err().then_some(()) }
    })
    .await;
    // ...while the RPC already in flight completes.
    tx.send(pb::GetHealthRequest {}).await.unwrap();
    drop(tx);
    let response = call.await.unwrap().expect("in-flight rpc failed").expect("no response");
    assert_eq!(response.status(), pb::ServingStatus::Draining);
    assert_eq!(response.pid, server.pid());
    let exit = server.wait_exit().await;
    assert_eq!(exit.code(), Some(0), "{}", server.logs());
}

/// `server.shutdown_delay`: after SIGTERM, `grpc-health-probe` sees NOT_SERVING (exit 4)
/// while RPCs are still answered, on new connections too; a second SIGTERM ends the wait.
#[tokio::test]
async fn during_the_shutdown_delay_probes_see_not_serving_while_rpcs_are_served() {
    let mut server = Server::spawn("", &[("REBOUND_SERVER__SHUTDOWN_DELAY", "60s")]).await;
    server.wait_serving().await;
    let addr = format!("-addr=127.0.0.1:{}", server.port);
    let probe = || {
        let out = std::process::Command::new(tool("grpc-health-probe")).arg(&addr).output();
        out.unwrap().status.code()
    };
    assert_eq!(probe(), Some(0), "SERVING before the signal");
    server.signal(libc::SIGTERM);
    wait_for("grpc-health-probe to exit 4 (NOT_SERVING)", || async {
        (probe() == Some(4)).then_some(())
    })
    .await;
    let health = HealthServiceClient::new(server.channel().await)
        .get_health(pb::GetHealthRequest {})
        .await
        .expect("RPCs are served during the delay")
        .into_inner();
    assert_eq!((health.status(), health.pid), (pb::ServingStatus::Draining, server.pid()));
    assert_eq!(probe(), Some(4), "still answering NOT_SERVING, not refusing");
    // A second signal cuts the 60s short (the wait below gives up long before).
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit().await.code(), Some(0), "{}", server.logs());
}

#[tokio::test]
async fn grpc_health_probe_and_grpcurl_work_against_the_server() {
    let server = Server::start("").await;
    let target = format!("127.0.0.1:{}", server.port);
    let probe = std::process::Command::new(tool("grpc-health-probe"))
        .arg(format!("-addr={target}"))
        .output()
        .unwrap();
    assert!(
        probe.status.success(),
        "grpc-health-probe: {}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&probe.stdout),
        String::from_utf8_lossy(&probe.stderr)
    );
    assert!(said.contains("status: SERVING"), "{said}");

    let list = std::process::Command::new(tool("grpcurl"))
        .args(["-plaintext", &target, "list"])
        .output()
        .unwrap();
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    let listed: BTreeSet<String> =
        String::from_utf8_lossy(&list.stdout).lines().map(String::from).collect();
    assert_eq!(listed, REGISTERED.into_iter().map(String::from).collect());

    let call = std::process::Command::new(tool("grpcurl"))
        .args(["-plaintext", &target, "rebound.v1.HealthService/GetHealth"])
        .output()
        .unwrap();
    assert!(call.status.success(), "{}", String::from_utf8_lossy(&call.stderr));
    let body: serde_json::Value = serde_json::from_slice(&call.stdout).unwrap();
    assert_eq!(body["status"], "SERVING_STATUS_SERVING");
    assert_eq!(body["pid"], server.pid());

    let describe = std::process::Command::new(tool("grpcurl"))
        .args(["-plaintext", &target, "describe", "rebound.v1.GetHealthResponse"])
        .output()
        .unwrap();
    assert!(describe.status.success(), "{}", String::from_utf8_lossy(&describe.stderr));
    assert!(String::from_utf8_lossy(&describe.stdout).contains("generation"));
}

#[tokio::test]
async fn cli_health_over_tcp_and_unix_socket_and_its_exit_codes() {
    let socket = tempfile::tempdir().unwrap();
    let socket_path = socket.path().join("rebound.sock");
    let mut server =
        Server::spawn("", &[("REBOUND_SERVER__UNIX_SOCKET", socket_path.to_str().unwrap())]).await;
    server.wait_serving().await;

    let out =
        run_rebound(&server.dir, &["health", "--addr", &format!("127.0.0.1:{}", server.port)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SERVING") && text.contains(&server.pid().to_string()), "{text}");

    let out =
        run_rebound(&server.dir, &["health", "--addr", &format!("unix:{}", socket_path.display())]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit().await.code(), Some(0));
    assert!(!socket_path.exists(), "the unix socket is removed on exit");
    let out =
        run_rebound(&server.dir, &["health", "--addr", &format!("127.0.0.1:{}", server.port)]);
    assert_eq!(out.status.code(), Some(69));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach"));
}

#[tokio::test]
async fn a_malformed_addr_exits_64_saying_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    for (addr, says) in [
        ("foo://bar", "unknown scheme \"foo\""),
        (":50051", "missing host"),
        ("http://127.0.0.1:1/extra", "takes no path"),
    ] {
        let out = run_rebound(dir.path(), &["health", "--addr", addr]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{addr}: {stderr}");
        assert!(stderr.contains(says), "{addr}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
}

#[tokio::test]
async fn unknown_config_key_exits_64_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "version = 1\n[server]\nlistn = \"127.0.0.1:1\"\n")
        .unwrap();
    let out = run_rebound(dir.path(), &["serve", "--config", "bad.toml"]);
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server.listn"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(!dir.path().join("rebound-data").exists(), "nothing created");

    let out = std::process::Command::new(support::rebound_bin())
        .args(["serve"])
        .current_dir(dir.path())
        .env("REBOUND_STORE__PATH", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("REBOUND_STORE__PATH"));
}

#[tokio::test]
async fn invalid_values_exit_64_with_every_field_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "version = 1\n[server]\nlisten = \"nowhere\"\ndrain_timeout = \"abc\"\n[store]\n\
         url = \"mysql://db\"\n[scheduler]\ntick = \"0s\"\n",
    )
    .unwrap();
    let out = run_rebound(dir.path(), &["serve", "--config", "bad.toml"]);
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for path in ["server.listen", "server.drain_timeout", "store.url", "scheduler.tick"] {
        assert!(stderr.contains(&format!("{path}: ")), "an unreadable value hid {path}: {stderr}");
    }
}

#[tokio::test]
async fn port_in_use_exits_69_with_one_clear_line_and_creates_nothing() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(support::rebound_bin())
        .args(["serve"])
        .current_dir(dir.path())
        .env("REBOUND_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("REBOUND_SERVER__HTTP_LISTEN", "")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(last.contains(&format!("cannot listen on 127.0.0.1:{port}")), "{stderr}");
    assert!(last.to_lowercase().contains("in use"), "{stderr}");
    assert!(!dir.path().join("rebound-data").exists(), "nothing created");
}

#[tokio::test]
async fn unwritable_data_dir_exits_69_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("not-a-dir"), "").unwrap();
    let out = std::process::Command::new(support::rebound_bin())
        .args(["serve"])
        .current_dir(dir.path())
        .env("REBOUND_SERVER__LISTEN", "127.0.0.1:0")
        .env("REBOUND_SERVER__HTTP_LISTEN", "")
        .env("REBOUND_STORE__URL", "sqlite://not-a-dir/data/rebound.db")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().lines().last().unwrap_or_default().contains("not-a-dir"), "{stderr}");
    let entries: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries, ["not-a-dir"], "nothing else created");
}

#[tokio::test]
async fn clean_shutdown_is_remembered_by_the_next_start() {
    let mut server = Server::start("").await;
    server.signal(libc::SIGINT);
    assert_eq!(server.wait_exit().await.code(), Some(0));
    // Start a second server on the same data directory.
    let out = run_rebound(&server.dir, &["--version"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let mut again = Server::spawn_in(&server.dir, "", &[]).await;
    again.wait_serving().await;
    again.wait_log("previous_run=clean").await;
    again.signal(libc::SIGTERM);
    assert_eq!(again.wait_exit().await.code(), Some(0));
}

/// The harness's one deadline loop: the value as soon as the condition holds, `None` once the
/// deadline passes, even while a run of the condition waits for something that never comes.
#[tokio::test]
async fn the_harness_until_returns_the_value_or_gives_up_at_the_deadline() {
    let mut runs = 0;
    let found = support::until(support::DEADLINE, async || {
        runs += 1;
        (runs == 3).then_some(runs)
    })
    .await;
    assert_eq!(found, Some(3));
    let short = std::time::Duration::from_millis(100);
    assert_eq!(support::until(short, async || None::<()>).await, None);
    let started = std::time::Instant::now();
    let blocked = support::until(short, async || std::future::pending::<Option<()>>().await);
    assert_eq!(blocked.await, None);
    assert!(started.elapsed() < support::DEADLINE);
}
