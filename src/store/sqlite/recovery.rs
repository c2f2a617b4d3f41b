//! SQLite implementation of [`RecoveryStore`]: the `recovery_reports` table and
//! `PRAGMA quick_check`.

use sqlx::{QueryBuilder, Sqlite};
use tracing::instrument;

use super::SqliteStore;
use crate::store::recovery::{RecoveryReportRow, RecoveryStore};
use crate::store::rows::{RECOVERY_COLUMNS, RecoveryRow};
use crate::store::{StoreError, listing};

#[async_trait::async_trait]
impl RecoveryStore for SqliteStore {
    #[instrument(skip_all, name = "store.insert_recovery_report")]
    async fn insert_recovery_report(&self, report: &RecoveryReportRow) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO recovery_reports (id, run_id, started_ms, duration_us, previous_run, \
                 previous_run_id, report_json) \
             SELECT COALESCE(MAX(id), 0) + 1, ?, ?, ?, ?, ?, ? FROM recovery_reports RETURNING id",
        )
        .bind(report.run_id.0)
        .bind(report.started_at.timestamp_millis())
        .bind(i64::try_from(report.duration.as_micros()).unwrap_or(i64::MAX))
        .bind(&report.previous_run)
        .bind(report.previous_run_id.map(|id| id.0))
        .bind(&report.report_json)
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::query("insert_recovery_report"))
    }

    #[instrument(skip_all, name = "store.update_recovery_report", fields(report.id = id))]
    async fn update_recovery_report(&self, id: i64, report_json: &str) -> Result<(), StoreError> {
        const OP: &str = "update_recovery_report";
        let done = sqlx::query("UPDATE recovery_reports SET report_json = ? WHERE id = ?")
            .bind(report_json)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::query(OP)(sqlx::Error::RowNotFound));
        }
        Ok(())
    }

    #[instrument(skip_all, name = "store.get_recovery_report")]
    async fn get_recovery_report(
        &self,
        id: Option<i64>,
    ) -> Result<Option<RecoveryReportRow>, StoreError> {
        const OP: &str = "get_recovery_report";
        let mut sql: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {RECOVERY_COLUMNS} FROM recovery_reports"));
        match id {
            Some(id) => sql.push(" WHERE id = ").push_bind(id),
            None => sql.push(" ORDER BY id DESC LIMIT 1"),
        };
        let row: Option<RecoveryRow> =
            sql.build_query_as().fetch_optional(&self.pool).await.map_err(StoreError::query(OP))?;
        row.map(|row| row.into_report(OP)).transpose()
    }

    #[instrument(skip_all, name = "store.list_recovery_reports")]
    async fn list_recovery_reports(
        &self,
        before_id: Option<i64>,
        limit: u32,
        previous_run: Option<&str>,
    ) -> Result<Vec<RecoveryReportRow>, StoreError> {
        const OP: &str = "list_recovery_reports";
        let mut sql: QueryBuilder<Sqlite> =
            listing::recovery_reports(RECOVERY_COLUMNS, before_id, limit, previous_run);
        let rows: Vec<RecoveryRow> =
            sql.build_query_as().fetch_all(&self.pool).await.map_err(StoreError::query(OP))?;
        rows.into_iter().map(|row| row.into_report(OP)).collect()
    }

    #[instrument(skip_all, name = "store.integrity_check")]
    async fn integrity_problems(&self) -> Result<Vec<String>, StoreError> {
        let lines: Vec<String> = sqlx::query_scalar("PRAGMA quick_check")
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("integrity_check"))?;
        Ok(lines.into_iter().filter(|line| line != "ok").collect())
    }
}
