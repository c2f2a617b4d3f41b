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
//! Backends: SQLite (`sqlite://PATH`, WAL) now; PostgreSQL (`postgres://…`) is planned and
//! refused with [`StoreError::Unsupported`] until it exists. The same test suite
//! (`tests.rs`) is meant to run against every backend.

mod error;
mod sqlite;
mod url;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::{Span, instrument};

pub use self::error::StoreError;
pub use self::sqlite::SqliteStore;
use self::url::StoreUrl;

/// The backend-neutral store interface. Implementations are cheap to share (`Arc<dyn Store>`)
/// and safe to call from any task.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Short backend name: `"sqlite"` (later `"postgres"`).
    fn backend(&self) -> &'static str;

    /// Checks that the database answers, for the health report.
    async fn ping(&self) -> Result<StoreStatus, StoreError>;

    /// Records the start of this server process and reports how the previous one ended.
    ///
    /// Call once per process, after [`open`] and before serving. A hot-restart successor calls
    /// it too (with the next `generation`), while its predecessor may still be draining: the
    /// predecessor's run then shows as [`RunEnd::Crashed`] until it calls [`Store::end_run`],
    /// and recovery must use `generation` and the handover to tell the two cases apart.
    async fn begin_run(&self, pid: u32, generation: u64) -> Result<RunRecord, StoreError>;

    /// Records the end of a run: `clean` when every acknowledged write is stored and the
    /// process is about to exit normally (the clean-shutdown marker), otherwise `false`
    /// (e.g. the drain timed out). A run that never calls this counts as crashed.
    async fn end_run(&self, run_id: RunId, clean: bool) -> Result<(), StoreError>;

    /// Waits for in-flight queries and closes every connection. Later calls fail.
    async fn close(&self);
}

/// Opens the store named by `url` (config `store.url`), creating the database if needed and
/// applying pending migrations.
///
/// Fails without leaving files behind when the URL is unusable, the data directory cannot be
/// created or written, or the migrations fail on a new database.
#[instrument(skip_all, name = "store.open", fields(store.backend, store.location))]
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match url::parse(url)? {
        StoreUrl::Sqlite(target) => {
            Span::current().record("store.backend", "sqlite");
            Ok(Arc::new(SqliteStore::open(target).await?))
        }
    }
}

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

/// Identifier of one server run (a row of `server_runs`); increases with every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The run just recorded by [`Store::begin_run`], and the one before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    pub run_id: RunId,
    pub started_at: DateTime<Utc>,
    pub pid: u32,
    pub generation: u64,
    /// The most recent earlier run; `None` on a fresh database.
    pub previous: Option<PreviousRun>,
}

/// A run that started before the current one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreviousRun {
    pub run_id: RunId,
    pub started_at: DateTime<Utc>,
    pub pid: u32,
    pub generation: u64,
    /// Crate version of the binary that ran it.
    pub server_version: String,
    pub end: RunEnd,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunEnd {
    /// `end_run(clean = true)`: shut down in order.
    Clean { stopped_at: DateTime<Utc> },
    /// `end_run(clean = false)`: stopped, but not in order (e.g. the drain timed out).
    Unclean { stopped_at: DateTime<Utc> },
    /// Never recorded its end: killed, crashed, or (during a handover) still running.
    Crashed,
}

impl RunEnd {
    /// `"clean"`, `"unclean"` or `"crashed"`, as stored in `recovery_reports.previous_run`.
    pub fn as_str(&self) -> &'static str {
        match self {
            RunEnd::Clean { .. } => "clean",
            RunEnd::Unclean { .. } => "unclean",
            RunEnd::Crashed => "crashed",
        }
    }
}
