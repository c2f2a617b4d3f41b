//! The store's error type.
//!
//! One enum for every backend, so callers (the server's start-up path, the gRPC status mapping,
//! recovery) match on what went wrong rather than on which database said it. Each message
//! already contains its cause, so print it with `{}`; the cause is also kept as `source()` for
//! callers that need to inspect it.
//!
//! [`StoreError::kind`] says what kind of failure it was, in terms that do not depend on the
//! backend: the gRPC mapping (`api/status.rs`) answers each kind with its own code and never
//! sends the driver's text to a caller; the health report counts failed writes by it.

use std::path::PathBuf;

/// Everything the store layer can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store URL could not be parsed (config `store.url`). Any password in it is redacted.
    #[error("invalid store url {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// The URL names a backend this build does not have.
    #[error(
        "unsupported store backend {scheme:?}: rebound stores data in sqlite:// and \
         postgres:// databases"
    )]
    Unsupported { scheme: String },

    /// The database path or its directory cannot be created or written. Reported before the
    /// database is opened, and nothing is left behind.
    #[error("cannot use store path {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The database exists (or could be created) but cannot be opened or configured.
    #[error("cannot open store at {location}: {source}")]
    Open {
        location: String,
        #[source]
        source: sqlx::Error,
    },

    /// The schema migrations failed, or the database was migrated by a newer or different
    /// binary than this one.
    #[error("cannot migrate store at {location}: {source}")]
    Migrate {
        location: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    /// A query failed; `op` names the store operation (`begin_run`, `ping`, …).
    /// The database did not answer within `store.connect_timeout`, retried all along.
    #[error("cannot reach store at {location} (tried for {waited:?}): {source}")]
    Unreachable {
        location: String,
        waited: std::time::Duration,
        #[source]
        source: sqlx::Error,
    },

    /// The database was migrated by a newer rebound than this binary.
    #[error(
        "store at {location} has schema version {found}, newer than this rebound {binary} \
         supports (version {supported}): upgrade rebound, or restore a backup made by this version"
    )]
    SchemaTooNew { location: String, found: i64, supported: i64, binary: &'static str },

    /// The operation does not exist on this backend (a file backup on PostgreSQL); `hint`
    /// says what to do instead. Holds no driver text: the caller may read all of it.
    #[error("{op} is not supported on {backend}: {hint}")]
    NotSupported { op: &'static str, backend: &'static str, hint: String },

    #[error("store {op} failed: {source}")]
    Query {
        op: &'static str,
        #[source]
        source: sqlx::Error,
    },

    /// A leader's write was refused: `holder` no longer holds the lease at `epoch` (another
    /// replica took it over). Nothing was written.
    #[error("lease lost: {holder} no longer holds the lease at epoch {epoch}")]
    Fenced { holder: String, epoch: i64 },

    /// A statement on the device area's writer connection failed; `op` names the operation.
    #[error("store {op} failed: {source}")]
    Statement {
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },
}

/// What kind of failure a [`StoreError`] is, whatever the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The database cannot be reached right now: connection lost or closed, pool timeout,
    /// database busy or locked. The same call may succeed later.
    Unavailable,
    /// A constraint refused the write (a concurrent writer got there first).
    Conflict,
    /// The disk or the database is full.
    ResourceExhausted,
    /// A stored row does not decode, or the file is damaged or not a database.
    Corrupt,
    /// The statement cannot run with these values (a value too large for its column, a
    /// statement over the backend's limits).
    InvalidInput,
    /// The operation does not exist on this backend; another tool does it (see the message).
    Unsupported,
    /// This replica lost the lease: a leader's write was refused (see [`StoreError::Fenced`]).
    Fenced,
    /// Anything else: an I/O error, a read-only or unopenable file, a failed migration, a bug.
    /// Retrying the same call does not help.
    Internal,
}

impl StoreErrorKind {
    /// Short lowercase description, safe to show a caller.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Unavailable => "database unavailable",
            Self::Conflict => "conflicting concurrent write",
            Self::ResourceExhausted => "database or disk full",
            Self::Corrupt => "stored data is corrupt",
            Self::InvalidInput => "value or statement over the database's limits",
            Self::Unsupported => "not supported by this store backend",
            Self::Fenced => "this replica no longer holds the lease",
            Self::Internal => "internal database error",
        }
    }
}

