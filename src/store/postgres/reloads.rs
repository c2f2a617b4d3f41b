//! PostgreSQL implementation of [`crate::store::ReloadStore`] (placeholder: being written).
#![allow(unused_variables, unused_imports)]

use chrono::{DateTime, Utc};
use crate::store::reloads::*;
use crate::store::audit::AuditRow;
use crate::store::StoreError;

use super::PostgresStore;

#[async_trait::async_trait]
impl crate::store::ReloadStore for PostgresStore {
    async fn insert_reload_event(
        &self,
        event: &ReloadEventRow,
        audit: Option<&AuditRow>,
    ) -> Result<i64, StoreError> {
        todo!("postgres: reloads")
    }

    async fn list_reload_events(
        &self,
        query: &ReloadEventQuery,
    ) -> Result<Vec<ReloadEventRow>, StoreError> {
        todo!("postgres: reloads")
    }

    async fn reload_stats(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<ReloadStatsRow, StoreError> {
        todo!("postgres: reloads")
    }

}
