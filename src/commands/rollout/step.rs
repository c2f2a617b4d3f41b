//! Driving a rollout: the scheduler's step (canary verdict, next wave, completion), the
//! due time of a paced rollout's next step, and issuing members in pieces, one transaction
//! each, publishing each piece as soon as it commits. What a step may issue is decided in
//! [`super::plan`].
//!
//! A step reads the rollout before its transactions, and any replica may change the row
//! meanwhile (an operator's abort, another replica's step). So no transaction writes back
//! the row the step read: each one reads the row again under the device area's write lock,
//! applies the step's [`Change`] to it, and stops, writing nothing, when the row is no
//! longer in the state the step read it in.

use std::time::Duration;

use uuid::Uuid;

use super::plan::{next_step_ms, pieces, threshold_crossed, wave_allowance, wave_step};
use crate::audit::AuditSlot;
use crate::clock::now_ms;
use crate::commands::fleet::{Fleet, Pending};
use crate::commands::issue::{IssueOrigin, IssueOutcome, IssueRequest};
use crate::commands::leader::Scope;
use crate::error::{Error, Result};
use crate::model::commands::{EventSource, Origin};
use crate::model::rollouts::{RolloutMember, RolloutRecord, RolloutState};
use crate::store::commands::FleetTx;

/// What a step does to its rollout's state besides issuing members. Decided on the row the
/// step read; its first piece applies it to the row as that piece's transaction reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// Nothing: the step only issues members.
    Issue,
    /// A pending rollout begins: its canary, or its first wave when it has none.
    Begin,
    /// The canary is over: the waves begin.
    Waves,
}

impl Change {
    fn apply(self, rollout: &mut RolloutRecord, now: i64) {
        match self {
            Self::Issue => {}
            Self::Begin => {
                begin(rollout, now);
            }
            Self::Waves => {
                rollout.state = RolloutState::Waves;
                rollout.canary_finished_ms = Some(now);
            }
        }
    }
}

/// How a piece ended.
#[derive(Debug)]
pub(super) enum Piece {
    /// Its members were issued and the rollout stored as it is now.
    Issued(RolloutRecord),
    /// The rollout had moved on since the step read it (aborted, or stepped by another
    /// replica): nothing was written, and the step stops. The rollout as it is now.
    Stopped(RolloutRecord),
}

#[cfg(test)]
impl Piece {
    /// The rollout as the piece left it.
    pub(super) fn rollout(self) -> RolloutRecord {
        match self {
            Self::Issued(rollout) | Self::Stopped(rollout) => rollout,
        }
    }
}

/// Begin a pending `rollout` at `now`: canary first, or (no canary) the first wave. How many
/// members its first step issues.
fn begin(rollout: &mut RolloutRecord, now: i64) -> i64 {
    rollout.started_ms = Some(now);
    if rollout.canary_size > 0 {
        rollout.state = RolloutState::Canary;
        rollout.canary_size
    } else {
        // No canary: the first wave goes out now, not at the next tick.
        rollout.state = RolloutState::Waves;
        rollout.canary_finished_ms = Some(now);
        wave_allowance(rollout, now)
    }
}

/// The rollout `id` as the open transaction `tx` reads it.
pub(super) async fn read_in(tx: &mut dyn FleetTx, id: Uuid) -> Result<RolloutRecord> {
    let found = tx.rollout(id).await?;
    found.ok_or(Error::NotFound { kind: "rollout", id: id.to_string() })
}

impl Fleet {
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
    pub(in crate::commands) fn until_next_step(&self, now: i64) -> Option<Duration> {
        let due = (*self.next_step_ms.lock().unwrap_or_else(|e| e.into_inner()))?;
        Some(Duration::from_millis(due.saturating_sub(now).max(0) as u64))
    }

