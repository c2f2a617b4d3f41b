//! A gRPC transport for tonic clients that retries, on a fresh connection, a request that
//! never left this process because its connection was going away — what gRPC calls a
//! transparent retry, and what grpc-core (Python) and grpc-go do on their own.
//!
//! When a server drains (shutdown or hot restart) it sends HTTP/2 GOAWAY. A request this
//! client had already queued on that connection cannot be sent any more (hyper hands it
//! back unsent), or its stream is refused by the GOAWAY (the server guarantees it did not
//! process it: HTTP/2 GOAWAY with NO_ERROR, or REFUSED_STREAM). Such a request is sent again
//! on a new connection — to the successor, which serves on the same socket. For a refused
//! stream the request must be replayed, so unary requests (small, one message) are buffered;
//! a streaming request is only resent when hyper handed it back untouched. A request the
//! server may have processed is never retried: any error after that is the caller's to see.
//! Tonic's own `Channel` reports such requests as CANCELLED or INTERNAL.

use super::{Address, ConnectError};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::body::Body;

/// How often one request may be handed back unsent before the error is returned.
const MAX_ATTEMPTS: usize = 5;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A cloneable gRPC transport; use it wherever a tonic `Channel` goes
/// (`HealthServiceClient::new(transport)`).
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    address: Address,
    /// TLS for `https://` addresses.
    tls: Option<tokio_rustls::TlsConnector>,
    authority: http::uri::Authority,
    /// `Bearer <token>`, sent with every request that carries no `authorization` of its own.
    authorization: Option<http::HeaderValue>,
    sender: tokio::sync::Mutex<Option<SendRequest<Body>>>,
}

impl Transport {
    /// Connect to `addr` (host:port, http://host:port or unix:PATH) once, to fail fast.
    pub async fn connect(addr: &str) -> Result<Self, ConnectError> {
        Self::connect_as(addr, None).await
    }

    /// Connect like [`Transport::connect`], sending `token` as a bearer token with every call.
    pub async fn connect_as(addr: &str, token: Option<&str>) -> Result<Self, ConnectError> {
        let options =
            super::ClientOptions { token: token.map(str::to_owned), ..Default::default() };
        Self::connect_with(addr, &options).await
    }

    /// Connect with a token and, for `https://` addresses, TLS trusting `options.tls_ca`
    /// (and presenting `options.tls_cert` for mutual TLS).
    pub async fn connect_with(
        addr: &str,
        options: &super::ClientOptions,
    ) -> Result<Self, ConnectError> {
        let authorization = options.token.as_deref().map(super::bearer).transpose()?;
        let tls = match addr.starts_with("https://") {
            true => Some(super::tls_connector(addr, options)?),
            false => None,
        };
        let address = Address::parse(addr)?;
        let authority = match &address {
            Address::Http(url) => {
                url.parse::<http::Uri>().ok().and_then(|u| u.authority().cloned())
            }
            Address::Unix(_) => Some(http::uri::Authority::from_static("localhost")),
        }
        .ok_or_else(|| ConnectError::InvalidAddress {
            addr: addr.to_owned(),
            reason: "no host".into(),
        })?;
        let transport = Self {
            inner: Arc::new(Inner {
                address,
                tls,
                authority,
                authorization,
                sender: Default::default(),
            }),
        };
        transport
            .sender()
            .await
            .map_err(|err| ConnectError::Dial { addr: addr.to_owned(), reason: err.to_string() })?;
        Ok(transport)
    }

    /// The current connection, or a new one when it is closed.
    async fn sender(&self) -> Result<SendRequest<Body>, BoxError> {
        let mut current = self.inner.sender.lock().await;
        if let Some(sender) = current.as_ref()
            && !sender.is_closed()
        {
            return Ok(sender.clone());
        }
        let sender = tokio::time::timeout(
            CONNECT_TIMEOUT,
            dial(&self.inner.address, self.inner.tls.as_ref()),
        )
        .await
        .map_err(|_| "connect timed out")??;
        *current = Some(sender.clone());
        Ok(sender)
    }

    /// Forget `used` if it is still the current connection (it is going away).
    async fn forget(&self, used: &SendRequest<Body>) {
        let mut current = self.inner.sender.lock().await;
        if current.as_ref().is_some_and(|sender| sender.is_closed() || !used.is_ready()) {
            *current = None;
        }
    }

