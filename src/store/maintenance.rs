//! Store maintenance: online backups and retention deletes. Backend-neutral trait and
//! records; the SQL lives in each backend.
//!
//! Retention only ever touches rows that are finished (terminal commands, completed restarts)
//! and older than the cutoff, a bounded batch at a time, so RPCs never wait long behind it.
//! The leader's deletes are fenced by its lease epoch.

use chrono::{DateTime, Utc};
use std::path::Path;

use super::{Fence, StoreError};

/// Tables whose old rows retention deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionTable {
    /// Commands in a terminal state, finished before the cutoff (their events go with them).
    Commands,
    /// Config reload events.
    ReloadEvents,
    /// Finished restart events.
    RestartEvents,
    /// Audit events.
    AuditEvents,
}

impl RetentionTable {
    pub const ALL: [RetentionTable; 4] =
        [Self::Commands, Self::ReloadEvents, Self::RestartEvents, Self::AuditEvents];

    /// The table's name in the schema.
    pub fn name(self) -> &'static str {
        match self {
            Self::Commands => "commands",
            Self::ReloadEvents => "config_reload_events",
            Self::RestartEvents => "restart_events",
            Self::AuditEvents => "audit_events",
        }
    }
}

/// Terminal command states (the contract's lifecycle).
const TERMINAL: &str = "('completed', 'failed', 'timed_out', 'expired', 'canceled', 'rejected')";

/// The `WHERE` clause selecting expired rows of `table`; the cutoff binds to the one `?`
/// (a backend with other placeholders replaces it).
pub(super) fn expired_rows(table: RetentionTable) -> String {
    match table {
        RetentionTable::Commands => format!("state IN {TERMINAL} AND finished_ms < ?"),
        RetentionTable::ReloadEvents | RetentionTable::AuditEvents => "at_ms < ?".to_owned(),
        RetentionTable::RestartEvents => "finished_ms IS NOT NULL AND finished_ms < ?".to_owned(),
    }
}

/// The column that identifies a row of `table`, for deleting a batch by key.
pub(super) fn retention_key(table: RetentionTable) -> &'static str {
    match table {
        RetentionTable::Commands => "command_id",
        RetentionTable::RestartEvents => "restart_id",
        RetentionTable::ReloadEvents | RetentionTable::AuditEvents => "id",
    }
}

/// Backups and retention.
#[async_trait::async_trait]
pub trait MaintenanceStore {
    /// Write a consistent copy of the whole database to `dest` (which must not exist, or be
    /// an empty file) while the store keeps serving. Returns the copy's size in bytes.
    async fn backup(&self, dest: &Path) -> Result<u64, StoreError>;

    /// How many rows of `table` retention would delete at `cutoff`.
    async fn count_expired(
        &self,
        table: RetentionTable,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Delete at most `limit` expired rows of `table` in one short transaction; returns how
    /// many were deleted (fewer than `limit` means none are left). With a `fence` (the
    /// leader's retention loop), the transaction first checks that it still holds the
    /// cluster lease, as [`super::FleetTx::fence`] does, and deletes nothing
    /// ([`StoreError::Fenced`]) when the lease moved on; a store without a cluster area
    /// (SQLite) has nothing to check.
    async fn delete_expired(
        &self,
        table: RetentionTable,
        cutoff: DateTime<Utc>,
        limit: u32,
        fence: Option<&Fence>,
    ) -> Result<u64, StoreError>;
}
