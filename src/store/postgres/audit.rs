//! PostgreSQL implementation of [`AuditStore`]: the `audit_events` table, and adding an audit
//! row to another area's transaction so that it commits with the change it describes.

use sqlx::{AssertSqlSafe, PgConnection, Postgres, QueryBuilder, Transaction};
use tracing::instrument;

use super::PostgresStore;
use crate::store::audit::{AuditQuery, AuditRow, AuditStore};
use crate::store::rows::{AUDIT_COLUMNS, AUDIT_INSERT_COLUMNS, AuditEventRow, bind_audit};
use crate::store::{StoreError, listing};

/// Store `event` on `conn` (a pooled connection or an open transaction) and return its id.
pub(super) async fn insert(conn: &mut PgConnection, event: &AuditRow) -> Result<i64, StoreError> {
    let sql = format!(
        "INSERT INTO audit_events ({AUDIT_INSERT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id"
    );
    // Safe: built only from the fixed column list.
    bind_audit!(sqlx::query_scalar(AssertSqlSafe(sql)), event)
        .fetch_one(conn)
        .await
        .map_err(StoreError::query("insert_audit_event"))
}

/// Add the audit row of the call (if any) to `tx` and commit both.
pub(super) async fn commit_with(
    mut tx: Transaction<'static, Postgres>,
    audit: Option<&AuditRow>,
    op: &'static str,
) -> Result<(), StoreError> {
    if let Some(row) = audit {
        insert(&mut tx, row).await?;
    }
    tx.commit().await.map_err(StoreError::query(op))
}

#[async_trait::async_trait]
impl AuditStore for PostgresStore {
    #[instrument(skip_all, name = "store.insert_audit_event", fields(audit.rpc = %event.rpc))]
    async fn insert_audit_event(&self, event: &AuditRow) -> Result<i64, StoreError> {
        let inserted = async {
            let mut conn =
                self.pool().acquire().await.map_err(StoreError::query("insert_audit_event"))?;
            insert(&mut conn, event).await
        };
        self.writes().record(inserted.await)
    }

    #[instrument(skip_all, name = "store.list_audit_events")]
    async fn list_audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        const OP: &str = "list_audit_events";
        let mut sql: QueryBuilder<Postgres> = listing::audit_events(AUDIT_COLUMNS, query);
        let rows: Vec<AuditEventRow> =
            sql.build_query_as().fetch_all(self.pool()).await.map_err(StoreError::query(OP))?;
        rows.into_iter().map(|row| row.into_audit(OP)).collect()
    }
}
