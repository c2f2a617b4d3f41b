//! PostgreSQL implementation of [`crate::store::ClientStore`] (placeholder: being written).
#![allow(unused_variables, unused_imports)]

use uuid::Uuid;
use crate::store::clients::*;
use crate::store::StoreError;

use super::PostgresStore;

#[async_trait::async_trait]
impl crate::store::ClientStore for PostgresStore {
    async fn client(&self, uuid: Uuid) -> Result<Option<ClientRecord>, StoreError> {
        todo!("postgres: clients")
    }

    async fn list_clients(
        &self,
        filter: &ClientFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ClientRecord>, StoreError> {
        todo!("postgres: clients")
    }

    async fn crash_candidates(&self, stale_before_ms: i64)
    -> Result<Vec<ClientRecord>, StoreError> {
        todo!("postgres: clients")
    }

    async fn client_uuids(&self, group: Option<&str>) -> Result<Vec<Uuid>, StoreError> {
        todo!("postgres: clients")
    }

}
