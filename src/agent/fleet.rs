//! A simulated fleet: N [`Agent`]s (simulated executor, in-memory state) in one process,
//! sharing one [`Stats`]. Used by `rebound fleet-sim` and `rebound demo`; every device runs
//! the agent's own session code, nothing is re-implemented here.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::config::{AgentConfig, ExecutorKind};
use super::{Agent, State, Stats};

/// What every simulated device shares.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    pub broker_url: String,
    /// One account for every device; `None`: each device logs in as its UUID.
    pub username: Option<String>,
    pub password: String,
    pub topic_prefix: String,
    pub heartbeat_interval: Duration,
    pub failure_rate: f64,
    pub reboot_delay: Duration,
    pub run_time: Duration,
    /// Devices started per second (spreads the connection storm).
    pub connect_rate: u32,
}

/// A running fleet.
pub struct Fleet {
    pub stats: Arc<Stats>,
    pub devices: usize,
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl Fleet {
    /// Start one agent per UUID, `connect_rate` per second.
    pub async fn start(spec: &FleetSpec, uuids: &[Uuid]) -> Fleet {
        let stats = Arc::new(Stats::default());
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let pause = Duration::from_secs(1) / spec.connect_rate.max(1);
        let mut ticker = tokio::time::interval(pause.max(Duration::from_micros(50)));
        for uuid in uuids {
            ticker.tick().await;
            let mut config = AgentConfig::new(&spec.broker_url, *uuid);
            config.username = spec.username.clone();
            config.topic_prefix = spec.topic_prefix.clone();
            config.heartbeat_interval = spec.heartbeat_interval;
            config.executor = ExecutorKind::Simulate;
            config.simulate.failure_rate = spec.failure_rate;
            config.simulate.reboot_delay = spec.reboot_delay;
            config.simulate.run_time = spec.run_time;
            let agent = Agent::new(
                Arc::new(config),
                State::in_memory(),
                spec.password.clone(),
                stats.clone(),
            );
            let stop = stop.clone();
            tasks.spawn(async move {
                if let Err(err) = agent.run(stop).await {
                    tracing::error!(error = %err, "fleet.device: agent stopped with an error");
                }
            });
        }
        Fleet { stats, devices: uuids.len(), stop, tasks }
    }

    /// Devices with a live broker connection.
    pub fn connected(&self) -> u64 {
        self.stats.connected.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stop every device (each disconnects cleanly) and wait for them.
    pub async fn stop(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Resident set size of this process in bytes (`VmRSS` of `/proc/self/status`).
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
