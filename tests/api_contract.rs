//! API contract scenarios against the real `rebound serve` process: what the proto promises
//! about oversized values, page sizes, undecodable requests and identifiers holds on the wire.

mod support;

use rebound::proto::v1 as pb;
use rebound::proto::v1::recovery_service_client::RecoveryServiceClient;
use rebound::proto::v1::restart_service_client::RestartServiceClient;
use support::{Server, wait_for};
use tonic::Code;
use tonic::transport::Channel;

/// Longest status message a capped echo can produce here (field name, 128 bytes, reason).
const SHORT: usize = 400;

/// Every audit event, following next_page_token, and the number of events on each page.
async fn all_audit_events(
    recovery: &mut RecoveryServiceClient<Channel>,
) -> (Vec<pb::AuditEvent>, Vec<usize>) {
    let (mut events, mut pages, mut page_token) = (Vec::new(), Vec::new(), String::new());
    loop {
        let page = recovery
            .list_audit_events(pb::ListAuditEventsRequest {
                page_size: 500,
                page_token,
                ..Default::default()
            })
            .await
            .expect("ListAuditEvents answers")
            .into_inner();
        pages.push(page.events.len());
        events.extend(page.events);
        if page.next_page_token.is_empty() {
            return (events, pages);
        }
        page_token = page.next_page_token;
    }
}

/// The status of a Restart of `binary` that must fail.
async fn refused_restart(
    restart: &mut RestartServiceClient<Channel>,
    binary: &str,
) -> tonic::Status {
    let request = pb::RestartRequest { binary: binary.to_owned(), ..Default::default() };
    restart.restart(request).await.expect_err("the restart is refused")
}

#[tokio::test]
async fn oversized_values_are_echoed_capped_and_audit_pages_stay_under_the_limit() {
    let server = Server::start("").await;
    let channel = server.channel().await;
    let mut restart = RestartServiceClient::new(channel.clone());
    let recovery = RecoveryServiceClient::new(channel);

    // 3.5 MB relative paths: INVALID_ARGUMENT with a short message, not a transport error.
    let huge = "x".repeat(3_500_000);
    for _ in 0..10 {
        let status = refused_restart(&mut restart, &huge).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{:.300}", status.message());
        assert!(status.message().starts_with("binary: xxx"), "{:.300}", status.message());
        assert!(status.message().len() < SHORT, "{} bytes", status.message().len());
    }
    let status = restart
        .prepare_shutdown(pb::PrepareShutdownRequest { binary: huge.clone(), mode: 0 })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{:.300}", status.message());
    assert!(status.message().len() < SHORT, "{} bytes", status.message().len());

    // An absolute path longer than any executable path can be.
    let status = refused_restart(&mut restart, &format!("/{huge}")).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{:.300}", status.message());
    assert!(status.message().ends_with("longer than 4096 bytes"), "{:.300}", status.message());

    // A plausible but missing absolute path: the readiness issue quotes it capped.
    let status = refused_restart(&mut restart, &format!("/{}", "d".repeat(4000))).await;
    assert_eq!(status.code(), Code::FailedPrecondition, "{:.300}", status.message());
    assert!(status.message().contains("no such file"), "{:.300}", status.message());
    assert!(status.message().len() < SHORT, "{} bytes", status.message().len());

    // Hundreds of calls whose arguments fill their audit summary: more than one page's
    // byte budget (1 MiB) of events at page_size 500.
    let wide = "w".repeat(3000);
    for _ in 0..600 {
        assert_eq!(refused_restart(&mut restart, &wide).await.code(), Code::InvalidArgument);
    }
    // Restart is audited (PrepareShutdown, a read, is not).
    let expected = 10 + 1 + 1 + 600;
    // Rows of failed calls are written in the background once the status is known.
    let (events, pages) = wait_for("every rejected call audited", || {
        let mut recovery = recovery.clone();
        async move {
            let (events, pages) = all_audit_events(&mut recovery).await;
            (events.len() >= expected).then_some((events, pages))
        }
    })
    .await;
    assert_eq!(events.len(), expected);
    assert!(pages[0] < 500, "500 events of ~2.3 kB are over 1 MiB: {pages:?}");
    let mut ids: Vec<_> = events.iter().map(|e| e.event_id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), expected, "pages neither repeat nor skip events");
    for event in &events {
        assert!(event.message.len() <= 1024 + 3, "{} bytes", event.message.len());
        assert!(event.arguments.len() <= 2000 + 3, "{} bytes", event.arguments.len());
    }
}

/// A RestartRequest whose `binary` (field 5) carries arbitrary bytes.
#[derive(Clone, PartialEq, prost::Message)]
struct RawBinary {
    #[prost(bytes = "vec", tag = "5")]
    binary: Vec<u8>,
}

/// A PrepareShutdownRequest whose `binary` (field 2, a string) is sent as a varint.
#[derive(Clone, PartialEq, prost::Message)]
struct WrongWireType {
    #[prost(uint64, tag = "2")]
    binary: u64,
}

/// Send `message` to `path` as is and return the error status the server answers.
async fn raw_call<M>(channel: Channel, path: &'static str, message: M) -> tonic::Status
where
    M: prost::Message + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<M, pb::RestartResponse>::default();
    let path = http::uri::PathAndQuery::from_static(path);
    grpc.unary(tonic::Request::new(message), path, codec).await.expect_err("the call fails")
}

