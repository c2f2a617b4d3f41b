//! The agent's MQTT session (`contracts/mqtt-v1.md`, device side): the loop around the
//! command state machine ([`super::machine`]).
//!
//! One loop owns the broker connection (persistent session, manual PUBACKs, Last Will
//! `offline`, retained `online`), heartbeats, and carries out what the machine decides, in
//! order: a record is stored durably and only then its ack published (`accepted` →
//! `execution_started` → `completed`/`failed`); the PUBACK to the broker follows the record.
//! Scheduled starts and executions run in spawned tasks that report back to the loop. At
//! every (simulated) boot the machine resumes the unfinished records.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, LastWill, MqttOptions, Packet, QoS,
    TlsConfiguration, Transport,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use super::config::{AgentConfig, ConfigError};
use super::executor::{Executor, Outcome, unit_status};
use super::machine::{Effect, End, Machine};
use super::state::{Phase, State, StateError};
use super::wire::{self, AckOut, Connection, Health, now_ms};
use crate::contract::Action;
use crate::contract::broker::{BrokerUrl, network, tls_client_config};

/// How long a stopping agent waits for its last publishes to be acknowledged.
const FLUSH_DEADLINE: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("broker options: {0}")]
    Options(String),
    #[error("boot id: {0}")]
    BootId(std::io::Error),
    #[error("signal handler: {0}")]
    Signals(std::io::Error),
}

/// Counters shared with whoever runs the agent (fleet-sim reports them).
#[derive(Debug, Default)]
pub struct Stats {
    pub acks: AtomicU64,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    pub executions: AtomicU64,
    pub connected: AtomicU64,
}

impl Stats {
    /// One line of counters for people.
    pub fn line(&self, connected: u64) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "connected {connected}  acks sent {}  executions {}  completed {}  failed {}",
            get(&self.acks),
            get(&self.executions),
            get(&self.completed),
            get(&self.failed)
        )
    }
}

/// Why [`Agent::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Stopped,
    PoweredOff,
}

enum Step {
    Begin(Uuid, Action),
    Finished(Uuid, Outcome),
}

/// One device's agent.
pub struct Agent {
    config: Arc<AgentConfig>,
    state: State,
    executor: Executor,
    password: String,
    connection: Connection,
    booted: Instant,
    ever_connected: bool,
    stats: Arc<Stats>,
}

/// Per-connection state of the loop.
struct Session {
    client: AsyncClient,
    steps: mpsc::UnboundedSender<Step>,
    machine: Machine,
    pending: usize,
    ending: Option<(End, Instant)>,
}

impl Session {
    async fn publish(&mut self, topic: String, payload: Vec<u8>, retain: bool) {
        if self.client.publish(topic, QoS::AtLeastOnce, retain, payload).await.is_ok() {
            self.pending += 1;
        }
    }

    /// Publish `offline` (retained) on `status_topic` and end the session once it is out.
    async fn end(&mut self, status_topic: String, end: End) {
        self.publish(status_topic, wire::OFFLINE.to_vec(), true).await;
        if self.ending.is_none() {
            self.ending = Some((end, Instant::now() + FLUSH_DEADLINE));
        }
    }
}

impl Agent {
    pub fn new(
        config: Arc<AgentConfig>,
        state: State,
        password: String,
        stats: Arc<Stats>,
    ) -> Self {
        let executor = Executor::from_config(&config);
        Self {
            config,
            state,
            executor,
            password,
            connection: Connection::default(),
            booted: Instant::now(),
            ever_connected: false,
            stats,
        }
    }

    /// Run until `stop` fires (or a simulated power-off); simulated reboots happen inside.
    pub async fn run(mut self, stop: CancellationToken) -> Result<Exit, AgentError> {
        loop {
            match self.session(&stop).await? {
                End::Stop => return Ok(Exit::Stopped),
                End::PowerOff => return Ok(Exit::PoweredOff),
                End::Reboot => {
                    tracing::info!(client = %self.config.client_uuid, "agent.reboot: simulated reboot");
                    self.state.new_sim_boot_id()?;
                    tokio::select! {
                        _ = stop.cancelled() => return Ok(Exit::Stopped),
                        _ = tokio::time::sleep(self.executor.reboot_delay()) => {}
                    }
                    self.booted = Instant::now();
                }
            }
        }
    }

