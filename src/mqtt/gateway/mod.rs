//! The gateway loop: one broker connection at a time ([`Link`], persistent session),
//! reconnect with backoff, keep-alive, subscriptions, publishing what the domain queues within
//! the in-flight window ([`Outbox`]), and turning inbound publishes into [`Delivery`]s.
//!
//! What each packet from the broker does is in [`inbound`]. Suspending (hot restart) and
//! stopping disconnect cleanly first; the broker keeps the session, so acks published
//! meanwhile wait there, and the publishes it has not acknowledged are sent again on the next
//! connection.

mod inbound;

use std::sync::Arc;
use std::time::Duration;

use rumqttc::QoS;
use rumqttc::mqttbytes::v4::{ConnAck, Packet, Publish, Subscribe, SubscribeFilter};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::Outbound;
use super::connection::{Incoming, Link, LinkError, Writer};
use super::options;
use super::outbox::{Backlog, Outbox, Tag};
use super::payload;
use super::status::GatewayStatus;
use super::topics::Topics;
use crate::commands::DeviceSettings;
use crate::commands::device::{Delivery, GatewayEvent};
use crate::config::MqttConfig;
use crate::tasks::TaskControl;

const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// How long a clean disconnect may take before the connection is just dropped.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a session ended.
enum Exit {
    Stop,
    Reconfigure,
}

pub(super) struct Gateway {
    pub status: Arc<GatewayStatus>,
    pub outbound: mpsc::UnboundedReceiver<Outbound>,
    pub deliveries: mpsc::Sender<Delivery>,
    pub backlog: Backlog,
    /// The replica id the client id ends with, in a cluster (see `options::connect_params`).
    pub replica: Option<String>,
}

/// How a connect attempt ended.
enum Attempt {
    Connected(Link, ConnAck),
    Failed(String),
    /// Told to stop or to suspend meanwhile.
    Interrupted,
    /// `[mqtt]` changed meanwhile.
    Reconfigure,
}

/// One configuration's working state, across its connections.
struct Session {
    link: Option<Link>,
    outbox: Outbox,
    topics: Topics,
    subscribed: bool,
    max_payload: usize,
    /// PINGREQ every keep-alive interval while connected (none when it is zero).
    ping: Option<tokio::time::Interval>,
    /// A PINGREQ is out and its PINGRESP has not come.
    awaiting_pong: bool,
    /// The connection's read count when that PINGREQ went out.
    reads_at_ping: u64,
}

impl Session {
    fn new(config: &MqttConfig) -> Self {
        Self {
            link: None,
            outbox: Outbox::default(),
            topics: Topics::new(&config.topic_prefix, config.compat_topics),
            subscribed: false,
            max_payload: config.max_payload_bytes,
            ping: None,
            awaiting_pong: false,
            reads_at_ping: 0,
        }
    }

    fn writer(&self) -> Option<&Writer> {
        self.link.as_ref().map(|link| &link.writer)
    }
}

