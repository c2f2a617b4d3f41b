//! The gRPC listeners: bound here (the TCP address and the optional unix socket), or
//! inherited from a hot-restart predecessor.
//!
//! A stale unix socket file left by a crashed process is replaced; one that a live process
//! still answers on is refused, so two servers never share a socket path. Every listener is
//! also kept as a descriptor of its own ([`ListenerSockets`]) that outlives the gRPC server's
//! copy, so a restart can hand it on or keep it across `execve`.

use super::ServeError;
use crate::config::ServerConfig;
use crate::lifecycle::restart::ListenerSockets;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use tokio::net::{TcpListener, UnixListener};

/// The bound listeners of this process.
pub struct Listeners {
    pub tcp: TcpListener,
    pub tcp_addr: SocketAddr,
    pub unix: Option<(UnixListener, PathBuf)>,
    /// The same sockets, for a restart.
    pub sockets: ListenerSockets,
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
pub fn bind(config: &ServerConfig) -> Result<Listeners, ServeError> {
    let addr = config.listen_addr().map_err(|err| ServeError::Bind {
        addr: config.listen.clone(),
        source: std::io::Error::other(err),
    })?;
    let bind_error = |source| ServeError::Bind { addr: config.listen.clone(), source };
    let tcp = std::net::TcpListener::bind(addr).map_err(bind_error)?;
    let unix = match &config.unix_socket {
        None => None,
        Some(path) => Some((bind_unix(path)?, path.clone())),
    };
    let socket_path = unix.as_ref().map(|(_, path): &(_, PathBuf)| path.clone());
    assemble(tcp, unix).map_err(|source| {
        socket_path.as_deref().map(Listeners::remove_socket_file);
        bind_error(source)
    })
}

/// Serve on the sockets a predecessor handed over. A changed `server.listen` or
/// `server.unix_socket` takes effect at the next cold start; until then the inherited
/// sockets keep serving (and a warning says so).
pub fn inherit(
    config: &ServerConfig,
    tcp: OwnedFd,
    unix: Option<(OwnedFd, PathBuf)>,
) -> Result<Listeners, ServeError> {
    let inherit_error = |source| ServeError::Bind { addr: "inherited listener".into(), source };
    let tcp = std::net::TcpListener::from(tcp);
    let addr = tcp.local_addr().map_err(inherit_error)?;
    if config.listen_addr().is_ok_and(|wanted| wanted.port() != 0 && wanted != addr) {
        tracing::warn!(inherited = %addr, configured = %config.listen, "server.listen changed; it applies at the next cold start");
    }
    let unix = unix.map(|(fd, path)| (std::os::unix::net::UnixListener::from(fd), path));
    if unix.as_ref().map(|(_, path)| path) != config.unix_socket.as_ref() {
        tracing::warn!("server.unix_socket changed; it applies at the next cold start");
    }
    assemble(tcp, unix).map_err(inherit_error)
}

fn assemble(
    tcp: std::net::TcpListener,
    unix: Option<(std::os::unix::net::UnixListener, PathBuf)>,
) -> std::io::Result<Listeners> {
    tcp.set_nonblocking(true)?;
    let tcp_addr = tcp.local_addr()?;
    let tcp_fd = OwnedFd::from(tcp.try_clone()?);
    let (unix, unix_socket) = match unix {
        None => (None, None),
        Some((listener, path)) => {
            listener.set_nonblocking(true)?;
            let fd = OwnedFd::from(listener.try_clone()?);
            (Some((UnixListener::from_std(listener)?, path.clone())), Some((fd, path)))
        }
    };
    Ok(Listeners {
        tcp: TcpListener::from_std(tcp)?,
        tcp_addr,
        unix,
        sockets: ListenerSockets { tcp: tcp_fd, tcp_addr, unix: unix_socket },
    })
}

fn bind_unix(path: &Path) -> Result<std::os::unix::net::UnixListener, ServeError> {
    let fail = |reason: String| ServeError::UnixSocket { path: path.to_owned(), reason };
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(fail("already in use by a running process".into()));
        }
        std::fs::remove_file(path)
            .map_err(|err| fail(format!("stale socket cannot be removed: {err}")))?;
    }
    std::os::unix::net::UnixListener::bind(path).map_err(|err| fail(err.to_string()))
}
