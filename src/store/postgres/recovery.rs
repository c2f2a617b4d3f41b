//! PostgreSQL implementation of [`crate::store::RecoveryStore`] (placeholder: being written).
#![allow(unused_variables, unused_imports)]

use crate::store::recovery::*;
use crate::store::StoreError;

use super::PostgresStore;

#[async_trait::async_trait]
impl crate::store::RecoveryStore for PostgresStore {
    async fn insert_recovery_report(&self, report: &RecoveryReportRow) -> Result<i64, StoreError> {
        todo!("postgres: recovery")
    }

    async fn get_recovery_report(
        &self,
        id: Option<i64>,
    ) -> Result<Option<RecoveryReportRow>, StoreError> {
        todo!("postgres: recovery")
    }

    async fn list_recovery_reports(
        &self,
        before_id: Option<i64>,
        limit: u32,
        previous_run: Option<&str>,
    ) -> Result<Vec<RecoveryReportRow>, StoreError> {
        todo!("postgres: recovery")
    }

    async fn integrity_problems(&self) -> Result<Vec<String>, StoreError> {
        todo!("postgres: recovery")
    }

}
