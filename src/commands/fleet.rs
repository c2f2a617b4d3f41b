//! [`Fleet`]: the command domain's entry point, shared by the gRPC adapter, the MQTT ingest
//! loop and the scheduler; plus the change bus that Watch streams follow.
//!
//! Every state change goes through [`Pending`]: the record and its event are written in the
//! caller's transaction, and the change is announced on the bus (and new commands are handed
//! to the gateway) only after that transaction committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::broadcast;
use uuid::Uuid;

use super::device::{DeviceLink, OutboundCommand};
use super::lifecycle::Transition;
use super::settings::Settings;
use crate::audit::AuditSlot;
use crate::clock::now_ms;
use crate::cluster::Leadership;
use crate::model::commands::{CommandEvent, CommandRecord, CommandState, EventSource};
use crate::store::commands::FleetTx;
use crate::store::{Store, StoreError};

/// How many changes a slow watcher may fall behind before its stream ends.
const BUS_CAPACITY: usize = 8192;

/// One stored transition, as announced to watchers.
#[derive(Debug, Clone)]
pub struct CommandChange {
    pub command: CommandRecord,
    pub event: CommandEvent,
}

/// Counters of things that changed nothing but must be visible.
#[derive(Debug, Default)]
pub struct Stats {
    /// Duplicate, out-of-order or post-terminal acks.
    pub ignored_acks: AtomicU64,
    /// Acks naming a command the store does not have, or another device's command.
    pub unknown_acks: AtomicU64,
    /// Device messages another replica had already applied (each replica receives every
    /// device message): no-ops.
    pub replica_copies: AtomicU64,
    /// Device messages another live replica owns, kept here in case it dies (`ownership`).
    pub held_for_others: AtomicU64,
    /// Kept messages this replica ingested after their owner left the live replicas.
    pub taken_over: AtomicU64,
    /// Kept messages dropped because the standby was full.
    pub standby_overflow: AtomicU64,
}

impl Stats {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The device command domain.
pub struct Fleet {
    pub(super) store: Arc<dyn Store>,
    pub(super) settings: Settings,
    pub(super) link: Arc<dyn DeviceLink>,
    commands_tx: broadcast::Sender<Arc<CommandChange>>,
    rollouts_tx: broadcast::Sender<Uuid>,
    /// Counts the times the bus missed changes made by other replicas.
    gaps_tx: tokio::sync::watch::Sender<u64>,
    /// On a store other processes share: this process's changes by event id, waiting for
    /// their own notice so that the bus carries every replica's changes in commit order
    /// (`replicas`). `None`: announced at once (SQLite).
    pub(super) unannounced: Option<std::sync::Mutex<Unannounced>>,
    pub(super) stats: Stats,
    /// This process among the replicas sharing the store, for counting message copies.
    pub(super) process: Uuid,
    /// Serializes rollout starts and aborts (at most one active rollout).
    pub(super) rollout_lock: tokio::sync::Mutex<()>,
    /// Woken when a rollout's command became terminal, so that the scheduler advances the
    /// rollout (canary verdict, completion) without waiting for its next tick.
    pub(super) rollout_wake: tokio::sync::Notify,
    /// When a paced rollout may issue its next step (unix ms): the scheduler advances
    /// rollouts then instead of waiting for its next tick.
    pub(super) next_step_ms: std::sync::Mutex<Option<i64>>,
    /// Whether this replica runs the scheduler's duties, and the epoch fencing their writes.
    pub(super) leadership: Leadership,
    /// The latest device counts per scope, shared between callers (`counts`).
    pub(super) counts: super::counts::CountCache,
}

impl Fleet {
    pub fn new(store: Arc<dyn Store>, settings: Settings, link: Arc<dyn DeviceLink>) -> Self {
        let unannounced = store.change_feed().map(|_| Default::default());
        Self {
            store,
            settings,
            link,
            commands_tx: broadcast::Sender::new(BUS_CAPACITY),
            rollouts_tx: broadcast::Sender::new(BUS_CAPACITY),
            gaps_tx: tokio::sync::watch::Sender::new(0),
            unannounced,
            stats: Stats::default(),
            process: Uuid::new_v4(),
            rollout_lock: tokio::sync::Mutex::new(()),
            rollout_wake: tokio::sync::Notify::new(),
            next_step_ms: std::sync::Mutex::new(None),
            leadership: Leadership::always(""),
            counts: Default::default(),
        }
    }

