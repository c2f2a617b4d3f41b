//! The listeners: bound here (the gRPC TCP address, the optional unix socket and the optional
//! HTTP address), or inherited from a hot-restart predecessor.
//!
//! The unix socket gets `server.unix_socket_mode` (0600 by default) before it appears at its
//! path. A stale unix socket file left by a crashed process is replaced; one that a live process
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
    /// The HTTP listener (`server.http_listen`) and its address, when it is on.
    pub http: Option<(TcpListener, SocketAddr)>,
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
        Some(path) => {
            let mode = config.unix_socket_permissions().unwrap_or(0o600);
            Some((bind_unix(path, mode)?, path.clone()))
        }
    };
    let socket_path = unix.as_ref().map(|(_, path): &(_, PathBuf)| path.clone());
    let remove_socket = || socket_path.as_deref().map(Listeners::remove_socket_file);
    let http = bind_http(config).inspect_err(|_| {
        remove_socket();
    })?;
    assemble(tcp, unix, http).map_err(|source| {
        remove_socket();
        bind_error(source)
    })
}

/// Bind `server.http_listen`, unless it is off.
fn bind_http(config: &ServerConfig) -> Result<Option<std::net::TcpListener>, ServeError> {
    let bind_error = |source| ServeError::Bind { addr: config.http_listen.clone(), source };
    match config.http_listen_addr() {
        None => Ok(None),
        Some(Err(err)) => Err(bind_error(std::io::Error::other(err))),
        Some(Ok(addr)) => std::net::TcpListener::bind(addr).map(Some).map_err(bind_error),
    }
}

/// Serve on the sockets a predecessor handed over. A changed `server.listen`,
/// `server.unix_socket` or `server.http_listen` address takes effect at the next cold start;
/// until then the inherited sockets keep serving (and a warning says so). An HTTP listener
/// the predecessor did not have is bound here; one that the config now turns off is closed.
pub fn inherit(
    config: &ServerConfig,
    tcp: OwnedFd,
    unix: Option<(OwnedFd, PathBuf)>,
    http: Option<OwnedFd>,
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
    let http = match (http, config.http_listen_addr()) {
        (Some(_), None) => {
            tracing::warn!("server.http_listen is now off; the inherited http listener is closed");
            None
        }
        (Some(fd), Some(wanted)) => {
            let http = std::net::TcpListener::from(fd);
            let addr = http.local_addr().map_err(inherit_error)?;
            if wanted.is_ok_and(|wanted| wanted.port() != 0 && wanted != addr) {
                tracing::warn!(inherited = %addr, configured = %config.http_listen, "server.http_listen changed; it applies at the next cold start");
            }
            Some(http)
        }
        (None, _) => bind_http(config)?,
    };
    assemble(tcp, unix, http).map_err(inherit_error)
}

fn assemble(
    tcp: std::net::TcpListener,
    unix: Option<(std::os::unix::net::UnixListener, PathBuf)>,
    http: Option<std::net::TcpListener>,
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
    let (http, http_socket) = match http {
        None => (None, None),
        Some(listener) => {
            listener.set_nonblocking(true)?;
            let addr = listener.local_addr()?;
            let fd = OwnedFd::from(listener.try_clone()?);
            (Some((TcpListener::from_std(listener)?, addr)), Some(fd))
        }
    };
    Ok(Listeners {
        tcp: TcpListener::from_std(tcp)?,
        tcp_addr,
        unix,
        http,
        sockets: ListenerSockets { tcp: tcp_fd, tcp_addr, unix: unix_socket, http: http_socket },
    })
}

/// Bind the socket under a temporary name, give it `mode`, then move it to `path`: it is
/// never reachable at `path` with looser permissions.
fn bind_unix(path: &Path, mode: u32) -> Result<std::os::unix::net::UnixListener, ServeError> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |reason: String| ServeError::UnixSocket { path: path.to_owned(), reason };
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(fail("already in use by a running process".into()));
        }
        std::fs::remove_file(path)
            .map_err(|err| fail(format!("stale socket cannot be removed: {err}")))?;
    }
    let mut staging = path.as_os_str().to_owned();
    staging.push(format!(".{}.tmp", std::process::id()));
    let staging = PathBuf::from(staging);
    let _ = std::fs::remove_file(&staging);
    let listener =
        std::os::unix::net::UnixListener::bind(&staging).map_err(|err| fail(err.to_string()))?;
    let placed = std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(mode))
        .and_then(|()| std::fs::rename(&staging, path));
    if let Err(err) = placed {
        let _ = std::fs::remove_file(&staging);
        return Err(fail(format!("cannot set mode {mode:o} and move into place: {err}")));
    }
    Ok(listener)
}
