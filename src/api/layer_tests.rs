//! The layer's drain refusal: what the policy table keeps from a draining server is answered
//! UNAVAILABLE before any handler runs; everything else still reaches its handler.

use super::*;
use crate::config::{ConfigHandle, Observers};
use std::sync::atomic::{AtomicUsize, Ordering};
use tower::{Layer, Service, ServiceExt};

/// A layer over a handler that answers OK and counts its calls.
async fn layered() -> (
    Drain,
    Arc<AtomicUsize>,
    impl Service<http::Request<Body>, Response = http::Response<Body>, Error = std::convert::Infallible>,
) {
    let drain = Drain::new();
    let store = crate::store::open("sqlite::memory:").await.unwrap();
    let config = ConfigHandle::new(crate::config::load(None, []).unwrap());
    let gate = Gate::start(&config, &Observers::default(), Default::default()).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let handler = tower::service_fn(move |_: http::Request<Body>| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Ok(tonic::Status::ok("handled").into_http()) }
    });
    let layer = RpcLayer::new(drain.clone(), Auditor::new(store), gate);
    (drain, calls, layer.layer(handler))
}

/// The gRPC status code and message of a trailers-only answer.
async fn call(
    service: &mut (
             impl Service<
        http::Request<Body>,
        Response = http::Response<Body>,
        Error = std::convert::Infallible,
    > + Send
         ),
    method: &str,
) -> (String, String) {
    let request = http::Request::builder()
        .uri(format!("/rebound.v1.{method}"))
        .header("content-type", "application/grpc")
        .body(Body::empty())
        .unwrap();
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    let header = |name| {
        response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    };
    (header("grpc-status"), header("grpc-message"))
}

#[tokio::test]
async fn a_draining_server_refuses_what_the_policy_says_before_any_handler_runs() {
    let (drain, calls, mut service) = layered().await;
    assert_eq!(call(&mut service, "ClientCommandService/IssueCommand").await.0, "0");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "served before the drain");

    drain.begin();
    for method in [
        "ClientCommandService/IssueCommand",
        "ClientCommandService/UpdateClient",
        "RestartService/Restart",
        "RestartService/WatchRestart",
    ] {
        let (code, message) = call(&mut service, method).await;
        assert_eq!(code, UNAVAILABLE, "{method}");
        assert!(
            message.contains("server%20is%20draining") || message.contains("server is draining"),
            "{method}: {message}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "no handler ran for a refused call");

    for method in ["ClientCommandService/GetCommand", "ConfigService/Reload"] {
        assert_eq!(call(&mut service, method).await.0, "0", "{method}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3, "the others still reach their handlers");
}
