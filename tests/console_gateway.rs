//! The console's JSON gateway (`/api/` on `server.http_listen`) against a real server: a
//! malformed body is 400 naming the field, as gRPC's INVALID_ARGUMENT does; an unknown
//! service or method is 404; a missing, wrong or too weak token is 401/403 with the code
//! gRPC answers for the same call; a Watch method's server-sent events deliver the messages
//! and end with an `end` event; and a mutating call while the server drains is refused with
//! the UNAVAILABLE the policy table's drain refusal gives gRPC callers; the fleet page's
//! counts (`CountClients`) are the totals ListClients gives filter by filter.

mod support;

use rebound::proto::codes::code_name;
use rebound::proto::v1 as pb;
use serde_json::{Value, json};
use support::auth::{self, UNDECODABLE, token};
use support::device::{Device, wait_registered};
use support::http::{Connection, Response, post_api};
use support::mosquitto::Broker;
use support::{Server, wait_for};
use uuid::Uuid;

const ISSUE: &str = "rebound.v1.ClientCommandService/IssueCommand";

fn bearer(role: &str) -> String {
    format!("Bearer {}", token(role))
}

/// `(status, code, message)` of a gateway error answer.
fn refusal(response: &Response) -> (u16, String, String) {
    let body = response.json();
    let text = |key: &str| body[key].as_str().unwrap_or_else(|| panic!("{key}: {body}")).to_owned();
    (response.status, text("code"), text("message"))
}

