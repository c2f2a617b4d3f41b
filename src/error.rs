//! The domain error: what went wrong, in terms every adapter (gRPC, CLI, MQTT) can map.
//!
//! Domain code returns [`Error`]; `api::status` is the single table that turns it into a
//! `tonic::Status`, and the CLI maps it to exit codes. Messages are lowercase, specific and
//! carry no trailing period, e.g. `client_uuid: not a UUID`. A message that quotes a value the
//! client sent quotes it through [`echo`], so no request can make an error arbitrarily long.

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
    /// A multi-step operation stopped at a step that failed (a rolling restart's replica);
    /// the message names the step and why.
    #[error("{0}")]
    Aborted(String),
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

/// Longest client value an error message quotes, in bytes (see [`echo`]).
pub const MAX_ECHO: usize = 128;

/// `value` as an error message may quote it: up to [`MAX_ECHO`] bytes, longer values cut at a
/// character boundary and ended with `…`. A status message travels in a header, so an
/// uncapped echo of a large field would turn INVALID_ARGUMENT into a transport error.
pub fn echo(value: &str) -> String {
    capped(value, MAX_ECHO)
}

/// `text` cut to at most `max` bytes (at a character boundary) plus `…` when it was longer.
pub fn capped(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    format!("{}…", &text[..text.floor_char_boundary(max)])
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_are_capped_at_a_character_boundary() {
        assert_eq!(echo("/usr/bin/rebound"), "/usr/bin/rebound");
        let long = "/".to_owned() + &"é".repeat(1000);
        let echoed = echo(&long);
        assert!(echoed.len() <= MAX_ECHO + '…'.len_utf8(), "{}", echoed.len());
        assert!(echoed.starts_with("/éé") && echoed.ends_with('…'), "{echoed}");
        assert_eq!(capped("abcdef", 3), "abc…");
        assert_eq!(capped("abc", 3), "abc");
    }
}
