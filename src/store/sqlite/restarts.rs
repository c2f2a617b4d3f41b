//! SQLite implementation of [`RestartStore`]: the `restart_events` table (0001 + 0003).

use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite};
use tracing::instrument;
use uuid::Uuid;

use super::SqliteStore;
use crate::model::restart::RestartRecord;
use crate::store::audit::AuditRow;
use crate::store::rows::{
    LAST_FINISHED_RESTART, RESTART_COLUMNS, RestartRow, RestartSums, bind_restart, restart_ids,
    restart_page,
};
use crate::store::{RestartPage, RestartQuery, RestartStore, RestartTotals, StoreError, listing};

#[async_trait::async_trait]
impl RestartStore for SqliteStore {
    #[instrument(skip_all, name = "store.save_restart", fields(restart.id = %record.id, restart.phase = %record.phase))]
    async fn save_restart(
        &self,
        record: &RestartRecord,
        audit: Option<&AuditRow>,
    ) -> Result<(), StoreError> {
        const OP: &str = "save_restart";
        let mut tx = self.pool.begin().await.map_err(StoreError::query(OP))?;
        let insert = sqlx::query(AssertSqlSafe(format!(
            "INSERT OR REPLACE INTO restart_events ({RESTART_COLUMNS}, updated_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )));
        bind_restart!(insert, record, OP).execute(&mut *tx).await.map_err(StoreError::query(OP))?;
        super::audit::commit_with(tx, audit, OP).await
    }

    #[instrument(skip_all, name = "store.restart", fields(restart.id = %id))]
    async fn restart(&self, id: Uuid) -> Result<Option<RestartRecord>, StoreError> {
        const OP: &str = "restart";
        let row: Option<RestartRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {RESTART_COLUMNS} FROM restart_events WHERE restart_id = ?"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        row.map(|row| row.into_record(OP)).transpose()
    }

    #[instrument(skip_all, name = "store.latest_restart")]
    async fn latest_restart(&self) -> Result<Option<RestartRecord>, StoreError> {
        let page =
            self.list_restarts(&RestartQuery { limit: 1, ..RestartQuery::default() }).await?;
        Ok(page.records.into_iter().next())
    }

    #[instrument(skip_all, name = "store.list_restarts", fields(limit = query.limit))]
    async fn list_restarts(&self, query: &RestartQuery) -> Result<RestartPage, StoreError> {
        const OP: &str = "list_restarts";
        let limit = query.limit.max(1);
        let mut sql: QueryBuilder<Sqlite> = listing::restarts(RESTART_COLUMNS, query, limit);
        let rows: Vec<RestartRow> =
            sql.build_query_as().fetch_all(&self.pool).await.map_err(StoreError::query(OP))?;
        restart_page(rows, limit, OP)
    }

    #[instrument(skip_all, name = "store.interrupt_restarts")]
    async fn interrupt_restarts(
        &self,
        keep: Option<Uuid>,
        at_ms: i64,
    ) -> Result<Vec<Uuid>, StoreError> {
        const OP: &str = "interrupt_restarts";
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE restart_events SET failed_phase = phase, phase = 'failed', \
                 outcome = 'interrupted', generation = 0, finished_ms = ?, updated_ms = ?, \
                 error = 'the process performing the restart exited before it finished' \
             WHERE outcome IS NULL AND restart_id <> ? RETURNING restart_id",
        )
        .bind(at_ms)
        .bind(at_ms)
        .bind(keep.map(|id| id.to_string()).unwrap_or_default())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        restart_ids(&ids, OP)
    }

    #[instrument(skip_all, name = "store.restart_totals")]
    async fn restart_totals(&self) -> Result<RestartTotals, StoreError> {
        const OP: &str = "restart_totals";
        let sums: RestartSums = sqlx::query_as(
            "SELECT COUNT(*) AS total, \
                 COALESCE(SUM(outcome = 'succeeded'), 0) AS succeeded, \
                 COALESCE(SUM(outcome = 'rolled_back'), 0) AS rolled_back, \
                 COALESCE(SUM(outcome IN ('failed', 'interrupted')), 0) AS failed, \
                 COALESCE(SUM(connections_drained), 0) AS connections, \
                 COALESCE(SUM(streams_reconnected), 0) AS streams, \
                 COALESCE(SUM(drain_rpcs_completed), 0) AS completed, \
                 COALESCE(SUM(drain_rpcs_canceled), 0) AS canceled, \
                 (SELECT MIN(started_ms) FROM server_runs) AS first_start_ms \
             FROM restart_events",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        let last: Option<(String, i64)> = sqlx::query_as(LAST_FINISHED_RESTART)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        sums.into_totals(last, OP)
    }
}