    async fn send(
        self,
        request: http::Request<Body>,
    ) -> Result<http::Response<Incoming>, BoxError> {
        let (mut head, body) = request.into_parts();
        let mut uri = head.uri.clone().into_parts();
        uri.scheme = Some(match self.inner.tls {
            Some(_) => http::uri::Scheme::HTTPS,
            None => http::uri::Scheme::HTTP,
        });
        uri.authority = Some(self.inner.authority.clone());
        head.uri = http::Uri::from_parts(uri)?;
        if let Some(value) = &self.inner.authorization {
            head.headers.entry(http::header::AUTHORIZATION).or_insert_with(|| value.clone());
        }
        // Unary requests are buffered so that a refused stream can be replayed.
        let (replay, mut body) = if crate::proto::descriptors::is_streaming(head.uri.path()) {
            (None, Some(body))
        } else {
            (Some(body.collect().await.map_err(Box::new)?.to_bytes()), None)
        };
        let mut attempt = 1;
        loop {
            let payload = match (&replay, body.take()) {
                (Some(bytes), _) => Body::new(Full::new(bytes.clone())),
                (None, Some(body)) => body,
                (None, None) => return Err("streaming request body already consumed".into()),
            };
            let mut request = http::Request::new(payload);
            *request.method_mut() = head.method.clone();
            *request.uri_mut() = head.uri.clone();
            *request.version_mut() = head.version;
            *request.headers_mut() = head.headers.clone();
            let mut sender = self.sender().await?;
            let mut failed = match sender.try_send_request(request).await {
                Ok(response) => return Ok(response),
                Err(failed) => failed,
            };
            let unsent = failed.take_message();
            let error = failed.into_error();
            let retry = unsent.is_some() || (replay.is_some() && refused(&error));
            if !retry || attempt >= MAX_ATTEMPTS {
                return Err(error.into());
            }
            tracing::debug!(attempt, error = %error, "request not processed by a draining server; sending it again");
            self.forget(&sender).await;
            body = unsent.map(http::Request::into_body);
            attempt += 1;
        }
    }
}

/// Whether `error` says the server did not process the stream: refused by a graceful GOAWAY
/// (NO_ERROR, its id above the last one the server processes) or with REFUSED_STREAM.
fn refused(error: &hyper::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(h2) = cause.downcast_ref::<h2::Error>() {
            return match h2.reason() {
                Some(h2::Reason::REFUSED_STREAM) => true,
                Some(h2::Reason::NO_ERROR) => h2.is_go_away() && h2.is_remote(),
                _ => false,
            };
        }
        source = cause.source();
    }
    false
}

type Connection = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

async fn dial(
    address: &Address,
    tls: Option<&tokio_rustls::TlsConnector>,
) -> Result<SendRequest<Body>, BoxError> {
    let (sender, connection) = match address {
        Address::Http(url) => {
            let uri: http::Uri = url.parse()?;
            let host = uri.host().ok_or("no host")?;
            let port = uri.port_u16().ok_or("no port")?;
            let stream = tokio::net::TcpStream::connect((host, port)).await?;
            stream.set_nodelay(true)?;
            match tls {
                Some(connector) => {
                    let name = rustls::pki_types::ServerName::try_from(
                        host.trim_start_matches('[').trim_end_matches(']').to_owned(),
                    )?;
                    let stream = connector.connect(name, stream).await?;
                    let (sender, connection) = hyper::client::conn::http2::handshake(
                        TokioExecutor::new(),
                        TokioIo::new(stream),
                    )
                    .await?;
                    (sender, Box::pin(connection) as Connection)
                }
                None => {
                    let (sender, connection) = hyper::client::conn::http2::handshake(
                        TokioExecutor::new(),
                        TokioIo::new(stream),
                    )
                    .await?;
                    (sender, Box::pin(connection) as Connection)
                }
            }
        }
        Address::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path).await?;
            let (sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                    .await?;
            (sender, Box::pin(connection) as Connection)
        }
    };
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(error = %err, "client connection ended");
        }
    });
    Ok(sender)
}

impl tower::Service<http::Request<Body>> for Transport {
    type Response = http::Response<Incoming>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        Box::pin(self.clone().send(request))
    }
}