    /// The same domain, running the scheduler's duties only while `leadership` leads (the
    /// default: always, the one process of a SQLite store).
    pub fn with_leadership(mut self, leadership: Leadership) -> Self {
        self.leadership = leadership;
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Every stored command transition from now on.
    pub fn subscribe_commands(&self) -> broadcast::Receiver<Arc<CommandChange>> {
        self.commands_tx.subscribe()
    }

    /// Ids of rollouts whose state or counters may have changed, from now on; the nil id
    /// when any may have.
    pub fn subscribe_rollouts(&self) -> broadcast::Receiver<Uuid> {
        self.rollouts_tx.subscribe()
    }

    /// Changes when the command bus missed changes another replica made: a watcher that
    /// promised every transition must start again.
    pub fn subscribe_gaps(&self) -> tokio::sync::watch::Receiver<u64> {
        self.gaps_tx.subscribe()
    }

    pub(super) fn announce_rollout(&self, id: Uuid) {
        let _ = self.rollouts_tx.send(id);
    }

    /// Announce a change stored by another replica.
    pub(super) fn announce_change(&self, change: CommandChange) {
        if let Some(rollout) = change.command.rollout_id {
            self.announce_rollout(rollout);
        }
        let _ = self.commands_tx.send(Arc::new(change));
    }

    /// Whether a command or rollout watcher is listening on this process's bus.
    pub(super) fn watched(&self) -> bool {
        self.commands_tx.receiver_count() > 0 || self.rollouts_tx.receiver_count() > 0
    }

    /// Tell watchers that changes of other replicas were missed.
    pub(super) fn announce_gap(&self) {
        self.gaps_tx.send_modify(|gaps| *gaps += 1);
        self.announce_rollout(Uuid::nil());
    }

    /// Announce committed changes and publish the commands they created.
    pub(super) fn finish(&self, pending: Pending) {
        let now = now_ms();
        let mut wake = false;
        for change in pending.changes {
            record_metrics(&change);
            if let Some(rollout) = change.command.rollout_id {
                let _ = self.rollouts_tx.send(rollout);
                wake |= change.command.state.is_terminal();
            }
            let publish = change.event.from_state.is_none()
                && change.command.state == CommandState::Queued
                && change.command.expires_ms > now;
            if publish {
                self.link.publish_command(outbound(&change.command));
            } else if unsent_and_ended(&change) {
                self.link.withdraw_command(change.command.command_id);
            }
            match &self.unannounced {
                Some(unannounced) => {
                    unannounced.lock().unwrap_or_else(|e| e.into_inner()).wait(change)
                }
                None => {
                    let _ = self.commands_tx.send(Arc::new(change));
                }
            }
        }
        if wake {
            self.rollout_wake.notify_one();
        }
    }
}

/// This process's committed changes whose notice has not arrived yet, and the ids of those
/// whose notice arrived before the change was handed over (announced from the store then).
#[derive(Default)]
pub(super) struct Unannounced {
    pub waiting: std::collections::BTreeMap<i64, CommandChange>,
    pub announced: std::collections::HashSet<i64>,
}

impl Unannounced {
    fn wait(&mut self, change: CommandChange) {
        if !self.announced.remove(&change.event.id) {
            self.waiting.insert(change.event.id, change);
        }
    }
}

/// Count a created command, or one that reached its terminal state (with the time since it
/// was issued).
fn record_metrics(change: &CommandChange) {
    let metrics = crate::metrics::metrics();
    let command = &change.command;
    match change.event.from_state {
        None => metrics.command_issued(command.action.as_str()),
        Some(from) if command.state.is_terminal() && !from.is_terminal() => {
            let elapsed_ms = change.event.at_ms.saturating_sub(command.issued_ms).max(0);
            let elapsed = std::time::Duration::from_millis(elapsed_ms as u64);
            metrics.command_ended(command.action.as_str(), command.state.as_str(), elapsed);
        }
        Some(_) => {}
    }
}

/// A command that ended (canceled, expired) while it was queued or published: a copy may
/// still wait in the gateway for the broker (contract: a queued command is published "unless
/// expired by then", and a canceled one must not reach the device).
fn unsent_and_ended(change: &CommandChange) -> bool {
    let was_unaccepted =
        matches!(change.event.from_state, Some(CommandState::Queued | CommandState::Published));
    was_unaccepted && change.command.state.is_terminal()
}

/// The message sent to the device for a stored command.
pub(super) fn outbound(command: &CommandRecord) -> OutboundCommand {
    OutboundCommand {
        command_id: command.command_id,
        client_uuid: command.client_uuid,
        action: command.action,
        issued_ms: command.issued_ms,
        expires_ms: command.expires_ms,
        requested_by: command.requested_by,
        reason: command.reason.clone(),
    }
}

/// Changes written in an open transaction, announced by [`Fleet::finish`] after commit.
#[derive(Default)]
pub(super) struct Pending {
    pub changes: Vec<CommandChange>,
}

impl Pending {
    /// Insert a new command with its creating event.
    pub async fn create(
        &mut self,
        tx: &mut dyn FleetTx,
        command: CommandRecord,
        source: EventSource,
        detail: &str,
    ) -> Result<(), StoreError> {
        tx.insert_command(&command).await?;
        let event = tx
            .insert_event(
                command.command_id,
                command.issued_ms,
                None,
                command.state,
                source,
                detail,
            )
            .await?;
        self.changes.push(CommandChange { command, event });
        Ok(())
    }

    /// Store an updated command with the event of `transition`. The command is kept for the
    /// announcement (taken by value: the transaction keeps its own copy).
    pub async fn record(
        &mut self,
        tx: &mut dyn FleetTx,
        command: CommandRecord,
        transition: Transition,
        source: EventSource,
    ) -> Result<(), StoreError> {
        tx.update_command(&command).await?;
        let event = tx
            .insert_event(
                command.command_id,
                command.updated_ms,
                Some(transition.from),
                transition.to,
                source,
                &transition.detail,
            )
            .await?;
        self.changes.push(CommandChange { command, event });
        Ok(())
    }
}

/// Wall-clock now in unix milliseconds (every stored timestamp uses it).
/// Commit `tx` with the audit row of the API call that made its changes (answered with
/// `refusal` when the change is a refusal the caller sees as an error), then tell the slot.
pub(super) async fn commit_audited(
    mut tx: Box<dyn FleetTx>,
    audit: &AuditSlot,
    refusal: Option<&crate::error::Error>,
) -> Result<(), StoreError> {
    let row = match refusal {
        Some(error) => audit.row_for(error),
        None => audit.row(),
    };
    if let Some(row) = row {
        tx.insert_audit(&row).await?;
    }
    tx.commit().await?;
    audit.committed();
    Ok(())
}

/// A duration in whole milliseconds, saturating.
pub fn duration_ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
