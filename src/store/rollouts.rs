//! Reads of rollouts: one action for many devices, with their members and progress counters
//! (records in `crate::model::rollouts`).
//!
//! Read queries only; pacing, the canary rule and the abort threshold live in
//! `crate::commands::rollout`, which writes through a [`super::FleetTx`].

use uuid::Uuid;

use super::StoreError;
use crate::contract::Action;
use crate::model::rollouts::{RolloutCounters, RolloutMember, RolloutRecord, RolloutState};

/// Reads of the rollout area.
#[async_trait::async_trait]
pub trait RolloutStore {
    async fn rollout(&self, id: Uuid) -> Result<Option<RolloutRecord>, StoreError>;

    /// Rollouts newest first by (created_ms, rollout_id), strictly after `after`, each with
    /// its counters over every member.
    async fn list_rollouts(
        &self,
        states: &[RolloutState],
        action: Option<Action>,
        after: Option<(i64, Uuid)>,
        limit: u32,
    ) -> Result<Vec<(RolloutRecord, RolloutCounters)>, StoreError>;

    /// Rollouts that are not terminal, oldest first.
    async fn active_rollouts(&self) -> Result<Vec<RolloutRecord>, StoreError>;

    /// A rollout with its counters over every member, read together.
    async fn rollout_with_counters(
        &self,
        id: Uuid,
    ) -> Result<Option<(RolloutRecord, RolloutCounters)>, StoreError>;

    /// Counters over every member, or over one wave only.
    async fn rollout_counters(
        &self,
        id: Uuid,
        wave: Option<i64>,
    ) -> Result<RolloutCounters, StoreError>;

    /// Members that have no command yet, in [`RolloutMember::issue_order`], at most `limit`.
    async fn unissued_members(
        &self,
        id: Uuid,
        limit: u32,
    ) -> Result<Vec<RolloutMember>, StoreError>;

    /// Commands of the rollout that the devices have not accepted (queued or published).
    async fn unaccepted_rollout_commands(&self, id: Uuid) -> Result<Vec<Uuid>, StoreError>;
}