    /// Replace the due time of the next step (`None`: nothing waits).
    pub(in crate::commands) fn set_next_step(&self, due_ms: Option<i64>) {
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
    pub(super) fn plan_next_step(&self, rollout: &RolloutRecord, issued_before: i64) {
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
    pub(super) fn first_step(&self, rollout: &mut RolloutRecord, now: i64) -> Option<i64> {
        if !self.link.is_connected() {
            return None;
        }
        Some(begin(rollout, now))
    }

    #[tracing::instrument(name = "rollout.advance", skip_all, fields(rollout.id = %rollout.rollout_id))]
    async fn step_rollout(&self, mut rollout: RolloutRecord) -> Result<RolloutRecord> {
        let _serial = self.rollout_lock.lock().await;
        // Re-read under the lock: an operator may have aborted it meanwhile. The counters
        // over every member come with it, from the same statement.
        let Some((fresh, all)) = self.store.rollout_with_counters(rollout.rollout_id).await? else {
            return Ok(rollout);
        };
        rollout = fresh;
        let now = now_ms();
        let id = rollout.rollout_id;
        match rollout.state {
            // Only the count is taken here: the first piece begins the rollout on the row its
            // transaction reads.
            RolloutState::Pending => match self.first_step(&mut rollout.clone(), now) {
                Some(first) => self.issue_members(rollout, Change::Begin, first, now).await,
                None => Ok(rollout),
            },
            RolloutState::Canary => {
                let canary = self.store.rollout_counters(id, Some(0)).await?;
                if canary.unissued > 0 {
                    // A canary step that stopped between its pieces (a crash, a store
                    // error): issue the rest of the canary, and only the canary.
                    if !self.link.is_connected() {
                        return Ok(rollout);
                    }
                    let count = i64::from(canary.unissued);
                    return self.issue_members(rollout, Change::Issue, count, now).await;
                }
                if !canary.issued_all_terminal() {
                    return Ok(rollout);
                }
                if let Some(why) = threshold_crossed(&rollout, &all) {
                    return self.abort_over_threshold(rollout, why).await;
                }
                tracing::info!(rollout.id = %id, "canary finished; starting waves");
                self.issue_members(rollout, Change::Waves, 0, now).await
            }
            RolloutState::Waves => {
                if let Some(why) = threshold_crossed(&rollout, &all) {
                    return self.abort_over_threshold(rollout, why).await;
                }
                if all.unissued == 0 {
                    if all.issued_all_terminal() {
                        return self.complete(id, now).await;
                    }
                    return Ok(rollout);
                }
                if !self.link.is_connected() {
                    return Ok(rollout);
                }
                match wave_step(&rollout, i64::from(all.unissued), now) {
                    0 => Ok(rollout),
                    count => self.issue_members(rollout, Change::Issue, count, now).await,
                }
            }
            _ => Ok(rollout),
        }
    }

    /// Complete rollout `id`, every member issued and every command terminal, unless it was
    /// aborted since the step read it.
    pub(super) async fn complete(&self, id: Uuid, now: i64) -> Result<RolloutRecord> {
        let mut tx = self.leader_tx().await?;
        let mut rollout = read_in(&mut *tx, id).await?;
        if rollout.state != RolloutState::Waves {
            return Ok(rollout);
        }
        rollout.state = RolloutState::Completed;
        rollout.finished_ms = Some(now);
        rollout.updated_ms = now;
        tx.put_rollout(&rollout).await?;
        tx.commit().await?;
        tracing::info!(rollout.id = %id, "rollout completed");
        crate::metrics::metrics().rollout_ended(RolloutState::Completed.as_str());
        self.announce_rollout(id);
        Ok(rollout)
    }

    /// Issue up to `count` unissued members (read from the store, in issue order) in
    /// [`pieces`]. With none to issue this is still one (empty) piece: the rollout is stored,
    /// its state may have moved (canary finished).
    async fn issue_members(
        &self,
        rollout: RolloutRecord,
        change: Change,
        count: i64,
        now: i64,
    ) -> Result<RolloutRecord> {
        let by = EventSource::Scheduler;
        let members = match u32::try_from(count).unwrap_or(u32::MAX) {
            0 => Vec::new(),
            limit => self.store.unissued_members(rollout.rollout_id, limit).await?,
        };
        self.issue_pieces(rollout, change, &members, &pieces(members.len()), now, by).await
    }

    /// Issue `members` in pieces of `sizes`, one transaction each: each piece's commands go
    /// to the broker as soon as it commits, so the devices answer the first ones while the
    /// next are being stored. `rollout` is the row as the step read it, `change` what the
    /// step does to it (applied by the first piece); `by` is who takes the step (see
    /// [`Fleet::step_tx`]). Stops at the first piece that finds the rollout moved on.
    pub(super) async fn issue_pieces(
        &self,
        mut rollout: RolloutRecord,
        mut change: Change,
        members: &[RolloutMember],
        sizes: &[usize],
        now: i64,
        by: EventSource,
    ) -> Result<RolloutRecord> {
        let mut rest = members;
        for &size in sizes {
            let (piece, tail) = rest.split_at(size);
            match self.issue_piece(&rollout, change, piece, now, by).await? {
                Piece::Issued(stored) => rollout = stored,
                Piece::Stopped(current) => return Ok(current),
            }
            change = Change::Issue;
            rest = tail;
        }
        Ok(rollout)
    }

    /// Issue `members` and store the rollout in one transaction, then publish. `read` is
    /// the rollout as the step read it: the transaction reads the row again, and unless it
    /// is still in the state the step read (and still running), writes nothing. Taken by
    /// the scheduler (`by`), the transaction is fenced: an old leader issues nothing.
    pub(super) async fn issue_piece(
        &self,
        read: &RolloutRecord,
        change: Change,
        members: &[RolloutMember],
        now: i64,
        by: EventSource,
    ) -> Result<Piece> {
        let id = read.rollout_id;
        let mut tx = self.step_tx(by, Scope::Devices).await?;
        let mut rollout = read_in(&mut *tx, id).await?;
        if rollout.state != read.state || rollout.state.is_terminal() {
            tracing::info!(rollout.id = %id, rollout.state = %rollout.state, read = %read.state,
                "the rollout moved on since its step read it; the step stops");
            return Ok(Piece::Stopped(rollout));
        }
        change.apply(&mut rollout, now);
        let mut pending = Pending::default();
        self.issue_into(&mut *tx, &mut pending, &mut rollout, members, now).await?;
        rollout.updated_ms = now;
        tx.put_rollout(&rollout).await?;
        tx.commit().await?;
        self.finish(pending);
        self.announce_rollout(id);
        Ok(Piece::Issued(rollout))
    }

    /// Issue a command to each of `members` in `tx` and count them in `rollout` (which the
    /// caller stores before committing). Devices that are gone, and members another
    /// transaction issued since they were read, are skipped.
    pub(super) async fn issue_into(
        &self,
        tx: &mut dyn FleetTx,
        pending: &mut Pending,
        rollout: &mut RolloutRecord,
        members: &[RolloutMember],
        now: i64,
    ) -> Result<()> {
        let id = rollout.rollout_id;
        // The members were read before this transaction: another replica (the one serving
        // StartRollout, or the leader's step) may have issued some since. Only those still
        // unissued now are issued, so each member gets one command and the rollout's
        // progress counts it once.
        let requested: Vec<Uuid> = members.iter().map(|m| m.client_uuid).collect();
        let unissued = tx.unissued_members_of(id, &requested).await?;
        let members: Vec<&RolloutMember> =
            members.iter().filter(|m| unissued.contains(&m.client_uuid)).collect();
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
        for member in &members {
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

impl IssueOutcome {
    fn command_id(&self) -> Uuid {
        match self {
            Self::Created(c) | Self::Existing(c) | Self::Rejected(c, _) => c.command_id,
        }
    }
}
