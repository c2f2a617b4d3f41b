//! Durable state: the `Store` trait, its backends and the schema migrations.
//!
//! The database is the source of truth for everything rebound has acknowledged (commands and
//! their events, rollouts, reload/restart history, audit, recovery reports). This module owns
//! the connection pool, the schema (`migrations/`, applied at [`open`]), the choice of durability
//! settings, and the `server_runs` table whose unfinished rows tell startup recovery that the
//! previous run crashed.
//!
//! It must not hold business rules (what a command state means, when a rollout aborts): those
//! live in the domain modules, which call the store through the backend-neutral [`Store`] trait
//! and never see SQL or a driver type. Nothing here imports tonic or the MQTT client.
//!
//! Backends: SQLite (`sqlite://PATH`, WAL; `sqlite.rs`), the default that needs no set-up, and
//! PostgreSQL (`postgres://…`; `postgres.rs`). The same conformance suite (`tests.rs`,
//! `fleet_tests.rs`, `progress_tests.rs`, `history_tests.rs`) runs against both.

pub mod audit;
pub mod changes;
pub mod clients;
pub mod cluster;
pub mod commands;
mod error;
mod listing;
pub mod maintenance;
mod postgres;
mod ratelimits;
pub mod recovery;
pub mod reloads;
mod restarts;
pub mod rollouts;
mod rows;
mod runs;
mod sqlite;
mod url;
pub mod writes;

#[cfg(test)]
#[path = "../../tests/support/postgres.rs"]
pub(crate) mod test_postgres;

#[cfg(test)]
pub(crate) mod fleet_tests;
#[cfg(test)]
mod history_tests;
#[cfg(test)]
mod progress_tests;
#[cfg(test)]
pub(crate) mod tests;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tracing::{Span, instrument};

pub use self::audit::AuditStore;
pub use self::clients::ClientStore;
pub use self::cluster::{ClusterStore, Fence};
pub use self::commands::{CommandStore, FleetTx};
#[cfg(test)]
pub(crate) use self::error::sqlite_failure;
pub use self::error::{StoreError, StoreErrorKind};
pub use self::maintenance::MaintenanceStore;
pub use self::postgres::PostgresStore;
pub use self::ratelimits::{Admission, RateLimitStore};
pub use self::recovery::RecoveryStore;
pub use self::reloads::ReloadStore;
pub use self::restarts::{RestartCursor, RestartPage, RestartQuery, RestartStore, RestartTotals};
pub use self::rollouts::RolloutStore;
pub use self::runs::{PreviousRun, RunEnd, RunId, RunRecord, RunStore};
pub use self::sqlite::SqliteStore;
pub use self::sqlite::offline::{self, DatabaseFile};
use self::url::StoreUrl;
pub use self::url::redact as redact_url;
pub use self::writes::{WriteFailure, WriteHealth};
use crate::model::durability::Durability;

/// The backend-neutral store interface: a few whole-store operations, plus one supertrait
/// per area of the schema (runs, and later commands, reloads, restarts, …). Each area lives
/// in its own file here (`runs.rs`: trait and records) and in `sqlite/` (`sqlite/runs.rs`:
/// the SQL), so areas grow independently. Implementations are cheap to share (`Arc<dyn Store>`)
/// and safe to call from any task.
#[async_trait::async_trait]
pub trait Store:
    RunStore
    + RestartStore
    + ReloadStore
    + MaintenanceStore
    + AuditStore
    + RecoveryStore
    + CommandStore
    + ClientStore
    + RolloutStore
    + RateLimitStore
    + Send
    + Sync
    + 'static
{
    /// Short backend name: `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Checks that the database answers, for the health report.
    async fn ping(&self) -> Result<StoreStatus, StoreError>;

    /// The failure of the latest write transaction, if it failed (see [`WriteHealth`]).
    fn write_failure(&self) -> Option<WriteFailure>;

    /// Writes and commits a transaction that changes nothing anyone reads, on the connection
    /// the device area writes on, and records its outcome like any write: how the health
    /// report finds out that failing writes work again.
    async fn probe_write(&self) -> Result<(), StoreError>;

    /// Store operations running right now (connections checked out of the pool): what a
    /// drain would wait for. Writes are committed before an RPC answers, so there is no
    /// queue of acknowledged-but-unwritten changes behind this number.
    fn busy(&self) -> usize;

    /// Changes other processes sharing the database commit, for the Watch streams; `None`
    /// when no other process can write to it (SQLite).
    fn change_feed(&self) -> Option<Box<dyn changes::ChangeFeed>> {
        None
    }

    /// The cluster area (replicas, the lease), on a store that several processes share;
    /// `None` on SQLite, where the one process is always the leader with epoch 0.
    fn cluster(&self) -> Option<&dyn ClusterStore> {
        None
    }

    /// Waits for in-flight queries and closes every connection. Later calls fail.
    async fn close(&self);
}