    fn boot_id(&mut self) -> Result<String, AgentError> {
        if self.executor.is_simulated() {
            return Ok(self.state.sim_boot_id()?);
        }
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_owned())
            .map_err(AgentError::BootId)
    }

    fn options(&self) -> Result<MqttOptions, AgentError> {
        let c = &self.config;
        let id = format!("rebound-agent-{}", c.client_uuid);
        let mut options = broker_options(c, id, self.password.clone())?;
        options
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_keep_alive(Duration::from_secs(30))
            .set_last_will(LastWill::new(c.topic("status"), wire::OFFLINE, QoS::AtLeastOnce, true));
        Ok(options)
    }

    async fn session(&mut self, stop: &CancellationToken) -> Result<End, AgentError> {
        let boot_id = self.boot_id()?;
        let (client, mut eventloop) = AsyncClient::new(self.options()?, 256);
        // Acks go out at once, not held back by Nagle behind the one before.
        eventloop.set_network_options(network());
        // The event loop runs in its own task: `EventLoop::poll` must not be cancelled
        // mid-packet, which a `select!` with other branches would do.
        let (events_tx, mut events) = mpsc::channel(64);
        let pump = tokio::spawn(pump(eventloop, events_tx));
        let (steps, mut step_rx) = mpsc::unbounded_channel();
        let machine = Machine::new(self.config.client_uuid, self.executor.is_simulated(), boot_id);
        let mut s = Session { client, steps, machine, pending: 0, ending: None };
        let resumed = s.machine.resume(self.state.unfinished(), now_ms());
        self.apply(&mut s, resumed).await?;
        let mut heartbeat = tokio::time::interval(self.config.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut connected = false;
        loop {
            if let Some((end, deadline)) = s.ending
                && (s.pending == 0 || Instant::now() > deadline || !connected)
            {
                disconnect(&s.client, &mut events, pump).await;
                self.stats.connected.fetch_sub(u64::from(connected), Ordering::Relaxed);
                return Ok(end);
            }
            tokio::select! {
                _ = stop.cancelled(), if s.ending.is_none() => {
                    s.end(self.config.topic("status"), End::Stop).await;
                }
                Some(event) = events.recv() => match event {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        connected = true;
                        self.stats.connected.fetch_add(1, Ordering::Relaxed);
                        if self.ever_connected {
                            self.connection.reconnect_count += 1;
                        }
                        self.ever_connected = true;
                        if !ack.session_present {
                            let _ = s.client.subscribe(self.config.topic("commands"), QoS::AtLeastOnce).await;
                        }
                        s.publish(self.config.topic("status"), wire::ONLINE.to_vec(), true).await;
                        self.heartbeat(&mut s).await;
                        heartbeat.reset();
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let span = tracing::info_span!("agent.command", client = %self.config.client_uuid);
                        let delay = self.executor.start_delay();
                        let effects = span.in_scope(|| {
                            s.machine.command(&self.state, &publish.payload, now_ms(), delay)
                        });
                        self.apply(&mut s, effects).instrument(span).await?;
                        let _ = s.client.ack(&publish).await;
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => s.pending = s.pending.saturating_sub(1),
                    Ok(_) => {}
                    Err(err) => {
                        if connected {
                            connected = false;
                            self.stats.connected.fetch_sub(1, Ordering::Relaxed);
                            self.connection.last_disconnect_ms = Some(now_ms());
                        }
                        tracing::warn!(client = %self.config.client_uuid, error = %err, "agent.mqtt: connection lost, retrying");
                    }
                },
                Some(step) = step_rx.recv() => {
                    let effects = match step {
                        Step::Begin(id, action) => s.machine.begin(&self.state, id, action, now_ms()),
                        Step::Finished(id, outcome) => {
                            s.machine.finished(&self.state, id, outcome, now_ms())
                        }
                    };
                    self.apply(&mut s, effects).await?;
                }
                _ = heartbeat.tick(), if connected => self.heartbeat(&mut s).await,
            }
        }
    }

    async fn heartbeat(&mut self, s: &mut Session) {
        let (process_status, uptime_s) = if self.executor.is_simulated() {
            ("running", self.booted.elapsed().as_secs())
        } else {
            (unit_status(&self.config.app_unit).await, host_uptime_s())
        };
        let health = Health {
            client_uuid: self.config.client_uuid,
            now_ms: now_ms(),
            boot_id: s.machine.boot_id(),
            uptime_s,
            app_version: self.config.app_version.as_deref(),
            process_status,
            connection: &self.connection,
        };
        let topic = self.config.topic("health");
        let _ = s.client.publish(topic, QoS::AtMostOnce, false, health.encode()).await;
    }

    /// Carry out what the machine decided, in order.
    async fn apply(&mut self, s: &mut Session, effects: Vec<Effect>) -> Result<(), AgentError> {
        for effect in effects {
            match effect {
                Effect::Record(record) => {
                    let (phase, ack) = (record.phase, record.last_ack.clone());
                    self.state.put(record)?;
                    match phase {
                        Phase::Completed => self.stats.completed.fetch_add(1, Ordering::Relaxed),
                        Phase::Failed => self.stats.failed.fetch_add(1, Ordering::Relaxed),
                        _ => 0,
                    };
                    self.send_ack(s, &ack).await;
                }
                Effect::Resend(ack) => self.send_ack(s, &ack).await,
                Effect::Schedule { id, action, delay } => {
                    let steps = s.steps.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = steps.send(Step::Begin(id, action));
                    });
                }
                Effect::Execute { id, action } => {
                    self.state.log_execution(id, action.as_str())?;
                    self.stats.executions.fetch_add(1, Ordering::Relaxed);
                    let executor = self.executor.clone();
                    let steps = s.steps.clone();
                    tokio::spawn(async move {
                        let outcome = executor.execute(action).await;
                        let _ = steps.send(Step::Finished(id, outcome));
                    });
                }
                Effect::End(end) => s.end(self.config.topic("status"), end).await,
            }
        }
        Ok(())
    }

    async fn send_ack(&mut self, s: &mut Session, ack: &AckOut) {
        self.stats.acks.fetch_add(1, Ordering::Relaxed);
        s.publish(self.config.topic("commands/ack"), ack.encode(), false).await;
    }
}

