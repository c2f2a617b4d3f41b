//! PostgreSQL implementation of [`crate::store::RateLimitStore`] (placeholder: being written).
#![allow(unused_variables, unused_imports)]

use crate::store::ratelimits::*;
use crate::store::StoreError;

use super::PostgresStore;

#[async_trait::async_trait]
impl crate::store::RateLimitStore for PostgresStore {
    async fn save_admissions(&self, admissions: &[Admission]) -> Result<(), StoreError> {
        todo!("postgres: ratelimits")
    }

    async fn load_admissions(&self, since_ms: i64) -> Result<Vec<Admission>, StoreError> {
        todo!("postgres: ratelimits")
    }

}
