//! Server runs: one row per `rebound serve` process, written at start and at a clean exit.
//!
//! A run without an end is how startup recovery knows the previous process crashed. This file
//! holds the backend-neutral trait and records; the SQL lives in each backend.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;

/// Run bookkeeping (the `server_runs` table).
#[async_trait::async_trait]
pub trait RunStore {
    /// Records the start of this server process and reports how the previous one ended.
    ///
    /// Call once per process, after [`open`] and before serving. A hot-restart successor calls
    /// it too (with the next `generation`), while its predecessor may still be draining: the
    /// predecessor's run then shows as [`RunEnd::Crashed`] until it calls [`RunStore::end_run`],
    /// and recovery must use `generation` and the handover to tell the two cases apart.
    async fn begin_run(&self, pid: u32, generation: u64) -> Result<RunRecord, StoreError>;

    /// Records the end of a run: `clean` when every acknowledged write is stored and the
    /// process is about to exit normally (the clean-shutdown marker), otherwise `false`
    /// (e.g. the drain timed out). A run that never calls this counts as crashed.
    async fn end_run(&self, run_id: RunId, clean: bool) -> Result<(), StoreError>;
}

/// Identifier of one server run (a row of `server_runs`); increases with every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The run just recorded by [`RunStore::begin_run`], and the one before it.
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
