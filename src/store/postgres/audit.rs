//! PostgreSQL implementation of [`crate::store::AuditStore`] (placeholder: being written).
#![allow(unused_variables, unused_imports)]

use crate::store::audit::*;
use crate::store::StoreError;

use super::PostgresStore;

#[async_trait::async_trait]
impl crate::store::AuditStore for PostgresStore {
    async fn insert_audit_event(&self, event: &AuditRow) -> Result<i64, StoreError> {
        todo!("postgres: audit")
    }

    async fn list_audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        todo!("postgres: audit")
    }

}
