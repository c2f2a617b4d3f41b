//! SQLite implementation of [`RunStore`]: the `server_runs` table.

use chrono::Utc;
use tracing::{Span, debug, instrument};

use super::{SERVER_VERSION, SqliteStore};
use crate::store::rows::RunRow;
use crate::store::{RunId, RunRecord, RunStore, StoreError};

#[async_trait::async_trait]
impl RunStore for SqliteStore {
    #[instrument(skip_all, name = "store.begin_run",
        fields(run.pid = pid, run.generation = generation, run.id))]
    async fn begin_run(&self, pid: u32, generation: u64) -> Result<RunRecord, StoreError> {
        const OP: &str = "begin_run";
        let stored_generation = i64::try_from(generation).map_err(|e| StoreError::encode(OP, e))?;
        let started_at = Utc::now();
        let mut tx = self.pool.begin().await.map_err(StoreError::query(OP))?;
        // Insert first: the transaction takes the write lock at its first statement, so two
        // processes starting at once serialize here instead of failing a read→write upgrade.
        let run_id: i64 = sqlx::query_scalar(
            "INSERT INTO server_runs \
                 (run_id, started_ms, stopped_ms, clean_shutdown, pid, generation, server_version) \
             SELECT COALESCE(MAX(run_id), 0) + 1, ?, NULL, 0, ?, ?, ? FROM server_runs \
             RETURNING run_id",
        )
        .bind(started_at.timestamp_millis())
        .bind(i64::from(pid))
        .bind(stored_generation)
        .bind(SERVER_VERSION)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        let previous: Option<RunRow> = sqlx::query_as(
            "SELECT run_id, started_ms, stopped_ms, clean_shutdown, pid, generation, server_version \
             FROM server_runs WHERE run_id < ? ORDER BY run_id DESC LIMIT 1",
        )
        .bind(run_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        tx.commit().await.map_err(StoreError::query(OP))?;

        Span::current().record("run.id", run_id);
        let previous = previous.map(|row| row.into_previous(OP)).transpose()?;
        debug!(previous = previous.as_ref().map_or("none", |p| p.end.as_str()), "run begun");
        Ok(RunRecord { run_id: RunId(run_id), started_at, pid, generation, previous })
    }

    #[instrument(skip_all, name = "store.end_run", fields(run.id = %run_id, run.clean = clean))]
    async fn end_run(&self, run_id: RunId, clean: bool) -> Result<(), StoreError> {
        const OP: &str = "end_run";
        let result = sqlx::query(
            "UPDATE server_runs SET stopped_ms = ?, clean_shutdown = ? WHERE run_id = ?",
        )
        .bind(Utc::now().timestamp_millis())
        .bind(i64::from(clean))
        .bind(run_id.0)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        if result.rows_affected() == 0 {
            return Err(StoreError::query(OP)(sqlx::Error::RowNotFound));
        }
        Ok(())
    }
}
