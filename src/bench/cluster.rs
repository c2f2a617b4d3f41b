//! `rebound bench cluster`: several `rebound serve` replicas on one PostgreSQL and one broker
//! (docs/cluster.md). Two phases in one run, each on a fresh database of the PostgreSQL server
//! `--store-url` names (created and dropped by the bench) and a fresh broker:
//!
//! 1. **Fan-out** with 1, 2, 3… replicas ([`super::cluster_fanout`]): the rollout of `bench
//!    fanout` (every device gets one `restart_app`), each round started through the next
//!    replica; time until every command is terminal and acks ingested per second, against the
//!    broker's raw publish→subscribe rate measured in the same run.
//! 2. **Failover** with 3 replicas ([`super::cluster_failover`]): the leader is killed with
//!    `kill -9` N times (and started again each time, so there are always 3); the time from
//!    the kill until another replica reports `leader` in `GetHealth`. Then a few graceful
//!    handovers (SIGTERM to the leader), timed the same way.
//!
//! This module owns the parameters, the replicas' start-up and the report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cluster_failover::Failover;
use super::cluster_fanout::FanoutFigures;
use super::fail;
use super::recovery_target::Target;
use super::server::{Rpc, ServerProcess};
use super::stats::figure;
use crate::error::{Error, Result};
use crate::mosquitto::Broker;

/// Replicas of the failover phase (the cluster).
pub(super) const FAILOVER_REPLICAS: usize = 3;
/// Shortest `--lease-ttl`: the renewal is a quarter of it and must be at least 100 ms.
const MIN_LEASE_TTL: Duration = Duration::from_millis(400);
const MAX_LEASE_TTL: Duration = Duration::from_secs(600);

/// Parameters of one run.
#[derive(Debug, Clone)]
pub struct ClusterBench {
    /// Simulated devices of the fan-out phase.
    pub devices: usize,
    /// Replica counts of the fan-out phase, measured in this order.
    pub replicas: Vec<usize>,
    /// Leader kills of the failover phase.
    pub kills: usize,
    /// Graceful leader stops (SIGTERM) after the kills.
    pub handovers: usize,
    /// `cluster.lease_ttl` of every replica (`lease_renew` is a quarter of it).
    pub lease_ttl: Duration,
    /// A PostgreSQL server's maintenance URL (`postgres://USER@HOST:PORT/postgres`); the bench
    /// creates its databases there and drops them at the end.
    pub store_url: Option<String>,
    /// Fan-out rounds per replica count (medians are reported).
    pub repeats: usize,
    /// Server binary; default: this executable.
    pub server: Option<PathBuf>,
}

impl ClusterBench {
    /// Small enough for the test command: 50 devices, 1 and 2 replicas, 2 kills, 1 handover.
    pub fn smoke(store_url: Option<String>) -> Self {
        Self {
            devices: 50,
            replicas: vec![1, 2],
            kills: 2,
            handovers: 1,
            lease_ttl: Duration::from_secs(2),
            store_url,
            repeats: 1,
            server: None,
        }
    }

    /// The PostgreSQL URL, or why these parameters cannot run.
    fn validate(&self) -> Result<&str> {
        let url = self.store_url.as_deref().ok_or_else(|| {
            Error::invalid_argument(
                "store-url",
                "required: the PostgreSQL server the replicas share \
                 (postgres://USER@HOST:PORT/postgres)",
            )
        })?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::invalid_argument(
                "store-url",
                format!(
                    "not a postgres:// URL: {} (replicas need a shared PostgreSQL)",
                    crate::store::redact_url(url)
                ),
            ));
        }
        if self.replicas.is_empty() || self.replicas.contains(&0) {
            return Err(Error::invalid_argument("replicas", "a list of counts of at least 1"));
        }
        if self.devices == 0 {
            return Err(Error::invalid_argument("devices", "must be at least 1"));
        }
        if !(MIN_LEASE_TTL..=MAX_LEASE_TTL).contains(&self.lease_ttl) {
            return Err(Error::invalid_argument("lease-ttl", "must be between 400ms and 600s"));
        }
        Ok(url)
    }

    /// The `[cluster]` section of every replica's config.
    fn cluster_config(&self) -> String {
        let renew = self.lease_ttl / 4;
        format!(
            "[cluster]\nlease_ttl = \"{}\"\nlease_renew = \"{}\"\n",
            humantime::format_duration(self.lease_ttl),
            humantime::format_duration(renew)
        )
    }
}

/// Where one phase runs: the binary, the broker, a fresh database and the replicas' config.
pub(super) struct Setting<'a> {
    pub binary: &'a Path,
    pub target: &'a Target,
    pub cluster_config: String,
}

impl Setting<'_> {
    /// `count` replicas on the database at `url`, once every one serves with its gateway
    /// connected; their clients in the same order.
    pub async fn start_replicas(
        &self,
        broker: &Broker,
        url: &str,
        count: usize,
    ) -> Result<(Vec<ServerProcess>, Vec<Rpc>)> {
        let mut replicas = Vec::with_capacity(count);
        for _ in 0..count {
            replicas.push(ServerProcess::start_with(
                self.binary,
                broker,
                url,
                &self.cluster_config,
            )?);
        }
        let mut rpcs = Vec::with_capacity(count);
        for replica in &replicas {
            rpcs.push(replica.wait_ready().await?);
        }
        Ok((replicas, rpcs))
    }
}

