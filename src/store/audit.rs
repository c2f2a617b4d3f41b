//! The audit log: one row per mutating RPC (and, with authentication, per denied call).
//! Backend-neutral trait and records; the SQL lives in each backend.

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::StoreError;

/// One audited call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Assigned by the store on insert (ignored when inserting).
    pub id: i64,
    pub at: DateTime<Utc>,
    pub principal: String,
    pub role: Option<String>,
    pub peer: String,
    /// Full method, `/rebound.v1.ConfigService/Reload`.
    pub rpc: String,
    /// JSON summary of the request, secrets redacted.
    pub arguments: String,
    /// `succeeded` | `failed` | `denied`.
    pub outcome: String,
    /// gRPC status code name.
    pub code: String,
    pub message: Option<String>,
    pub trace_id: Option<String>,
    pub duration: Duration,
}

/// Which audit events to list: newest first, keyset-paginated by id.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub before_id: Option<i64>,
    pub limit: u32,
    pub principal: Option<String>,
    /// Exact method (`/pkg.Service/Method`), or a prefix ending in `/` for a whole service.
    pub rpc: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
}

/// The `audit_events` table.
#[async_trait::async_trait]
pub trait AuditStore {
    /// Store an event and return its id.
    async fn insert_audit_event(&self, event: &AuditRow) -> Result<i64, StoreError>;

    /// Events matching `query`, newest first.
    async fn list_audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError>;
}
