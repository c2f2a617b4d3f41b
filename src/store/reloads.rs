//! Config reload history: one row per reload attempt, whatever its result, so the history
//! survives restarts. Backend-neutral trait and records; the SQL lives in each backend.
//!
//! The store does not interpret results or diffs: the reload manager hands over the values
//! (diffs and errors as JSON text) and reads them back.

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::StoreError;
use super::audit::AuditRow;

/// One stored reload event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadEventRow {
    /// Assigned by the store on insert (ignored when inserting); increases with every event.
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `signal` | `rpc` | `watch` | `startup`.
    pub trigger: String,
    pub principal: Option<String>,
    /// `success` | `unchanged` | `validation_failed` | `file_not_found` | `io_error` |
    /// `already_in_progress` | `restart_required` | `rolled_back`.
    pub result: String,
    pub version_before: u64,
    pub version_after: u64,
    pub content_hash: Option<String>,
    /// JSON array of changed keys (secrets already redacted).
    pub diff_json: String,
    /// JSON array of the changed keys that need a restart.
    pub restart_required_json: String,
    /// JSON array of validation errors.
    pub validation_errors_json: String,
    pub duration: Duration,
    pub error: Option<String>,
    pub failed_observer: Option<String>,
    /// `file` | `inline` | `defaults`.
    pub source: String,
    pub source_path: Option<String>,
    pub restart_id: Option<String>,
}

/// Which events to list: newest first, keyset-paginated by id.
#[derive(Debug, Clone, Default)]
pub struct ReloadEventQuery {
    /// Only events with an id below this (the previous page's last id).
    pub before_id: Option<i64>,
    pub limit: u32,
    /// Only these results (empty = all).
    pub results: Vec<String>,
    /// Only this trigger.
    pub trigger: Option<String>,
}

/// Aggregates over the stored events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadStatsRow {
    /// Event count per result value.
    pub by_result: Vec<(String, u64)>,
    /// The newest event's result and time.
    pub last: Option<(String, DateTime<Utc>)>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub oldest_at: Option<DateTime<Utc>>,
    /// Durations of the most recent events (up to [`STATS_LATENCY_WINDOW`]), for percentiles.
    pub recent_durations: Vec<Duration>,
}

/// How many recent events the latency percentiles are computed over.
pub const STATS_LATENCY_WINDOW: u32 = 1000;

/// Reload history (the `config_reload_events` table).
#[async_trait::async_trait]
pub trait ReloadStore {
    /// Store an event and return its id.
    async fn insert_reload_event(
        &self,
        event: &ReloadEventRow,
        audit: Option<&AuditRow>,
    ) -> Result<i64, StoreError>;

    /// Events matching `query`, newest first.
    async fn list_reload_events(
        &self,
        query: &ReloadEventQuery,
    ) -> Result<Vec<ReloadEventRow>, StoreError>;

    /// Totals and recent latencies, over events at or after `since` when given.
    async fn reload_stats(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<ReloadStatsRow, StoreError>;
}
