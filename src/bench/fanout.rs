//! `rebound bench fanout`: N simulated devices on a real Mosquitto (the shipped config and
//! ACL), a real `rebound serve` in its own process, one rollout of `restart_app` to all of
//! them. Figures: time until every command is terminal, acks ingested per second, and the
//! issue→accepted latency (p50/p99, server timestamps). Baseline in the same run: the
//! broker's raw publish→subscribe rate for the same number of messages at QoS 1 with a
//! pipelined publisher (in-flight window [`BASELINE_INFLIGHT`]), measured
//! [`BASELINES_PER_RUN`] times right before each rollout, with the same broker load around
//! it (the fleet connected, the server idle).
//!
//! Messages per rollout: one command per device plus three acks (compat topics off), so the
//! ratio compares the whole command pipeline with the broker moving the same messages.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rumqttc::{Packet, QoS};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::clients::{
    PHASE_TIMEOUT, PREFIX, await_incoming, connect_client, count_registered, get_rollout,
    issue_to_accepted, list_commands, server_login, start_rollout_to_all, wait_registered,
};
use super::cpu::CpuSample;
use super::device;
use super::fail;
use super::server::{Rpc, SERVER_PASSWORD, SERVER_USER, ServerProcess};
use super::stats::{figure, median, percentile};
use crate::error::{Error, Result};
use crate::mosquitto::Broker;
use crate::proto::v1 as pb;

/// Outbound QoS 1 publishes in flight for the baseline publisher.
pub const BASELINE_INFLIGHT: u16 = 200;
/// Baseline measurements before each rollout. One takes the broker 50–200 ms, short enough
/// for a scheduling hiccup to halve it, so several per rollout keep the median steady.
pub(super) const BASELINES_PER_RUN: usize = 3;
/// Process labels of the CPU figures.
const SERVER: &str = "server";
const BROKER: &str = "broker";
/// The benchmark process: the simulated devices (and the poller).
const DEVICES: &str = "devices";
/// How often the rollout is polled for being finished (the resolution of the time taken).
const POLL: Duration = Duration::from_millis(5);

/// Parameters of one run.
#[derive(Debug, Clone)]
pub struct FanoutBench {
    pub devices: usize,
    /// Rollouts measured; medians are reported.
    pub repeats: usize,
    /// Server binary; default: this executable.
    pub server: Option<PathBuf>,
    /// The server's store (`store.url`), which must hold no devices yet; default: a new
    /// SQLite database in a temp directory.
    pub store_url: Option<String>,
}

impl FanoutBench {
    pub fn smoke() -> Self {
        Self { devices: 20, repeats: 1, server: None, store_url: None }
    }
}

/// One rollout's measurements.
pub(super) struct Run {
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    /// Commands not COMPLETED, by their listed states.
    pub not_completed: u32,
    /// How far the rollout's `completed` counter is from the commands listed COMPLETED (must
    /// be 0).
    pub miscounted: u32,
}