/// Store operations running right now on `pool` (connections checked out): [`Store::busy`]
/// of either backend.
pub(crate) fn pool_busy<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> usize {
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
    pool.size().saturating_sub(idle) as usize
}

/// Refuses a database whose schema (`found`, the latest applied migration) is newer than the
/// `supported` one this build carries: the check both backends make before migrating.
pub(crate) fn refuse_newer_schema(
    location: &str,
    found: i64,
    supported: i64,
) -> Result<(), StoreError> {
    if found > supported {
        return Err(StoreError::SchemaTooNew {
            location: location.to_owned(),
            found,
            supported,
            binary: env!("CARGO_PKG_VERSION"),
        });
    }
    Ok(())
}

/// Opens the store named by `url` (config `store.url`), creating the database if needed and
/// applying pending migrations.
///
/// Fails without leaving files behind when the URL is unusable, the data directory cannot be
/// created or written, or the migrations fail on a new database.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, &StoreOptions::default()).await
}

/// [`open`] with explicit options (config `store.*`).
#[instrument(skip_all, name = "store.open", fields(store.backend, store.location))]
pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    match url::parse(url)? {
        StoreUrl::Sqlite(target) => {
            Span::current().record("store.backend", "sqlite");
            Ok(Arc::new(SqliteStore::open(target, options.durability).await?))
        }
        StoreUrl::Postgres(url) => {
            let span = Span::current();
            span.record("store.backend", "postgres");
            span.record("store.location", url::redact(&url));
            Ok(Arc::new(PostgresStore::open(&url, options).await?))
        }
    }
}

/// The database file a `sqlite://` store URL names (relative paths to the working
/// directory), or `None` for an in-memory store. Touches no file.
pub fn sqlite_file(url: &str) -> Result<Option<std::path::PathBuf>, StoreError> {
    match url::parse(url)? {
        StoreUrl::Sqlite(url::SqliteTarget::File(path)) => Ok(Some(path)),
        StoreUrl::Sqlite(url::SqliteTarget::Memory) | StoreUrl::Postgres(_) => Ok(None),
    }
}

/// How a store is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// SQLite only: when a commit counts as done.
    pub durability: Durability,
    /// PostgreSQL only: a file holding the password (its first line), used instead of one in
    /// the URL.
    pub password_file: Option<std::path::PathBuf>,
    /// PostgreSQL only: how long start-up keeps trying to reach the database.
    pub connect_timeout: Duration,
    /// PostgreSQL only: this replica's id, set on every connection (`rebound.replica_id`) so
    /// that the commands it creates name it as their owner.
    pub replica_id: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            durability: Durability::default(),
            password_file: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            replica_id: None,
        }
    }
}

/// Default of `store.connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What [`Store::ping`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreStatus {
    /// Same as [`Store::backend`].
    pub backend: &'static str,
    /// Where the data is: a file path, `:memory:`, or a redacted URL.
    pub location: String,
    /// Version of the latest applied migration (`1` for `0001_init.sql`).
    pub schema_version: i64,
    /// Round trip of a trivial query.
    pub latency: Duration,
}