impl StoreError {
    /// What kind of failure this is (see [`StoreErrorKind`]).
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            Self::InvalidUrl { .. }
            | Self::Unsupported { .. }
            | Self::Io { .. }
            | Self::SchemaTooNew { .. } => StoreErrorKind::Internal,
            Self::Unreachable { .. } => StoreErrorKind::Unavailable,
            Self::NotSupported { .. } => StoreErrorKind::Unsupported,
            Self::Fenced { .. } => StoreErrorKind::Fenced,
            Self::Migrate { source, .. } => match source {
                sqlx::migrate::MigrateError::Execute(source) => sqlx_kind(source),
                _ => StoreErrorKind::Internal,
            },
            Self::Open { source, .. } | Self::Query { source, .. } => sqlx_kind(source),
            Self::Statement { source, .. } => rusqlite_kind(source),
        }
    }

    /// The store operation that failed (`begin_run`, `backup`, …), when it was a query.
    pub fn op(&self) -> &'static str {
        match self {
            Self::Query { op, .. } | Self::Statement { op, .. } | Self::NotSupported { op, .. } => {
                op
            }
            Self::Migrate { .. } => "migrate",
            Self::Open { .. } | Self::Io { .. } | Self::Unreachable { .. } => "open",
            Self::SchemaTooNew { .. } => "migrate",
            Self::InvalidUrl { .. } | Self::Unsupported { .. } => "url",
            Self::Fenced { .. } => "tx.fence",
        }
    }

    /// Wraps a query error with the name of the operation it belongs to.
    pub(crate) fn query(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Query { op, source }
    }

    /// Wraps an error of the writer connection with the name of the operation it belongs to.
    pub(crate) fn statement(op: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        move |source| StoreError::Statement { op, source }
    }

    /// A value could not be written because it does not fit its column.
    pub(crate) fn encode(op: &'static str, err: impl Into<sqlx::error::BoxDynError>) -> StoreError {
        StoreError::Query { op, source: sqlx::Error::Encode(err.into()) }
    }

    /// A stored value does not fit its Rust type (a corrupt or foreign row).
    pub(crate) fn decode(op: &'static str, err: impl Into<sqlx::error::BoxDynError>) -> StoreError {
        StoreError::Query { op, source: sqlx::Error::Decode(err.into()) }
    }
}

fn sqlx_kind(err: &sqlx::Error) -> StoreErrorKind {
    match err {
        sqlx::Error::Database(db)
            if db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() =>
        {
            db.code().map_or(StoreErrorKind::Internal, |code| postgres_kind(&code))
        }
        sqlx::Error::Database(db) => match db.kind() {
            sqlx::error::ErrorKind::Other => db
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .map_or(StoreErrorKind::Internal, sqlite_kind),
            _ => StoreErrorKind::Conflict,
        },
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreErrorKind::Unavailable,
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => StoreErrorKind::Corrupt,
        sqlx::Error::Encode(_) => StoreErrorKind::InvalidInput,
        _ => StoreErrorKind::Internal,
    }
}

/// The kind of a PostgreSQL error, from its SQLSTATE (PostgreSQL manual, appendix A).
pub(super) fn postgres_kind(sqlstate: &str) -> StoreErrorKind {
    match sqlstate {
        // lock_not_available, admin/crash shutdown, cannot_connect_now, too_many_connections
        "55P03" | "57P01" | "57P02" | "57P03" | "53300" => StoreErrorKind::Unavailable,
        "XX001" | "XX002" => StoreErrorKind::Corrupt,
        _ => match &sqlstate[..sqlstate.len().min(2)] {
            // connection exception; transaction rollback (serialization failure, deadlock):
            // the same request may succeed when tried again
            "08" | "40" => StoreErrorKind::Unavailable,
            "23" => StoreErrorKind::Conflict,
            "53" => StoreErrorKind::ResourceExhausted,
            "22" | "54" => StoreErrorKind::InvalidInput,
            _ => StoreErrorKind::Internal,
        },
    }
}

