//! The gateway loop: one broker connection (rumqttc, persistent session), reconnect with
//! backoff, subscriptions, publishing what the domain queues, and turning inbound publishes
//! into [`Delivery`]s.
//!
//! Inbound QoS 1 messages are acknowledged manually: a valid message is PUBACKed by its
//! receipt after the domain stored its effect; a malformed one is counted, logged with its
//! topic and PUBACKed at once (dropped). Suspending (hot restart) and stopping disconnect
//! cleanly first; the broker keeps the session, so acks published meanwhile wait there.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, Outgoing, Packet, Publish, QoS, SubscribeFilter};
use tokio::sync::{mpsc, watch};

use super::Outbound;
use super::options::{self, REQUEST_CAPACITY};
use super::payload::{self, Reason};
use super::status::GatewayStatus;
use super::topics::Topics;
use super::tracker::{Tag, Tracker};
use crate::commands::DeviceSettings;
use crate::commands::device::{Delivery, GatewayEvent, Receipt};
use crate::config::MqttConfig;
use crate::lifecycle::TaskControl;

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
    pub backlog: VecDeque<Outbound>,
}

type Polled = Result<Event, rumqttc::ConnectionError>;

/// One connection's working state. The rumqttc event loop runs in its own task (the poller)
/// so that its `poll` is never cancelled half-way through writing a packet; the gateway loop
/// receives its events over a channel and tells it when it may poll (`run`).
struct Session {
    client: AsyncClient,
    events: mpsc::Receiver<Polled>,
    run: Arc<watch::Sender<bool>>,
    poller: tokio::task::JoinHandle<()>,
    topics: Topics,
    tracker: Tracker,
    subscribed: bool,
    max_payload: usize,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

/// Poll `eventloop` while `run` is true and forward every event. After an error or a sent
/// DISCONNECT it stops (`run` = false) until the gateway lets it go on: the gateway owns the
/// backoff and the suspension; the event loop keeps unacknowledged publishes meanwhile.
fn spawn_poller(
    mut eventloop: EventLoop,
    run: Arc<watch::Sender<bool>>,
    events: mpsc::Sender<Polled>,
) -> tokio::task::JoinHandle<()> {
    let mut allowed = run.subscribe();
    tokio::spawn(async move {
        loop {
            if allowed.wait_for(|run| *run).await.is_err() {
                return;
            }
            let event = eventloop.poll().await;
            match &event {
                Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                    eventloop.clean();
                    run.send_replace(false);
                }
                Err(_) => {
                    run.send_replace(false);
                }
                Ok(_) => {}
            }
            if events.send(event).await.is_err() {
                return;
            }
        }
    })
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
        let options = match options::build(config) {
            Ok(options) => options,
            Err(err) => {
                tracing::error!(error = %err, "mqtt gateway cannot connect");
                self.status.set_disconnected(Some(err.to_string()));
                // Retry later (a password file may appear) or on a config change.
                tokio::select! {
                    _ = tokio::time::sleep(config.reconnect_max_backoff) => {}
                    _ = settings.changed() => {}
                    _ = control.changed() => {}
                }
                if control.is_stopping() {
                    return Exit::Stop;
                }
                return Exit::Reconfigure;
            }
        };
        let (client, mut eventloop) = AsyncClient::new(options, REQUEST_CAPACITY);
        eventloop.set_network_options(super::options::network());
        let run = Arc::new(watch::Sender::new(true));
        let (events_tx, events) = mpsc::channel(1024);
        let poller = spawn_poller(eventloop, run.clone(), events_tx);
        let mut s = Session {
            client,
            events,
            run,
            poller,
            topics: Topics::new(&config.topic_prefix, config.compat_topics),
            tracker: Tracker::default(),
            subscribed: false,
            max_payload: config.max_payload_bytes,
        };
        let mut backoff = MIN_BACKOFF;
        loop {
            if self.status.is_connected() {
                self.flush(&mut s);
            }
            tokio::select! {
                event = s.events.recv() => match event {
                    None => return Exit::Reconfigure,
                    Some(Ok(event)) => {
                        backoff = MIN_BACKOFF;
                        self.on_event(&mut s, event).await;
                    }
                    Some(Err(err)) => {
                        s.tracker.disconnected();
                        if self.status.is_connected() {
                            tracing::warn!(error = %err, "mqtt connection lost; reconnecting");
                        } else {
                            tracing::warn!(error = %err, retry_in = ?backoff, "mqtt connect failed");
                        }
                        self.status.set_disconnected(Some(err.to_string()));
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = control.changed() => {}
                        }
                        backoff = (backoff * 2).min(config.reconnect_max_backoff);
                        if !control.is_stopping() && !control.is_suspended() {
                            s.run.send_replace(true);
                        }
                    }
                },
                message = self.outbound.recv() => {
                    if let Some(message) = message {
                        self.backlog.push_back(message);
                    }
                }
                _ = control.changed() => {}
                changed = settings.changed() => {
                    if changed.is_ok() && settings.borrow().mqtt != *config {
                        tracing::info!("mqtt settings changed; reconnecting");
                        self.disconnect(&mut s).await;
                        return Exit::Reconfigure;
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
                s.run.send_replace(true);
            }
        }
    }

