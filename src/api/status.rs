//! The one mapping from domain errors to gRPC status codes. No other code builds a
//! `tonic::Status` from a domain error.
//!
//! Store errors are answered by kind (see [`store_code`]) with a message naming the failed
//! operation and the kind, never the driver's text: that goes to the server log.

use crate::error::Error;
use crate::store::StoreErrorKind;
use tonic::{Code, Status};

/// Metadata key carrying the seconds to wait before retrying a rate-limited call.
pub const RETRY_AFTER: &str = "retry-after";

/// The status code a domain error is answered with.
pub fn code(err: &Error) -> Code {
    match err {
        Error::InvalidArgument { .. } => Code::InvalidArgument,
        Error::NotFound { .. } => Code::NotFound,
        Error::AlreadyExists(_) => Code::AlreadyExists,
        Error::FailedPrecondition(_) => Code::FailedPrecondition,
        Error::ResourceExhausted(_) | Error::RateLimited { .. } => Code::ResourceExhausted,
        Error::Unauthenticated(_) => Code::Unauthenticated,
        Error::PermissionDenied(_) => Code::PermissionDenied,
        Error::Unavailable(_) => Code::Unavailable,
        Error::Aborted(_) => Code::Aborted,
        Error::Store(err) => store_code(err.kind()),
        Error::Internal(_) => Code::Internal,
    }
}

/// The status code of a store failure: only a database that cannot be reached right now is
/// UNAVAILABLE (what clients retry); a constraint conflict is ABORTED; a full disk is
/// RESOURCE_EXHAUSTED; a statement over the database's limits is INVALID_ARGUMENT; an
/// operation the backend does not have (a file backup on PostgreSQL) is FAILED_PRECONDITION;
/// corrupt data, I/O errors and a read-only database are INTERNAL.
pub fn store_code(kind: StoreErrorKind) -> Code {
    match kind {
        StoreErrorKind::Unavailable | StoreErrorKind::Fenced => Code::Unavailable,
        StoreErrorKind::Conflict => Code::Aborted,
        StoreErrorKind::ResourceExhausted => Code::ResourceExhausted,
        StoreErrorKind::InvalidInput => Code::InvalidArgument,
        StoreErrorKind::Unsupported => Code::FailedPrecondition,
        StoreErrorKind::Corrupt | StoreErrorKind::Internal => Code::Internal,
    }
}

/// What the caller reads: the domain error's text, except for store errors, whose driver
/// text stays in the server log (an unsupported operation has none: its text says what to do
/// instead).
fn message(err: &Error) -> String {
    match err {
        Error::Store(store) if store.kind() == StoreErrorKind::Unsupported => store.to_string(),
        Error::Store(store) => format!("store {} failed: {}", store.op(), store.kind().describe()),
        other => other.to_string(),
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        let code = code(&err);
        if code == Code::Internal {
            tracing::error!(error = %err, "internal error");
        } else if let Error::Store(store) = &err {
            tracing::warn!(error = %store, kind = ?store.kind(), "store error");
        }
        let mut status = Status::new(code, message(&err));
        if let Error::RateLimited { retry_after, .. } = &err {
            // Whole seconds, rounded up, as HTTP's Retry-After.
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            if let Ok(value) = seconds.to_string().parse() {
                status.metadata_mut().insert(RETRY_AFTER, value);
            }
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_each_kind_to_its_code_with_a_precise_message() {
        let status = Status::from(Error::invalid_argument("client_uuid", "not a UUID"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "client_uuid: not a UUID");
        let status = Status::from(Error::NotFound { kind: "command", id: "42".into() });
        assert_eq!((status.code(), status.message()), (Code::NotFound, "command 42 not found"));
        assert_eq!(
            Status::from(Error::ResourceExhausted("x".into())).code(),
            Code::ResourceExhausted
        );
        assert_eq!(Status::from(Error::Unavailable("x".into())).code(), Code::Unavailable);
        assert_eq!(Status::from(Error::Unauthenticated("x".into())).code(), Code::Unauthenticated);
        assert_eq!(
            Status::from(Error::PermissionDenied("x".into())).code(),
            Code::PermissionDenied
        );
        let limited = Status::from(Error::RateLimited {
            what: "server restart".into(),
            retry_after: std::time::Duration::from_millis(40_200),
        });
        assert_eq!(limited.code(), Code::ResourceExhausted);
        assert_eq!(limited.message(), "server restart: rate limit reached; retry after 41s");
        assert_eq!(limited.metadata().get(RETRY_AFTER).unwrap(), "41");
    }

    #[test]
    fn store_errors_map_by_kind_without_the_driver_text() {
        let failure = |code| Error::Store(crate::store::sqlite_failure("apply_batch", code));
        let io = Status::from(failure(rusqlite::ffi::SQLITE_IOERR_WRITE));
        assert_eq!(io.code(), Code::Internal);
        assert_eq!(io.message(), "store apply_batch failed: internal database error");
        assert_eq!(
            Status::from(failure(rusqlite::ffi::SQLITE_FULL)).code(),
            Code::ResourceExhausted
        );
        assert_eq!(Status::from(failure(rusqlite::ffi::SQLITE_BUSY)).code(), Code::Unavailable);
        assert_eq!(
            Status::from(failure(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)).code(),
            Code::Aborted
        );
        assert_eq!(
            Status::from(failure(rusqlite::ffi::SQLITE_TOOBIG)).code(),
            Code::InvalidArgument
        );
        assert_eq!(Status::from(failure(rusqlite::ffi::SQLITE_CORRUPT)).code(), Code::Internal);
    }

    #[test]
    fn an_unsupported_store_operation_is_a_failed_precondition_that_says_what_to_do() {
        let unsupported = Error::Store(crate::store::StoreError::NotSupported {
            op: "backup",
            backend: "PostgreSQL",
            hint: "run pg_dump --format=custom --file=/b/r.dump postgres://u@h:5432/d".into(),
        });
        let status = Status::from(unsupported);
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(
            status.message(),
            "backup is not supported on PostgreSQL: \
             run pg_dump --format=custom --file=/b/r.dump postgres://u@h:5432/d"
        );
    }
}