pub async fn run(params: FanoutBench) -> Result<()> {
    let n = params.devices.max(1);
    let devices: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
    let mut users = vec![(SERVER_USER.to_owned(), SERVER_PASSWORD.to_owned())];
    users.extend(devices.iter().map(|d| (d.to_string(), format!("pw-{d}"))));
    let broker = Broker::start(&users).map_err(fail)?;
    let messages = 4 * n;

    // The transport alone first, before the server has a session that would take the acks.
    let mut transport = Vec::new();
    let fleet = connect_fleet(&broker, &devices).await?;
    for _ in 0..params.repeats.max(1) {
        transport.push(transport_rate(&broker, &devices).await?);
    }
    drop(fleet);

    let mut baseline = Vec::new();
    let binary = match &params.server {
        Some(binary) => binary.clone(),
        None => std::env::current_exe().map_err(fail)?,
    };
    let server = ServerProcess::start_on(&binary, &broker, params.store_url.as_deref())?;
    let result = async {
        let rpc = server.wait_ready().await?;
        let (known, _) = count_registered(&rpc).await?;
        if known > 0 {
            return Err(fail(format!(
                "store-url: the database already holds {known} devices; the rollout to all \
                 devices would wait for them: give the benchmark an empty database"
            )));
        }
        let fleet = connect_fleet(&broker, &devices).await?;
        wait_registered(&rpc, n).await?;
        let mut runs = Vec::new();
        let mut cpu = CpuSample::default();
        let processes =
            [(SERVER, server.pid()), (BROKER, broker.pid()), (DEVICES, std::process::id())];
        for _ in 0..params.repeats.max(1) {
            for _ in 0..BASELINES_PER_RUN {
                baseline.push(baseline_rate(&broker, messages).await?);
            }
            let before = CpuSample::take(&processes);
            runs.push(rollout_once(&rpc).await?);
            cpu.add(&CpuSample::take(&processes).since(&before));
        }
        drop(fleet);
        Ok::<_, Error>((runs, cpu))
    }
    .await;
    drop(server);
    let (runs, cpu) = result?;

    let mut times: Vec<f64> = runs.iter().map(|r| r.elapsed.as_secs_f64()).collect();
    let time = median(&mut times);
    let mut latencies: Vec<Duration> = runs.iter().flat_map(|r| r.latencies.clone()).collect();
    let p50 = percentile(&mut latencies, 50);
    let p99 = percentile(&mut latencies, 99);
    let not_completed: u32 = runs.iter().map(|r| r.not_completed).sum();
    let base = median(&mut baseline);
    let transport = median(&mut transport);
    let fanout_rate = messages as f64 / time;
    let ratio = fanout_rate / base;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    figure("fanout.devices", n as f64, "devices");
    figure("fanout.time_to_all_terminal", time, "s");
    figure("fanout.acks_ingested_per_s", (3 * n) as f64 / time, "acks/s");
    figure("fanout.issue_to_accepted_p50", ms(p50), "ms");
    figure("fanout.issue_to_accepted_p99", ms(p99), "ms");
    figure("fanout.messages_per_s", fanout_rate, "msg/s");
    figure("baseline.broker_pubsub_per_s", base, "msg/s");
    figure("fanout.ratio", ratio, "x");
    figure("transport.pipeline_per_s", transport, "msg/s");
    figure("transport.ratio", transport / base, "x");
    figure("fanout.ratio_to_transport", fanout_rate / transport, "x");
    figure("fanout.commands_not_completed", f64::from(not_completed), "commands");
    let per_run = |d: Duration| ms(d) / runs.len() as f64;
    for label in [SERVER, BROKER, DEVICES] {
        figure(&format!("cpu.{label}_per_rollout"), per_run(cpu.process(label)), "ms");
    }
    println!();
    println!("| figure | value |");
    println!("|---|---|");
    println!("| devices (one rollout each run, {} runs) | {n} |", runs.len());
    println!("| messages per run (commands + 3 acks each) | {messages} |");
    println!("| time until every command is terminal (median) | {time:.3} s |");
    println!("| acks ingested per second | {:.0} |", (3 * n) as f64 / time);
    println!("| issue → accepted p50 / p99 | {:.1} ms / {:.1} ms |", ms(p50), ms(p99));
    println!("| pipeline messages per second | {fanout_rate:.0} |");
    println!(
        "| broker publish→subscribe, QoS 1, in-flight {BASELINE_INFLIGHT} (median) | {base:.0} msg/s |"
    );
    println!("| ratio (target ≥ 0.5) | {ratio:.3} |");
    println!(
        "| transport alone: same fleet and messages, no server (median) | {transport:.0} msg/s |"
    );
    println!("| transport alone ÷ baseline (the ceiling of the ratio) | {:.3} |", transport / base);
    println!("| pipeline ÷ transport alone | {:.3} |", fanout_rate / transport);
    println!("| commands not completed (must be 0) | {not_completed} |");
    println!();
    println!("CPU time per rollout (from the StartRollout call until every command is terminal):");
    println!();
    println!("| process | thread | CPU ms per rollout |");
    println!("|---|---|---|");
    for (label, thread, spent) in cpu.entries() {
        if per_run(spent) >= 0.5 {
            println!("| {label} | {thread} | {:.1} |", per_run(spent));
        }
    }
    if not_completed > 0 {
        return Err(fail(format!("{not_completed} commands did not complete")));
    }
    Ok(())
}

/// Messages per second the broker moves from one pipelined publisher to one subscriber.
pub(super) async fn baseline_rate(broker: &Broker, count: usize) -> Result<f64> {
    let topic = format!("{PREFIX}/bench-baseline-{}", Uuid::new_v4());
    let (subscriber, mut sub_loop) = connect_client(server_login(broker, "baseline-sub"), 10);
    subscriber.subscribe(format!("{topic}/#"), QoS::AtLeastOnce).await.map_err(fail)?;
    await_incoming(&mut sub_loop, 1, |p| matches!(p, Packet::SubAck(_)), "baseline subscribe")
        .await?;
    let mut publisher_options = server_login(broker, "baseline-pub");
    publisher_options.set_inflight(BASELINE_INFLIGHT);
    let (publisher, mut pub_loop) = connect_client(publisher_options, count + 10);
    let payload = vec![b'x'; 240];
    let started = Instant::now();
    for i in 0..count {
        publisher
            .try_publish(format!("{topic}/{}", i % 64), QoS::AtLeastOnce, false, payload.clone())
            .map_err(fail)?;
    }
    let pump = tokio::spawn(async move {
        loop {
            if pub_loop.poll().await.is_err() {
                return;
            }
        }
    });
    let received =
        await_incoming(&mut sub_loop, count, |p| matches!(p, Packet::Publish(_)), "baseline").await;
    let elapsed = started.elapsed();
    pump.abort();
    received?;
    Ok(count as f64 / elapsed.as_secs_f64())
}