    /// Hand queued messages to the client (in order; at most once per pending command).
    fn flush(&mut self, s: &mut Session) {
        while let Some(message) = self.backlog.pop_front() {
            let handed = match &message {
                Outbound::Command(command) if s.tracker.is_pending(command.command_id) => continue,
                Outbound::Command(command) => {
                    let payload = payload::encode_command(command);
                    let mut handed = true;
                    for (i, topic) in
                        s.topics.command_topics(command.client_uuid).into_iter().enumerate()
                    {
                        let primary = i == 0;
                        match s.client.try_publish(topic, QoS::AtLeastOnce, false, payload.clone())
                        {
                            Ok(()) => {
                                s.tracker.handed(Tag::Command { id: command.command_id, primary })
                            }
                            Err(_) if primary => {
                                handed = false;
                                break;
                            }
                            Err(err) => tracing::warn!(error = %err, "alias publish not queued"),
                        }
                    }
                    handed
                }
                Outbound::ClearServiceFailed(client) => {
                    let topic = s.topics.service_failed(*client);
                    let sent =
                        s.client.try_publish(topic, QoS::AtLeastOnce, true, Vec::new()).is_ok();
                    if sent {
                        s.tracker.handed(Tag::ClearServiceFailed);
                    }
                    sent
                }
            };
            if !handed {
                self.backlog.push_front(message);
                return;
            }
        }
    }

    async fn on_event(&mut self, s: &mut Session, event: Event) {
        match event {
            Event::Incoming(Packet::ConnAck(ack)) => {
                self.status.set_connected();
                s.tracker.connected(ack.session_present);
                tracing::info!(session_present = ack.session_present, "mqtt connected");
                if !ack.session_present || !s.subscribed {
                    let filters = s
                        .topics
                        .filters()
                        .into_iter()
                        .map(|f| SubscribeFilter::new(f, QoS::AtLeastOnce));
                    if let Err(err) = s.client.try_subscribe_many(filters) {
                        tracing::error!(error = %err, "mqtt subscribe not queued");
                    }
                    s.subscribed = true;
                }
                let event = GatewayEvent::Connected { session_present: ack.session_present };
                self.deliver(Delivery { event, receipt: None }).await;
            }
            Event::Incoming(Packet::Publish(publish)) => self.inbound(s, publish).await,
            Event::Incoming(Packet::PubAck(ack)) => {
                if let Some(Tag::Command { id, primary: true }) = s.tracker.acked(ack.pkid) {
                    let event = GatewayEvent::Published { command_id: id };
                    self.deliver(Delivery { event, receipt: None }).await;
                }
            }
            Event::Outgoing(Outgoing::Publish(pkid)) => s.tracker.written(pkid),
            Event::Outgoing(Outgoing::AwaitAck(pkid)) => s.tracker.collided(pkid),
            _ => {}
        }
    }

    #[tracing::instrument(name = "mqtt.receive", skip_all, fields(mqtt.topic = %publish.topic))]
    async fn inbound(&mut self, s: &mut Session, publish: Publish) {
        let drop_with = |reason: Reason, detail: &str, status: &GatewayStatus| {
            status.count_malformed(reason);
            tracing::warn!(topic = %publish.topic, reason = reason.as_str(), detail, "malformed mqtt payload dropped");
        };
        let decoded = if publish.payload.len() > s.max_payload {
            let detail = format!("{} bytes > mqtt.max_payload_bytes", publish.payload.len());
            Err((Reason::Oversized, detail))
        } else {
            match s.topics.parse(&publish.topic) {
                None => Err((Reason::BadTopic, "not an inbound contract topic".to_owned())),
                Some((client, kind)) => {
                    payload::decode(kind, client, &publish.payload, publish.retain)
                        .map(|message| message.map(|m| (client, m)))
                        .map_err(|m| (m.reason, m.detail))
                }
            }
        };
        match decoded {
            Ok(Some((client, message))) => {
                let acker = s.client.clone();
                let topic = publish.topic.clone();
                let receipt = Receipt::new(move || {
                    let _ = acker.try_ack(&publish);
                });
                let event = GatewayEvent::Device { client, topic, message };
                self.deliver(Delivery { event, receipt: Some(receipt) }).await;
            }
            Ok(None) => {
                let _ = s.client.try_ack(&publish);
            }
            Err((reason, detail)) => {
                drop_with(reason, &detail, &self.status);
                let _ = s.client.try_ack(&publish);
            }
        }
    }

    async fn deliver(&self, delivery: Delivery) {
        if self.deliveries.send(delivery).await.is_err() {
            tracing::debug!("ingest loop gone; delivery dropped (the broker redelivers it)");
        }
    }

    /// Send DISCONNECT (so the broker keeps the session without waiting for a timeout) and
    /// stop polling; unacknowledged publishes stay queued in the event loop for the next
    /// connection.
    async fn disconnect(&mut self, s: &mut Session) {
        if self.status.is_connected() && *s.run.borrow() {
            let _ = s.client.try_disconnect();
            let drained = tokio::time::timeout(DISCONNECT_TIMEOUT, async {
                loop {
                    match s.events.recv().await {
                        Some(Ok(Event::Outgoing(Outgoing::Disconnect))) | Some(Err(_)) | None => {
                            return;
                        }
                        Some(Ok(event)) => self.on_event(s, event).await,
                    }
                }
            })
            .await;
            if drained.is_err() {
                tracing::warn!("mqtt disconnect timed out; dropping the connection");
            }
        }
        s.run.send_replace(false);
        s.tracker.disconnected();
        self.status.set_disconnected(None);
    }
}
