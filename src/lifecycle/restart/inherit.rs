//! What crosses from the old process to its successor outside the snapshot: the
//! [`HANDOVER_ENV`] variable and the descriptors it names.
//!
//! The variable holds one JSON object ([`Handover`]) with the descriptor numbers (the gRPC
//! TCP listener, the unix socket, the HTTP listener, the control socket), the restart id, the
//! generation and the trace context. Numbers are passed explicitly (like systemd's
//! `LISTEN_FDS`, but named), so nothing depends on descriptors landing at fixed numbers. This
//! module parses and adopts; it does not decide when to restart.

use crate::lifecycle::fds;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use uuid::Uuid;

use super::Mode;

/// The environment variable that makes `rebound serve` a successor.
pub const HANDOVER_ENV: &str = "REBOUND_HANDOVER";

/// The handover description, as JSON in [`HANDOVER_ENV`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handover {
    pub restart_id: Uuid,
    pub mode: Mode,
    /// Generation the successor runs as.
    pub generation: u64,
    pub predecessor_pid: u32,
    /// The TCP listening socket.
    pub tcp_fd: RawFd,
    /// The unix listening socket and its path, when configured.
    pub unix_fd: Option<RawFd>,
    pub unix_path: Option<PathBuf>,
    /// The HTTP listening socket (`server.http_listen`), when it is on. Absent in the
    /// description of a predecessor that had no HTTP listener.
    #[serde(default)]
    pub http_fd: Option<RawFd>,
    /// HANDOVER only: the successor's end of the control socket pair.
    pub control_fd: Option<RawFd>,
    /// The snapshot to restore; `None` when state is not preserved.
    pub snapshot: Option<PathBuf>,
    /// W3C trace context of the restart, continued by the successor.
    pub traceparent: Option<String>,
    /// The predecessor's replica id (`cluster.replica_id`, or the random one it drew), kept
    /// by the successor. Absent in the description of an older predecessor.
    #[serde(default)]
    pub replica_id: Option<String>,
}

/// Why the inherited state could not be taken over. The process then refuses to start
/// (exit 69): a successor that cannot serve on its predecessor's sockets is rolled back.
#[derive(Debug, thiserror::Error)]
pub enum InheritError {
    #[error("{HANDOVER_ENV}: invalid handover description: {0}")]
    Parse(String),
    #[error("{HANDOVER_ENV}: {what}: {source}")]
    Fd { what: &'static str, source: std::io::Error },
}

/// The listening sockets of this process, kept as descriptors of their own so they outlive
/// the gRPC servers' listeners (exec) and can be handed to a successor (handover).
#[derive(Debug)]
pub struct ListenerSockets {
    pub tcp: OwnedFd,
    pub tcp_addr: SocketAddr,
    pub unix: Option<(OwnedFd, PathBuf)>,
    /// The HTTP listener, when it is on.
    pub http: Option<OwnedFd>,
}

impl ListenerSockets {
    /// Inheritable duplicates (FD_CLOEXEC cleared) for a successor; drop them once it runs.
    pub fn inheritable(&self) -> std::io::Result<InheritableSockets> {
        Ok(InheritableSockets {
            tcp: fds::inheritable(self.tcp.as_fd())?,
            unix: self
                .unix
                .as_ref()
                .map(|(fd, path)| fds::inheritable(fd.as_fd()).map(|fd| (fd, path.clone())))
                .transpose()?,
            http: self.http.as_ref().map(|fd| fds::inheritable(fd.as_fd())).transpose()?,
        })
    }
}

/// Duplicates of the listening sockets that a successor will inherit.
#[derive(Debug)]
pub struct InheritableSockets {
    pub tcp: OwnedFd,
    pub unix: Option<(OwnedFd, PathBuf)>,
    pub http: Option<OwnedFd>,
}

impl InheritableSockets {
    /// Fill in the descriptor fields of `handover`.
    pub fn describe(&self, handover: &mut Handover) {
        handover.tcp_fd = self.tcp.as_raw_fd();
        handover.unix_fd = self.unix.as_ref().map(|(fd, _)| fd.as_raw_fd());
        handover.unix_path = self.unix.as_ref().map(|(_, path)| path.clone());
        handover.http_fd = self.http.as_ref().map(AsRawFd::as_raw_fd);
    }
}

/// What a successor received from its predecessor.
#[derive(Debug)]
pub struct Inherited {
    pub handover: Handover,
    pub tcp: OwnedFd,
    pub unix: Option<(OwnedFd, PathBuf)>,
    pub http: Option<OwnedFd>,
    pub control: Option<OwnedFd>,
}

impl Inherited {
    /// Read [`HANDOVER_ENV`]; `None` for a cold start.
    pub fn from_env() -> Result<Option<Self>, InheritError> {
        match std::env::var(HANDOVER_ENV) {
            Ok(text) if !text.is_empty() => Self::adopt(&text).map(Some),
            _ => Ok(None),
        }
    }

