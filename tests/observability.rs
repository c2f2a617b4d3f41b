//! Observability of the real process: systemd notifications (READY, STATUS, WATCHDOG,
//! STOPPING) over a real notify socket, and OpenTelemetry spans exported over OTLP to a
//! collector run by the test, continuing the caller's trace.

mod support;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use rebound::proto::v1 as pb;
use rebound::proto::v1::health_service_client::HealthServiceClient;
use std::sync::{Arc, Mutex};
use support::{Server, wait_for};

#[tokio::test]
async fn systemd_gets_ready_watchdog_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = tokio::net::UnixDatagram::bind(&socket_path).unwrap();
    let mut server = Server::spawn(
        "",
        &[("NOTIFY_SOCKET", socket_path.to_str().unwrap()), ("WATCHDOG_USEC", "200000")],
    )
    .await;
    let mut seen: Vec<String> = Vec::new();
    let mut buf = vec![0u8; 4096];
    let mut receive = async |seen: &mut Vec<String>, want: &str| {
        while !seen.iter().any(|m| m.lines().any(|l| l == want)) {
            let n = tokio::time::timeout(support::DEADLINE, socket.recv(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("no {want} within the deadline; got {seen:?}"))
                .unwrap();
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    };
    receive(&mut seen, "READY=1").await;
    receive(&mut seen, "STATUS=serving").await;
    receive(&mut seen, "WATCHDOG=1").await;
    // It keeps pinging: forget the pings seen so far and wait for another.
    seen.retain(|m| m.trim() != "WATCHDOG=1");
    receive(&mut seen, "WATCHDOG=1").await;
    // A reload is bracketed by RELOADING=1 (with MONOTONIC_USEC) and READY=1.
    seen.clear();
    server.signal(libc::SIGHUP);
    receive(&mut seen, "RELOADING=1").await;
    let at = seen.iter().position(|m| m.contains("RELOADING=1")).unwrap();
    assert!(seen[at].contains("MONOTONIC_USEC="), "{:?}", seen[at]);
    let mut after = seen.split_off(at + 1);
    receive(&mut after, "READY=1").await;
    server.signal(libc::SIGTERM);
    receive(&mut seen, "STOPPING=1").await;
    assert_eq!(server.wait_exit().await.code(), Some(0));
}

/// An OTLP/gRPC trace collector that keeps what it receives.
#[derive(Clone, Default)]
struct Collector {
    received: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.received.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

impl Collector {
    /// Serve a collector on a free port; returns it and its endpoint URL.
    async fn start() -> (Collector, String) {
        let collector = Collector::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(collector.clone()))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        (collector, endpoint)
    }

    /// Every span received so far.
    fn spans(&self) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .cloned()
            .collect()
    }
}

#[tokio::test]
async fn rpc_spans_are_exported_over_otlp_and_continue_the_callers_trace() {
    let (collector, endpoint) = Collector::start().await;

    let mut server =
        Server::spawn("", &[("REBOUND_TELEMETRY__OTLP_ENDPOINT", endpoint.as_str())]).await;
    server.wait_serving().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = tonic::Request::new(pb::GetHealthRequest {});
    request
        .metadata_mut()
        .insert("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01").parse().unwrap());
    HealthServiceClient::new(server.channel().await).get_health(request).await.unwrap();
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit().await.code(), Some(0), "{}", server.logs());

    let span = wait_for("the GetHealth span at the collector", || {
        let found =
            collector.spans().into_iter().find(|s| s.name == "rebound.v1.HealthService/GetHealth");
        async move { found }
    })
    .await;
    assert_eq!(
        rebound::hex::encode(&span.trace_id),
        trace_id,
        "the server span continues the caller's trace"
    );
    let status = span
        .attributes
        .iter()
        .find(|kv| kv.key == "rpc.grpc.status_code")
        .and_then(|kv| kv.value.as_ref()?.value.clone());
    assert_eq!(status, Some(Value::StringValue("0".into())));
}

