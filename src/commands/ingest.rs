//! Ingest: what device messages and publish acknowledgements do to commands and to the
//! device registry.
//!
//! The gateway hands over [`Delivery`]s; the ingest loop takes whatever has arrived (up to
//! [`MAX_BATCH`]) and stores its effect in one transaction (group commit: one fsync for many
//! acks), then settles the receipts, so the broker forgets a message only once its effect is
//! durable. A batch that cannot be stored is retried; its messages stay unacknowledged.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use uuid::Uuid;

use super::device::{Delivery, DeviceAck, DeviceHealth, DeviceMessage, GatewayEvent};
use super::fleet::{Fleet, Pending, Stats, outbound};
use super::lifecycle::{self, AckEffect};
use super::ownership::{self, Standby};
use crate::clock::now_ms;
use crate::contract::Action;
use crate::error::Result;
use crate::model::clients::{ClientRecord, ProcessStatus, RecoveryStep};
use crate::model::commands::{AckTopic, CommandState, EventSource};
use crate::store::commands::FleetTx;
use crate::tasks::TaskControl;

/// Most deliveries stored in one transaction. The shipped broker keeps up to 1000 QoS 1
/// messages in flight to the server (`max_inflight_messages`), so a batch this size fills
/// while the one before commits; the bigger the batch, the more transitions of one command
/// are folded into one row write (measured: 0.45 s → 0.42 s for a 1000-device rollout).
pub const MAX_BATCH: usize = 1024;
/// Wait before retrying a batch the store refused.
const RETRY_DELAY: Duration = Duration::from_millis(500);
/// `last_seen` is written at most this often when nothing else about a device changed (an
/// ack): the contract's default heartbeat interval, so a device that sends its heartbeats
/// never has its row rewritten by the acks in between.
const LAST_SEEN_RESOLUTION_MS: i64 = 30_000;
/// Most queued commands re-sent at once after a reconnect.
const REPUBLISH_LIMIT: u32 = 100_000;

impl Fleet {
    /// The ingest loop: runs as a background task until told to stop.
    ///
    /// Device messages of devices another live replica owns are acknowledged at once and
    /// kept in a [`Standby`]; when the live replicas change, the kept messages this replica
    /// owns now are ingested ([`super::ownership`]).
    pub async fn run_ingest(
        self: Arc<Self>,
        mut rx: mpsc::Receiver<Delivery>,
        mut control: TaskControl,
    ) {
        let mut members = self.leadership.watch_members();
        let mut members_open = true;
        let mut standby = Standby::default();
        loop {
            let mut batch = tokio::select! {
                _ = control.changed() => {
                    if !control.checkpoint().await {
                        return;
                    }
                    continue;
                }
                changed = members.changed(), if members_open => {
                    // Never closed while the fleet holds its leadership; if it were, the
                    // last view stays.
                    members_open = changed.is_ok();
                    let now = members.borrow_and_update().clone();
                    let taken = standby.take_owned(&now, self.leadership.replica_id());
                    self.stats.taken_over.fetch_add(taken.len() as u64, Relaxed);
                    taken
                }
                delivery = rx.recv() => match delivery {
                    Some(first) => self.claim(first, &mut rx, &mut standby),
                    None => return,
                },
            };
            if batch.is_empty() {
                continue;
            }
            while let Err(err) = self.ingest(&mut batch).await {
                tracing::error!(error = %err, batch = batch.len(), "mqtt.ingest: cannot store; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(RETRY_DELAY) => {}
                    _ = control.changed() => {}
                }
                if control.is_stopping() {
                    return;
                }
            }
            if !control.checkpoint().await {
                return;
            }
        }
    }

    /// `first` and whatever else has arrived (up to [`MAX_BATCH`]) that this replica
    /// ingests; the device messages another live replica owns go to `standby`, acknowledged.
    fn claim(
        &self,
        first: Delivery,
        rx: &mut mpsc::Receiver<Delivery>,
        standby: &mut Standby,
    ) -> Vec<Delivery> {
        let members = self.leadership.members();
        let me = self.leadership.replica_id();
        let now = Instant::now();
        standby.expire(now, members.hold);
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(delivery) = next {
            if ownership::mine(&members, me, &delivery.event) {
                batch.push(delivery);
            } else {
                if let Some(receipt) = delivery.receipt {
                    receipt.settle();
                }
                if standby.keep(now, delivery.event) {
                    Stats::bump(&self.stats.standby_overflow);
                }
                Stats::bump(&self.stats.held_for_others);
            }
            next = if batch.len() < MAX_BATCH { rx.try_recv().ok() } else { None };
        }
        batch
    }

