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
    ///
    /// A full batch is followed by the next at once, so the first sweep after a start drains
    /// every command whose timer ran out while no server ran (start-up recovery only counts
    /// them, `commands::startup`) in consecutive transactions of [`SWEEP_LIMIT`].
    pub async fn sweep_timers(&self) -> Result<usize> {
        let now = now_ms();
        let mut swept = 0;
        loop {
            let due = self.store.due_commands(now, SWEEP_LIMIT).await?;
            if due.is_empty() {
                return Ok(swept);
            }
            let full = due.len() >= SWEEP_LIMIT as usize;
            let tx = self.leader_tx().await?;
            let pending = apply_timers(tx, &due, now, EventSource::Scheduler).await?;
            for change in &pending.changes {
                tracing::info!(command.id = %change.command.command_id, to = %change.event.to_state,
                    "{}", change.event.detail);
            }
            let progressed = !pending.changes.is_empty();
            swept += pending.changes.len();
            self.finish(pending);
            if !full || !progressed {
                return Ok(swept);
            }
        }
    }
}

/// Store the timer transitions (`expired`, `timed_out`) of the `due` commands at `now`, in
/// `tx`, which reads them again in one go (an ack may have arrived since the scan).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_link::RecordingLink;
    use crate::commands::{DeviceSettings, Settings};
    use crate::config::Config;
    use crate::contract::Action;
    use crate::model::commands::{CommandState, Origin};
    use uuid::Uuid;

    /// Start-up only counts the commands whose timers ran out during an outage; the first
    /// sweep must then apply every one of them, not one batch per tick.
    #[tokio::test]
    async fn one_sweep_drains_more_than_a_batch_of_due_commands() {
        let store = crate::store::open("sqlite::memory:").await.unwrap();
        let due = SWEEP_LIMIT as usize + 50;
        let mut tx = store.fleet_tx().await.unwrap();
        let now = now_ms();
        for _ in 0..due {
            let command = CommandRecord::new(
                Uuid::new_v4(),
                Uuid::new_v4(),
                Action::RestartApp,
                Origin::Api,
                now - 10_000,
                now - 1,
            );
            tx.insert_command(&command).await.unwrap();
        }
        tx.commit().await.unwrap();
        let settings = Settings::new(DeviceSettings::from_config(&Config::default()));
        let fleet = Fleet::new(store.clone(), settings, Arc::new(RecordingLink::default()));
        assert_eq!(fleet.sweep_timers().await.unwrap(), due);
        assert!(store.due_commands(now_ms(), 10).await.unwrap().is_empty());
        let expired = store.commands_in_states(&[CommandState::Expired], 10).await.unwrap();
        assert_eq!(expired.len(), 10);
        assert_eq!(fleet.sweep_timers().await.unwrap(), 0);
    }
}
