//! PostgreSQL implementation of [`crate::store::RunStore`] (placeholder: being written).
#![allow(unused_variables, unused_imports)]

use crate::store::runs::*;
use crate::store::StoreError;

use super::PostgresStore;

#[async_trait::async_trait]
impl crate::store::RunStore for PostgresStore {
    async fn begin_run(&self, pid: u32, generation: u64) -> Result<RunRecord, StoreError> {
        todo!("postgres: runs")
    }

    async fn end_run(&self, run_id: RunId, clean: bool) -> Result<(), StoreError> {
        todo!("postgres: runs")
    }

}