    /// Store the effect of `batch` in one transaction; on success settle and empty it.
    #[tracing::instrument(name = "mqtt.ingest", skip_all, fields(batch.size = batch.len()))]
    pub async fn ingest(&self, batch: &mut Vec<Delivery>) -> Result<()> {
        let now = now_ms();
        let mut tx = self.store.fleet_tx().await?;
        let (commands, clients) = batch_keys(batch);
        tx.prefetch(&commands, &clients).await?;
        let copies = self.replica_copies(&mut *tx, batch, now).await?;
        let mut pending = Pending::default();
        let mut reconnected = false;
        for (delivery, copy) in batch.iter().zip(copies) {
            if copy {
                Stats::bump(&self.stats.replica_copies);
                continue;
            }
            match &delivery.event {
                GatewayEvent::Published { command_id } => {
                    if let Some(mut command) = tx.command(*command_id).await?
                        && let Some(t) = lifecycle::published(&mut command, now)
                    {
                        pending.record(&mut *tx, command, t, EventSource::Mqtt).await?;
                    }
                }
                GatewayEvent::Connected { .. } => reconnected = true,
                GatewayEvent::Device { client, topic, message, .. } => {
                    self.device_message(&mut *tx, &mut pending, *client, topic, message, now)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        for delivery in batch.drain(..) {
            if let Some(receipt) = delivery.receipt {
                receipt.settle();
            }
        }
        self.finish(pending);
        if reconnected {
            self.republish_queued().await?;
        }
        Ok(())
    }

    /// Which deliveries of `batch` are device messages another replica already applied.
    async fn replica_copies(
        &self,
        tx: &mut dyn FleetTx,
        batch: &[Delivery],
        now: i64,
    ) -> Result<Vec<bool>> {
        let digest = |d: &Delivery| match &d.event {
            GatewayEvent::Device { digest, .. } => digest.clone(),
            _ => None,
        };
        let digests: Vec<String> = batch.iter().filter_map(digest).collect();
        let mut seen = tx.copies_seen_elsewhere(self.process, now, &digests).await?.into_iter();
        let copies = batch.iter().map(|d| digest(d).is_some() && seen.next().unwrap_or(false));
        Ok(copies.collect())
    }

    /// Send every queued, unexpired command this replica owns again (after the gateway
    /// connected); the leader adopts those of replicas that died (`leader.rs`).
    async fn republish_queued(&self) -> Result<()> {
        let now = now_ms();
        let queued = match self.store.cluster() {
            None => self.store.commands_in_states(&[CommandState::Queued], REPUBLISH_LIMIT).await?,
            Some(cluster) => {
                let ids = cluster.owned_queued(self.leadership.replica_id(), now).await?;
                self.commands_by_id(&ids).await?
            }
        };
        let mut sent = 0usize;
        for command in queued.iter().filter(|c| c.expires_ms > now) {
            self.link.publish_command(outbound(command));
            sent += 1;
        }
        if sent > 0 {
            tracing::info!(commands = sent, "gateway connected; publishing queued commands");
        }
        Ok(())
    }

    async fn device_message(
        &self,
        tx: &mut dyn FleetTx,
        pending: &mut Pending,
        uuid: Uuid,
        topic: &str,
        message: &DeviceMessage,
        now: i64,
    ) -> Result<()> {
        let mut client = match tx.client(uuid).await? {
            Some(client) => client,
            None if matches!(message, DeviceMessage::Ack { .. }) => {
                Stats::bump(&self.stats.unknown_acks);
                tracing::warn!(topic, "ack from an unregistered device ignored");
                return Ok(());
            }
            None => {
                tracing::info!(client.uuid = %uuid, topic, "device registered");
                ClientRecord::new(uuid, now)
            }
        };
        let before = client.clone();
        client.last_seen_ms = now;
        match message {
            DeviceMessage::Ack { topic: kind, ack } => {
                self.ack(tx, pending, &mut client, *kind, topic, ack, now).await?;
            }
            DeviceMessage::Health(health) => apply_health(&mut client, health, now),
            DeviceMessage::Status { online, retained: true } if client.online == Some(*online) => {
                // A replay of what we already know: no presence change.
            }
            DeviceMessage::Status { online: true, .. } => {
                client.online = Some(true);
                client.last_online_ms = Some(now);
                client.shut_down_ms = None;
            }
            DeviceMessage::Status { online: false, .. } => {
                client.online = Some(false);
                client.last_offline_ms = Some(now);
                for mut command in tx.sent_commands_for(uuid).await? {
                    let before = command.clone();
                    match lifecycle::device_offline(&mut command, now) {
                        Some(t) => {
                            if command.action == Action::ShutdownHost {
                                client.shut_down_ms = Some(now);
                            }
                            pending.record(tx, command, t, EventSource::Mqtt).await?;
                        }
                        None if command != before => tx.update_command(&command).await?,
                        None => {}
                    }
                }
            }
            DeviceMessage::ServiceFailed { unit, failed_ms } => {
                client.service_failed_unit = Some(unit.clone());
                client.service_failed_ms = Some(*failed_ms);
                tracing::warn!(client.uuid = %uuid, unit, "device reports a failed service");
            }
        }
        if settle_client(&mut client, &before, now) {
            tx.put_client(&client).await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn ack(
        &self,
        tx: &mut dyn FleetTx,
        pending: &mut Pending,
        client: &mut ClientRecord,
        kind: AckTopic,
        topic: &str,
        ack: &DeviceAck,
        now: i64,
    ) -> Result<()> {
        crate::metrics::metrics().ack_ingested(ack.status.as_str());
        let command = tx.command(ack.command_id).await?;
        let Some(mut command) = command.filter(|c| c.client_uuid == client.client_uuid) else {
            Stats::bump(&self.stats.unknown_acks);
            tracing::warn!(topic, command.id = %ack.command_id, "ack for an unknown command ignored");
            return Ok(());
        };
        if ack.boot_id.is_some() {
            client.boot_id = ack.boot_id.clone();
        }
        let timers = self.settings.current().commands.clone();
        match lifecycle::apply_ack(&mut command, ack, kind, topic, now, &timers) {
            AckEffect::Moved(t) | AckEffect::Late(t) => {
                if t.to == CommandState::Completed && command.action == Action::ShutdownHost {
                    client.shut_down_ms = Some(now);
                }
                if t.to == CommandState::Completed && t.detail.contains("reconnect_target") {
                    tracing::warn!(command.id = %command.command_id, client.uuid = %client.client_uuid,
                        "slow reboot: {}", t.detail);
                }
                pending.record(tx, command, t, EventSource::Mqtt).await?;
            }
            AckEffect::Ignored { counted: true, why } => {
                Stats::bump(&self.stats.ignored_acks);
                tracing::info!(command.id = %command.command_id, topic, status = ack.status.as_str(),
                    state = %command.state, "ack ignored: {why}");
                tx.update_command(&command).await?;
            }
            AckEffect::Ignored { counted: false, .. } => {}
        }
        Ok(())
    }
}

/// Whether a device's row must be written after a message moved it from `before` to
/// `client`: something besides `last_seen` changed (`updated_ms` then moves too), or the
/// stored `last_seen` is [`LAST_SEEN_RESOLUTION_MS`] old. An ack stream — the most frequent
/// message — usually changes nothing else, so it rewrites the row at most that often.
fn settle_client(client: &mut ClientRecord, before: &ClientRecord, now: i64) -> bool {
    let seen = std::mem::replace(&mut client.last_seen_ms, before.last_seen_ms);
    let changed = client != before || before.first_seen_ms == now;
    client.last_seen_ms = seen;
    if changed {
        client.updated_ms = now;
    }
    changed || now - before.last_seen_ms >= LAST_SEEN_RESOLUTION_MS
}

/// The commands and devices a batch touches, to load them in one go.
fn batch_keys(batch: &[Delivery]) -> (Vec<Uuid>, Vec<Uuid>) {
    let mut commands = Vec::new();
    let mut clients = Vec::new();
    for delivery in batch {
        match &delivery.event {
            GatewayEvent::Published { command_id } => commands.push(*command_id),
            GatewayEvent::Device { client, message, .. } => {
                clients.push(*client);
                if let DeviceMessage::Ack { ack, .. } = message {
                    commands.push(ack.command_id);
                }
            }
            GatewayEvent::Connected { .. } => {}
        }
    }
    (commands, clients)
}

fn apply_health(client: &mut ClientRecord, health: &DeviceHealth, now: i64) {
    client.last_health_ms = Some(now);
    if health.boot_id.is_some() {
        client.boot_id = health.boot_id.clone();
    }
    client.uptime_s = health.uptime_s;
    client.app_version = health.app_version.clone();
    client.process_status = Some(health.process_status);
    client.mqtt_reconnect_count = health.reconnect_count;
    client.mqtt_last_disconnect_ms = health.last_disconnect_ms;
    client.shut_down_ms = None;
    if health.process_status == ProcessStatus::Running && client.needs_attention {
        client.needs_attention = false;
        client.attention_reason = None;
        client.recovery_step = RecoveryStep::Idle;
        client.recovery_detail = Some("running again; needs_attention cleared".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_rewrite_the_device_row_only_once_last_seen_is_old() {
        let before = ClientRecord::new(Uuid::new_v4(), 1_000);
        let seen_at = |now: i64| {
            let mut client = before.clone();
            client.last_seen_ms = now;
            let write = settle_client(&mut client, &before, now);
            (write, client)
        };
        let (write, client) = seen_at(1_000 + LAST_SEEN_RESOLUTION_MS - 1);
        assert!(!write, "an ack soon after the last write leaves the row alone");
        assert_eq!(client.updated_ms, before.updated_ms);
        let (write, client) = seen_at(1_000 + LAST_SEEN_RESOLUTION_MS);
        assert!(write, "last_seen is written once it is a resolution old");
        assert_eq!((client.last_seen_ms, client.updated_ms), (31_000, before.updated_ms));
    }

    #[test]
    fn any_other_change_writes_the_row_and_moves_updated() {
        let before = ClientRecord::new(Uuid::new_v4(), 1_000);
        let mut client = before.clone();
        client.last_seen_ms = 2_000;
        client.online = Some(true);
        assert!(settle_client(&mut client, &before, 2_000));
        assert_eq!((client.last_seen_ms, client.updated_ms), (2_000, 2_000));
        let mut new = ClientRecord::new(Uuid::new_v4(), 5_000);
        let first = new.clone();
        assert!(
            settle_client(&mut new, &first, 5_000),
            "a device seen for the first time is stored"
        );
    }
}