/// The next PINGREQ is due, or never (no connection, or keep-alive off).
async fn ping_due(ping: &mut Option<tokio::time::Interval>) {
    match ping {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// `settings` changed; never resolves once nobody can change them any more.
async fn settings_changed(settings: &mut watch::Receiver<Arc<DeviceSettings>>) {
    if settings.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The next message the domain queued; never resolves once the domain is gone.
async fn next_outbound(outbound: &mut mpsc::UnboundedReceiver<Outbound>) -> Outbound {
    match outbound.recv().await {
        Some(message) => message,
        None => std::future::pending().await,
    }
}

/// The next thing a connection read, or that it ended.
async fn next_incoming(link: &mut Option<Link>) -> Incoming {
    match link {
        Some(link) => link.incoming.recv().await.unwrap_or_else(|| {
            Incoming::Closed(LinkError::Io(std::io::ErrorKind::BrokenPipe.into()))
        }),
        None => std::future::pending().await,
    }
}

impl Gateway {
    pub async fn run(
        mut self,
        mut control: TaskControl,
        mut settings: watch::Receiver<Arc<DeviceSettings>>,
    ) {
        loop {
            let config = settings.borrow_and_update().mqtt.clone();
            self.status.set_configured(config.url.as_deref());
            let exit = if config.url.is_some() {
                self.session(&config, &mut control, &mut settings).await
            } else {
                self.idle(&mut control, &mut settings).await
            };
            if let Exit::Stop = exit {
                tracing::info!("mqtt gateway stopped");
                return;
            }
        }
    }

    /// No broker configured: wait for one (discarding what is queued).
    async fn idle(
        &mut self,
        control: &mut TaskControl,
        settings: &mut watch::Receiver<Arc<DeviceSettings>>,
    ) -> Exit {
        loop {
            tokio::select! {
                _ = control.changed() => {
                    if !control.checkpoint().await {
                        return Exit::Stop;
                    }
                }
                changed = settings.changed() => if changed.is_ok() { return Exit::Reconfigure },
                message = self.outbound.recv() => {
                    if message.is_some() {
                        tracing::debug!("no mqtt broker configured; outbound message dropped");
                    }
                }
            }
        }
    }

    async fn session(
        &mut self,
        config: &MqttConfig,
        control: &mut TaskControl,
        settings: &mut watch::Receiver<Arc<DeviceSettings>>,
    ) -> Exit {
        let mut s = Session::new(config);
        let mut backoff = MIN_BACKOFF;
        let mut retry_at: Option<Instant> = None;
        // Connect again after `backoff`, which doubles up to `reconnect_max_backoff`.
        let later = |backoff: &mut Duration| {
            let at = Instant::now() + *backoff;
            *backoff = (*backoff * 2).min(config.reconnect_max_backoff);
            Some(at)
        };
        loop {
            if s.link.is_none() && retry_at.is_none_or(|at| at <= Instant::now()) {
                retry_at = None;
                match self.connect(config, control, settings).await {
                    Attempt::Connected(link, ack) => {
                        backoff = MIN_BACKOFF;
                        self.connected(&mut s, link, ack, config.keep_alive).await;
                    }
                    Attempt::Failed(err) => {
                        tracing::warn!(error = %err, retry_in = ?backoff, "mqtt connect failed");
                        self.status.set_disconnected(Some(err));
                        retry_at = later(&mut backoff);
                    }
                    Attempt::Interrupted => {}
                    Attempt::Reconfigure => return Exit::Reconfigure,
                }
            } else {
                self.flush(&mut s);
                let reconnect_at = retry_at.filter(|_| s.link.is_none());
                let retry = async {
                    match reconnect_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    incoming = next_incoming(&mut s.link) => match incoming {
                        Incoming::Packets(packets) => {
                            for packet in packets {
                                self.on_packet(&mut s, packet).await;
                            }
                        }
                        Incoming::Closed(err) => {
                            tracing::warn!(error = %err, "mqtt connection lost; reconnecting");
                            self.lost(&mut s, err.to_string());
                            retry_at = later(&mut backoff);
                        }
                    },
                    _ = ping_due(&mut s.ping) => {
                        if let Some(dead) = ping(&mut s, config.keep_alive) {
                            tracing::warn!(error = %dead, "mqtt connection lost; reconnecting");
                            self.lost(&mut s, dead);
                            retry_at = later(&mut backoff);
                        }
                    }
                    message = next_outbound(&mut self.outbound) => {
                        self.backlog.push(message);
                        while let Ok(more) = self.outbound.try_recv() {
                            self.backlog.push(more);
                        }
                    }
                    _ = retry => {}
                    _ = control.changed() => {}
                    _ = settings_changed(settings) => {
                        if settings.borrow().mqtt != *config {
                            tracing::info!("mqtt settings changed; reconnecting");
                            self.disconnect(&mut s).await;
                            return Exit::Reconfigure;
                        }
                    }
                }
            }
            if control.is_stopping() {
                self.disconnect(&mut s).await;
                return Exit::Stop;
            }
            if control.is_suspended() {
                self.disconnect(&mut s).await;
                self.status.set_suspended(true);
                tracing::info!("mqtt gateway suspended; session left with the broker");
                if !control.checkpoint().await {
                    return Exit::Stop;
                }
                self.status.set_suspended(false);
                tracing::info!("mqtt gateway resumed; reconnecting");
                retry_at = None;
                backoff = MIN_BACKOFF;
            }
        }
    }

    /// One connect attempt (password read again, TCP, TLS, CONNECT, CONNACK). Only a stop, a
    /// suspension or a change of `[mqtt]` interrupts it; other changes wait for it.
    async fn connect(
        &self,
        config: &MqttConfig,
        control: &mut TaskControl,
        settings: &mut watch::Receiver<Arc<DeviceSettings>>,
    ) -> Attempt {
        let attempt = async {
            let params = options::connect_params(config, self.replica.as_deref())
                .map_err(|e| e.to_string())?;
            Link::connect(&params).await.map_err(|e| e.to_string())
        };
        tokio::pin!(attempt);
        loop {
            tokio::select! {
                result = &mut attempt => return match result {
                    Ok((link, ack)) => Attempt::Connected(link, ack),
                    Err(err) => Attempt::Failed(err),
                },
                _ = control.changed() => {
                    if control.is_stopping() || control.is_suspended() {
                        return Attempt::Interrupted;
                    }
                }
                _ = settings_changed(settings) => {
                    if settings.borrow().mqtt != *config {
                        tracing::info!("mqtt settings changed; reconnecting");
                        return Attempt::Reconfigure;
                    }
                }
            }
        }
    }

    /// A connection is up: send again what the broker has not acknowledged (or forget it
    /// with a lost session), subscribe, and tell the domain.
    async fn connected(&mut self, s: &mut Session, link: Link, ack: ConnAck, keep_alive: Duration) {
        self.status.set_connected();
        tracing::info!(session_present = ack.session_present, "mqtt connected");
        let resumed = s.outbox.resume(ack.session_present);
        for publish in resumed.again {
            link.writer.send(Packet::Publish(publish));
        }
        for client in resumed.forgotten_clears.into_iter().rev() {
            self.backlog.push_front(Outbound::ClearServiceFailed(client));
        }
        // Subscribed once the broker confirmed it: a connection lost before its SUBACK may
        // come back to a kept session without the subscription.
        if !ack.session_present || !s.subscribed {
            let filters =
                s.topics.filters().into_iter().map(|f| SubscribeFilter::new(f, QoS::AtLeastOnce));
            let mut subscribe = Subscribe::new_many(filters);
            subscribe.pkid = s.outbox.subscription();
            link.writer.send(Packet::Subscribe(subscribe));
        }
        s.link = Some(link);
        s.awaiting_pong = false;
        s.reads_at_ping = 0;
        s.ping = (!keep_alive.is_zero()).then(|| {
            let mut ping =
                tokio::time::interval_at(tokio::time::Instant::now() + keep_alive, keep_alive);
            ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ping
        });
        let event = GatewayEvent::Connected { session_present: ack.session_present };
        self.deliver(Delivery { event, receipt: None }).await;
    }

    /// The connection ended: keep what is unacknowledged for the next one.
    fn lost(&self, s: &mut Session, error: String) {
        s.link = None;
        s.ping = None;
        s.awaiting_pong = false;
        self.status.set_disconnected(Some(error));
    }

    /// Publish queued messages (in order; at most once per pending command) while the
    /// in-flight window has room.
    fn flush(&mut self, s: &mut Session) {
        let Some(writer) = s.writer().cloned() else { return };
        let now_ms = chrono::Utc::now().timestamp_millis();
        while let Some(message) = self.backlog.front(now_ms) {
            match message {
                Outbound::Command(command) if s.outbox.is_pending(command.command_id) => {}
                Outbound::Command(command) => {
                    let topics = s.topics.command_topics(command.client_uuid);
                    if s.outbox.room() < topics.len() {
                        return;
                    }
                    let payload = payload::encode_command(command);
                    for (i, topic) in topics.into_iter().enumerate() {
                        let tag = Tag::Command { id: command.command_id, primary: i == 0 };
                        let publish = Publish::new(topic, QoS::AtLeastOnce, payload.clone());
                        writer.send(Packet::Publish(s.outbox.publish(publish, tag)));
                    }
                }
                // Never queued: the backlog takes a withdrawal as a mark on its command.
                Outbound::Withdraw(_) => {}
                Outbound::ClearServiceFailed(client) => {
                    if s.outbox.room() == 0 {
                        return;
                    }
                    let mut publish = Publish::new(
                        s.topics.service_failed(*client),
                        QoS::AtLeastOnce,
                        Vec::new(),
                    );
                    publish.retain = true;
                    let tag = Tag::ClearServiceFailed(*client);
                    writer.send(Packet::Publish(s.outbox.publish(publish, tag)));
                }
            }
            self.backlog.pop_front();
        }
    }

    /// Send DISCONNECT after what is queued (so the broker keeps the session without waiting
    /// for a timeout) and close. Until the broker closes the connection, PUBACKs still mark
    /// their commands published (a hot restart's successor would publish them again
    /// otherwise); inbound messages are left unacknowledged, for the next connection, and so
    /// are the publishes the broker has not acknowledged (they stay in the outbox).
    async fn disconnect(&mut self, s: &mut Session) {
        if let Some(mut link) = s.link.take() {
            let sent = link.writer.send(Packet::Disconnect);
            let drained = sent
                && tokio::time::timeout(DISCONNECT_TIMEOUT, async {
                    while let Some(Incoming::Packets(packets)) = link.incoming.recv().await {
                        for packet in packets {
                            if matches!(packet, Packet::PubAck(_) | Packet::SubAck(_)) {
                                self.on_packet(s, packet).await;
                            }
                        }
                    }
                })
                .await
                .is_ok();
            if !drained {
                tracing::warn!("mqtt disconnect not confirmed by the broker; connection dropped");
            }
        }
        s.ping = None;
        s.awaiting_pong = false;
        self.status.set_disconnected(None);
    }
}

/// A keep-alive interval passed: send a PINGREQ, or give the connection up (`Some(why)`)
/// when the last one is unanswered and nothing at all was read since it went out. Something
/// read but not handled yet (the gateway waits for the ingest) keeps the connection.
fn ping(s: &mut Session, keep_alive: Duration) -> Option<String> {
    let link = s.link.as_ref()?;
    let reads = link.reads();
    if s.awaiting_pong && reads == s.reads_at_ping {
        return Some(format!("no PINGRESP, nothing read within the keep-alive ({keep_alive:?})"));
    }
    if !s.awaiting_pong {
        link.writer.send(Packet::PingReq);
        s.awaiting_pong = true;
    }
    s.reads_at_ping = reads;
    None
}
