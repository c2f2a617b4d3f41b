//! PostgreSQL implementation of [`RateLimitStore`]: the `rate_limit_admissions` table.

use tracing::instrument;

use super::PostgresStore;
use crate::store::{Admission, RateLimitStore, StoreError};

#[async_trait::async_trait]
impl RateLimitStore for PostgresStore {
    #[instrument(skip_all, name = "store.save_admissions", fields(admissions = admissions.len()))]
    async fn save_admissions(&self, admissions: &[Admission]) -> Result<(), StoreError> {
        const OP: &str = "save_admissions";
        let principals: Vec<&str> = admissions.iter().map(|a| a.principal.as_str()).collect();
        let classes: Vec<&str> = admissions.iter().map(|a| a.class.as_str()).collect();
        let times: Vec<i64> = admissions.iter().map(|a| a.admitted_ms).collect();
        let saved = async {
            let mut tx = self.pool().begin().await.map_err(StoreError::query(OP))?;
            sqlx::query("DELETE FROM rate_limit_admissions")
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;
            // One statement for the whole set: the arrays unnest into rows, in order.
            sqlx::query(
                "INSERT INTO rate_limit_admissions (principal, class, admitted_ms) \
                 SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[])",
            )
            .bind(&principals)
            .bind(&classes)
            .bind(&times)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(OP))?;
            tx.commit().await.map_err(StoreError::query(OP))
        };
        self.writes().record(saved.await)
    }

    #[instrument(skip_all, name = "store.load_admissions")]
    async fn load_admissions(&self, since_ms: i64) -> Result<Vec<Admission>, StoreError> {
        const OP: &str = "load_admissions";
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT principal, class, admitted_ms FROM rate_limit_admissions \
             WHERE admitted_ms >= $1 ORDER BY admitted_ms",
        )
        .bind(since_ms)
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::query(OP))?;
        Ok(rows
            .into_iter()
            .map(|(principal, class, admitted_ms)| Admission { principal, class, admitted_ms })
            .collect())
    }
}
