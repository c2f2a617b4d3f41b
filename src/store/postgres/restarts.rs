//! PostgreSQL implementation of [`RestartStore`]: the `restart_events` table.

use sqlx::{AssertSqlSafe, Postgres, QueryBuilder};
use tracing::instrument;
use uuid::Uuid;

use super::PostgresStore;
use crate::model::restart::RestartRecord;
use crate::store::audit::AuditRow;
use crate::store::rows::{
    LAST_FINISHED_RESTART, RESTART_COLUMNS, RestartRow, RestartSums, bind_restart, restart_ids,
    restart_page,
};
use crate::store::{RestartPage, RestartQuery, RestartStore, RestartTotals, StoreError, listing};

/// [`RESTART_COLUMNS`] as read on PostgreSQL: the INTEGER flag widened to the row's `i64`.
fn select_columns() -> String {
    RESTART_COLUMNS.replace("preserve_state", "preserve_state::BIGINT AS preserve_state")
}

/// The whole row; a save replaces every column but the id.
fn upsert() -> String {
    let values = (1..=28).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
    let updates = RESTART_COLUMNS
        .split(',')
        .map(str::trim)
        .chain(["updated_ms"])
        .filter(|column| *column != "restart_id")
        .map(|column| format!("{column} = EXCLUDED.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO restart_events ({RESTART_COLUMNS}, updated_ms) VALUES ({values}) \
         ON CONFLICT (restart_id) DO UPDATE SET {updates}"
    )
}

#[async_trait::async_trait]
impl RestartStore for PostgresStore {
    #[instrument(skip_all, name = "store.save_restart", fields(restart.id = %record.id, restart.phase = %record.phase))]
    async fn save_restart(
        &self,
        record: &RestartRecord,
        audit: Option<&AuditRow>,
    ) -> Result<(), StoreError> {
        const OP: &str = "save_restart";
        let saved = async {
            let mut tx = self.pool().begin().await.map_err(StoreError::query(OP))?;
            // Safe: built only from the fixed column list.
            let insert = sqlx::query(AssertSqlSafe(upsert()));
            bind_restart!(insert, record, OP)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;
            super::audit::commit_with(tx, audit, OP).await
        };
        self.writes().record(saved.await)
    }

    #[instrument(skip_all, name = "store.restart", fields(restart.id = %id))]
    async fn restart(&self, id: Uuid) -> Result<Option<RestartRecord>, StoreError> {
        const OP: &str = "restart";
        let sql = format!("SELECT {} FROM restart_events WHERE restart_id = $1", select_columns());
        let row: Option<RestartRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(self.pool())
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
        let mut sql: QueryBuilder<Postgres> = listing::restarts(&select_columns(), query, limit);
        let rows: Vec<RestartRow> =
            sql.build_query_as().fetch_all(self.pool()).await.map_err(StoreError::query(OP))?;
        restart_page(rows, limit, OP)
    }

    #[instrument(skip_all, name = "store.interrupt_restarts")]
    async fn interrupt_restarts(
        &self,
        keep: Option<Uuid>,
        at_ms: i64,
    ) -> Result<Vec<Uuid>, StoreError> {
        const OP: &str = "interrupt_restarts";
        let ids: Result<Vec<String>, _> = sqlx::query_scalar(
            "UPDATE restart_events SET failed_phase = phase, phase = 'failed', \
                 outcome = 'interrupted', generation = 0, finished_ms = $1, updated_ms = $1, \
                 error = 'the process performing the restart exited before it finished' \
             WHERE outcome IS NULL AND restart_id <> $2 RETURNING restart_id",
        )
        .bind(at_ms)
        .bind(keep.map(|id| id.to_string()).unwrap_or_default())
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::query(OP));
        restart_ids(&self.writes().record(ids)?, OP)
    }

    #[instrument(skip_all, name = "store.restart_totals")]
    async fn restart_totals(&self) -> Result<RestartTotals, StoreError> {
        const OP: &str = "restart_totals";
        let sums: RestartSums = sqlx::query_as(
            "SELECT COUNT(*) AS total, \
                 COUNT(*) FILTER (WHERE outcome = 'succeeded') AS succeeded, \
                 COUNT(*) FILTER (WHERE outcome = 'rolled_back') AS rolled_back, \
                 COUNT(*) FILTER (WHERE outcome IN ('failed', 'interrupted')) AS failed, \
                 COALESCE(SUM(connections_drained), 0)::BIGINT AS connections, \
                 COALESCE(SUM(streams_reconnected), 0)::BIGINT AS streams, \
                 COALESCE(SUM(drain_rpcs_completed), 0)::BIGINT AS completed, \
                 COALESCE(SUM(drain_rpcs_canceled), 0)::BIGINT AS canceled, \
                 (SELECT MIN(started_ms) FROM server_runs) AS first_start_ms \
             FROM restart_events",
        )
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::query(OP))?;
        let last: Option<(String, i64)> = sqlx::query_as(LAST_FINISHED_RESTART)
            .fetch_optional(self.pool())
            .await
            .map_err(StoreError::query(OP))?;
        sums.into_totals(last, OP)
    }
}
