//! PostgreSQL implementation of [`crate::store::RestartStore`] (placeholder: being written).
#![allow(unused_variables, unused_imports)]

use uuid::Uuid;
use crate::store::restarts::*;
use crate::store::audit::AuditRow;
use crate::lifecycle::restart::RestartRecord;
use crate::store::StoreError;

use super::PostgresStore;

#[async_trait::async_trait]
impl crate::store::RestartStore for PostgresStore {
    async fn save_restart(
        &self,
        record: &RestartRecord,
        audit: Option<&AuditRow>,
    ) -> Result<(), StoreError> {
        todo!("postgres: restarts")
    }

    async fn restart(&self, id: Uuid) -> Result<Option<RestartRecord>, StoreError> {
        todo!("postgres: restarts")
    }

    async fn latest_restart(&self) -> Result<Option<RestartRecord>, StoreError> {
        todo!("postgres: restarts")
    }

    async fn list_restarts(&self, query: &RestartQuery) -> Result<RestartPage, StoreError> {
        todo!("postgres: restarts")
    }

    async fn interrupt_restarts(
        &self,
        keep: Option<Uuid>,
        at_ms: i64,
    ) -> Result<Vec<Uuid>, StoreError> {
        todo!("postgres: restarts")
    }

    async fn restart_totals(&self) -> Result<RestartTotals, StoreError> {
        todo!("postgres: restarts")
    }

}
