//! Why `rebound serve` could not start or stop cleanly, with the exit code each reason maps to.

use crate::exit;
use crate::store::StoreError;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("unix socket {}: {reason}", path.display())]
    UnixSocket { path: PathBuf, reason: String },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("auth: {0}")]
    Auth(#[from] crate::auth::TokensError),
    #[error("{0}")]
    Tls(#[from] super::tls::TlsError),
    #[error("startup recovery failed: {0}")]
    Recovery(crate::error::Error),
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("reflection service: {0}")]
    Reflection(String),
    #[error("grpc server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("drain timed out after {timeout:?} with {in_flight} rpc(s) still in flight")]
    DrainTimeout { timeout: Duration, in_flight: usize },
    #[error("{count} background task(s) did not stop in time")]
    TasksStuck { count: usize },
    #[error("{0}")]
    Handover(#[from] crate::lifecycle::restart::InheritError),
    #[error("hot restart failed after the drain: {0}")]
    Restart(String),
}

impl ServeError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            ServeError::Bind { .. } | ServeError::UnixSocket { .. } | ServeError::Handover(_) => {
                exit::UNAVAILABLE
            }
            ServeError::Store(StoreError::InvalidUrl { .. } | StoreError::Unsupported { .. }) => {
                exit::USAGE
            }
            ServeError::Store(_) => exit::UNAVAILABLE,
            ServeError::Auth(_) | ServeError::Tls(_) => exit::USAGE,
            ServeError::Recovery(_) => exit::UNAVAILABLE,
            ServeError::Signals(_)
            | ServeError::Reflection(_)
            | ServeError::Transport(_)
            | ServeError::DrainTimeout { .. }
            | ServeError::TasksStuck { .. }
            | ServeError::Restart(_) => exit::FAILURE,
        }
    }
}
