//! SQLite implementation of [`ReloadStore`]: the `config_reload_events` table.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite};
use tracing::instrument;

use super::SqliteStore;
use crate::store::audit::AuditRow;
use crate::store::reloads::{
    ReloadEventQuery, ReloadEventRow, ReloadStatsRow, STATS_LATENCY_WINDOW,
};
use crate::store::rows::{
    RELOAD_COLUMNS, RELOAD_INSERT_COLUMNS, ReloadRow, ReloadStatsParts, bind_reload,
};
use crate::store::{ReloadStore, StoreError};

#[async_trait::async_trait]
impl ReloadStore for SqliteStore {
    #[instrument(skip_all, name = "store.insert_reload_event", fields(reload.result = %event.result))]
    async fn insert_reload_event(
        &self,
        event: &ReloadEventRow,
        audit: Option<&AuditRow>,
    ) -> Result<i64, StoreError> {
        const OP: &str = "insert_reload_event";
        let mut tx = self.pool.begin().await.map_err(StoreError::query(OP))?;
        let insert = sqlx::query_scalar(AssertSqlSafe(format!(
            "INSERT INTO config_reload_events (id, {RELOAD_INSERT_COLUMNS}) \
             SELECT COALESCE(MAX(id), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? \
             FROM config_reload_events RETURNING id"
        )));
        let id = bind_reload!(insert, event, OP)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::query(OP))?;
        super::audit::commit_with(tx, audit, OP).await?;
        Ok(id)
    }

    #[instrument(skip_all, name = "store.list_reload_events")]
    async fn list_reload_events(
        &self,
        query: &ReloadEventQuery,
    ) -> Result<Vec<ReloadEventRow>, StoreError> {
        const OP: &str = "list_reload_events";
        let mut sql: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {RELOAD_COLUMNS} FROM config_reload_events WHERE 1 = 1"
        ));
        if let Some(before) = query.before_id {
            sql.push(" AND id < ").push_bind(before);
        }
        if !query.results.is_empty() {
            sql.push(" AND result IN (");
            let mut list = sql.separated(", ");
            for result in &query.results {
                list.push_bind(result);
            }
            sql.push(")");
        }
        if let Some(trigger) = &query.trigger {
            sql.push(" AND trigger = ").push_bind(trigger);
        }
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(query.limit));
        let rows: Vec<ReloadRow> =
            sql.build_query_as().fetch_all(&self.pool).await.map_err(StoreError::query(OP))?;
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
            "SELECT result, COUNT(*) FROM config_reload_events WHERE at_ms >= ? \
             GROUP BY result ORDER BY result",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        let last: Option<(String, i64)> = sqlx::query_as(
            "SELECT result, at_ms FROM config_reload_events WHERE at_ms >= ? \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(since_ms)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        let (last_success_ms, oldest_ms): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT MAX(CASE WHEN result = 'success' THEN at_ms END), MIN(at_ms) \
             FROM config_reload_events WHERE at_ms >= ?",
        )
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        let durations: Vec<i64> = sqlx::query_scalar(
            "SELECT duration_us FROM config_reload_events WHERE at_ms >= ? \
             ORDER BY id DESC LIMIT ?",
        )
        .bind(since_ms)
        .bind(i64::from(STATS_LATENCY_WINDOW))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        ReloadStatsParts { by_result, last, last_success_ms, oldest_ms, durations }.into_stats(OP)
    }
}
