//! PostgreSQL implementation of [`MaintenanceStore`]: batched retention deletes, and a backup
//! that refuses with the `pg_dump` command to run instead.
//!
//! The device area has no foreign keys on PostgreSQL (`migrations/postgres/0012_*`): a batch of
//! old commands is deleted with its events, and its rollout members let go of it, in one
//! statement under the whole device area's lock ([`super::fleet_tx::BEGIN_WHOLE`]), so no row
//! is left pointing to a deleted command and no write transaction adds one meanwhile. Each
//! batch is one transaction; the leader's check their fence first ([`check_fence`]).
//!
//! A backup of a PostgreSQL database is PostgreSQL's job: `pg_dump` takes a consistent
//! snapshot while rebound serves, and the file lands where the operator runs it, not on the
//! rebound server's disk.

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use std::path::Path;
use tracing::instrument;

use super::PostgresStore;
use super::cluster::check_fence;
use super::fleet_tx::BEGIN_WHOLE;
use crate::store::maintenance::{MaintenanceStore, RetentionTable, expired_rows, retention_key};
use crate::store::{Fence, StoreError};

/// `expired_rows(table)` with PostgreSQL's placeholder for the cutoff.
fn expired(table: RetentionTable) -> String {
    expired_rows(table).replace('?', "$1")
}

#[async_trait::async_trait]
impl MaintenanceStore for PostgresStore {
    #[instrument(skip_all, name = "store.backup", fields(backup.path = %dest.display()))]
    async fn backup(&self, dest: &Path) -> Result<u64, StoreError> {
        Err(StoreError::NotSupported {
            op: "backup",
            backend: "PostgreSQL",
            hint: format!(
                "back up the database with pg_dump while rebound serves (password from \
                 PGPASSWORD or ~/.pgpass): pg_dump --format=custom --file={} '{}'",
                dest.display(),
                self.dump_url()
            ),
        })
    }

    #[instrument(skip_all, name = "store.count_expired", fields(retention.table = table.name()))]
    async fn count_expired(
        &self,
        table: RetentionTable,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {} WHERE {}", table.name(), expired(table));
        // Safe: built only from the fixed table names and clauses.
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(cutoff.timestamp_millis())
            .fetch_one(self.pool())
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
        fence: Option<&Fence>,
    ) -> Result<u64, StoreError> {
        let (name, key) = (table.name(), retention_key(table));
        // PostgreSQL has no DELETE … LIMIT: the batch is chosen by a subquery.
        let (begin, sql) = match table {
            RetentionTable::Commands => (BEGIN_WHOLE, expired_commands()),
            _ => (
                "BEGIN",
                format!(
                    "DELETE FROM {name} WHERE {key} IN (SELECT {key} FROM {name} WHERE {} LIMIT $2)",
                    expired(table)
                ),
            ),
        };
        let mut tx =
            self.pool().begin_with(begin).await.map_err(StoreError::query("delete_expired"))?;
        if let Some(fence) = fence {
            check_fence(&mut tx, fence).await?;
        }
        let done = async {
            // Safe: built only from the fixed table names and clauses.
            let deleted = sqlx::query(AssertSqlSafe(sql))
                .bind(cutoff.timestamp_millis())
                .bind(i64::from(limit))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(deleted)
        }
        .await
        .map_err(StoreError::query("delete_expired"));
        Ok(self.writes().record(done)?.rows_affected())
    }
}

/// The statement that deletes at most `$2` expired commands, their events, and their rollout
/// members' reference to them (what SQLite's `ON DELETE CASCADE` and `SET NULL` do); run
/// under the whole device area's lock.
fn expired_commands() -> String {
    format!(
        "WITH doomed AS (SELECT command_id FROM commands WHERE {} LIMIT $2), \
             events AS (DELETE FROM command_events \
                 WHERE command_id IN (SELECT command_id FROM doomed)), \
             members AS (UPDATE rollout_members SET command_id = NULL \
                 WHERE command_id IN (SELECT command_id FROM doomed)) \
         DELETE FROM commands WHERE command_id IN (SELECT command_id FROM doomed)",
        expired(RetentionTable::Commands)
    )
}
