//! SQLite implementation of [`RateLimitStore`]: the `rate_limit_admissions` table.

use tracing::instrument;

use super::SqliteStore;
use crate::store::{Admission, RateLimitStore, StoreError};

#[async_trait::async_trait]
impl RateLimitStore for SqliteStore {
    #[instrument(skip_all, name = "store.save_admissions", fields(admissions = admissions.len()))]
    async fn save_admissions(&self, admissions: &[Admission]) -> Result<(), StoreError> {
        const OP: &str = "save_admissions";
        let mut tx = self.pool.begin().await.map_err(StoreError::query(OP))?;
        sqlx::query("DELETE FROM rate_limit_admissions")
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(OP))?;
        for admission in admissions {
            sqlx::query(
                "INSERT INTO rate_limit_admissions (principal, class, admitted_ms) VALUES (?, ?, ?)",
            )
            .bind(&admission.principal)
            .bind(&admission.class)
            .bind(admission.admitted_ms)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(OP))?;
        }
        tx.commit().await.map_err(StoreError::query(OP))
    }

    #[instrument(skip_all, name = "store.load_admissions")]
    async fn load_admissions(&self, since_ms: i64) -> Result<Vec<Admission>, StoreError> {
        const OP: &str = "load_admissions";
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT principal, class, admitted_ms FROM rate_limit_admissions \
             WHERE admitted_ms >= ? ORDER BY admitted_ms",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        Ok(rows
            .into_iter()
            .map(|(principal, class, admitted_ms)| Admission { principal, class, admitted_ms })
            .collect())
    }
}