#[tokio::test]
async fn logs_go_to_rotated_files_with_a_separate_error_log() {
    let logs = tempfile::tempdir().unwrap();
    let dir = logs.path().join("logs");
    let server = Server::spawn(
        "",
        &[
            ("REBOUND_TELEMETRY__LOG_DIR", dir.to_str().unwrap()),
            ("REBOUND_TELEMETRY__LOG_MAX_BYTES", "4096"),
            ("REBOUND_TELEMETRY__LOG_KEEP", "2"),
        ],
    )
    .await;
    server.wait_serving().await;
    // The harness logs every RPC at debug level: enough calls fill several files.
    let mut client = HealthServiceClient::new(server.channel().await);
    wait_for("the log to rotate twice", || {
        let mut client = client.clone();
        let rotated = dir.join("rebound.log.2").exists();
        async move {
            if !rotated {
                client.get_health(pb::GetHealthRequest {}).await.ok()?;
            }
            rotated.then_some(())
        }
    })
    .await;
    client.get_health(pb::GetHealthRequest {}).await.unwrap();
    assert!(!dir.join("rebound.log.3").exists(), "only log_keep old files are kept");
    for name in ["rebound.log", "rebound.log.1", "rebound.log.2"] {
        assert!(std::fs::metadata(dir.join(name)).unwrap().len() <= 4096, "{name}");
    }
    let first = std::fs::read_to_string(dir.join("rebound.log.2")).unwrap();
    assert!(!first.contains('\u{1b}'), "no colour codes in files");
    let errors = std::fs::read_to_string(dir.join("rebound.error.log")).unwrap();
    assert!(errors.lines().all(|line| line.contains("ERROR")), "{errors}");
}

#[tokio::test]
async fn one_hot_restart_is_one_trace_across_both_processes_and_systemd_learns_the_new_pid() {
    use rebound::proto::v1::restart_service_client::RestartServiceClient;
    let (collector, endpoint) = Collector::start().await;
    let dir = tempfile::tempdir().unwrap();
    let notify_path = dir.path().join("notify.sock");
    let notify = tokio::net::UnixDatagram::bind(&notify_path).unwrap();
    let mut server = Server::spawn(
        "",
        &[
            ("REBOUND_TELEMETRY__OTLP_ENDPOINT", endpoint.as_str()),
            ("NOTIFY_SOCKET", notify_path.to_str().unwrap()),
        ],
    )
    .await;
    server.wait_serving().await;
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let mut request = tonic::Request::new(pb::RestartRequest {
        mode: pb::RestartMode::Handover as i32,
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("traceparent", format!("00-{trace_id}-b7ad6b7169203331-01").parse().unwrap());
    let id = RestartServiceClient::new(server.channel().await)
        .restart(request)
        .await
        .unwrap()
        .into_inner()
        .restart_id;
    let event = support::restart::wait_terminal(&server.addr, &id).await;
    assert_eq!(event.phase(), pb::RestartPhase::Complete, "{event:?}");
    assert_eq!(event.trace_id, trace_id, "the restart continues the caller's trace");
    let mut buf = vec![0u8; 4096];
    let want = format!("MAINPID={}", event.new_pid);
    wait_for(&want, || {
        let n = notify.try_recv(&mut buf).ok();
        let seen = n.is_some_and(|n| String::from_utf8_lossy(&buf[..n]).lines().any(|l| l == want));
        async move { seen.then_some(()) }
    })
    .await;
    assert_eq!(server.wait_exit().await.code(), Some(0), "the old process exits cleanly");
    support::restart::stop_serving(&server.addr).await;
    // Both processes flush their spans before they exit: once the successor is gone too,
    // everything has been exported (a zombie, never reaped in some containers, counts as gone).
    wait_for("the successor to exit", || {
        let gone = !support::restart::running(event.new_pid);
        async move { gone.then_some(()) }
    })
    .await;

    let trace_names = || -> Vec<String> {
        let spans =
            collector.spans().into_iter().filter(|s| rebound::hex::encode(&s.trace_id) == trace_id);
        spans.map(|s| s.name).collect()
    };
    let complete = |names: &[String]| {
        ["restart.preparing", "restart.starting_successor", "restart.successor"]
            .iter()
            .all(|want| names.iter().any(|n| n == want))
            && names.iter().filter(|n| *n == "restart.finalizing").count() == 2
    };
    // The collector may still be storing the last export.
    let names = support::until(std::time::Duration::from_secs(10), async || {
        let names = trace_names();
        complete(&names).then_some(names)
    })
    .await
    .unwrap_or_else(trace_names);
    assert!(complete(&names), "restart spans of both processes: {names:?}\n{}", server.logs());
    assert!(names.iter().any(|n| n == "restart.closing_connections"), "{names:?}");
}
