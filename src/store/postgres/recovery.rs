//! PostgreSQL implementation of [`RecoveryStore`]: the `recovery_reports` table, and the
//! consistency checks that apply to a PostgreSQL database.
//!
//! Page-level integrity (torn or corrupt pages, broken indexes) is PostgreSQL's own: data
//! checksums (`initdb --data-checksums`) and the `amcheck` extension report it, not rebound.
//! What rebound checks here is what its own bookkeeping must keep true across crashes: each
//! rollout's progress counters against its members, and each member's command against the
//! member.

use sqlx::{AssertSqlSafe, Postgres, QueryBuilder};
use tracing::instrument;

use super::PostgresStore;
use crate::model::commands::CommandState;
use crate::store::recovery::{RecoveryReportRow, RecoveryStore};
use crate::store::rows::{RECOVERY_COLUMNS, RecoveryRow};
use crate::store::{StoreError, listing};

/// Most problems reported per check: enough to act on, bounded on a badly damaged database.
const MAX_PROBLEMS: i64 = 100;

/// Rollouts whose stored progress counters differ from a count of their members.
fn progress_mismatch() -> String {
    let states: Vec<&str> = CommandState::ALL.iter().map(|state| state.as_str()).collect();
    let counted: Vec<String> = states
        .iter()
        .map(|state| format!("COUNT(*) FILTER (WHERE c.state = '{state}') AS {state}"))
        .collect();
    let stored = ["p.total", "p.unissued"]
        .into_iter()
        .map(str::to_owned)
        .chain(states.iter().map(|state| format!("p.{state}")));
    let expected = ["total", "unissued"]
        .into_iter()
        .chain(states.iter().copied())
        .map(|column| format!("COALESCE(k.{column}, 0)"));
    format!(
        "WITH k AS (SELECT m.rollout_id, COUNT(*) AS total, \
             COUNT(*) FILTER (WHERE c.state IS NULL) AS unissued, {} \
           FROM rollout_members m LEFT JOIN commands c ON c.command_id = m.command_id \
           GROUP BY m.rollout_id) \
         SELECT p.rollout_id FROM rollout_progress p LEFT JOIN k ON k.rollout_id = p.rollout_id \
         WHERE ({}) IS DISTINCT FROM ({}) ORDER BY p.rollout_id LIMIT $1",
        counted.join(", "),
        stored.collect::<Vec<_>>().join(", "),
        expected.collect::<Vec<_>>().join(", ")
    )
}

/// Members whose command belongs to another rollout or another device.
const MEMBER_MISMATCH: &str = "SELECT m.rollout_id || ' ' || m.client_uuid || ' ' || c.command_id \
    FROM rollout_members m JOIN commands c ON c.command_id = m.command_id \
    WHERE c.rollout_id IS DISTINCT FROM m.rollout_id OR c.client_uuid <> m.client_uuid \
    ORDER BY m.rollout_id, m.client_uuid LIMIT $1";

#[async_trait::async_trait]
impl RecoveryStore for PostgresStore {
    #[instrument(skip_all, name = "store.insert_recovery_report")]
    async fn insert_recovery_report(&self, report: &RecoveryReportRow) -> Result<i64, StoreError> {
        let inserted = sqlx::query_scalar(
            "INSERT INTO recovery_reports (run_id, started_ms, duration_us, previous_run, \
                 previous_run_id, report_json) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(report.run_id.0)
        .bind(report.started_at.timestamp_millis())
        .bind(i64::try_from(report.duration.as_micros()).unwrap_or(i64::MAX))
        .bind(&report.previous_run)
        .bind(report.previous_run_id.map(|id| id.0))
        .bind(&report.report_json)
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::query("insert_recovery_report"));
        self.writes().record(inserted)
    }

    #[instrument(skip_all, name = "store.update_recovery_report", fields(report.id = id))]
    async fn update_recovery_report(&self, id: i64, report_json: &str) -> Result<(), StoreError> {
        const OP: &str = "update_recovery_report";
        let done = sqlx::query("UPDATE recovery_reports SET report_json = $1 WHERE id = $2")
            .bind(report_json)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(StoreError::query(OP));
        if self.writes().record(done)?.rows_affected() == 0 {
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
        let mut sql: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("SELECT {RECOVERY_COLUMNS} FROM recovery_reports"));
        match id {
            Some(id) => sql.push(" WHERE id = ").push_bind(id),
            None => sql.push(" ORDER BY id DESC LIMIT 1"),
        };
        let row: Option<RecoveryRow> = sql
            .build_query_as()
            .fetch_optional(self.pool())
            .await
            .map_err(StoreError::query(OP))?;
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
        let mut sql: QueryBuilder<Postgres> =
            listing::recovery_reports(RECOVERY_COLUMNS, before_id, limit, previous_run);
        let rows: Vec<RecoveryRow> =
            sql.build_query_as().fetch_all(self.pool()).await.map_err(StoreError::query(OP))?;
        rows.into_iter().map(|row| row.into_report(OP)).collect()
    }

    #[instrument(skip_all, name = "store.integrity_check")]
    async fn integrity_problems(&self) -> Result<Vec<String>, StoreError> {
        const OP: &str = "integrity_check";
        // Safe: built only from the fixed column names and the command states' names.
        let rollouts: Vec<String> = sqlx::query_scalar(AssertSqlSafe(progress_mismatch()))
            .bind(MAX_PROBLEMS)
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::query(OP))?;
        let members: Vec<String> = sqlx::query_scalar(MEMBER_MISMATCH)
            .bind(MAX_PROBLEMS)
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::query(OP))?;
        let rollouts = rollouts.into_iter().map(|rollout| {
            format!("rollout_progress of rollout {rollout}: counters differ from its members")
        });
        let members = members.into_iter().map(|member| {
            format!("rollout member (rollout, client, command) {member}: the command belongs to another rollout or client")
        });
        Ok(rollouts.chain(members).collect())
    }
}
