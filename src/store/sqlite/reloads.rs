//! SQLite implementation of [`ReloadStore`]: the `config_reload_events` table.

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite};
use std::time::Duration;
use tracing::instrument;

use super::{SqliteStore, from_ms};
use crate::store::audit::AuditRow;
use crate::store::reloads::{
    ReloadEventQuery, ReloadEventRow, ReloadStatsRow, STATS_LATENCY_WINDOW,
};
use crate::store::{ReloadStore, StoreError};

const COLUMNS: &str = "id, at_ms, trigger, principal, result, version_before, version_after, \
    content_hash, diff_json, restart_required_json, validation_errors_json, duration_us, error, \
    failed_observer, source, source_path, restart_id";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    at_ms: i64,
    trigger: String,
    principal: Option<String>,
    result: String,
    version_before: Option<i64>,
    version_after: Option<i64>,
    content_hash: Option<String>,
    diff_json: Option<String>,
    restart_required_json: Option<String>,
    validation_errors_json: Option<String>,
    duration_us: i64,
    error: Option<String>,
    failed_observer: Option<String>,
    source: Option<String>,
    source_path: Option<String>,
    restart_id: Option<String>,
}

impl Row {
    fn into_event(self, op: &'static str) -> Result<ReloadEventRow, StoreError> {
        let unsigned =
            |v: Option<i64>| u64::try_from(v.unwrap_or(0)).map_err(|e| StoreError::decode(op, e));
        Ok(ReloadEventRow {
            id: self.id,
            at: from_ms(op, self.at_ms)?,
            trigger: self.trigger,
            principal: self.principal,
            result: self.result,
            version_before: unsigned(self.version_before)?,
            version_after: unsigned(self.version_after)?,
            content_hash: self.content_hash,
            diff_json: self.diff_json.unwrap_or_else(|| "[]".into()),
            restart_required_json: self.restart_required_json.unwrap_or_else(|| "[]".into()),
            validation_errors_json: self.validation_errors_json.unwrap_or_else(|| "[]".into()),
            duration: Duration::from_micros(unsigned(Some(self.duration_us))?),
            error: self.error,
            failed_observer: self.failed_observer,
            source: self.source.unwrap_or_default(),
            source_path: self.source_path,
            restart_id: self.restart_id,
        })
    }
}

fn signed(op: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|e| StoreError::encode(op, e))
}

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
        let duration_us =
            signed(OP, u64::try_from(event.duration.as_micros()).unwrap_or(u64::MAX))?;
        let id = sqlx::query_scalar(
            "INSERT INTO config_reload_events (id, at_ms, trigger, principal, result, \
                 version_before, version_after, content_hash, diff_json, restart_required_json, \
                 validation_errors_json, duration_us, error, failed_observer, source, source_path, \
                 restart_id) \
             SELECT COALESCE(MAX(id), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? \
             FROM config_reload_events RETURNING id",
        )
        .bind(event.at.timestamp_millis())
        .bind(&event.trigger)
        .bind(&event.principal)
        .bind(&event.result)
        .bind(signed(OP, event.version_before)?)
        .bind(signed(OP, event.version_after)?)
        .bind(&event.content_hash)
        .bind(&event.diff_json)
        .bind(&event.restart_required_json)
        .bind(&event.validation_errors_json)
        .bind(duration_us)
        .bind(&event.error)
        .bind(&event.failed_observer)
        .bind(&event.source)
        .bind(&event.source_path)
        .bind(&event.restart_id)
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
        let mut sql: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {COLUMNS} FROM config_reload_events WHERE 1 = 1"));
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
        let rows: Vec<Row> =
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
        let time = |ms: Option<i64>| ms.map(|ms| from_ms(OP, ms)).transpose();
        Ok(ReloadStatsRow {
            by_result: by_result
                .into_iter()
                .map(|(result, n)| (result, u64::try_from(n).unwrap_or(0)))
                .collect(),
            last: last.map(|(result, ms)| from_ms(OP, ms).map(|at| (result, at))).transpose()?,
            last_success_at: time(last_success_ms)?,
            oldest_at: time(oldest_ms)?,
            recent_durations: durations
                .into_iter()
                .map(|us| Duration::from_micros(u64::try_from(us).unwrap_or(0)))
                .collect(),
        })
    }
}
