//! PostgreSQL implementation of [`crate::store::RolloutStore`] (placeholder: being written).
#![allow(unused_variables, unused_imports)]

use uuid::Uuid;
use crate::store::rollouts::*;
use crate::store::commands::Action;
use crate::store::StoreError;

use super::PostgresStore;

#[async_trait::async_trait]
impl crate::store::RolloutStore for PostgresStore {
    async fn rollout(&self, id: Uuid) -> Result<Option<RolloutRecord>, StoreError> {
        todo!("postgres: rollouts")
    }

    async fn list_rollouts(
        &self,
        states: &[RolloutState],
        action: Option<Action>,
        after: Option<(i64, Uuid)>,
        limit: u32,
    ) -> Result<Vec<(RolloutRecord, RolloutCounters)>, StoreError> {
        todo!("postgres: rollouts")
    }

    async fn active_rollouts(&self) -> Result<Vec<RolloutRecord>, StoreError> {
        todo!("postgres: rollouts")
    }

    async fn rollout_with_counters(
        &self,
        id: Uuid,
    ) -> Result<Option<(RolloutRecord, RolloutCounters)>, StoreError> {
        todo!("postgres: rollouts")
    }

    async fn rollout_counters(
        &self,
        id: Uuid,
        wave: Option<i64>,
    ) -> Result<RolloutCounters, StoreError> {
        todo!("postgres: rollouts")
    }

    async fn unissued_members(
        &self,
        id: Uuid,
        limit: u32,
    ) -> Result<Vec<RolloutMember>, StoreError> {
        todo!("postgres: rollouts")
    }

    async fn unaccepted_rollout_commands(&self, id: Uuid) -> Result<Vec<Uuid>, StoreError> {
        todo!("postgres: rollouts")
    }

}
