//! Startup recovery reports, one per run that started, and the store's own integrity check.
//! Backend-neutral trait and records; the SQL lives in each backend.

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::{RunId, StoreError};

/// One stored report. The body is JSON the recovery module writes and reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReportRow {
    /// Assigned by the store on insert (ignored when inserting).
    pub id: i64,
    pub run_id: RunId,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    /// `none` | `clean` | `unclean` | `crashed`.
    pub previous_run: String,
    pub previous_run_id: Option<RunId>,
    pub report_json: String,
}

/// Recovery reports (the `recovery_reports` table) and integrity checks.
#[async_trait::async_trait]
pub trait RecoveryStore {
    async fn insert_recovery_report(&self, report: &RecoveryReportRow) -> Result<i64, StoreError>;

    /// Replaces the body of the stored report `id` (a check that finished after the report
    /// was first stored, such as the integrity scan run after SERVING).
    async fn update_recovery_report(&self, id: i64, report_json: &str) -> Result<(), StoreError>;

    /// The report with `id`, or the newest when `None`.
    async fn get_recovery_report(
        &self,
        id: Option<i64>,
    ) -> Result<Option<RecoveryReportRow>, StoreError>;

    /// Reports newest first, below `before_id`, optionally only those whose previous run
    /// ended as `previous_run`.
    async fn list_recovery_reports(
        &self,
        before_id: Option<i64>,
        limit: u32,
        previous_run: Option<&str>,
    ) -> Result<Vec<RecoveryReportRow>, StoreError>;

    /// Problems the database finds in its own files; empty when healthy.
    async fn integrity_problems(&self) -> Result<Vec<String>, StoreError>;
}
