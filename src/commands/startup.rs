//! Start-up re-evaluation of the commands and rollouts a previous run left open, before the
//! server serves: timers that ran out while no process was running are applied from the
//! stored timestamps (`expired`, `timed_out`), and what is still open is counted by what
//! happens to it next (its timers are re-armed by the scheduler; `queued` commands are
//! published once the gateway connects; active rollouts continue their waves).
//!
//! It returns a [`StartupSummary`] for the recovery report and does nothing else: no
//! announcements (nobody watches yet), no publishing (the gateway is not started).

use std::sync::Arc;

use uuid::Uuid;

use super::scheduler::apply_timers;
use crate::clock::now_ms;
use crate::error::Result;
use crate::model::commands::{CommandState, EventSource};
use crate::store::Store;

/// Most timer transitions per transaction.
const BATCH: u32 = 2000;

/// A count and (at most `max_ids` of) the ids it counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub count: u64,
    pub ids: Vec<Uuid>,
}

impl Found {
    fn push(&mut self, id: Uuid, max_ids: usize) {
        self.count += 1;
        if self.ids.len() < max_ids {
            self.ids.push(id);
        }
    }

    fn add(&mut self, count: u64, ids: Vec<Uuid>, max_ids: usize) {
        self.count += count;
        let room = max_ids.saturating_sub(self.ids.len());
        self.ids.extend(ids.into_iter().take(room));
    }
}

/// What start-up found open and did about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartupSummary {
    /// Non-terminal commands found before anything was changed.
    pub open_at_start: u64,
    /// `queued`/`published` past `expires_at`: now `expired`.
    pub expired: Found,
    /// `accepted`/`execution_started` past their deadline: now `timed_out`.
    pub timed_out: Found,
    /// `published`, `accepted` or `execution_started` with time left: the scheduler's
    /// timers cover them again.
    pub rearmed: Found,
    /// `queued` with time left: published once the gateway connects.
    pub queued_for_publish: Found,
    /// Rollouts still pending, in canary or running: the scheduler continues them.
    pub rollouts_resumed: Vec<Uuid>,
}

impl StartupSummary {
    /// Open commands the summary does not place in a category (0 unless another process
    /// wrote commands meanwhile, e.g. a draining predecessor).
    pub fn unaccounted(&self) -> i64 {
        let placed = self.expired.count
            + self.timed_out.count
            + self.rearmed.count
            + self.queued_for_publish.count;
        self.open_at_start as i64 - placed as i64
    }
}

/// Re-evaluate every non-terminal command and list the active rollouts.
#[tracing::instrument(name = "recovery.commands", skip_all)]
pub async fn recover_at_start(store: &Arc<dyn Store>, max_ids: usize) -> Result<StartupSummary> {
    let mut summary = StartupSummary {
        open_at_start: store.open_command_summary(0).await?.iter().map(|s| s.count).sum(),
        ..StartupSummary::default()
    };
    let now = now_ms();
    loop {
        let due = store.due_commands(now, BATCH).await?;
        if due.is_empty() {
            break;
        }
        let pending =
            apply_timers(store.fleet_tx().await?, &due, now, EventSource::Recovery).await?;
        for change in &pending.changes {
            let found = match change.command.state {
                CommandState::Expired => &mut summary.expired,
                _ => &mut summary.timed_out,
            };
            found.push(change.command.command_id, max_ids);
        }
    }
    let ids = u32::try_from(max_ids).unwrap_or(u32::MAX);
    for open in store.open_command_summary(ids).await? {
        let found = match open.state {
            CommandState::Queued => &mut summary.queued_for_publish,
            _ => &mut summary.rearmed,
        };
        found.add(open.count, open.ids, max_ids);
    }
    summary.rollouts_resumed =
        store.active_rollouts().await?.into_iter().map(|r| r.rollout_id).collect();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::fleet::Pending;
    use crate::contract::Action;
    use crate::model::commands::{CommandRecord, Origin};

    async fn insert(store: &Arc<dyn Store>, command: CommandRecord) {
        let mut tx = store.fleet_tx().await.unwrap();
        let mut pending = Pending::default();
        pending.create(&mut *tx, command, EventSource::Api, "test").await.unwrap();
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn every_open_command_lands_in_exactly_one_category() {
        let store = crate::store::open("sqlite::memory:").await.unwrap();
        let client = Uuid::new_v4();
        let now = now_ms();
        let command = |state, expires: i64, deadline: Option<i64>| {
            let mut c = CommandRecord::new(
                Uuid::new_v4(),
                client,
                Action::RestartApp,
                Origin::Api,
                now - 10_000,
                now + expires,
            );
            c.state = state;
            c.deadline_ms = deadline;
            c
        };
        let cases = [
            command(CommandState::Queued, -1, None),    // expired
            command(CommandState::Published, -1, None), // expired
            command(CommandState::Accepted, 60_000, Some(now - 1)), // timed out
            command(CommandState::ExecutionStarted, 60_000, Some(now + 60_000)), // re-armed
            command(CommandState::Published, 60_000, None), // re-armed
            command(CommandState::Queued, 60_000, None), // to publish
            command(CommandState::Completed, 60_000, None), // terminal: not counted
        ];
        let ids: Vec<Uuid> = cases.iter().map(|c| c.command_id).collect();
        for case in cases {
            insert(&store, case).await;
        }
        let summary = recover_at_start(&store, 1).await.unwrap();
        assert_eq!(summary.open_at_start, 6);
        assert_eq!(summary.unaccounted(), 0);
        assert_eq!((summary.expired.count, summary.expired.ids.len()), (2, 1));
        assert_eq!(summary.timed_out, Found { count: 1, ids: vec![ids[2]] });
        assert_eq!(summary.rearmed.count, 2);
        assert_eq!(summary.queued_for_publish, Found { count: 1, ids: vec![ids[5]] });
        let timed_out = store.command(ids[2]).await.unwrap().unwrap();
        assert_eq!(timed_out.state, CommandState::TimedOut);
        let events = store.command_events(ids[2]).await.unwrap();
        assert_eq!(events.last().unwrap().source, EventSource::Recovery);

        // A second start finds the transitions done.
        let again = recover_at_start(&store, 10).await.unwrap();
        assert_eq!((again.open_at_start, again.expired.count, again.timed_out.count), (3, 0, 0));
    }
}
