//! The store's error type.
//!
//! One enum for every backend, so callers (the server's start-up path, the gRPC status mapping,
//! recovery) match on what went wrong rather than on which database said it. Each message
//! already contains its cause, so print it with `{}`; the cause is also kept as `source()` for
//! callers that need to inspect it.

use std::path::PathBuf;

/// Everything the store layer can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store URL could not be parsed (config `store.url`). Any password in it is redacted.
    #[error("invalid store url {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// The URL names a backend this build does not have.
    #[error(
        "unsupported store backend {scheme:?}: this build supports sqlite:// only \
         (postgres:// is not implemented yet)"
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
    #[error("store {op} failed: {source}")]
    Query {
        op: &'static str,
        #[source]
        source: sqlx::Error,
    },

    /// A statement on the device area's writer connection failed; `op` names the operation.
    #[error("store {op} failed: {source}")]
    Statement {
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
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
