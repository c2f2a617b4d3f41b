//! Changes made by every replica sharing the store, put on this replica's change bus in commit
//! order: the store's [`ChangeFeed`] names each command event and rollout committed, by this
//! process or another; this loop announces this process's own from what `Fleet::finish`
//! handed over and reads the others' again, so that every Watch stream on every replica sees
//! every replica's changes, in the order they were committed (a change applied here is never
//! announced before an earlier one applied elsewhere).
//!
//! A change is re-read after its commit, so the command may have moved on meanwhile: the
//! announced record is the stored one with the state of the event announced (a watcher of one
//! command must not end its stream before the later events). When the feed missed changes
//! (its connection dropped), the command watchers are told to start again (the bus's gap
//! counter) and every rollout watcher re-reads its rollout.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::fleet::{CommandChange, Fleet};
use crate::model::commands::{CommandEvent, CommandRecord};
use crate::store::StoreError;
use crate::store::changes::{ChangeFeed, StoreChange};
use crate::tasks::TaskControl;

/// Wait before listening again after the feed failed.
const RETRY_DELAY: Duration = Duration::from_secs(1);

impl Fleet {
    /// The loop that follows the other replicas' changes until told to stop.
    pub async fn run_change_feed(
        self: Arc<Self>,
        mut feed: Box<dyn ChangeFeed>,
        mut control: TaskControl,
    ) {
        loop {
            let next = tokio::select! {
                _ = control.changed() => {
                    if !control.checkpoint().await {
                        return;
                    }
                    continue;
                }
                next = feed.next() => next,
            };
            let failed = match next {
                Ok(changes) => self.announce_remote(changes).await.err(),
                Err(err) => Some(err),
            };
            if let Some(err) = failed {
                tracing::warn!(error = %err, "commands.replica_changes: cannot follow other replicas; retrying");
                self.release_local();
                self.announce_gap();
                tokio::select! {
                    _ = tokio::time::sleep(RETRY_DELAY) => {}
                    _ = control.changed() => {}
                }
                if control.is_stopping() {
                    return;
                }
            }
        }
    }

    /// Announces the changes, in order: this process's own from what it handed over at commit,
    /// the others' read again.
    ///
    /// Another replica's change is read again only while someone watches (a Watch stream is
    /// open here): with nobody to tell, the reads would be the only cost of the notice.
    async fn announce_remote(&self, changes: Vec<StoreChange>) -> Result<(), StoreError> {
        let mut read: HashMap<Uuid, (CommandRecord, Vec<CommandEvent>)> = HashMap::new();
        for change in changes {
            match change {
                StoreChange::Event { command_id, event_id, local } => {
                    if local && let Some(change) = self.take_local(event_id) {
                        self.announce_change(change);
                        continue;
                    }
                    if !self.watched() {
                        continue;
                    }
                    let (command, events) = match read.entry(command_id) {
                        Entry::Occupied(known) => known.into_mut(),
                        Entry::Vacant(slot) => {
                            let Some(command) = self.store.command(command_id).await? else {
                                continue;
                            };
                            let events = self.store.command_events(command_id).await?;
                            slot.insert((command, events))
                        }
                    };
                    let Some(event) = events.iter().find(|e| e.id == event_id) else { continue };
                    let mut command = command.clone();
                    command.state = event.to_state;
                    self.announce_change(CommandChange { command, event: event.clone() });
                }
                StoreChange::Rollout { id, local: false } => self.announce_rollout(id),
                StoreChange::Rollout { local: true, .. } => {}
                StoreChange::Missed => {
                    self.release_local();
                    self.announce_gap();
                }
            }
        }
        Ok(())
    }

    /// This process's change of `event_id`, or `None` when its notice came first (then the
    /// change is read from the store, and dropped when it is handed over).
    fn take_local(&self, event_id: i64) -> Option<CommandChange> {
        let mut unannounced = self.unannounced.as_ref()?.lock().unwrap_or_else(|e| e.into_inner());
        let change = unannounced.waiting.remove(&event_id);
        if change.is_none() {
            unannounced.announced.insert(event_id);
        }
        change
    }

    /// After missed notices: announce every own change still waiting, oldest first.
    pub(super) fn release_local(&self) {
        let Some(unannounced) = &self.unannounced else { return };
        let waiting =
            std::mem::take(&mut unannounced.lock().unwrap_or_else(|e| e.into_inner()).waiting);
        for change in waiting.into_values() {
            self.announce_change(change);
        }
    }
}
