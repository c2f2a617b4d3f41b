//! Connecting to a rebound server as a gRPC client (CLI, MCP adapter, tests).
//!
//! Addresses come in three forms: `host:port`, `http://host:port` (or `https://`), and
//! `unix:PATH` for the unix-socket listener.
//!
//! [`connect`] gives a tonic `Channel`; [`Transport`] is the connection for clients that
//! must ride through server restarts: it resends requests a draining server never received,
//! and sends a bearer token with every call ([`Transport::connect_as`]); [`tls_connector`]
//! is its TLS (server CA, optional client certificate for mutual TLS). [`ClientArgs`] are the
//! command-line options of every program that connects (the admin CLI, `rebound-mcp`).

mod args;
mod tls;
mod transport;

pub use args::{ClientArgs, parse_args};
pub use tls::tls_connector;
pub use transport::Transport;

use hyper_util::rt::TokioIo;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint, Uri};

/// Default address of a local server.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:50051";
/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid address {addr:?}: {reason} (use host:port, http://host:port or unix:PATH)")]
    InvalidAddress { addr: String, reason: String },
    #[error("cannot reach {addr}: {source}")]
    Unreachable { addr: String, source: tonic::transport::Error },
    #[error("cannot reach {addr}: {reason}")]
    Dial { addr: String, reason: String },
    #[error("invalid token: it must be printable ASCII without spaces")]
    InvalidToken,
    #[error("tls for {addr}: {reason}")]
    Tls { addr: String, reason: String },
}

/// How to authenticate to the server.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Bearer token sent with every call.
    pub token: Option<String>,
    /// PEM CA certificate(s) trusted for `https://` addresses.
    pub tls_ca: Option<std::path::PathBuf>,
    /// PEM client certificate chain (leaf first) presented for mutual TLS, with `tls_key`.
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<std::path::PathBuf>,
}

/// The `authorization` value for `token`, marked sensitive so it is never logged.
pub fn bearer(token: &str) -> Result<http::HeaderValue, ConnectError> {
    let token = token.trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConnectError::InvalidToken);
    }
    let mut value = http::HeaderValue::try_from(format!("Bearer {token}"))
        .map_err(|_| ConnectError::InvalidToken)?;
    value.set_sensitive(true);
    Ok(value)
}

/// A parsed server address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Http(String),
    Unix(std::path::PathBuf),
}

impl Address {
    pub fn parse(addr: &str) -> Result<Self, ConnectError> {
        let invalid = |reason: &str| ConnectError::InvalidAddress {
            addr: addr.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(path) = addr.strip_prefix("unix:") {
            let path = path.trim_start_matches("//");
            if path.is_empty() {
                return Err(invalid("empty socket path"));
            }
            return Ok(Self::Unix(path.into()));
        }
        let url = match addr.split_once("://") {
            Some(("http" | "https", _)) => addr.to_owned(),
            Some((scheme, _)) => return Err(invalid(&format!("unknown scheme {scheme:?}"))),
            None => format!("http://{addr}"),
        };
        let uri: Uri = url.parse().map_err(|_| invalid("not a URI"))?;
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("missing host"));
        }
        if uri.port_u16().is_none() {
            return Err(invalid("missing port"));
        }
        if uri.path_and_query().is_some_and(|rest| rest.as_str() != "/") {
            return Err(invalid("a server address takes no path or query"));
        }
        Ok(Self::Http(url))
    }
}

/// Connect to `addr`, failing within a few seconds when nothing answers.
pub async fn connect(addr: &str) -> Result<Channel, ConnectError> {
    let unreachable = |source| ConnectError::Unreachable { addr: addr.to_owned(), source };
    match Address::parse(addr)? {
        Address::Http(url) => Endpoint::from_shared(url)
            .map_err(unreachable)?
            .connect_timeout(CONNECT_TIMEOUT)
            .connect()
            .await
            .map_err(unreachable),
        Address::Unix(path) => {
            // The URI is required by the API but unused: the connector dials the socket.
            Endpoint::from_static("http://localhost")
                .connect_timeout(CONNECT_TIMEOUT)
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        Ok::<_, std::io::Error>(TokioIo::new(
                            tokio::net::UnixStream::connect(path).await?,
                        ))
                    }
                }))
                .await
                .map_err(unreachable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_address_form() {
        assert_eq!(
            Address::parse("127.0.0.1:1").unwrap(),
            Address::Http("http://127.0.0.1:1".into())
        );
        assert_eq!(Address::parse("http://h:2").unwrap(), Address::Http("http://h:2".into()));
        assert_eq!(Address::parse("unix:/tmp/s").unwrap(), Address::Unix("/tmp/s".into()));
        assert_eq!(Address::parse("unix:///tmp/s").unwrap(), Address::Unix("/tmp/s".into()));
        assert!(Address::parse("localhost").is_err());
        assert!(Address::parse("unix:").is_err());
        assert_eq!(Address::parse("http://h:2/").unwrap(), Address::Http("http://h:2/".into()));
    }

    fn reason(addr: &str) -> String {
        match Address::parse(addr) {
            Err(ConnectError::InvalidAddress { reason, .. }) => reason,
            other => panic!("{addr}: {other:?}"),
        }
    }

    #[test]
    fn refuses_what_it_would_misread() {
        assert_eq!(reason("foo://bar"), "unknown scheme \"foo\"");
        assert_eq!(reason("grpc://h:1"), "unknown scheme \"grpc\"");
        assert_eq!(reason(":50051"), "missing host");
        assert_eq!(reason("http://:50051"), "missing host");
        assert_eq!(reason("h"), "missing port");
        assert_eq!(reason("http://h:1/extra"), "a server address takes no path or query");
        assert_eq!(reason("h:1?x=1"), "a server address takes no path or query");
    }
}
