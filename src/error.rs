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

/// Most characters of a caller's value that an error message repeats.
pub const ECHO_MAX_CHARS: usize = 128;

/// A caller's value as an error message repeats it: the first [`ECHO_MAX_CHARS`] characters,
/// followed by `…` when it was longer, so that a huge value cannot make the answer too big
/// to send (gRPC status messages travel in a header).
pub fn echo(value: &str) -> String {
    match value.char_indices().nth(ECHO_MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_keeps_short_values_and_cuts_long_ones() {
        assert_eq!(echo("/var/backups/rebound.db"), "/var/backups/rebound.db");
        let long = "é".repeat(20_000);
        let echoed = echo(&long);
        assert_eq!(echoed.chars().count(), ECHO_MAX_CHARS + 1);
        assert!(echoed.ends_with("é…"));
        assert_eq!(echo(&long[..ECHO_MAX_CHARS * 2]), long[..ECHO_MAX_CHARS * 2]);
    }
}
