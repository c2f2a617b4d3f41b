//! Rollouts: one action for many devices. A canary group (wave 0) is issued first; once every
//! canary command is terminal the abort rule is evaluated, then the rest is issued in waves
//! of at most `max_per_minute`. The rule — abort when (failed + timed_out) / finished × 100
//! is above `abort_failure_percent` once `min_finished` have finished — is checked on every
//! scheduler tick. An abort cancels the commands not yet accepted and never issues the rest.
//! All progress is in the store, so a restarted server resumes where the last one stopped.

use std::collections::HashSet;
use std::time::Duration;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::fleet::{Fleet, Pending, commit_audited, duration_ms, now_ms};
use super::issue::{IssueOrigin, IssueRequest, validate};
use super::lifecycle;
use crate::audit::AuditSlot;
use crate::error::{Error, Result};
use crate::store::commands::{Action, EventSource, FleetTx, Origin};
use crate::store::rollouts::{
    AbortCause, RolloutCounters, RolloutMember, RolloutRecord, RolloutState, RolloutTarget,
};

/// Most devices a client list may name.
pub const MAX_LISTED_CLIENTS: usize = 10_000;
/// `max_per_minute` when the request says 0.
pub const DEFAULT_MAX_PER_MINUTE: u32 = 60;
/// Most commands one tick issues for one rollout.
const MAX_ISSUE_PER_TICK: i64 = 5_000;
/// The largest paced step, issued in one transaction (see [`step_size`]).
const ISSUE_PIECE: usize = 250;
/// A larger step is issued in pieces, one transaction each: the first of [`FIRST_PIECE`]
/// members, each next one twice as large, up to [`MAX_PIECE`] (see [`pieces`]).
const FIRST_PIECE: usize = 64;
const MAX_PIECE: usize = 512;

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

