//! SQLite implementation of [`AuditStore`]: the `audit_events` table.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection, Transaction};
use tracing::instrument;

use super::SqliteStore;
use crate::store::audit::{AuditQuery, AuditRow, AuditStore};
use crate::store::rows::{AUDIT_COLUMNS, AuditEventRow, bind_audit};
use crate::store::{StoreError, listing};

/// Inserts an audit row with the next id; [`bind_audit`] binds its values in order.
const INSERT: &str = "INSERT INTO audit_events (id, at_ms, principal, role, peer, rpc, \
         arguments, outcome, code, message, trace_id, duration_us) \
     SELECT COALESCE(MAX(id), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM audit_events \
     RETURNING id";

/// Store `event` in the device area's writer transaction (it commits with the change it
/// describes) and return its id.
pub(super) fn insert_on_writer(
    conn: &rusqlite::Connection,
    event: &AuditRow,
) -> Result<i64, StoreError> {
    const OP: &str = "insert_audit_event";
    let mut statement = conn.prepare_cached(INSERT).map_err(StoreError::statement(OP))?;
    let mut binder = super::shapes::Binder::new(&mut statement);
    bind_audit!(binder, event).finish(OP)?;
    let mut rows = statement.raw_query();
    let row = rows.next().map_err(StoreError::statement(OP))?;
    row.ok_or_else(|| StoreError::decode(OP, "no id returned"))?
        .get(0)
        .map_err(StoreError::statement(OP))
}

/// Store `event` on `conn` (a pooled connection, or an open transaction so that the row
/// commits with the change it describes) and return its id.
pub(super) async fn insert(
    conn: &mut SqliteConnection,
    event: &AuditRow,
) -> Result<i64, StoreError> {
    const OP: &str = "insert_audit_event";
    bind_audit!(sqlx::query_scalar(INSERT), event)
        .fetch_one(conn)
        .await
        .map_err(StoreError::query(OP))
}

/// Add the audit row of the call (if any) to `tx` and commit both.
pub(super) async fn commit_with(
    mut tx: Transaction<'static, Sqlite>,
    audit: Option<&AuditRow>,
    op: &'static str,
) -> Result<(), StoreError> {
    if let Some(row) = audit {
        insert(&mut tx, row).await?;
    }
    tx.commit().await.map_err(StoreError::query(op))
}

#[async_trait::async_trait]
impl AuditStore for SqliteStore {
    #[instrument(skip_all, name = "store.insert_audit_event", fields(audit.rpc = %event.rpc))]
    async fn insert_audit_event(&self, event: &AuditRow) -> Result<i64, StoreError> {
        let mut conn =
            self.pool.acquire().await.map_err(StoreError::query("insert_audit_event"))?;
        insert(&mut conn, event).await
    }

    #[instrument(skip_all, name = "store.list_audit_events")]
    async fn list_audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        const OP: &str = "list_audit_events";
        let mut sql: QueryBuilder<Sqlite> = listing::audit_events(AUDIT_COLUMNS, query);
        let rows: Vec<AuditEventRow> =
            sql.build_query_as().fetch_all(&self.pool).await.map_err(StoreError::query(OP))?;
        rows.into_iter().map(|row| row.into_audit(OP)).collect()
    }
}
