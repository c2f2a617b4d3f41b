//! The fan-out phase of `rebound bench cluster`: N replicas on a fresh database and a fresh
//! broker, the simulated devices of `bench fanout` connected and registered, then per round
//! the rollout of `bench fanout` (`restart_app` to every device, no canary, 100,000 per
//! minute), started through replica `round % N`. That replica issues the rollout's first
//! piece, the leader the following steps; each command is published by the replica that
//! issued it, and every replica receives every ack while the device's owner stores it
//! (docs/cluster.md). Measured: time from
//! `StartRollout` until every command is terminal, acks per second over that time, issue →
//! accepted p50/p99 (server timestamps) and the CPU time of the replicas. Baseline before
//! each round: the broker's raw publish→subscribe rate for the same message count, as in
//! `bench fanout`.

use std::time::Duration;

use uuid::Uuid;

use super::clients::wait_registered;
use super::cluster::{ClusterBench, Setting, progress};
use super::cpu::CpuSample;
use super::fail;
use super::fanout::{BASELINES_PER_RUN, Run, baseline_rate, connect_fleet, rollout_once};
use super::server::{SERVER_PASSWORD, SERVER_USER};
use super::stats::{figure, median, percentile};
use crate::error::{Error, Result};
use crate::mosquitto::Broker;

/// The medians of one replica count.
pub(super) struct FanoutFigures {
    pub replicas: usize,
    pub devices: usize,
    pub rounds: usize,
    /// `StartRollout` → every command terminal (median, s).
    pub time: f64,
    pub acks_per_s: f64,
    pub baseline: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Replicas' CPU per round, all of them together; the broker's.
    pub replicas_cpu: Duration,
    pub broker_cpu: Duration,
    pub not_completed: u64,
    /// Rollout `completed` counters off from the commands listed COMPLETED, summed.
    pub miscounted: u64,
}

/// Fan-out with `replicas` replicas on database copy `index`.
pub(super) async fn measure(
    params: &ClusterBench,
    setting: &Setting<'_>,
    replicas: usize,
    index: usize,
) -> Result<FanoutFigures> {
    let n = params.devices;
    let devices: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
    let mut users = vec![(SERVER_USER.to_owned(), SERVER_PASSWORD.to_owned())];
    users.extend(devices.iter().map(|d| (d.to_string(), format!("pw-{d}"))));
    let broker = Broker::start(&users).map_err(fail)?;
    let url = setting.target.copy(index).await?;
    let result = async {
        let (servers, rpcs) = setting.start_replicas(&broker, &url, replicas).await?;
        let fleet = connect_fleet(&broker, &devices).await?;
        wait_registered(&rpcs[0], n).await?;
        progress(format_args!("replicas: {replicas}, serving; {n} devices registered"));
        let pids: Vec<(&str, u32)> = servers
            .iter()
            .map(|s| ("replicas", s.pid()))
            .chain([("broker", broker.pid())])
            .collect();
        let (mut rounds, mut baseline, mut cpu) = (Vec::new(), Vec::new(), CpuSample::default());
        for round in 0..params.repeats.max(1) {
            for _ in 0..BASELINES_PER_RUN {
                baseline.push(baseline_rate(&broker, 4 * n).await?);
            }
            let before = CpuSample::take(&pids);
            let measured = rollout_once(&rpcs[round % replicas]).await?;
            cpu.add(&CpuSample::take(&pids).since(&before));
            progress(format_args!(
                "replicas: {replicas}, rollout {}: all terminal in {:.3} s",
                round + 1,
                measured.elapsed.as_secs_f64()
            ));
            rounds.push(measured);
        }
        drop(fleet);
        drop(servers);
        Ok::<_, Error>((rounds, baseline, cpu))
    }
    .await;
    if let Err(err) = setting.target.drop_copy(&url).await {
        progress(format_args!("could not drop the database of {replicas} replicas: {err}"));
    }
    let (rounds, mut baseline, cpu) = result?;
    let count = rounds.len();
    let mut times: Vec<f64> = rounds.iter().map(|r: &Run| r.elapsed.as_secs_f64()).collect();
    let mut latencies: Vec<Duration> = rounds.iter().flat_map(|r| r.latencies.clone()).collect();
    let time = median(&mut times);
    Ok(FanoutFigures {
        replicas,
        devices: n,
        rounds: count,
        time,
        acks_per_s: (3 * n) as f64 / time,
        baseline: median(&mut baseline),
        p50: percentile(&mut latencies, 50),
        p99: percentile(&mut latencies, 99),
        replicas_cpu: cpu.process("replicas") / count as u32,
        broker_cpu: cpu.process("broker") / count as u32,
        not_completed: rounds.iter().map(|r| u64::from(r.not_completed)).sum(),
        miscounted: rounds.iter().map(|r| u64::from(r.miscounted)).sum(),
    })
}

impl FanoutFigures {
    /// The messages of a round: one command and three acks per device.
    fn messages_per_s(&self) -> f64 {
        (4 * self.devices) as f64 / self.time
    }

    /// The machine-readable lines.
    pub fn figures(&self) {
        let name = |what: &str| format!("cluster.fanout.replicas_{}.{what}", self.replicas);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        figure(&name("time_to_all_terminal"), self.time, "s");
        figure(&name("acks_ingested_per_s"), self.acks_per_s, "acks/s");
        figure(&name("issue_to_accepted_p50"), ms(self.p50), "ms");
        figure(&name("issue_to_accepted_p99"), ms(self.p99), "ms");
        figure(&name("messages_per_s"), self.messages_per_s(), "msg/s");
        figure(&name("baseline.broker_pubsub_per_s"), self.baseline, "msg/s");
        figure(&name("ratio"), self.messages_per_s() / self.baseline, "x");
        figure(&name("cpu.replicas_per_round"), ms(self.replicas_cpu), "ms");
        figure(&name("cpu.broker_per_round"), ms(self.broker_cpu), "ms");
        figure(&name("commands_not_completed"), self.not_completed as f64, "commands");
        figure(&name("rollout_counter_miscounted"), self.miscounted as f64, "commands");
    }

    /// One column per replica count.
    pub fn table(all: &[FanoutFigures]) {
        let row = |label: &str, cell: &dyn Fn(&FanoutFigures) -> String| {
            let cells: Vec<String> = all.iter().map(cell).collect();
            println!("| {label} | {} |", cells.join(" | "));
        };
        let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
        row("replicas", &|f| f.replicas.to_string());
        println!("|---|{}", "---|".repeat(all.len()));
        row("devices × rounds", &|f| format!("{} × {}", f.devices, f.rounds));
        row("time until every command is terminal (median)", &|f| format!("{:.3} s", f.time));
        row("**acks ingested per second**", &|f| format!("**{:.0}**", f.acks_per_s));
        row("issue → accepted p50 / p99 (ms)", &|f| format!("{} / {}", ms(f.p50), ms(f.p99)));
        row("pipeline messages per second", &|f| format!("{:.0}", f.messages_per_s()));
        row("broker publish→subscribe (median)", &|f| format!("{:.0} msg/s", f.baseline));
        row("ratio", &|f| format!("{:.3}", f.messages_per_s() / f.baseline));
        row("CPU per round: replicas together / broker (ms)", &|f| {
            format!("{} / {}", ms(f.replicas_cpu), ms(f.broker_cpu))
        });
        row("commands not completed (must be 0)", &|f| f.not_completed.to_string());
        row("rollout's `completed` counter − commands COMPLETED (must be 0)", &|f| {
            f.miscounted.to_string()
        });
    }
}
