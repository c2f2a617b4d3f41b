//! SQLite implementation of [`MaintenanceStore`]: `VACUUM INTO` backups and batched deletes.

use chrono::{DateTime, Utc};
use std::path::Path;
use tracing::instrument;

use super::SqliteStore;
use crate::store::maintenance::{MaintenanceStore, RetentionTable, expired_rows, retention_key};
use crate::store::{Fence, StoreError};

#[async_trait::async_trait]
impl MaintenanceStore for SqliteStore {
    #[instrument(skip_all, name = "store.backup", fields(backup.path = %dest.display()))]
    async fn backup(&self, dest: &Path) -> Result<u64, StoreError> {
        const OP: &str = "backup";
        let target = dest.to_str().ok_or_else(|| StoreError::Io {
            path: dest.to_owned(),
            source: std::io::Error::other("path is not valid UTF-8"),
        })?;
        // VACUUM INTO reads one consistent snapshot (WAL readers do not block writers) and
        // writes a compacted copy; it refuses to overwrite an existing file.
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        let meta = tokio::fs::metadata(dest)
            .await
            .map_err(|source| StoreError::Io { path: dest.to_owned(), source })?;
        Ok(meta.len())
    }

    #[instrument(skip_all, name = "store.count_expired", fields(retention.table = table.name()))]
    async fn count_expired(
        &self,
        table: RetentionTable,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {} WHERE {}", table.name(), expired_rows(table));
        // Safe: built only from the fixed table names and clauses above.
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(cutoff.timestamp_millis())
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("count_expired"))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    #[instrument(skip_all, name = "store.delete_expired", fields(retention.table = table.name()))]
    async fn delete_expired(
        &self,
        table: RetentionTable,
        cutoff: DateTime<Utc>,
        limit: u32,
        // One process, always the leader: no lease to check.
        _fence: Option<&Fence>,
    ) -> Result<u64, StoreError> {
        let (name, key) = (table.name(), retention_key(table));
        let sql = format!(
            "DELETE FROM {name} WHERE {key} IN (SELECT {key} FROM {name} WHERE {} LIMIT ?)",
            expired_rows(table)
        );
        // Safe: built only from the fixed table names and clauses above.
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(cutoff.timestamp_millis())
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("delete_expired"))?;
        Ok(done.rows_affected())
    }
}
