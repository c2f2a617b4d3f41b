//! Rollouts' records: one action for many devices, its members and progress counters.
//!
//! Plain data: pacing, the canary rule and the abort threshold live in
//! `crate::commands::rollout`; nothing here does I/O.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::contract::Action;
use crate::macros::text_enum;

text_enum! {
    /// State of a rollout (`rollouts.state`; `running` is the API's WAVES).
    RolloutState {
        Pending = "pending",
        Canary = "canary",
        Waves = "running",
        Completed = "completed",
        Aborted = "aborted",
        Failed = "failed",
    }
}

impl RolloutState {
    pub fn is_terminal(self) -> bool {
        matches!(self, RolloutState::Completed | RolloutState::Aborted | RolloutState::Failed)
    }
}

text_enum! {
    /// What aborted a rollout.
    AbortCause { FailureThreshold = "failure_threshold", Operator = "operator" }
}

/// Which devices a rollout targets (stored as JSON in `target_json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutTarget {
    All,
    Group(String),
    Clients(Vec<Uuid>),
}

/// One row of `rollouts`.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutRecord {
    pub rollout_id: Uuid,
    pub action: Action,
    pub target: RolloutTarget,
    pub canary_count: Option<i64>,
    pub canary_percent: Option<f64>,
    /// Resolved number of canary members (wave 0).
    pub canary_size: i64,
    pub max_per_minute: i64,
    pub abort_failure_percent: f64,
    pub min_finished: i64,
    pub state: RolloutState,
    pub reason: Option<String>,
    pub requested_by: Option<i64>,
    pub principal: String,
    pub params_hash: String,
    pub expires_in_ms: i64,
    pub total_members: i64,
    pub issued_members: i64,
    pub current_wave: i64,
    pub last_issue_ms: Option<i64>,
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub canary_finished_ms: Option<i64>,
    pub updated_ms: i64,
    pub finished_ms: Option<i64>,
    pub abort_reason: Option<String>,
    pub abort_cause: Option<AbortCause>,
    pub error: Option<String>,
}

/// One target of a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutMember {
    pub client_uuid: Uuid,
    /// 0 = canary.
    pub wave: i64,
}

impl RolloutMember {
    /// Put `members` in the order they are issued (and the store's `unissued_members`
    /// returns them): by wave, then device. A uuid's bytes sort like its text.
    pub fn issue_order(members: &mut [RolloutMember]) {
        members.sort_unstable_by_key(|m| (m.wave, m.client_uuid));
    }
}

/// Per-target command counters (see the API's `RolloutCounters`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RolloutCounters {
    pub total: u32,
    /// Targets not issued yet.
    pub unissued: u32,
    pub queued: u32,
    pub in_flight: u32,
    pub completed: u32,
    pub failed: u32,
    pub timed_out: u32,
    pub expired: u32,
    pub canceled: u32,
    pub rejected: u32,
}

impl RolloutCounters {
    /// Commands that reached an outcome the abort rule counts.
    pub fn finished(&self) -> u32 {
        self.completed + self.failed + self.timed_out
    }

    /// (failed + timed_out) / finished × 100; 0 while nothing finished.
    pub fn failure_percent(&self) -> f64 {
        let finished = self.finished();
        if finished == 0 {
            0.0
        } else {
            f64::from(self.failed + self.timed_out) * 100.0 / f64::from(finished)
        }
    }

    /// Every issued command is terminal.
    pub fn issued_all_terminal(&self) -> bool {
        self.queued == 0 && self.in_flight == 0
    }
}
