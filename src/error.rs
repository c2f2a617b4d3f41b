//! The domain error: what went wrong, in terms every adapter (gRPC, CLI, MQTT) can map.
//!
//! Domain code returns [`Error`]; `api::status` is the single table that turns it into a
//! `tonic::Status`, and the CLI maps it to exit codes. Messages are lowercase, specific and
//! carry no trailing period, e.g. `client_uuid: not a UUID`.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field is malformed; `field` is its proto name.
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    /// The named thing does not exist.
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    /// The thing exists with different parameters (idempotency conflict).
    #[error("{0}")]
    AlreadyExists(String),
    /// The request is valid but the system is not in a state to perform it.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A safety or rate limit refused the request.
    #[error("{0}")]
    ResourceExhausted(String),
    /// A per-principal rate limit refused the request; it may be retried after `retry_after`.
    #[error("{what}: rate limit reached; retry after {}s", retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0))]
    RateLimited { what: String, retry_after: std::time::Duration },
    /// The caller sent no valid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known but its role does not allow the request.
    #[error("{0}")]
    PermissionDenied(String),
    /// The server is draining or a dependency is down; retrying later may work.
    #[error("{0}")]
    Unavailable(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A bug or an unexpected failure.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn invalid_argument(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument { field: field.into(), reason: reason.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