/// Print a progress line on stderr (the figures go to stdout).
pub(super) fn progress(line: impl std::fmt::Display) {
    eprintln!("bench cluster: {line}");
}

pub async fn run(params: ClusterBench) -> Result<()> {
    let url = params.validate()?;
    let binary = match &params.server {
        Some(binary) => binary.clone(),
        None => std::env::current_exe().map_err(fail)?,
    };
    let target = Target::new(Some(url)).await?;
    let setting =
        Setting { binary: &binary, target: &target, cluster_config: params.cluster_config() };
    let result = phases(&params, &setting).await;
    if let Err(err) = target.drop_source().await {
        progress(format_args!("could not drop the bench's empty database: {err}"));
    }
    let (fanouts, failover) = result?;
    report(&params, &fanouts, &failover)
}

async fn phases(
    params: &ClusterBench,
    setting: &Setting<'_>,
) -> Result<(Vec<FanoutFigures>, Failover)> {
    let mut fanouts = Vec::new();
    for (index, &replicas) in params.replicas.iter().enumerate() {
        progress(format_args!("fan-out to {} devices, replicas: {replicas}", params.devices));
        fanouts.push(super::cluster_fanout::measure(params, setting, replicas, index).await?);
    }
    progress(format_args!(
        "failover: {} leader kills, {} handovers, {FAILOVER_REPLICAS} replicas, lease_ttl {}",
        params.kills,
        params.handovers,
        humantime::format_duration(params.lease_ttl)
    ));
    let failover = super::cluster_failover::measure(params, setting, params.replicas.len()).await?;
    Ok((fanouts, failover))
}

fn report(params: &ClusterBench, fanouts: &[FanoutFigures], failover: &Failover) -> Result<()> {
    for f in fanouts {
        f.figures();
    }
    let acks_ratio = acks_ratio(fanouts);
    if let Some((most, ratio)) = acks_ratio {
        figure(&format!("cluster.fanout.acks_per_s_{most}_replicas_to_1"), ratio, "x");
    }
    let ttl = params.lease_ttl.as_secs_f64();
    failover.figures(ttl);
    println!();
    FanoutFigures::table(fanouts);
    if let Some((most, ratio)) = acks_ratio {
        println!();
        println!("acks per second, {most} replicas ÷ 1 replica (target ≥ 1): {ratio:.3}");
    }
    println!();
    failover.table(ttl);
    let failed: u64 = fanouts.iter().map(|f| f.not_completed).sum();
    if failed > 0 {
        return Err(fail(format!("{failed} commands did not complete")));
    }
    let miscounted: u64 = fanouts.iter().map(|f| f.miscounted).sum();
    if miscounted > 0 {
        return Err(fail(format!(
            "rollout counters: `completed` is off by {miscounted} from the commands listed COMPLETED"
        )));
    }
    Ok(())
}

/// The largest replica count measured and its acks per second ÷ those of 1 replica.
fn acks_ratio(fanouts: &[FanoutFigures]) -> Option<(usize, f64)> {
    let one = fanouts.iter().find(|f| f.replicas == 1)?;
    let most = fanouts.iter().filter(|f| f.replicas > 1).max_by_key(|f| f.replicas)?;
    Some((most.replicas, most.acks_per_s / one.acks_per_s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_url(url: Option<&str>) -> ClusterBench {
        ClusterBench::smoke(url.map(str::to_owned))
    }

    #[test]
    fn the_store_url_is_required_and_must_be_postgresql() {
        let missing = with_url(None).validate().unwrap_err().to_string();
        assert!(missing.starts_with("store-url: required"), "{missing}");
        let sqlite = with_url(Some("sqlite:///tmp/x.db")).validate().unwrap_err().to_string();
        assert!(sqlite.starts_with("store-url: not a postgres:// URL"), "{sqlite}");
        let secret = with_url(Some("mysql://u:secret@h/db")).validate().unwrap_err().to_string();
        assert!(!secret.contains("secret"), "the password is redacted: {secret}");
        let url = "postgresql://postgres@127.0.0.1:5432/postgres";
        assert_eq!(with_url(Some(url)).validate().unwrap(), url);
    }

    #[test]
    fn replicas_devices_and_the_lease_ttl_are_checked() {
        let url = Some("postgres://h/postgres");
        let mut params = with_url(url);
        params.replicas = vec![1, 0];
        assert!(params.validate().unwrap_err().to_string().starts_with("replicas: "));
        params = with_url(url);
        params.devices = 0;
        assert!(params.validate().unwrap_err().to_string().starts_with("devices: "));
        params = with_url(url);
        params.lease_ttl = Duration::from_millis(300);
        assert!(params.validate().unwrap_err().to_string().starts_with("lease-ttl: "));
    }

    #[test]
    fn the_renewal_is_a_quarter_of_the_ttl() {
        let mut params = with_url(None);
        params.lease_ttl = Duration::from_secs(2);
        assert_eq!(
            params.cluster_config(),
            "[cluster]\nlease_ttl = \"2s\"\nlease_renew = \"500ms\"\n"
        );
    }
}