/// Poll the event loop forever, handing every event to the session; after an error the
/// next poll (a reconnect) waits a second.
async fn pump(mut eventloop: EventLoop, events: mpsc::Sender<Result<Event, ConnectionError>>) {
    loop {
        let event = eventloop.poll().await;
        let failed = event.is_err();
        if events.send(event).await.is_err() {
            return;
        }
        if failed {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Disconnect cleanly (the Last Will is not published), waiting briefly for it to go out,
/// then stop the event loop task.
async fn disconnect(
    client: &AsyncClient,
    events: &mut mpsc::Receiver<Result<Event, ConnectionError>>,
    pump: tokio::task::JoinHandle<()>,
) {
    if client.try_disconnect().is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(event) = events.recv().await {
                if matches!(event, Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_)) {
                    return;
                }
            }
        })
        .await;
    }
    pump.abort();
}

fn host_uptime_s() -> u64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0, |s| s as u64)
}

/// Connection options for `config`'s broker as `client_id`: address, the device's
/// credentials, and TLS (verified against `ca_file`, else the system's roots) for `mqtts://`.
/// Every connection of the agent starts from these.
pub(super) fn broker_options(
    config: &AgentConfig,
    client_id: String,
    password: String,
) -> Result<MqttOptions, AgentError> {
    let broker = BrokerUrl::parse(&config.broker_url).map_err(AgentError::Options)?;
    let mut options = MqttOptions::new(client_id, broker.host, broker.port);
    options.set_credentials(config.username(), password);
    if broker.tls {
        let tls = tls_client_config(config.ca_file.as_deref()).map_err(|reason| {
            let path = config.ca_file.as_deref().unwrap_or(std::path::Path::new(""));
            AgentError::Options(format!("ca_file {}: {reason}", path.display()))
        })?;
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    }
    Ok(options)
}
