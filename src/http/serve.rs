//! Serving the HTTP routes on accepted connections (HTTP/1.1, and HTTP/2 when the client
//! asks), and stopping without failing a request.
//!
//! When the drain begins, the accept loop stops at once: in a hot restart the successor
//! accepts on the same socket from then on. Connections already accepted finish what they
//! carry: every response sent while the server is stopping says `Connection: close`, so a
//! client's next request goes to a new connection (the successor's), and a connection that
//! is still open after [`CLOSE_GRACE`] is shut down gracefully. Transport only; the caller
//! hands in the connections (in clear or after TLS) already counted for the drain. Each
//! request carries its connection's `ConnectInfo` (the peer and its verified client
//! certificate) in its extensions, as tonic's requests do, for the gateway's auth gate.

use crate::lifecycle::Drain;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures::{FutureExt, Stream, StreamExt};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;
use tonic::transport::server::Connected;
use tower::util::{MapRequestLayer, MapResponseLayer};

/// How long an accepted connection may go on after the drain began before it is closed.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// At most this many connections already accepted are taken up once the drain began.
const ACCEPTED_AT_DRAIN: usize = 256;

/// Serve `router` on every connection `incoming` yields until the drain begins, then let
/// the open connections finish (see the module doc) and return.
pub async fn serve<S, T, E>(incoming: S, router: Router, drain: Drain)
where
    S: Stream<Item = Result<T, E>>,
    E: std::fmt::Display,
    T: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    T::ConnectInfo: Send + Sync + 'static,
{
    let stopping = drain.clone();
    let router = router.layer(MapResponseLayer::new(move |mut response: Response| {
        if stopping.is_stopping() {
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }));
    let mut incoming = std::pin::pin!(incoming);
    let mut started = std::pin::pin!(drain.started());
    let mut connections = JoinSet::new();
    let accept = |accepted: Option<Result<T, E>>, connections: &mut JoinSet<()>| match accepted {
        None => false,
        Some(Ok(io)) => {
            connections.spawn(connection(io, router.clone(), drain.clone()));
            true
        }
        Some(Err(err)) => {
            tracing::debug!(error = %err, "http accept failed");
            true
        }
    };
    loop {
        tokio::select! {
            _ = &mut started => break,
            accepted = incoming.next() => if !accept(accepted, &mut connections) { break },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    // Connections the stream has accepted already (the TLS stage buffers them) are served,
    // not dropped: their clients are waiting for an answer.
    for _ in 0..ACCEPTED_AT_DRAIN {
        let Some(accepted) = incoming.next().now_or_never() else { break };
        if !accept(accepted, &mut connections) {
            break;
        }
    }
    while connections.join_next().await.is_some() {}
}

/// Serve one connection until it ends, or until [`CLOSE_GRACE`] after the drain began.
async fn connection<T>(io: T, router: Router, drain: Drain)
where
    T: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    T::ConnectInfo: Send + Sync + 'static,
{
    let info = io.connect_info();
    let router = router.layer(MapRequestLayer::new(move |mut request: axum::extract::Request| {
        request.extensions_mut().insert(info.clone());
        request
    }));
    let builder = auto::Builder::new(TokioExecutor::new());
    let service = TowerToHyperService::new(router);
    let mut connection = std::pin::pin!(builder.serve_connection(TokioIo::new(io), service));
    let ended = tokio::select! {
        ended = connection.as_mut() => Some(ended),
        _ = drain.started() => None,
    };
    let ended = match ended {
        Some(ended) => ended,
        None => match tokio::time::timeout(CLOSE_GRACE, connection.as_mut()).await {
            Ok(ended) => ended,
            Err(_) => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        },
    };
    if let Err(err) = ended {
        tracing::debug!(error = %err, "http connection ended with an error");
    }
}
