//! PostgreSQL implementation of [`ReloadStore`]: the `config_reload_events` table.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Postgres, QueryBuilder};
use tracing::instrument;

use super::PostgresStore;
use crate::store::audit::AuditRow;
use crate::store::reloads::{
    ReloadEventQuery, ReloadEventRow, ReloadStatsRow, STATS_LATENCY_WINDOW,
};
use crate::store::rows::{
    RELOAD_COLUMNS, RELOAD_INSERT_COLUMNS, ReloadRow, ReloadStatsParts, bind_reload,
};
use crate::store::{ReloadStore, StoreError};

#[async_trait::async_trait]
impl ReloadStore for PostgresStore {
    #[instrument(skip_all, name = "store.insert_reload_event", fields(reload.result = %event.result))]
    async fn insert_reload_event(
        &self,
        event: &ReloadEventRow,
        audit: Option<&AuditRow>,
    ) -> Result<i64, StoreError> {
        const OP: &str = "insert_reload_event";
        let inserted = async {
            let mut tx = self.pool().begin().await.map_err(StoreError::query(OP))?;
            let sql = format!(
                "INSERT INTO config_reload_events ({RELOAD_INSERT_COLUMNS}) VALUES ($1, $2, $3, \
                 $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id"
            );
            // Safe: built only from the fixed column list.
            let insert = sqlx::query_scalar(AssertSqlSafe(sql));
            let id: i64 = bind_reload!(insert, event, OP)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;
            super::audit::commit_with(tx, audit, OP).await?;
            Ok(id)
        };
        self.writes().record(inserted.await)
    }

    #[instrument(skip_all, name = "store.list_reload_events")]
    async fn list_reload_events(
        &self,
        query: &ReloadEventQuery,
    ) -> Result<Vec<ReloadEventRow>, StoreError> {
        const OP: &str = "list_reload_events";
        let mut sql: QueryBuilder<Postgres> = QueryBuilder::new(format!(
            "SELECT {RELOAD_COLUMNS} FROM config_reload_events WHERE 1 = 1"
        ));
        if let Some(before) = query.before_id {
            sql.push(" AND id < ").push_bind(before);
        }
        if !query.results.is_empty() {
            sql.push(" AND result = ANY(").push_bind(query.results.clone()).push(")");
        }
        if let Some(trigger) = &query.trigger {
            sql.push(" AND trigger = ").push_bind(trigger.clone());
        }
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(query.limit));
        let rows: Vec<ReloadRow> =
            sql.build_query_as().fetch_all(self.pool()).await.map_err(StoreError::query(OP))?;
        rows.into_iter().map(|row| row.into_event(OP)).collect()
    }

    #[instrument(skip_all, name = "store.reload_stats")]
    async fn reload_stats(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<ReloadStatsRow, StoreError> {
        const OP: &str = "reload_stats";
        let since_ms = since.map_or(i64::MIN, |t| t.timestamp_millis());
        let by_result: Vec<(String, i64)> = sqlx::query_as(
            "SELECT result, COUNT(*) FROM config_reload_events WHERE at_ms >= $1 \
             GROUP BY result ORDER BY result COLLATE \"C\"",
        )
        .bind(since_ms)
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::query(OP))?;
        let last: Option<(String, i64)> = sqlx::query_as(
            "SELECT result, at_ms FROM config_reload_events WHERE at_ms >= $1 \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(since_ms)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::query(OP))?;
        let (last_success_ms, oldest_ms): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT MAX(at_ms) FILTER (WHERE result = 'success'), MIN(at_ms) \
             FROM config_reload_events WHERE at_ms >= $1",
        )
        .bind(since_ms)
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::query(OP))?;
        let durations: Vec<i64> = sqlx::query_scalar(
            "SELECT duration_us FROM config_reload_events WHERE at_ms >= $1 \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(since_ms)
        .bind(i64::from(STATS_LATENCY_WINDOW))
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::query(OP))?;
        ReloadStatsParts { by_result, last, last_success_ms, oldest_ms, durations }.into_stats(OP)
    }
}
