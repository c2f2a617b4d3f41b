//! `rebound bench memory`: the resident memory of a real `rebound serve` (its own process,
//! a real Mosquitto) idle, with N devices registered, and with N devices and one open command
//! each — what the fleet writer remembers (see `store/sqlite/writer.rs`; it keeps at most
//! 200,000 of each). N is at most 100,000 with the shipped broker, which queues at most that
//! many messages for the server's session.
//!
//! Devices register by their health message. A loader client with the server's broker
//! account (the shipped ACL lets it write every device topic) publishes one per device, so N
//! can be 100,000 without 100,000 connections. The open commands come from one rollout to
//! all of them, issued at once; nobody answers, so they stay `published` until the rollout is
//! aborted at the end. Baseline: the same process idle, before the first device.

use std::time::{Duration, Instant};

use rumqttc::{Packet, QoS};
use uuid::Uuid;

use super::clients::{
    PHASE_TIMEOUT, PREFIX, await_incoming, connect_client, get_rollout, health_payload,
    server_login, start_rollout_to_all, wait_registered,
};
use super::fail;
use super::server::{Rpc, SERVER_PASSWORD, SERVER_USER, ServerProcess};
use super::stats::figure;
use crate::error::Result;
use crate::mosquitto::Broker;
use crate::proto::v1 as pb;

/// Health messages the loader keeps in flight.
const LOADER_INFLIGHT: u16 = 1000;

/// Parameters of one run.
#[derive(Debug, Clone)]
pub struct MemoryBench {
    pub devices: usize,
}

impl MemoryBench {
    pub fn smoke() -> Self {
        Self { devices: 200 }
    }
}

const MIB: f64 = 1024.0 * 1024.0;

pub async fn run(params: MemoryBench) -> Result<()> {
    let n = params.devices.max(1);
    let broker =
        Broker::start(&[(SERVER_USER.to_owned(), SERVER_PASSWORD.to_owned())]).map_err(fail)?;
    let server = ServerProcess::start(&broker)?;
    let rpc = server.wait_ready().await?;
    let idle = server.rss_bytes()?;
    println!("server ready, {:.1} MiB resident; registering {n} devices", idle as f64 / MIB);

    let started = Instant::now();
    register(&broker, n).await?;
    wait_registered(&rpc, n).await?;
    let registered = server.rss_bytes()?;
    println!(
        "{n} devices registered in {:.1} s, {:.1} MiB resident; one command to each",
        started.elapsed().as_secs_f64(),
        registered as f64 / MIB
    );

    let started = Instant::now();
    let rollout = issue_to_all(&rpc, n).await?;
    let open = server.rss_bytes()?;
    println!(
        "{n} commands open after {:.1} s, {:.1} MiB resident",
        started.elapsed().as_secs_f64(),
        open as f64 / MIB
    );
    rpc.clone()
        .abort_rollout(pb::AbortRolloutRequest {
            rollout_id: rollout,
            reason: "memory benchmark done".into(),
        })
        .await
        .map_err(fail)?;

    let per_device = (registered.saturating_sub(idle)) as f64 / n as f64;
    let per_command = (open.saturating_sub(registered)) as f64 / n as f64;
    figure("memory.devices", n as f64, "devices");
    figure("memory.rss_idle", idle as f64 / MIB, "MiB");
    figure("memory.rss_registered", registered as f64 / MIB, "MiB");
    figure("memory.rss_registered_and_open", open as f64 / MIB, "MiB");
    figure("memory.per_registered_device", per_device / 1024.0, "KiB");
    figure("memory.per_open_command", per_command / 1024.0, "KiB");
    println!();
    println!("| figure | value |");
    println!("|---|---|");
    println!("| server resident memory, idle (baseline) | {:.1} MiB |", idle as f64 / MIB);
    println!("| … with {n} devices registered | {:.1} MiB |", registered as f64 / MIB);
    println!("| … and one open command each | {:.1} MiB |", open as f64 / MIB);
    println!("| per registered device | {:.2} KiB |", per_device / 1024.0);
    println!("| per open command | {:.2} KiB |", per_command / 1024.0);
    Ok(())
}

/// Publish one health message for each of `n` new device ids through one connection.
async fn register(broker: &Broker, n: usize) -> Result<()> {
    let mut options = server_login(broker, "loader");
    options.set_inflight(LOADER_INFLIGHT);
    let (client, mut eventloop) = connect_client(options, n + 10);
    for _ in 0..n {
        let uuid = Uuid::new_v4();
        let topic = format!("{PREFIX}/{uuid}/health");
        client.try_publish(topic, QoS::AtLeastOnce, false, health_payload(uuid)).map_err(fail)?;
    }
    await_incoming(&mut eventloop, n, |p| matches!(p, Packet::PubAck(_)), "registering").await
}

/// Start a rollout to every device, all in one wave, and wait until every command is issued.
async fn issue_to_all(rpc: &Rpc, n: usize) -> Result<String> {
    let id = start_rollout_to_all(rpc, 100_000, 3600).await?;
    let deadline = Instant::now() + PHASE_TIMEOUT;
    loop {
        let current = get_rollout(rpc, &id).await?;
        let counters = current.counters.unwrap_or_default();
        if counters.queued + counters.pending == 0 && counters.in_flight as usize >= n {
            return Ok(id);
        }
        if Instant::now() > deadline {
            return Err(fail(format!("only {} of {n} commands in flight", counters.in_flight)));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
