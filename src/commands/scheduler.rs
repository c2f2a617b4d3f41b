//! The scheduler loop: every `scheduler.tick` it expires commands nobody accepted, times out
//! commands whose terminal ack is overdue, advances rollouts and runs the crash recovery
//! ladder. One tick's timer transitions are stored in one transaction.
//!
//! Between ticks, a rollout is also advanced as soon as one of its commands became terminal
//! (the ingest loop wakes the scheduler), so a canary verdict or a rollout's completion does
//! not wait for the next tick, and when its next paced wave step is due.
//!
//! The tick follows config reloads (the loop re-arms its interval when [`Settings`] change);
//! the loop parks at its checkpoint during a hot restart and returns when the server stops.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::fleet::{Fleet, Pending};

use super::lifecycle;
use crate::clock::now_ms;
use crate::error::Result;
use crate::model::commands::{CommandRecord, EventSource};
use crate::store::FleetTx;
use crate::tasks::TaskControl;

/// Most timer transitions per transaction (the rest wait for the next tick).
const SWEEP_LIMIT: u32 = 2000;

impl Fleet {
    /// The scheduler loop: runs as a background task until told to stop.
    pub async fn run_scheduler(self: Arc<Self>, mut control: TaskControl) {
        let mut settings = self.settings.subscribe();
        loop {
            let tick = settings.borrow_and_update().scheduler.tick;
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                let next_step = self.until_next_step(now_ms());
                tokio::select! {
                    _ = interval.tick() => self.tick().await,
                    _ = self.rollouts_due(next_step), if self.leadership.is_leader() => {
                        if let Err(err) = self.advance_rollouts().await {
                            tracing::error!(error = %err, "scheduler: rollout step failed");
                        }
                    }
                    _ = control.changed() => {}
                    changed = settings.changed() => {
                        if changed.is_ok() {
                            tracing::info!(tick = ?settings.borrow().scheduler.tick, "scheduler tick changed");
                            break;
                        }
                    }
                }
                if !control.checkpoint().await {
                    return;
                }
            }
        }
    }

    /// Resolves when rollouts are to be advanced between ticks: one of their commands became
    /// terminal, or a paced rollout's next step is due after `next_step`.
    async fn rollouts_due(&self, next_step: Option<Duration>) {
        match next_step {
            Some(delay) => tokio::select! {
                _ = self.rollout_wake.notified() => {}
                _ = tokio::time::sleep(delay) => {}
            },
            None => self.rollout_wake.notified().await,
        }
    }

    /// One pass of every scheduled duty, while this replica leads (`crate::cluster`).
    /// Failures are logged; the next tick tries again.
    #[tracing::instrument(name = "scheduler.tick", skip_all)]
    pub async fn tick(&self) {
        if !self.leadership.is_leader() {
            return;
        }
        if let Err(err) = self.sweep_timers().await {
            tracing::error!(error = %err, "scheduler: expiry/timeout sweep failed");
        }
        if let Err(err) = self.advance_rollouts().await {
            tracing::error!(error = %err, "scheduler: rollout step failed");
        }
        if let Err(err) = self.recover_crashes().await {
            tracing::error!(error = %err, "scheduler: crash recovery failed");
        }
        if let Err(err) = self.adopt_orphans().await {
            tracing::error!(error = %err, "scheduler: adopting orphaned commands failed");
        }
    }

    /// Expire and time out every command whose timer ran out.
    pub async fn sweep_timers(&self) -> Result<usize> {
        let now = now_ms();
        let due = self.store.due_commands(now, SWEEP_LIMIT).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let tx = self.leader_tx().await?;
        let pending = apply_timers(tx, &due, now, EventSource::Scheduler).await?;
        for change in &pending.changes {
            tracing::info!(command.id = %change.command.command_id, to = %change.event.to_state,
                "{}", change.event.detail);
        }
        let count = pending.changes.len();
        self.finish(pending);
        Ok(count)
    }
}

/// Store the timer transitions (`expired`, `timed_out`) of the `due` commands at `now`, in
/// `tx`, which reads them again in one go (an ack may have arrived since the scan).
/// The scheduler (in a fenced transaction) and start-up recovery share it.
pub(super) async fn apply_timers(
    mut tx: Box<dyn FleetTx>,
    due: &[CommandRecord],
    now: i64,
    source: EventSource,
) -> Result<Pending> {
    let ids: Vec<_> = due.iter().map(|c| c.command_id).collect();
    tx.prefetch(&ids, &[]).await?;
    let mut pending = Pending::default();
    for id in ids {
        let Some(mut command) = tx.command(id).await? else { continue };
        if let Some(t) = lifecycle::on_timer(&mut command, now) {
            pending.record(&mut *tx, command, t, source).await?;
        }
    }
    tx.commit().await?;
    Ok(pending)
}
