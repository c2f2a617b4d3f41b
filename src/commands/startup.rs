//! Start-up accounting of the commands and rollouts a previous run left open, before the
//! server serves: every open command is counted by what happens to it next. Those whose
//! timer ran out while no process was running are `expired` / `timed_out` by the
//! scheduler's first sweep, which runs as soon as the server serves and keeps sweeping until
//! none is due ([`crate::commands::Fleet::sweep_timers`]); the others have their timers
//! re-armed by the scheduler, `queued` ones are published once the gateway connects, and
//! active rollouts continue their waves.
//!
//! Applying the timers here, before SERVING, made start-up time grow with the number of
//! commands that ran out during the outage (25,000 of them: several seconds on PostgreSQL,
//! docs/benchmarks.md); counting them reads the open commands once. It returns a
//! [`StartupSummary`] for the recovery report and changes nothing.

use std::sync::Arc;

use uuid::Uuid;

use crate::clock::now_ms;
use crate::error::Result;
use crate::model::commands::CommandState;
use crate::store::Store;

/// A count and (at most `max_ids` of) the ids it counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub count: u64,
    pub ids: Vec<Uuid>,
}

impl Found {
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
    /// `queued`/`published` past `expires_at`: expired by the scheduler's first sweep.
    pub expired: Found,
    /// `accepted`/`execution_started` past their deadline: timed out by the first sweep.
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

/// Count every non-terminal command by what happens to it next, and list the active
/// rollouts.
#[tracing::instrument(name = "recovery.commands", skip_all)]
pub async fn recover_at_start(store: &Arc<dyn Store>, max_ids: usize) -> Result<StartupSummary> {
    let mut summary = StartupSummary::default();
    let now = now_ms();
    let ids = u32::try_from(max_ids).unwrap_or(u32::MAX);
    for open in store.open_command_summary(ids, now).await? {
        summary.open_at_start += open.count;
        let (due, waiting) = match open.state {
            CommandState::Queued => (&mut summary.expired, &mut summary.queued_for_publish),
            CommandState::Published => (&mut summary.expired, &mut summary.rearmed),
            _ => (&mut summary.timed_out, &mut summary.rearmed),
        };
        due.count += open.due;
        waiting.add(open.count.saturating_sub(open.due), open.ids, max_ids);
    }
    // Ids of due commands of each kind. The query reads the expiring ones first, so the
    // timed-out ones are listed only when the expiring ones are few; a short list only
    // makes the category's ids_truncated true.
    let max = max_ids as u64;
    let expiring = summary.expired.count;
    let wanted =
        if expiring <= 10 * max { expiring + summary.timed_out.count.min(max) } else { max };
    for command in store.due_commands(now, u32::try_from(wanted).unwrap_or(u32::MAX)).await? {
        let found = match command.state {
            CommandState::Queued | CommandState::Published => &mut summary.expired,
            _ => &mut summary.timed_out,
        };
        if found.ids.len() < max_ids {
            found.ids.push(command.command_id);
        }
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
    use crate::model::commands::{CommandRecord, EventSource, Origin};

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
        assert!(ids[..2].contains(&summary.expired.ids[0]));
        assert_eq!(summary.timed_out, Found { count: 1, ids: vec![ids[2]] });
        assert_eq!(summary.rearmed.count, 2);
        assert!(ids[3..5].contains(&summary.rearmed.ids[0]), "a due command is not re-armed");
        assert_eq!(summary.queued_for_publish, Found { count: 1, ids: vec![ids[5]] });
        // Counting changes nothing: the scheduler's first sweep applies the timers.
        let untouched = store.command(ids[2]).await.unwrap().unwrap();
        assert_eq!(untouched.state, CommandState::Accepted);
        let again = recover_at_start(&store, 10).await.unwrap();
        let counts = |s: &StartupSummary| (s.open_at_start, s.expired.count, s.timed_out.count);
        assert_eq!(counts(&again), (6, 2, 1));
    }
}
