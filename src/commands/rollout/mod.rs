//! Rollouts: one action for many devices. A canary group (wave 0) is issued first; once every
//! canary command is terminal the abort rule is evaluated, then the rest is issued in waves
//! of at most `max_per_minute`. The rule — abort when (failed + timed_out) / finished × 100
//! is above `abort_failure_percent` once `min_finished` have finished — is checked on every
//! scheduler tick. An abort cancels the commands not yet accepted and never issues the rest.
//! All progress is in the store, so a restarted server resumes where the last one stopped.
//!
//! This module owns the API side (start, read, abort); [`step`] drives a rollout from one
//! step to the next (scheduler) and issues its commands; [`plan`] is the arithmetic of
//! canary size, pacing, pieces and the abort rule.

#[cfg(test)]
mod fence_tests;
mod plan;
#[cfg(test)]
mod race_tests;
#[cfg(test)]
mod replica_tests;
mod step;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::time::Duration;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use self::plan::{canary_size, pieces};
use self::step::{Change, read_in};
use super::fleet::{Fleet, Pending, commit_audited, duration_ms};
use super::issue::validate;
use super::leader::Scope;
use super::lifecycle;
use crate::audit::AuditSlot;
use crate::clock::now_ms;
use crate::contract::Action;
use crate::error::{Error, Result};
use crate::model::commands::EventSource;
use crate::model::rollouts::{
    AbortCause, RolloutCounters, RolloutMember, RolloutRecord, RolloutState, RolloutTarget,
};

/// Most devices a client list may name.
pub const MAX_LISTED_CLIENTS: usize = 10_000;
/// `max_per_minute` when the request says 0.
pub const DEFAULT_MAX_PER_MINUTE: u32 = 60;

/// How the canary size is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Canary {
    /// 5 % of the targets, rounded up, at least 1.
    Default,
    Count(u32),
    Percent(u32),
}

/// What StartRollout asks for.
#[derive(Debug, Clone)]
pub struct RolloutRequest {
    pub rollout_id: Option<Uuid>,
    pub action: Action,
    pub target: RolloutTarget,
    pub canary: Canary,
    /// 0 means [`DEFAULT_MAX_PER_MINUTE`].
    pub max_per_minute: u32,
    pub abort_failure_percent: Option<f64>,
    pub min_finished: Option<u32>,
    pub reason: Option<String>,
    pub requested_by: Option<i64>,
    pub expires_in: Option<Duration>,
    pub principal: String,
    /// The audit row of the API call, stored with the rollout.
    pub audit: AuditSlot,
}

/// Counters as the API reports them: targets never issued count as canceled once aborted.
pub fn reported_counters(rollout: &RolloutRecord, counters: RolloutCounters) -> RolloutCounters {
    let mut reported = counters;
    if rollout.state.is_terminal() {
        reported.canceled += reported.unissued;
        reported.unissued = 0;
    }
    reported
}

/// Terminal, and every issued command terminal too: nothing will change any more.
pub fn is_settled(rollout: &RolloutRecord, counters: &RolloutCounters) -> bool {
    rollout.state.is_terminal() && counters.issued_all_terminal()
}

fn check_request(req: &RolloutRequest) -> Result<()> {
    validate(req.reason.as_deref(), req.requested_by, req.expires_in)?;
    if let RolloutTarget::Clients(list) = &req.target {
        if list.is_empty() || list.len() > MAX_LISTED_CLIENTS {
            return Err(Error::invalid_argument("client_uuids", "must list 1 to 10000 devices"));
        }
        let unique: HashSet<_> = list.iter().collect();
        if unique.len() != list.len() {
            return Err(Error::invalid_argument("client_uuids", "lists a device twice"));
        }
    }
    if let RolloutTarget::Group(group) = &req.target {
        super::operations::validate_group(group)?;
    }
    if let Canary::Percent(p) = req.canary
        && !(1..=100).contains(&p)
    {
        return Err(Error::invalid_argument("canary_percent", "must be 1 to 100"));
    }
    if req.max_per_minute > 100_000 {
        return Err(Error::invalid_argument("max_per_minute", "must be 1 to 100000 (0: 60)"));
    }
    if req.abort_failure_percent.is_some_and(|p| !(p > 0.0 && p <= 100.0)) {
        return Err(Error::invalid_argument(
            "abort_failure_percent",
            "must be greater than 0 and at most 100",
        ));
    }
    if req.min_finished == Some(0) {
        return Err(Error::invalid_argument("min_finished", "must be at least 1"));
    }
    Ok(())
}