fn canary_size(canary: Canary, total: usize) -> i64 {
    let total = total as i64;
    let percent = |p: i64| ((p * total + 99) / 100).max(1);
    match canary {
        Canary::Default => percent(5).min(total),
        Canary::Count(c) => i64::from(c).min(total),
        Canary::Percent(p) => percent(i64::from(p)).min(total),
    }
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
        if let Some(existing) = self.store.rollout(rollout_id).await? {
            if existing.params_hash == params_hash {
                return Ok((existing, false));
            }
            return Err(Error::AlreadyExists(format!(
                "rollout_id: rollout {rollout_id} already exists with other parameters"
            )));
        }
        if let Some(active) = self.store.active_rollouts().await?.first() {
            return Err(Error::FailedPrecondition(format!(
                "rollout {} is still active ({}); abort it or wait for it to finish",
                active.rollout_id, active.state
            )));
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
        let mut tx = self.store.fleet_tx().await?;
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
        let rollout = self.issue_pieces(rollout, rest, later, now).await?;
        self.plan_next_step(&rollout, 0);
        Ok((rollout, true))
    }

    /// One rollout with its raw counters.
    pub async fn rollout(&self, id: Uuid) -> Result<(RolloutRecord, RolloutCounters)> {
        let rollout = self.store.rollout(id).await?;
        let rollout = rollout.ok_or(Error::NotFound { kind: "rollout", id: id.to_string() })?;
        let counters = self.store.rollout_counters(id, None).await?;
        Ok((rollout, counters))
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
        let (rollout, _) = self.rollout(id).await?;
        match rollout.state {
            RolloutState::Aborted => Ok(rollout),
            RolloutState::Completed | RolloutState::Failed => Err(Error::FailedPrecondition(
                format!("rollout {id} is {}; only an active rollout can be aborted", rollout.state),
            )),
            _ => {
                let why = if reason.is_empty() {
                    format!("aborted by {principal}")
                } else {
                    format!("aborted by {principal}: {reason}")
                };
                self.abort(rollout, AbortCause::Operator, why, EventSource::Api, audit).await
            }
        }
    }

    /// Abort by the scheduler: too many of the finished commands failed.
    async fn abort_over_threshold(
        &self,
        rollout: RolloutRecord,
        why: String,
    ) -> Result<RolloutRecord> {
        let (cause, source) = (AbortCause::FailureThreshold, EventSource::Scheduler);
        self.abort(rollout, cause, why, source, &AuditSlot::default()).await
    }

    async fn abort(
        &self,
        mut rollout: RolloutRecord,
        cause: AbortCause,
        why: String,
        source: EventSource,
        audit: &AuditSlot,
    ) -> Result<RolloutRecord> {
        let id = rollout.rollout_id;
        let unaccepted = self.store.unaccepted_rollout_commands(id).await?;
        let now = now_ms();
        let mut tx = self.store.fleet_tx().await?;
        tx.prefetch(&unaccepted, &[]).await?;
        let mut pending = Pending::default();
        for command_id in unaccepted {
            let Some(mut command) = tx.command(command_id).await? else { continue };
            if let Ok(Some(t)) =
                lifecycle::cancel(&mut command, now, "canceled by rollout abort".into())
            {
                pending.record(&mut *tx, &command, t, source).await?;
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
        self.finish(pending);
        self.announce_rollout(id);
        Ok(rollout)
    }

    /// Advance every active rollout one step.
    pub async fn advance_rollouts(&self) -> Result<()> {
        self.set_next_step(None);
        for rollout in self.store.active_rollouts().await? {
            let id = rollout.rollout_id;
            if let Err(err) = self.advance_rollout(rollout).await {
                tracing::error!(rollout.id = %id, error = %err, "rollout step failed");
            }
        }
        Ok(())
    }

    /// How long until a paced rollout's next step is due; `None` when none is waiting.
    pub(super) fn until_next_step(&self, now: i64) -> Option<Duration> {
        let due = (*self.next_step_ms.lock().unwrap_or_else(|e| e.into_inner()))?;
        Some(Duration::from_millis(due.saturating_sub(now).max(0) as u64))
    }

    /// Replace the due time of the next step (`None`: nothing waits).
    pub(super) fn set_next_step(&self, due_ms: Option<i64>) {
        *self.next_step_ms.lock().unwrap_or_else(|e| e.into_inner()) = due_ms;
    }

    /// Advance `rollout` one step; a rollout still issuing waves leaves the time its next
    /// step is due for the scheduler.
    async fn advance_rollout(&self, rollout: RolloutRecord) -> Result<RolloutRecord> {
        let issued_before = rollout.issued_members;
        let rollout = self.step_rollout(rollout).await?;
        self.plan_next_step(&rollout, issued_before);
        Ok(rollout)
    }

    /// Leave the time `rollout`'s next paced step is due for the scheduler. A step already
    /// due that was not taken (no broker connection: nothing issued since `issued_before`)
    /// is left to the next tick, so that the scheduler never spins on it.
    fn plan_next_step(&self, rollout: &RolloutRecord, issued_before: i64) {
        let progressed = rollout.issued_members > issued_before;
        if rollout.state == RolloutState::Waves
            && let Some(due) = next_step_ms(rollout, rollout.total_members - rollout.issued_members)
            && (progressed || due > now_ms())
        {
            let mut next = self.next_step_ms.lock().unwrap_or_else(|e| e.into_inner());
            *next = Some(next.map_or(due, |other| other.min(due)));
        }
    }

    /// Start issuing a pending rollout at `now`: canary first, or (no canary) the first
    /// wave. Returns how many members the first step issues; `None` (and `rollout`
    /// unchanged) while the broker is unreachable.
    fn first_step(&self, rollout: &mut RolloutRecord, now: i64) -> Option<i64> {
        if !self.link.is_connected() {
            return None;
        }
        rollout.started_ms = Some(now);
        Some(if rollout.canary_size > 0 {
            rollout.state = RolloutState::Canary;
            rollout.canary_size
        } else {
            // No canary: the first wave goes out now, not at the next tick.
            rollout.state = RolloutState::Waves;
            rollout.canary_finished_ms = Some(now);
            wave_allowance(rollout, now)
        })
    }

    #[tracing::instrument(name = "rollout.advance", skip_all, fields(rollout.id = %rollout.rollout_id))]
    async fn step_rollout(&self, mut rollout: RolloutRecord) -> Result<RolloutRecord> {
        let _serial = self.rollout_lock.lock().await;
        // Re-read under the lock: an operator may have aborted it meanwhile.
        if let Some(fresh) = self.store.rollout(rollout.rollout_id).await? {
            rollout = fresh;
        }
        let now = now_ms();
        let id = rollout.rollout_id;
        match rollout.state {
            RolloutState::Pending => match self.first_step(&mut rollout, now) {
                Some(first) => self.issue_members(rollout, first, now).await,
                None => Ok(rollout),
            },
            RolloutState::Canary => {
                let canary = self.store.rollout_counters(id, Some(0)).await?;
                if canary.unissued > 0 || !canary.issued_all_terminal() {
                    return Ok(rollout);
                }
                let all = self.store.rollout_counters(id, None).await?;
                if let Some(why) = threshold_crossed(&rollout, &all) {
                    return self.abort_over_threshold(rollout, why).await;
                }
                rollout.state = RolloutState::Waves;
                rollout.canary_finished_ms = Some(now);
                tracing::info!(rollout.id = %id, "canary finished; starting waves");
                self.issue_members(rollout, 0, now).await
            }
            RolloutState::Waves => {
                let all = self.store.rollout_counters(id, None).await?;
                if let Some(why) = threshold_crossed(&rollout, &all) {
                    return self.abort_over_threshold(rollout, why).await;
                }
                if all.unissued == 0 {
                    if all.issued_all_terminal() {
                        rollout.state = RolloutState::Completed;
                        rollout.finished_ms = Some(now);
                        rollout.updated_ms = now;
                        let mut tx = self.store.fleet_tx().await?;
                        tx.put_rollout(&rollout).await?;
                        tx.commit().await?;
                        tracing::info!(rollout.id = %id, "rollout completed");
                        self.announce_rollout(id);
                    }
                    return Ok(rollout);
                }
                if !self.link.is_connected() {
                    return Ok(rollout);
                }
                match wave_step(&rollout, i64::from(all.unissued), now) {
                    0 => Ok(rollout),
                    count => self.issue_members(rollout, count, now).await,
                }
            }
            _ => Ok(rollout),
        }
    }

    /// Issue up to `count` unissued members (read from the store, in issue order) in
    /// [`pieces`].
    async fn issue_members(
        &self,
        rollout: RolloutRecord,
        count: i64,
        now: i64,
    ) -> Result<RolloutRecord> {
        let members = match u32::try_from(count).unwrap_or(u32::MAX) {
            0 => Vec::new(),
            limit => self.store.unissued_members(rollout.rollout_id, limit).await?,
        };
        if members.is_empty() {
            // Still store the rollout: its state may have moved (canary finished).
            return self.issue_piece(rollout, &[], now).await;
        }
        self.issue_pieces(rollout, &members, &pieces(members.len()), now).await
    }

    /// Issue `members` in pieces of `sizes`, one transaction each: each piece's commands go
    /// to the broker as soon as it commits, so the devices answer the first ones while the
    /// next are being stored.
    async fn issue_pieces(
        &self,
        mut rollout: RolloutRecord,
        members: &[RolloutMember],
        sizes: &[usize],
        now: i64,
    ) -> Result<RolloutRecord> {
        let mut rest = members;
        for &size in sizes {
            let (piece, tail) = rest.split_at(size);
            rollout = self.issue_piece(rollout, piece, now).await?;
            rest = tail;
        }
        Ok(rollout)
    }

    /// Issue `members` and store the rollout in one transaction, then publish.
    async fn issue_piece(
        &self,
        mut rollout: RolloutRecord,
        members: &[RolloutMember],
        now: i64,
    ) -> Result<RolloutRecord> {
        let mut tx = self.store.fleet_tx().await?;
        let mut pending = Pending::default();
        self.issue_into(&mut *tx, &mut pending, &mut rollout, members, now).await?;
        rollout.updated_ms = now;
        tx.put_rollout(&rollout).await?;
        tx.commit().await?;
        self.finish(pending);
        self.announce_rollout(rollout.rollout_id);
        Ok(rollout)
    }

    /// Issue a command to each of `members` in `tx` and count them in `rollout` (which the
    /// caller stores before committing). Devices that are gone are skipped.
    async fn issue_into(
        &self,
        tx: &mut dyn FleetTx,
        pending: &mut Pending,
        rollout: &mut RolloutRecord,
        members: &[RolloutMember],
        now: i64,
    ) -> Result<()> {
        let id = rollout.rollout_id;
        // The devices and their lockout windows, read in bulk. The command ids are new
        // (generated by `issue_in`), so there is nothing to read about them.
        let clients: Vec<Uuid> = members.iter().map(|m| m.client_uuid).collect();
        tx.prefetch(&[], &clients).await?;
        tx.prefetch_lockout(&clients, self.lockout_since(now)).await?;
        let how = IssueOrigin {
            origin: Origin::Rollout,
            rollout_id: Some(id),
            source: EventSource::Scheduler,
        };
        for member in members {
            let req = IssueRequest {
                command_id: None,
                client_uuid: member.client_uuid,
                action: rollout.action,
                reason: rollout.reason.clone(),
                requested_by: rollout.requested_by,
                expires_in: Some(Duration::from_millis(rollout.expires_in_ms.max(0) as u64)),
                principal: "system".into(),
                trace_parent: None,
                audit: AuditSlot::default(),
            };
            let command = match self.issue_in(tx, pending, &req, how, now).await {
                Ok(outcome) => outcome.command_id(),
                Err(Error::NotFound { .. }) => continue,
                Err(err) => return Err(err),
            };
            tx.set_member_command(id, member.client_uuid, command).await?;
            rollout.current_wave = member.wave;
        }
        rollout.issued_members += members.len() as i64;
        if !members.is_empty() {
            rollout.last_issue_ms = Some(now);
        }
        Ok(())
    }
}

impl super::issue::IssueOutcome {
    fn command_id(&self) -> Uuid {
        match self {
            Self::Created(c) | Self::Existing(c) | Self::Rejected(c, _) => c.command_id,
        }
    }
}

/// How many members the waves may issue at `now`: a burst of one second's worth, then
/// `max_per_minute` paced from the end of the canary, at most [`MAX_ISSUE_PER_TICK`].
fn wave_allowance(rollout: &RolloutRecord, now: i64) -> i64 {
    let since = rollout.canary_finished_ms.unwrap_or(now);
    let burst = (rollout.max_per_minute / 60).max(1);
    let paced = burst + rollout.max_per_minute * now.saturating_sub(since) / 60_000;
    let allowed = rollout.canary_size + paced - rollout.issued_members;
    allowed.min(MAX_ISSUE_PER_TICK)
}

/// How a step of `count` members is cut into transactions. Up to [`ISSUE_PIECE`] (every paced
/// step after a rollout's first second): one. A larger one (a rollout's first step, the first
/// step after its canary) starts while the broker and the devices are idle, so its first
/// piece is small and leaves at once; the next ones double while the devices answer the
/// earlier ones. Measured on a 1000-device rollout against pieces of 250: ratio ×1.08, 10
/// alternated pairs (docs/benchmarks.md).
fn pieces(count: usize) -> Vec<usize> {
    if count <= ISSUE_PIECE {
        return vec![count];
    }
    let (mut sizes, mut left, mut next) = (Vec::new(), count, FIRST_PIECE);
    while left > 0 {
        let size = next.min(left);
        sizes.push(size);
        left -= size;
        next = (next * 2).min(MAX_PIECE);
    }
    sizes
}

/// Members a wave step issues at least: one second's worth of `max_per_minute`, at most
/// [`ISSUE_PIECE`], or every member left.
fn step_size(rollout: &RolloutRecord, unissued: i64) -> i64 {
    (rollout.max_per_minute / 60).clamp(1, ISSUE_PIECE as i64).min(unissued)
}

/// How many members the waves issue at `now` (0: wait): the allowance, once it has grown to
/// a [`step_size`]. The scheduler advances a rollout after every ingest batch that finished
/// one of its commands; without the step, a paced rollout would issue a few members (and
/// write its row) on every such wake: 5,000 devices at 100,000/min took 700 issue
/// transactions instead of ~20.
fn wave_step(rollout: &RolloutRecord, unissued: i64, now: i64) -> i64 {
    let allowed = wave_allowance(rollout, now).min(unissued);
    if allowed > 0 && allowed >= step_size(rollout, unissued) { allowed } else { 0 }
}

/// When [`wave_step`] first allows a step (unix ms); `None` when no member is left. The
/// inverse of [`wave_allowance`]'s pacing term, rounded up to the millisecond.
fn next_step_ms(rollout: &RolloutRecord, unissued: i64) -> Option<i64> {
    if unissued <= 0 {
        return None;
    }
    let since = rollout.canary_finished_ms?;
    let burst = (rollout.max_per_minute / 60).max(1);
    let short = step_size(rollout, unissued) + rollout.issued_members - rollout.canary_size - burst;
    let per_minute = rollout.max_per_minute.max(1);
    Some(since + (short.max(0) * 60_000 + per_minute - 1) / per_minute)
}

/// The abort rule: `Some(reason)` when it fires.
fn threshold_crossed(rollout: &RolloutRecord, counters: &RolloutCounters) -> Option<String> {
    let finished = counters.finished();
    let rate = counters.failure_percent();
    (i64::from(finished) >= rollout.min_finished && rate > rollout.abort_failure_percent).then(
        || {
            format!(
                "failure rate {rate:.1}% > {:.1}% after {finished} finished",
                rollout.abort_failure_percent
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_sizes_round_up_and_clamp() {
        assert_eq!(canary_size(Canary::Default, 1000), 50);
        assert_eq!(canary_size(Canary::Default, 3), 1);
        assert_eq!(canary_size(Canary::Count(0), 10), 0);
        assert_eq!(canary_size(Canary::Count(50), 10), 10);
        assert_eq!(canary_size(Canary::Percent(10), 15), 2);
    }

    #[test]
    fn threshold_needs_min_finished_and_a_strictly_higher_rate() {
        let rollout = RolloutRecord { min_finished: 10, abort_failure_percent: 5.0, ..sample() };
        let mut counters = RolloutCounters { completed: 8, failed: 1, ..Default::default() };
        assert_eq!(threshold_crossed(&rollout, &counters), None, "only 9 finished");
        counters.completed = 9;
        let why = threshold_crossed(&rollout, &counters).unwrap();
        assert_eq!(why, "failure rate 10.0% > 5.0% after 10 finished");
        counters.completed = 19;
        assert_eq!(threshold_crossed(&rollout, &counters), None, "5.0% is not above 5.0%");
    }

    #[test]
    fn large_steps_start_with_a_small_piece_and_double() {
        assert_eq!(pieces(0), [0]);
        assert_eq!(pieces(250), [250], "a paced step is one transaction");
        assert_eq!(pieces(251), [64, 128, 59]);
        assert_eq!(pieces(1000), [64, 128, 256, 512, 40]);
        assert_eq!(pieces(2000), [64, 128, 256, 512, 512, 512, 16]);
        for count in [251, 999, 5000] {
            assert_eq!(pieces(count).iter().sum::<usize>(), count);
        }
    }

    #[test]
    fn waves_issue_in_steps_of_one_seconds_worth_at_most_a_piece() {
        let fast = RolloutRecord {
            max_per_minute: 100_000,
            canary_size: 0,
            canary_finished_ms: Some(0),
            issued_members: 1666,
            ..sample()
        };
        // 100,000/min: 1,666 per second; the first second's burst is issued.
        assert_eq!(wave_step(&fast, 3334, 0), 0, "nothing allowed yet");
        assert_eq!(wave_step(&fast, 3334, 100), 0, "166 allowed: less than a piece");
        assert_eq!(wave_step(&fast, 3334, 150), 250, "a piece's worth");
        assert_eq!(wave_step(&fast, 3334, 600), 1000, "everything allowed by now");
        assert_eq!(wave_step(&fast, 100, 60), 100, "the last members need no full piece");
        assert_eq!(next_step_ms(&fast, 3334), Some(150), "when a piece's worth is allowed");
        assert_eq!(next_step_ms(&fast, 100), Some(60));
        assert_eq!(next_step_ms(&fast, 0), None);
        let slow = RolloutRecord { max_per_minute: 60, ..fast.clone() };
        let slow = RolloutRecord { issued_members: 1, ..slow };
        assert_eq!(wave_step(&slow, 10, 999), 0);
        assert_eq!(wave_step(&slow, 10, 1000), 1, "one per second");
        assert_eq!(wave_step(&slow, 0, 5000), 0, "nothing left");
        assert_eq!(next_step_ms(&slow, 10), Some(1000));
        for (rollout, unissued) in [(&fast, 3334), (&fast, 100), (&slow, 10)] {
            let due = next_step_ms(rollout, unissued).unwrap();
            assert!(wave_step(rollout, unissued, due) > 0, "a step is allowed when due");
            assert_eq!(wave_step(rollout, unissued, due - 1), 0, "and not a ms before");
        }
    }

    fn sample() -> RolloutRecord {
        RolloutRecord {
            rollout_id: Uuid::nil(),
            action: Action::RestartApp,
            target: RolloutTarget::All,
            canary_count: None,
            canary_percent: None,
            canary_size: 1,
            max_per_minute: 60,
            abort_failure_percent: 5.0,
            min_finished: 10,
            state: RolloutState::Waves,
            reason: None,
            requested_by: None,
            principal: String::new(),
            params_hash: String::new(),
            expires_in_ms: 1000,
            total_members: 20,
            issued_members: 0,
            current_wave: 0,
            last_issue_ms: None,
            created_ms: 0,
            started_ms: None,
            canary_finished_ms: None,
            updated_ms: 0,
            finished_ms: None,
            abort_reason: None,
            abort_cause: None,
            error: None,
        }
    }
}