/// The same messages as a rollout with nothing behind them: a plain MQTT client in the
/// server's place (its account, its in-flight window) publishes one command to every device
/// and counts the three acks of each. What is left between this rate and the baseline is the
/// cost of fanning out over `n` connections and of the simulated devices sharing the machine;
/// what is left between the pipeline and this rate is the server's.
async fn transport_rate(broker: &Broker, devices: &[Uuid]) -> Result<f64> {
    let mut login = server_login(broker, "transport");
    login.set_inflight(crate::mqtt::options::INFLIGHT);
    let (client, mut eventloop) = connect_client(login, devices.len() + 10);
    client.subscribe(format!("{PREFIX}/+/commands/ack"), QoS::AtLeastOnce).await.map_err(fail)?;
    await_incoming(&mut eventloop, 1, |p| matches!(p, Packet::SubAck(_)), "transport subscribe")
        .await?;
    let now = chrono::Utc::now().timestamp_millis();
    let commands: Vec<(String, Vec<u8>)> = devices
        .iter()
        .map(|uuid| {
            let command = crate::commands::device::OutboundCommand {
                command_id: Uuid::new_v4(),
                client_uuid: *uuid,
                action: crate::contract::Action::RestartApp,
                issued_ms: now,
                expires_ms: now + 600_000,
                requested_by: None,
                reason: None,
            };
            (format!("{PREFIX}/{uuid}/commands"), crate::mqtt::payload::encode_command(&command))
        })
        .collect();
    let expected = 3 * devices.len();
    let started = Instant::now();
    for (topic, payload) in commands {
        client.try_publish(topic, QoS::AtLeastOnce, false, payload).map_err(fail)?;
    }
    await_incoming(&mut eventloop, expected, |p| matches!(p, Packet::Publish(_)), "transport run")
        .await?;
    let elapsed = started.elapsed();
    Ok((4 * devices.len()) as f64 / elapsed.as_secs_f64())
}

/// One simulated device per uuid; returns once every one of them is subscribed to its
/// commands topic.
pub(super) async fn connect_fleet(
    broker: &Broker,
    devices: &[Uuid],
) -> Result<Vec<device::DeviceTask>> {
    let (subscribed, mut ready) = mpsc::channel(devices.len().max(1));
    let mut waiting: HashSet<Uuid> = devices.iter().copied().collect();
    let mut fleet = Vec::with_capacity(devices.len());
    for uuid in devices {
        fleet.push(device::spawn(broker.port, *uuid, format!("pw-{uuid}"), subscribed.clone()));
    }
    drop(subscribed);
    tokio::time::timeout(PHASE_TIMEOUT, async {
        while !waiting.is_empty() {
            let uuid = ready.recv().await.ok_or_else(|| fail("a simulated device stopped"))?;
            waiting.remove(&uuid);
        }
        Ok::<_, Error>(())
    })
    .await
    .map_err(|_| fail("the simulated devices did not all subscribe"))??;
    Ok(fleet)
}

/// One rollout to every registered device, started through `rpc`; returns once every
/// command is terminal.
pub(super) async fn rollout_once(rpc: &Rpc) -> Result<Run> {
    let started = Instant::now();
    let id = start_rollout_to_all(rpc, 100_000, 600).await?;
    let finished = loop {
        let r = get_rollout(rpc, &id).await?;
        // Every command terminal (none waiting to be issued, queued or in flight); the
        // rollout's own move to COMPLETED is the scheduler's bookkeeping afterwards.
        let c = r.counters.unwrap_or_default();
        if c.total > 0 && c.pending + c.queued + c.in_flight == 0 {
            break r;
        }
        if started.elapsed() > PHASE_TIMEOUT {
            return Err(fail("rollout did not finish"));
        }
        tokio::time::sleep(POLL).await;
    };
    let elapsed = started.elapsed();
    let c = finished.counters.unwrap_or_default();
    let request = pb::ListCommandsRequest { rollout_id: id, ..Default::default() };
    let commands = list_commands(rpc, request).await?;
    let completed = commands.iter().filter(|c| c.state == pb::CommandState::Completed as i32);
    let completed = u32::try_from(completed.count()).unwrap_or(u32::MAX);
    Ok(Run {
        elapsed,
        latencies: commands.iter().filter_map(issue_to_accepted).collect(),
        not_completed: c.total.saturating_sub(completed),
        miscounted: c.completed.abs_diff(completed),
    })
}
