//! TLS on the TCP listeners (gRPC, and HTTP with the same files): the acceptor built from `server.tls.cert_file` / `key_file` and,
//! for mutual TLS, `client_ca_file`, rebuilt on every config reload (so renewed certificates
//! and CA bundles apply without a restart; a file that does not load refuses the reload and
//! the old acceptor stays), and the stream of accepted connections that runs handshakes
//! concurrently. Under mutual TLS a client certificate is verified against the CA bundle but
//! not required (a token-only client still connects); the verified leaf's identity travels
//! with the connection ([`TcpPeer`]). Transport only: who the caller is and what it may do is
//! decided in `crate::auth`.

use crate::api::identity::TcpPeer;
use crate::auth::ClientCert;
use crate::config::{Config, ConfigHandle, Observers, TlsConfig, file_observer};
use arc_swap::ArcSwapOption;
use futures::{Stream, StreamExt};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::server::Connected;

/// Longest a client may take to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; further accepts wait.
const CONCURRENT_HANDSHAKES: usize = 64;

/// Why the TLS files could not be used.
#[derive(Debug, thiserror::Error)]
#[error("server.tls: {0}")]
pub struct TlsError(String);

/// The application protocols a listener offers in the TLS handshake (ALPN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    /// gRPC: HTTP/2 only.
    Grpc,
    /// The HTTP listener: HTTP/2 or HTTP/1.1.
    Http,
}

impl Alpn {
    fn protocols(self) -> Vec<Vec<u8>> {
        match self {
            Alpn::Grpc => vec![b"h2".to_vec()],
            Alpn::Http => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        }
    }
}

/// The acceptor in force; `None` serves in clear. Shared by the accept loop and the observer.
pub struct Tls {
    acceptor: ArcSwapOption<TlsAcceptor>,
    alpn: Alpn,
}

impl Tls {
    /// Load the configured files and follow reloads, for a listener speaking `alpn`.
    pub fn start(
        config: &ConfigHandle,
        observers: &Observers,
        alpn: Alpn,
    ) -> Result<Arc<Self>, TlsError> {
        let acceptor = acceptor(&config.config().server.tls, alpn)?;
        if acceptor.is_some() {
            tracing::info!(listener = ?alpn, "tls on for the tcp listener");
        }
        let acceptor = ArcSwapOption::new(acceptor.map(Arc::new));
        let tls = Arc::new(Self { acceptor, alpn });
        let observed = tls.clone();
        observers.register(file_observer("server.tls", move |config| observed.reload(config)));
        Ok(tls)
    }
}

/// Build the acceptor of `config`; `None` when TLS is off.
fn acceptor(config: &TlsConfig, alpn: Alpn) -> Result<Option<TlsAcceptor>, TlsError> {
    let (Some(cert_file), Some(key_file)) = (&config.cert_file, &config.key_file) else {
        return Ok(None);
    };
    let certs = crate::pem::certs(cert_file)
        .map_err(|err| TlsError(format!("cert_file {}: {err}", cert_file.display())))?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|err| TlsError(format!("key_file {}: {err}", key_file.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| TlsError(err.to_string()))?;
    let builder = match &config.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(ca_file) => builder.with_client_cert_verifier(client_verifier(ca_file, provider)?),
    };
    let mut server = builder
        .with_single_cert(certs, key)
        .map_err(|err| TlsError(format!("certificate and key do not fit: {err}")))?;
    server.alpn_protocols = alpn.protocols();
    Ok(Some(TlsAcceptor::from(Arc::new(server))))
}

/// Verifies client certificates against the CAs of `ca_file`. A client without a
/// certificate is let through to authenticate with a bearer token instead.
fn client_verifier(
    ca_file: &Path,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let invalid = |err: &dyn std::fmt::Display| {
        TlsError(format!("client_ca_file {}: {err}", ca_file.display()))
    };
    let roots = crate::pem::roots(ca_file).map_err(|err| invalid(&err))?;
    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .allow_unauthenticated()
        .build()
        .map_err(|err| invalid(&err))
}

impl Tls {
    /// Rebuild the acceptor from `config`'s files; on failure the one in force stays.
    fn reload(&self, config: &Config) -> Result<(), String> {
        let acceptor = acceptor(&config.server.tls, self.alpn).map_err(|err| err.to_string())?;
        if acceptor.is_some() {
            tracing::info!("tls certificate loaded");
        }
        self.acceptor.store(acceptor.map(Arc::new));
        Ok(())
    }
}

/// An accepted TCP connection, in clear or after its TLS handshake (with the verified
/// client certificate, if one was presented).
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>, Option<ClientCert>),
}

/// The connections `listener` accepts, through the acceptor in force at accept time. A
/// failed or slow handshake is logged and dropped; it never stops the listener.
pub fn incoming(listener: TcpListener, tls: Arc<Tls>) -> impl Stream<Item = io::Result<Conn>> {
    TcpListenerStream::new(listener)
        .map(move |accepted| {
            let acceptor = tls.acceptor.load_full();
            async move {
                let stream = accepted?;
                let Some(acceptor) = acceptor else { return Ok(Some(Conn::Plain(stream))) };
                let peer = stream.peer_addr().ok();
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        let certificate = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|chain| chain.first())
                            .map(|leaf| ClientCert::from_der(leaf));
                        Ok(Some(Conn::Tls(Box::new(stream), certificate)))
                    }
                    Ok(Err(err)) => {
                        tracing::debug!(?peer, error = %err, "tls handshake failed");
                        Ok(None)
                    }
                    Err(_) => {
                        tracing::debug!(?peer, "tls handshake timed out");
                        Ok(None)
                    }
                }
            }
        })
        .buffer_unordered(CONCURRENT_HANDSHAKES)
        .filter_map(|result: io::Result<Option<Conn>>| async move { result.transpose() })
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(stream) => stream,
            Conn::Tls(stream, _) => stream.get_ref().0,
        }
    }
}

impl Connected for Conn {
    type ConnectInfo = TcpPeer;

    fn connect_info(&self) -> Self::ConnectInfo {
        let certificate = match self {
            Conn::Plain(_) => None,
            Conn::Tls(_, certificate) => certificate.clone(),
        };
        TcpPeer { remote_addr: self.tcp().peer_addr().ok(), certificate }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Conn::Tls(stream, _) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Conn::Tls(stream, _) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Conn::Tls(stream, _) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Conn::Tls(stream, _) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}