fn rusqlite_kind(err: &rusqlite::Error) -> StoreErrorKind {
    match err {
        rusqlite::Error::SqliteFailure(failure, _) => sqlite_kind(failure.extended_code),
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..) => StoreErrorKind::Corrupt,
        rusqlite::Error::ToSqlConversionFailure(_) => StoreErrorKind::InvalidInput,
        _ => StoreErrorKind::Internal,
    }
}

/// Classifies an SQLite result code (primary or extended). I/O errors and a read-only
/// database are `Internal`: retrying the call does not help until an operator acts.
fn sqlite_kind(code: i32) -> StoreErrorKind {
    use rusqlite::ffi;
    match code & 0xff {
        ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED => StoreErrorKind::Unavailable,
        ffi::SQLITE_CONSTRAINT => StoreErrorKind::Conflict,
        ffi::SQLITE_FULL => StoreErrorKind::ResourceExhausted,
        ffi::SQLITE_CORRUPT | ffi::SQLITE_NOTADB => StoreErrorKind::Corrupt,
        ffi::SQLITE_TOOBIG | ffi::SQLITE_RANGE => StoreErrorKind::InvalidInput,
        _ => StoreErrorKind::Internal,
    }
}

/// A failure of operation `op` with SQLite result `code`, as the writer connection reports it.
#[cfg(test)]
pub(crate) fn sqlite_failure(op: &'static str, code: i32) -> StoreError {
    let failure = rusqlite::ffi::Error::new(code);
    let source = rusqlite::Error::SqliteFailure(failure, Some("driver text".into()));
    StoreError::statement(op)(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes_map_to_kinds() {
        use rusqlite::ffi;
        for (code, kind) in [
            (ffi::SQLITE_BUSY, StoreErrorKind::Unavailable),
            (ffi::SQLITE_LOCKED_SHAREDCACHE, StoreErrorKind::Unavailable),
            (ffi::SQLITE_CONSTRAINT_UNIQUE, StoreErrorKind::Conflict),
            (ffi::SQLITE_FULL, StoreErrorKind::ResourceExhausted),
            (ffi::SQLITE_CORRUPT, StoreErrorKind::Corrupt),
            (ffi::SQLITE_NOTADB, StoreErrorKind::Corrupt),
            (ffi::SQLITE_TOOBIG, StoreErrorKind::InvalidInput),
            (ffi::SQLITE_IOERR_WRITE, StoreErrorKind::Internal),
            (ffi::SQLITE_READONLY, StoreErrorKind::Internal),
            (ffi::SQLITE_ERROR, StoreErrorKind::Internal),
        ] {
            assert_eq!(sqlite_failure("test", code).kind(), kind, "code {code}");
        }
    }

    #[test]
    fn driver_conditions_map_to_kinds() {
        let query = |source| StoreError::query("test")(source);
        assert_eq!(query(sqlx::Error::PoolTimedOut).kind(), StoreErrorKind::Unavailable);
        assert_eq!(query(sqlx::Error::PoolClosed).kind(), StoreErrorKind::Unavailable);
        assert_eq!(StoreError::decode("test", "bad row").kind(), StoreErrorKind::Corrupt);
        assert_eq!(StoreError::encode("test", "too big").kind(), StoreErrorKind::InvalidInput);
        assert_eq!(query(sqlx::Error::RowNotFound).kind(), StoreErrorKind::Internal);
    }

    #[test]
    fn postgres_sqlstates_map_to_kinds() {
        for (code, kind) in [
            ("08006", StoreErrorKind::Unavailable),
            ("57P01", StoreErrorKind::Unavailable),
            ("40001", StoreErrorKind::Unavailable),
            ("40P01", StoreErrorKind::Unavailable),
            ("53300", StoreErrorKind::Unavailable),
            ("23505", StoreErrorKind::Conflict),
            ("23503", StoreErrorKind::Conflict),
            ("53100", StoreErrorKind::ResourceExhausted),
            ("22001", StoreErrorKind::InvalidInput),
            ("54000", StoreErrorKind::InvalidInput),
            ("XX001", StoreErrorKind::Corrupt),
            ("42P01", StoreErrorKind::Internal),
            ("28P01", StoreErrorKind::Internal),
        ] {
            assert_eq!(postgres_kind(code), kind, "{code}");
        }
    }
}
