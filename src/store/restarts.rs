//! Hot-restart history (the `restart_events` table): one row per Restart request, rewritten
//! by whichever process owns the restart at each phase transition.
//!
//! Ownership passes from the old process to the successor with the handover message, so the
//! row has one writer at a time and is saved whole. A cold start marks rows left unfinished
//! by a process that died as interrupted. The records are the model's
//! ([`crate::model::restart::RestartRecord`]); this file holds the backend-neutral trait
//! and query types, the SQL lives in each backend.

use uuid::Uuid;

use super::StoreError;
use super::audit::AuditRow;
use crate::model::restart::{DrainStats, Outcome, RestartRecord};

/// Restart bookkeeping.
#[async_trait::async_trait]
pub trait RestartStore {
    /// Inserts `record`, or replaces the stored row with the same id.
    async fn save_restart(
        &self,
        record: &RestartRecord,
        audit: Option<&AuditRow>,
    ) -> Result<(), StoreError>;

    /// The restart with `id`, if stored.
    async fn restart(&self, id: Uuid) -> Result<Option<RestartRecord>, StoreError>;

    /// The most recently requested restart, if any.
    async fn latest_restart(&self) -> Result<Option<RestartRecord>, StoreError>;

    /// One page of history, newest first by request time.
    async fn list_restarts(&self, query: &RestartQuery) -> Result<RestartPage, StoreError>;

    /// Marks every unfinished restart other than `keep` as interrupted at `at_ms` (phase
    /// `failed`, `failed_phase` = the phase it was in); returns their ids. For a cold start:
    /// no process is performing those restarts any more.
    async fn interrupt_restarts(
        &self,
        keep: Option<Uuid>,
        at_ms: i64,
    ) -> Result<Vec<Uuid>, StoreError>;

    /// Totals over the whole history, for the reconnection statistics.
    async fn restart_totals(&self) -> Result<RestartTotals, StoreError>;
}

/// Which restarts to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestartQuery {
    /// Page size (at least 1).
    pub limit: u32,
    /// Continue after this restart (from a previous page's `next`).
    pub after: Option<RestartCursor>,
    /// Only these outcomes; `None` in the list means "still running". Empty: all.
    pub outcomes: Vec<Option<Outcome>>,
}

/// A page of restarts and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct RestartPage {
    pub records: Vec<RestartRecord>,
    pub next: Option<RestartCursor>,
}

/// Position in the newest-first order: request time, then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartCursor {
    pub requested_ms: i64,
    pub id: Uuid,
}

/// Counts over every stored restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestartTotals {
    pub total: u64,
    pub succeeded: u64,
    pub rolled_back: u64,
    /// Failed or interrupted.
    pub failed: u64,
    /// Sums of the drains.
    pub drain: DrainStats,
    /// The most recently finished restart and when it finished.
    pub last_finished: Option<(Uuid, i64)>,
    /// First start recorded in this database (`server_runs`), if any.
    pub first_start_ms: Option<i64>,
}