#[tokio::test]
async fn bad_requests_and_credentials_are_answered_as_grpc_answers_them() {
    let (_dir, server) = auth::server("", &[]).await;
    let port = server.http_port;
    let operator = bearer("operator");

    // Malformed bodies: 400, naming the field (or the message when the body is not an object).
    for (body, field) in [
        (r#"{"client_uuid": 7}"#, "client_uuid: "),
        (r#"{"client_uuid": "x", "action": "ACTION_NAP"}"#, "action: "),
        (r#"{"client_uuid": "x", "colour": 2}"#, "colour"),
        ("{", "IssueCommandRequest: "),
        ("[1, 2]", "IssueCommandRequest: "),
    ] {
        let (status, code, message) = refusal(&post_api(port, ISSUE, Some(&operator), body).await);
        assert_eq!((status, code.as_str()), (400, "INVALID_ARGUMENT"), "{body}: {message}");
        assert!(message.contains(field), "{body}: {message}");
    }
    // A well-formed request the domain refuses: the very status gRPC answers.
    let body = json!({"client_uuid": "not-a-uuid", "action": "ACTION_REBOOT_HOST"});
    let (status, code, message) =
        refusal(&post_api(port, ISSUE, Some(&operator), &body.to_string()).await);
    let mut rpc =
        pb::client_command_service_client::ClientCommandServiceClient::new(server.channel().await);
    let mut request = tonic::Request::new(pb::IssueCommandRequest {
        client_uuid: "not-a-uuid".into(),
        action: pb::Action::RebootHost as i32,
        ..Default::default()
    });
    request.metadata_mut().insert("authorization", operator.parse().unwrap());
    let grpc = rpc.issue_command(request).await.unwrap_err();
    assert_eq!((status, code, message), (400, code_name(grpc.code()), grpc.message().to_owned()));
    assert!(grpc.message().starts_with("client_uuid: "), "{grpc:?}");

    // Unknown services and methods, and services outside rebound.v1: 404.
    for method in [
        "rebound.v1.NoSuchService/GetHealth",
        "rebound.v1.HealthService/NoSuchMethod",
        "grpc.health.v1.Health/Check",
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ] {
        let (status, code, message) = refusal(&post_api(port, method, Some(&operator), "{}").await);
        assert_eq!((status, code.as_str()), (404, "NOT_FOUND"), "{method}: {message}");
        assert!(message.contains("no such rebound.v1 method"), "{method}: {message}");
    }

    // Credentials: the gateway's HTTP status and code are gRPC's code for the same call.
    let methods = auth::methods();
    let method = |path: &str| methods.iter().find(|m| m.path == path).unwrap();
    let channel = server.channel().await;
    let cases: [(&str, Option<String>, u16); 5] = [
        ("rebound.v1.HealthService/GetHealth", None, 401),
        ("rebound.v1.HealthService/GetHealth", Some("Bearer not-a-token".into()), 401),
        ("rebound.v1.HealthService/GetHealth", Some(format!("Basic {}", token("admin"))), 401),
        (ISSUE, Some(bearer("viewer")), 403),
        ("rebound.v1.RestartService/Restart", Some(bearer("operator")), 403),
    ];
    for (path, authorization, http) in cases {
        let answer = post_api(port, path, authorization.as_deref(), "{}").await;
        let (status, code, message) = refusal(&answer);
        let grpc = auth::call(
            channel.clone(),
            method(&format!("/{path}")),
            authorization.as_deref(),
            UNDECODABLE,
        )
        .await;
        assert_eq!(status, http, "{path} with {authorization:?}: {message}");
        assert_eq!(
            code,
            code_name(grpc.code()),
            "{path} with {authorization:?}: {message} / {grpc:?}"
        );
        assert_eq!(message, grpc.message(), "{path} with {authorization:?}");
    }
    // A stream refused for its token says why in an `error` event (EventSource reads no status).
    let mut connection = Connection::open(port).await.unwrap();
    let refused = connection
        .request(
            "GET",
            "/api/rebound.v1.ClientCommandService/WatchCommands?access_token=not-a-token",
            &[("connection", "close")],
            "",
        )
        .await
        .unwrap();
    assert_eq!(refused.status, 200, "{refused:?}");
    assert!(refused.body.starts_with("event: error\ndata: "), "{refused:?}");
    assert!(refused.body.contains("\"code\":\"UNAUTHENTICATED\""), "{refused:?}");
}

/// The `data:` JSON of every event named `name` (`None`: unnamed, the messages).
fn events(stream: &str, name: Option<&str>) -> Vec<Value> {
    stream
        .split("\n\n")
        .filter(|event| !event.is_empty())
        .filter_map(|event| {
            let mut lines = event.lines();
            let first = lines.next()?;
            let (named, data) = match first.strip_prefix("event: ") {
                Some(named) => (Some(named), lines.next()?),
                None => (None, first),
            };
            (named == name).then(|| serde_json::from_str(data.strip_prefix("data: ")?).ok())?
        })
        .collect()
}

#[tokio::test]
async fn a_watch_stream_delivers_its_messages_as_events_and_ends_cleanly() {
    let uuid = Uuid::new_v4();
    let broker = Broker::start(&[uuid]);
    let server = Server::start(&broker.server_config("")).await;
    let rpc = support::device::rpc(&server).await;
    let device = Device::connect(&broker, uuid).await;
    device.health("running", Some("boot-1")).await;
    wait_registered(&rpc, uuid).await;
    let _responding = device.respond_forever(false);

    let body = json!({
        "action": "ACTION_RESTART_APP",
        "target": {"clients": {"client_uuids": [uuid.to_string()]}},
        "canary_count": 1,
    });
    let started = post_api(
        server.http_port,
        "rebound.v1.ClientCommandService/StartRollout",
        None,
        &body.to_string(),
    )
    .await;
    assert_eq!(started.status, 200, "{started:?}");
    let id = started.json()["rollout"]["rollout_id"].as_str().unwrap().to_owned();

    // WatchRollout sends snapshots until the terminal one, then the stream ends: every event
    // read to the end of the response, the last an `end`.
    let request = json!({ "rollout_id": id }).to_string();
    let query: String =
        form_urlencoded::Serializer::new(String::new()).append_pair("request", &request).finish();
    let mut connection = Connection::open(server.http_port).await.unwrap();
    let stream = tokio::time::timeout(
        support::browser::PATIENCE * 4,
        connection.request(
            "GET",
            &format!("/api/rebound.v1.ClientCommandService/WatchRollout?{query}"),
            &[],
            "",
        ),
    )
    .await
    .expect("the stream ends once the rollout is done")
    .unwrap();
    assert_eq!(stream.status, 200, "{stream:?}");
    assert_eq!(stream.header("content-type"), Some("text/event-stream"));
    let snapshots = events(&stream.body, None);
    assert!(!snapshots.is_empty(), "{}", stream.body);
    assert!(snapshots.iter().all(|s| s["rollout"]["rollout_id"] == id.as_str()), "{}", stream.body);
    let last = &snapshots.last().unwrap()["rollout"];
    assert_eq!(last["state"], "ROLLOUT_STATE_COMPLETED", "{}", stream.body);
    assert_eq!(last["counters"]["completed"], 1, "{}", stream.body);
    assert!(events(&stream.body, Some("error")).is_empty(), "{}", stream.body);
    assert!(stream.body.ends_with("event: end\ndata: {}\n\n"), "{}", stream.body);
    // The connection is still good for the next request: the stream ended, not the transport.
    let health = connection
        .request("POST", "/api/rebound.v1.HealthService/GetHealth", &[], "{}")
        .await
        .unwrap();
    assert_eq!(health.status, 200, "{health:?}");
}

#[tokio::test]
async fn a_draining_server_refuses_mutations_on_the_gateway_as_on_grpc() {
    let mut server = Server::start("").await;
    let port = server.http_port;
    let clear = "/api/rebound.v1.ClientCommandService/ClearServiceFailed";
    let body = json!({ "client_uuid": Uuid::new_v4().to_string() }).to_string();
    // Connections accepted before the drain are still served for a while after it began.
    let mut connections = Vec::new();
    for _ in 0..16 {
        let mut connection = Connection::open(port).await.unwrap();
        let answer = connection.request("POST", clear, &[], &body).await.unwrap();
        assert_eq!(answer.status, 404, "an unknown device before the drain: {answer:?}");
        connections.push(connection);
    }
    server.signal(15);

    // Each connection is asked again until one answers after the drain began; a connection
    // whose answer said `Connection: close` (the shutdown was announced) is put aside.
    let mut open = connections;
    let answer = wait_for("a mutating call refused by the draining server", async || {
        let mut connection = open.pop()?;
        let answer = connection.request("POST", clear, &[], &body).await.ok()?;
        if answer.status == 503 {
            return Some(answer);
        }
        if answer.header("connection") != Some("close") {
            open.insert(0, connection);
        }
        None
    })
    .await;
    let (status, code, message) = refusal(&answer);
    assert_eq!((status, code.as_str()), (503, "UNAVAILABLE"), "{message}");
    assert_eq!(message, "server is draining; retry against its successor");
    assert_eq!(answer.header("connection"), Some("close"), "the client moves to the successor");
    server.wait_exit().await;
}

/// The fleet page's counts (`CountClients`, one call for every filter) through the gateway:
/// each is the total ListClients gives for that filter, within a group and a uuid prefix too;
/// a bad scope is 400 naming its field.
#[tokio::test]
async fn the_fleet_counts_are_the_list_totals_in_one_call() {
    let uuids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    let broker = Broker::start(&uuids);
    let server = Server::start(&broker.server_config("")).await;
    let mut rpc = support::device::rpc(&server).await;
    let mut devices = Vec::new();
    for uuid in &uuids {
        let device = Device::connect(&broker, *uuid).await;
        device.health("running", Some("boot-1")).await;
        wait_registered(&rpc, *uuid).await;
        devices.push(device);
    }
    devices[0].health("crashed", Some("boot-1")).await;
    let failure = r#"{"unit":"infoscreen-app.service","failed_at":"2026-04-05T12:48:10Z"}"#;
    devices[1].publish("service_failed", failure, true).await;
    let update = pb::UpdateClientRequest {
        client_uuid: uuids[1].to_string(),
        group: Some("lab".into()),
        ..Default::default()
    };
    rpc.update_client(update).await.unwrap();
    let count = async |body: Value| {
        let method = "rebound.v1.ClientCommandService/CountClients";
        let answer = post_api(server.http_port, method, None, &body.to_string()).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let answer = answer.json();
        let field = |key: &str| {
            answer[key]
                .as_str()
                .unwrap_or_else(|| panic!("{key}: {answer}"))
                .parse::<u64>()
                .unwrap()
        };
        ["total", "online", "offline", "crashed", "service_failed"].map(field)
    };
    // Counts are shared for up to a second: wait until they show the devices' states.
    wait_for("the counts of every device", async || {
        (count(json!({})).await == [3, 3, 0, 1, 1]).then_some(())
    })
    .await;
    let prefix = uuids[0].to_string()[..8].to_owned();
    for (scope, expected) in [
        (json!({"group": "lab"}), [1, 1, 0, 0, 1]),
        (json!({"uuid_prefix": prefix.to_uppercase()}), [1, 1, 0, 1, 0]),
    ] {
        assert_eq!(count(scope.clone()).await, expected, "{scope}");
    }
    // The same numbers as ListClients' totals, filter by filter.
    let total = async |request: pb::ListClientsRequest| {
        let request = pb::ListClientsRequest { page_size: 1, include_total_size: true, ..request };
        rpc.clone().list_clients(request).await.unwrap().into_inner().total_size
    };
    let lab = || pb::ListClientsRequest { group: "lab".into(), ..Default::default() };
    let listed = [
        total(lab()).await,
        total(pb::ListClientsRequest { presence: pb::Presence::Online as i32, ..lab() }).await,
        total(pb::ListClientsRequest { presence: pb::Presence::Offline as i32, ..lab() }).await,
        total(pb::ListClientsRequest { crash_state: pb::CrashState::Crashed as i32, ..lab() })
            .await,
        total(pb::ListClientsRequest { service_failed: Some(true), ..lab() }).await,
    ];
    assert_eq!(count(json!({"group": "lab"})).await, listed);

    for (body, field) in
        [(json!({"uuid_prefix": "xyz"}), "uuid_prefix: "), (json!({"group": "a b"}), "group")]
    {
        let method = "rebound.v1.ClientCommandService/CountClients";
        let answer = post_api(server.http_port, method, None, &body.to_string()).await;
        let (status, code, message) = refusal(&answer);
        assert_eq!((status, code.as_str()), (400, "INVALID_ARGUMENT"), "{body}: {message}");
        assert!(message.starts_with(field), "{body}: {message}");
    }
}
