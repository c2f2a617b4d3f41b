//! PostgreSQL implementation of [`crate::store::MaintenanceStore`] (placeholder: being written).
#![allow(unused_variables, unused_imports)]

use std::path::Path;
use chrono::{DateTime, Utc};
use crate::store::maintenance::*;
use crate::store::StoreError;

use super::PostgresStore;

#[async_trait::async_trait]
impl crate::store::MaintenanceStore for PostgresStore {
    async fn backup(&self, dest: &Path) -> Result<u64, StoreError> {
        todo!("postgres: maintenance")
    }

    async fn count_expired(
        &self,
        table: RetentionTable,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        todo!("postgres: maintenance")
    }

    async fn delete_expired(
        &self,
        table: RetentionTable,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        todo!("postgres: maintenance")
    }

}