    fn adopt(text: &str) -> Result<Self, InheritError> {
        let handover: Handover =
            serde_json::from_str(text).map_err(|e| InheritError::Parse(e.to_string()))?;
        let adopt = |what, fd| fds::adopt(fd).map_err(|source| InheritError::Fd { what, source });
        let tcp = adopt("tcp listener", handover.tcp_fd)?;
        let unix = match (handover.unix_fd, &handover.unix_path) {
            (Some(fd), Some(path)) => Some((adopt("unix listener", fd)?, path.clone())),
            (None, None) => None,
            _ => return Err(InheritError::Parse("unix_fd and unix_path go together".into())),
        };
        let http = handover.http_fd.map(|fd| adopt("http listener", fd)).transpose()?;
        let control = handover.control_fd.map(|fd| adopt("control socket", fd)).transpose()?;
        Ok(Self { handover, tcp, unix, http, control })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::IntoRawFd;

    #[test]
    fn a_handover_description_adopts_the_named_descriptors() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let http_addr = http.local_addr().unwrap();
        let sockets = ListenerSockets {
            tcp: listener.into(),
            tcp_addr: addr,
            unix: None,
            http: Some(http.into()),
        };
        let inheritable = sockets.inheritable().unwrap();
        let mut handover = Handover {
            restart_id: Uuid::new_v4(),
            mode: Mode::Handover,
            generation: 2,
            predecessor_pid: 1,
            tcp_fd: -1,
            unix_fd: None,
            unix_path: None,
            http_fd: None,
            control_fd: None,
            snapshot: None,
            traceparent: None,
            replica_id: Some("r-1".into()),
        };
        inheritable.describe(&mut handover);
        // Hand the descriptor over as a child would receive it: by number.
        let raw = inheritable.tcp.into_raw_fd();
        assert_eq!(handover.tcp_fd, raw);
        assert_eq!(handover.http_fd, Some(inheritable.http.unwrap().into_raw_fd()));
        let inherited = Inherited::adopt(&serde_json::to_string(&handover).unwrap()).unwrap();
        assert_eq!(inherited.handover, handover);
        let tcp = std::net::TcpListener::from(inherited.tcp);
        assert_eq!(tcp.local_addr().unwrap(), addr);
        let http = std::net::TcpListener::from(inherited.http.unwrap());
        assert_eq!(http.local_addr().unwrap(), http_addr);
    }

    #[test]
    fn garbage_and_unknown_descriptors_are_refused() {
        let err = Inherited::adopt("{").unwrap_err().to_string();
        assert!(err.starts_with(HANDOVER_ENV), "{err}");
        let text = format!(
            r#"{{"restart_id":"{}","mode":"exec","generation":1,"predecessor_pid":1,"tcp_fd":60001,"unix_fd":null,"unix_path":null,"control_fd":null,"snapshot":null,"traceparent":null}}"#,
            Uuid::new_v4()
        );
        let err = Inherited::adopt(&text).unwrap_err().to_string();
        assert!(err.contains("tcp listener") && err.contains("not open"), "{err}");
    }
}