/// Whether rollout `id` with `params_hash` may start, given the rollout stored under that id
/// (`existing`) and the `active` ones: the existing one when it is the same request again
/// (idempotent), an error when it differs or another rollout is still active.
fn check_new(
    id: Uuid,
    params_hash: &str,
    existing: Option<RolloutRecord>,
    active: &[RolloutRecord],
) -> Result<Option<RolloutRecord>> {
    if let Some(existing) = existing {
        if existing.params_hash == params_hash {
            return Ok(Some(existing));
        }
        return Err(Error::AlreadyExists(format!(
            "rollout_id: rollout {id} already exists with other parameters"
        )));
    }
    if let Some(active) = active.first() {
        return Err(Error::FailedPrecondition(format!(
            "rollout {} is still active ({}); abort it or wait for it to finish",
            active.rollout_id, active.state
        )));
    }
    Ok(None)
}

impl Fleet {
    /// Start a rollout (idempotent on `rollout_id`). Returns it and whether it was created.
    #[tracing::instrument(name = "rollout.start", skip_all, fields(rollout.action = %req.action))]
    pub async fn start_rollout(&self, req: RolloutRequest) -> Result<(RolloutRecord, bool)> {
        check_request(&req)?;
        self.require_gateway()?;
        let settings = self.settings.current();
        let _serial = self.rollout_lock.lock().await;
        let rollout_id = req.rollout_id.unwrap_or_else(Uuid::new_v4);
        let abort_failure_percent =
            req.abort_failure_percent.unwrap_or(settings.rollout.abort_failure_percent);
        let min_finished = req.min_finished.unwrap_or(settings.rollout.min_finished);
        let max_per_minute =
            if req.max_per_minute == 0 { DEFAULT_MAX_PER_MINUTE } else { req.max_per_minute };
        let expires_in = req.expires_in.unwrap_or(settings.commands.default_expiry);
        let params_hash = crate::hex::sha256(format!(
            "{}|{:?}|{:?}|{max_per_minute}|{abort_failure_percent}|{min_finished}|{:?}|{:?}|{}",
            req.action,
            req.target,
            req.canary,
            req.reason,
            req.requested_by,
            duration_ms(expires_in)
        ));
        let existing = self.store.rollout(rollout_id).await?;
        let active = self.store.active_rollouts().await?;
        if let Some(existing) = check_new(rollout_id, &params_hash, existing, &active)? {
            return Ok((existing, false));
        }
        let mut targets = match &req.target {
            RolloutTarget::All => self.store.client_uuids(None).await?,
            RolloutTarget::Group(group) => self.store.client_uuids(Some(group)).await?,
            RolloutTarget::Clients(list) => {
                let known: HashSet<Uuid> =
                    self.store.client_uuids(None).await?.into_iter().collect();
                if let Some(missing) = list.iter().find(|id| !known.contains(id)) {
                    return Err(Error::NotFound { kind: "client", id: missing.to_string() });
                }
                list.clone()
            }
        };
        if targets.is_empty() {
            return Err(Error::FailedPrecondition("target: no registered device matches".into()));
        }
        // A stable pseudo-random order picks a representative canary.
        targets.sort_by_cached_key(|id| Sha256::digest(format!("{rollout_id}{id}")));
        let canary = canary_size(req.canary, targets.len());
        let per_wave = i64::from(max_per_minute);
        let members: Vec<RolloutMember> = targets
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let i = i as i64;
                let wave = if i < canary { 0 } else { 1 + (i - canary) / per_wave };
                RolloutMember { client_uuid: *id, wave }
            })
            .collect();
        let now = now_ms();
        let (canary_count, canary_percent) = match req.canary {
            Canary::Default => (None, None),
            Canary::Count(c) => (Some(i64::from(c)), None),
            Canary::Percent(p) => (None, Some(f64::from(p))),
        };
        let mut rollout = RolloutRecord {
            rollout_id,
            action: req.action,
            target: req.target.clone(),
            canary_count,
            canary_percent,
            canary_size: canary,
            max_per_minute: per_wave,
            abort_failure_percent,
            min_finished: i64::from(min_finished),
            state: RolloutState::Pending,
            reason: req.reason.clone(),
            requested_by: req.requested_by,
            principal: req.principal.clone(),
            params_hash,
            expires_in_ms: duration_ms(expires_in),
            total_members: members.len() as i64,
            issued_members: 0,
            current_wave: 0,
            last_issue_ms: None,
            created_ms: now,
            started_ms: None,
            canary_finished_ms: None,
            updated_ms: now,
            finished_ms: None,
            abort_reason: None,
            abort_cause: None,
            error: None,
        };
        // The first step starts at once (unless the broker is unreachable: then the
        // scheduler starts it), and its first piece goes out with the rollout's own
        // transaction, so the first commands leave one commit earlier.
        let mut first = Vec::new();
        if let Some(count) = self.first_step(&mut rollout, now) {
            first = members.clone();
            RolloutMember::issue_order(&mut first);
            first.truncate(usize::try_from(count).unwrap_or(0));
        }
        let sizes = pieces(first.len());
        let (head_size, later) = match sizes.split_first() {
            Some((head_size, later)) => (*head_size, later),
            None => (0, &[][..]),
        };
        let (head, rest) = first.split_at(head_size);
        // The whole area: no other rollout may start meanwhile, on any replica.
        let mut tx = self.store.fleet_tx_whole().await?;
        // Again under the transaction's lock: another replica may have started one since.
        let existing = tx.rollout(rollout_id).await?;
        let active = tx.other_active_rollouts(rollout_id).await?;
        if let Some(existing) = check_new(rollout_id, &rollout.params_hash, existing, &active)? {
            return Ok((existing, false));
        }
        tx.put_rollout(&rollout).await?;
        tx.insert_members(rollout_id, &members).await?;
        let mut pending = Pending::default();
        if !head.is_empty() {
            self.issue_into(&mut *tx, &mut pending, &mut rollout, head, now).await?;
            tx.put_rollout(&rollout).await?;
        }
        commit_audited(tx, &req.audit, None).await?;
        self.finish(pending);
        tracing::info!(rollout.id = %rollout_id, targets = members.len(), canary, "rollout started");
        self.announce_rollout(rollout_id);
        // The rollout exists from here on: a later piece that fails is the scheduler's to
        // issue again (its next step takes the members still unissued), not the caller's.
        match self
            .issue_pieces(rollout.clone(), Change::Issue, rest, later, now, EventSource::Api)
            .await
        {
            Ok(rollout) => {
                self.plan_next_step(&rollout, 0);
                Ok((rollout, true))
            }
            Err(err) => {
                tracing::error!(rollout.id = %rollout_id, error = %err,
                    "rollout started; the rest of its first step is left to the scheduler");
                Ok((rollout, true))
            }
        }
    }

    /// One rollout with its raw counters.
    pub async fn rollout(&self, id: Uuid) -> Result<(RolloutRecord, RolloutCounters)> {
        let found = self.store.rollout_with_counters(id).await?;
        found.ok_or(Error::NotFound { kind: "rollout", id: id.to_string() })
    }

    /// Abort by an operator.
    #[tracing::instrument(name = "rollout.abort", skip_all, fields(rollout.id = %id))]
    pub async fn abort_rollout(
        &self,
        id: Uuid,
        principal: &str,
        reason: &str,
        audit: &AuditSlot,
    ) -> Result<RolloutRecord> {
        let _serial = self.rollout_lock.lock().await;
        let (mut rollout, _) = self.rollout(id).await?;
        if !rollout.state.is_terminal() {
            let why = if reason.is_empty() {
                format!("aborted by {principal}")
            } else {
                format!("aborted by {principal}: {reason}")
            };
            rollout = self.abort(id, AbortCause::Operator, why, EventSource::Api, audit).await?;
        }
        // Aborting an aborted rollout again changes nothing; a finished one stays finished.
        match rollout.state {
            RolloutState::Completed | RolloutState::Failed => Err(Error::FailedPrecondition(
                format!("rollout {id} is {}; only an active rollout can be aborted", rollout.state),
            )),
            _ => Ok(rollout),
        }
    }

    /// Abort by the scheduler: too many of the finished commands failed.
    async fn abort_over_threshold(
        &self,
        rollout: RolloutRecord,
        why: String,
    ) -> Result<RolloutRecord> {
        let (cause, source) = (AbortCause::FailureThreshold, EventSource::Scheduler);
        self.abort(rollout.rollout_id, cause, why, source, &AuditSlot::default()).await
    }

    /// Abort rollout `id`: its transaction reads the row and the commands to cancel, and
    /// leaves a rollout that ended since the caller read it (completed, or aborted by
    /// someone else) as it is.
    async fn abort(
        &self,
        id: Uuid,
        cause: AbortCause,
        why: String,
        source: EventSource,
        audit: &AuditSlot,
    ) -> Result<RolloutRecord> {
        let now = now_ms();
        // The whole area: the commands to cancel are of devices not known before reading them.
        let mut tx = self.step_tx(source, Scope::Whole).await?;
        let mut rollout = read_in(&mut *tx, id).await?;
        if rollout.state.is_terminal() {
            return Ok(rollout);
        }
        // Read in the transaction: the commands a piece (of any replica) committed after the
        // abort was asked for are canceled too.
        let unaccepted = tx.unaccepted_rollout_commands(id).await?;
        let mut pending = Pending::default();
        for mut command in unaccepted {
            if let Ok(Some(t)) =
                lifecycle::cancel(&mut command, now, "canceled by rollout abort".into())
            {
                pending.record(&mut *tx, command, t, source).await?;
            }
        }
        rollout.state = RolloutState::Aborted;
        rollout.abort_cause = Some(cause);
        rollout.abort_reason = Some(why.clone());
        rollout.finished_ms = Some(now);
        rollout.updated_ms = now;
        tx.put_rollout(&rollout).await?;
        commit_audited(tx, audit, None).await?;
        tracing::warn!(rollout.id = %id, canceled = pending.changes.len(), "rollout aborted: {why}");
        crate::metrics::metrics().rollout_ended(RolloutState::Aborted.as_str());
        self.finish(pending);
        self.announce_rollout(id);
        Ok(rollout)
    }
}
