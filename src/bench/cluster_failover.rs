//! The failover phase of `rebound bench cluster`: [`FAILOVER_REPLICAS`] replicas on a fresh
//! database (no devices: only the lease is measured). The leader is whichever replica reports
//! `leader` in `GetHealth`; it is killed with `kill -9`, and the failover time runs from the
//! kill until another replica reports `leader` (polled every [`POLL`]). The killed replica is
//! then started again on its config (the same replica id) and the next kill waits until it
//! serves, so there are always 3. Then the same with SIGTERM (a graceful stop gives the lease
//! up and wakes the others: the handover time).

use std::time::{Duration, Instant};

use super::cluster::{ClusterBench, FAILOVER_REPLICAS, Setting, progress};
use super::fail;
use super::server::{SERVER_PASSWORD, SERVER_USER, ServerProcess};
use super::stats::{figure, percentile};
use crate::error::Result;
use crate::mosquitto::Broker;
use crate::proto::v1 as pb;
use crate::proto::v1::health_service_client::HealthServiceClient;

/// How often the replicas are asked who leads (the resolution of the times).
const POLL: Duration = Duration::from_millis(10);

type Health = HealthServiceClient<tonic::transport::Channel>;

/// The measured takeovers.
pub(super) struct Failover {
    /// `kill -9` of the leader → another replica reports `leader`.
    pub kills: Vec<Duration>,
    /// SIGTERM to the leader → another replica reports `leader`.
    pub handovers: Vec<Duration>,
}

/// How the leader goes.
#[derive(Clone, Copy)]
enum Stop {
    Kill,
    Terminate,
}

pub(super) async fn measure(
    params: &ClusterBench,
    setting: &Setting<'_>,
    index: usize,
) -> Result<Failover> {
    let broker =
        Broker::start(&[(SERVER_USER.to_owned(), SERVER_PASSWORD.to_owned())]).map_err(fail)?;
    let url = setting.target.copy(index).await?;
    let result = async {
        let (mut replicas, _) = setting.start_replicas(&broker, &url, FAILOVER_REPLICAS).await?;
        let mut health = Vec::with_capacity(replicas.len());
        for replica in &replicas {
            health.push(connect(replica).await?);
        }
        // Generous: a takeover takes about one lease_ttl on a crash.
        let deadline = params.lease_ttl * 10 + Duration::from_secs(30);
        let mut failover = Failover { kills: Vec::new(), handovers: Vec::new() };
        let plan = std::iter::repeat_n(Stop::Kill, params.kills)
            .chain(std::iter::repeat_n(Stop::Terminate, params.handovers));
        for (i, stop) in plan.enumerate() {
            let leader = leader(&health, None, deadline).await?;
            let replica = &mut replicas[leader];
            match stop {
                Stop::Kill => replica.kill(),
                Stop::Terminate => replica.terminate(),
            }
            let stopped = Instant::now();
            self::leader(&health, Some(leader), deadline).await?;
            let took = stopped.elapsed();
            let (what, times) = match stop {
                Stop::Kill => ("kill -9", &mut failover.kills),
                Stop::Terminate => ("SIGTERM", &mut failover.handovers),
            };
            times.push(took);
            progress(format_args!(
                "leader stop {}/{} ({what}): another replica leads after {:.3} s",
                i + 1,
                params.kills + params.handovers,
                took.as_secs_f64()
            ));
            replica.start_again()?;
            replica.wait_ready().await?;
            health[leader] = connect(replica).await?;
        }
        Ok(failover)
    }
    .await;
    if let Err(err) = setting.target.drop_copy(&url).await {
        progress(format_args!("could not drop the failover database: {err}"));
    }
    result
}

async fn connect(replica: &ServerProcess) -> Result<Health> {
    let channel = crate::client::connect(replica.addr()).await.map_err(fail)?;
    Ok(HealthServiceClient::new(channel))
}

/// Whether replica `health` reports that it leads; `false` when it does not answer.
async fn leads(health: &Health) -> bool {
    let answer = health.clone().get_health(pb::GetHealthRequest {}).await;
    answer.ok().and_then(|h| h.into_inner().cluster).is_some_and(|c| c.leader)
}

/// The index of the first replica (other than `except`) that reports `leader`, polling them
/// all until `deadline` has passed since the call.
async fn leader(health: &[Health], except: Option<usize>, deadline: Duration) -> Result<usize> {
    let started = Instant::now();
    loop {
        for (i, replica) in health.iter().enumerate() {
            if Some(i) != except && leads(replica).await {
                return Ok(i);
            }
        }
        if started.elapsed() > deadline {
            return Err(fail(format!("no replica reported leader within {deadline:?}")));
        }
        tokio::time::sleep(POLL).await;
    }
}

impl Failover {
    /// The machine-readable lines; `ttl` in seconds.
    pub fn figures(&self, ttl: f64) {
        let s = |d: Duration| d.as_secs_f64();
        let mut kills = self.kills.clone();
        figure("cluster.failover.kills", kills.len() as f64, "kills");
        figure("cluster.failover.p50", s(percentile(&mut kills, 50)), "s");
        figure("cluster.failover.p95", s(percentile(&mut kills, 95)), "s");
        figure("cluster.failover.max", s(percentile(&mut kills, 100)), "s");
        figure("cluster.failover.p95_to_lease_ttl", s(percentile(&mut kills, 95)) / ttl, "x");
        let mut handovers = self.handovers.clone();
        figure("cluster.handover.count", handovers.len() as f64, "handovers");
        figure("cluster.handover.p50", s(percentile(&mut handovers, 50)), "s");
        figure("cluster.handover.max", s(percentile(&mut handovers, 100)), "s");
    }

    /// The table for people; `ttl` in seconds.
    pub fn table(&self, ttl: f64) {
        let s = |d: Duration| d.as_secs_f64();
        let (mut kills, mut handovers) = (self.kills.clone(), self.handovers.clone());
        let p95 = s(percentile(&mut kills, 95));
        println!("| leader stop | count | p50 | p95 | max | target |");
        println!("|---|---|---|---|---|---|");
        println!(
            "| kill -9 (failover) | {} | {:.3} s | **{p95:.3} s** ({:.2} × lease_ttl) | {:.3} s | p95 ≤ {:.1} s (2 × lease_ttl {ttl} s) |",
            kills.len(),
            s(percentile(&mut kills, 50)),
            p95 / ttl,
            s(percentile(&mut kills, 100)),
            2.0 * ttl
        );
        println!(
            "| SIGTERM (handover) | {} | {:.3} s | {:.3} s | {:.3} s | ≤ 1 s |",
            handovers.len(),
            s(percentile(&mut handovers, 50)),
            s(percentile(&mut handovers, 95)),
            s(percentile(&mut handovers, 100))
        );
    }
}
