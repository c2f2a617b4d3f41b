//! PostgreSQL implementation of [`crate::store::AuditStore`] (placeholder: being written).
#![allow(unused_variables, unused_imports)]

use crate::store::audit::*;
use crate::store::StoreError;

use super::PostgresStore;

/// Store `event` on `conn` (a pooled connection, or an open transaction so that the row
/// commits with the change it describes) and return its id.
pub(super) async fn insert(
    conn: &mut sqlx::PgConnection,
    event: &AuditRow,
) -> Result<i64, StoreError> {
    sqlx::query_scalar(
        "INSERT INTO audit_events (at_ms, principal, role, peer, rpc, arguments, outcome, \
         code, message, trace_id, duration_us) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(event.at.timestamp_millis())
    .bind(&event.principal)
    .bind(&event.role)
    .bind(&event.peer)
    .bind(&event.rpc)
    .bind(&event.arguments)
    .bind(&event.outcome)
    .bind(&event.code)
    .bind(&event.message)
    .bind(&event.trace_id)
    .bind(i64::try_from(event.duration.as_micros()).unwrap_or(i64::MAX))
    .fetch_one(conn)
    .await
    .map_err(StoreError::query("insert_audit_event"))
}

#[async_trait::async_trait]
impl crate::store::AuditStore for PostgresStore {
    async fn insert_audit_event(&self, event: &AuditRow) -> Result<i64, StoreError> {
        todo!("postgres: audit")
    }

    async fn list_audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        todo!("postgres: audit")
    }

}