#[tokio::test]
async fn undecodable_requests_and_malformed_durations_are_the_callers_fault() {
    let server = Server::start("").await;
    let channel = server.channel().await;

    let utf8 = RawBinary { binary: vec![b'/', 0xff, 0xfe] };
    let status = raw_call(channel.clone(), "/rebound.v1.RestartService/Restart", utf8).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().starts_with("request: "), "{status:?}");
    assert!(status.message().contains("UTF-8"), "{status:?}");

    let wrong = WrongWireType { binary: 7 };
    let path = "/rebound.v1.RestartService/PrepareShutdown";
    let status = raw_call(channel.clone(), path, wrong).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    // Over the 4 MiB request limit: a read and an audited write.
    let mut restart = RestartServiceClient::new(channel.clone());
    let big = "r".repeat(5 << 20);
    let status = restart
        .get_restart_status(pb::GetRestartStatusRequest { restart_id: big.clone() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().starts_with("request: "), "{status:?}");
    let status = refused_restart(&mut restart, &big).await;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    // The audit log records the codes the caller got; the oversized body was not buffered.
    let recovery = RecoveryServiceClient::new(channel.clone());
    let events = wait_for("both restarts audited", || {
        let mut recovery = recovery.clone();
        async move {
            let (events, _) = all_audit_events(&mut recovery).await;
            (events.len() == 2).then_some(events)
        }
    })
    .await;
    let codes: Vec<&str> = events.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["RESOURCE_EXHAUSTED", "INVALID_ARGUMENT"]);
    assert_eq!(events[0].arguments, r#"{"unread": "over 4194309 bytes"}"#);

    // google.protobuf.Duration: nanos within ±999,999,999 and of the sign of seconds.
    let timeout = Some(prost_types::Duration { seconds: 1, nanos: 1_500_000_000 });
    let status = restart
        .test_reconnect(pb::TestReconnectRequest { timeout, ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(status.message(), "timeout: nanos must be within ±999,999,999");
    let retention = Some(prost_types::Duration { seconds: 1, nanos: -1 });
    let status = RecoveryServiceClient::new(channel)
        .run_cleanup(pb::RunCleanupRequest { dry_run: true, retention })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(status.message(), "retention: seconds and nanos must have the same sign");
}

/// The leading comment of `field` of `message` in the proto the server was built from.
fn documented(message: &str, field: &str) -> String {
    let pool = rebound::proto::descriptors::pool();
    let field = pool.get_message_by_name(message).unwrap().get_field_by_name(field).unwrap();
    let file = field.parent_file();
    let info = file.file_descriptor_proto().source_code_info.as_ref().unwrap();
    let location = info.location.iter().find(|l| l.path == field.path()).unwrap();
    location.leading_comments.clone().unwrap_or_default()
}

fn is_decimal(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}

#[tokio::test]
async fn the_proto_describes_what_the_server_serves() {
    use rebound::proto::v1::config_service_client::ConfigServiceClient;
    use rebound::proto::v1::health_service_client::HealthServiceClient;
    let server = Server::start("").await;
    let channel = server.channel().await;

    // Health: every component reported is a documented name; the commit is the full SHA.
    let health = HealthServiceClient::new(channel.clone())
        .get_health(pb::GetHealthRequest {})
        .await
        .unwrap()
        .into_inner();
    let names = documented("rebound.v1.ComponentHealth", "name");
    for component in &health.components {
        assert!(names.contains(&format!("\"{}\"", component.name)), "{component:?} vs {names}");
    }
    let sha = &health.git_sha;
    assert!(sha == "unknown" || (sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit())));
    assert!(documented("rebound.v1.GetHealthResponse", "git_sha").contains("40-digit"));

    // Report ids are decimal, as documented; a UUID is not one, an unknown number is NOT_FOUND.
    let mut recovery = RecoveryServiceClient::new(channel.clone());
    let latest = support::latest_report(&server.addr).await;
    assert!(is_decimal(&latest.report_id), "{}", latest.report_id);
    assert!(documented("rebound.v1.RecoveryReport", "report_id").contains("decimal"));
    let get = |report_id: &str| pb::GetRecoveryReportRequest { report_id: report_id.into() };
    let again = recovery.get_recovery_report(get(&latest.report_id)).await.unwrap();
    assert_eq!(again.into_inner().report, Some(latest));
    let uuid = uuid::Uuid::new_v4().to_string();
    let status = recovery.get_recovery_report(get(&uuid)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().starts_with("report_id: "), "{status:?}");
    let status = recovery.get_recovery_report(get("987654321")).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    // Audit event ids likewise.
    refused_restart(&mut RestartServiceClient::new(channel.clone()), "relative").await;
    let (events, _) = wait_for("the refused restart audited", || {
        let mut recovery = recovery.clone();
        async move {
            let (events, pages) = all_audit_events(&mut recovery).await;
            (!events.is_empty()).then_some((events, pages))
        }
    })
    .await;
    assert!(is_decimal(&events[0].event_id), "{:?}", events[0]);
    assert!(documented("rebound.v1.AuditEvent", "event_id").contains("decimal"));

    // GetReloadStats: since in the future is INVALID_ARGUMENT naming since.
    let mut config = ConfigServiceClient::new(channel);
    let at = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
    let now = chrono::Utc::now().timestamp();
    let status = config
        .get_reload_stats(pb::GetReloadStatsRequest { since: at(now + 3600) })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(status.message(), "since: must not be in the future");
    config.get_reload_stats(pb::GetReloadStatsRequest { since: at(now - 3600) }).await.unwrap();
}
