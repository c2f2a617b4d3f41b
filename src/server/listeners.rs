//! Binding the gRPC listeners: the TCP address and the optional unix socket.
//!
//! A stale unix socket file left by a crashed process is replaced; one that a live process
//! still answers on is refused, so two servers never share a socket path.

use super::ServeError;
use crate::config::ServerConfig;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::net::{TcpListener, UnixListener};

/// The bound listeners of this process.
pub struct Listeners {
    pub tcp: TcpListener,
    pub tcp_addr: SocketAddr,
    pub unix: Option<(UnixListener, PathBuf)>,
}

impl Listeners {
    /// Remove the unix socket file (on exit, or when start-up fails after binding).
    pub fn remove_socket_file(path: &Path) {
        if let Err(err) = std::fs::remove_file(path)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %err, "could not remove unix socket");
        }
    }
}

/// Bind everything `config` asks for, or fail without leaving anything behind.
pub async fn bind(config: &ServerConfig) -> Result<Listeners, ServeError> {
    let addr = config.listen_addr().map_err(|err| ServeError::Bind {
        addr: config.listen.clone(),
        source: std::io::Error::other(err),
    })?;
    let tcp = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr: config.listen.clone(), source })?;
    let tcp_addr = tcp
        .local_addr()
        .map_err(|source| ServeError::Bind { addr: config.listen.clone(), source })?;
    let unix = match &config.unix_socket {
        None => None,
        Some(path) => Some((bind_unix(path)?, path.clone())),
    };
    Ok(Listeners { tcp, tcp_addr, unix })
}

fn bind_unix(path: &Path) -> Result<UnixListener, ServeError> {
    let fail = |reason: String| ServeError::UnixSocket { path: path.to_owned(), reason };
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(fail("already in use by a running process".into()));
        }
        std::fs::remove_file(path)
            .map_err(|err| fail(format!("stale socket cannot be removed: {err}")))?;
    }
    UnixListener::bind(path).map_err(|err| fail(err.to_string()))
}
