//! `rebound bench console`: what operators watching in the browser cost the server. A real
//! `rebound serve` (HTTP listener on), a real Mosquitto and N lightweight simulated devices
//! (the fan-out bench's); one rollout of `restart_app` to all of them at a time. Measured side
//! by side, alternating: the server's CPU time per rollout with no console open, and with C
//! consoles open, each following the rollout's detail page (the `WatchRollout` event stream
//! through the JSON gateway) and the fleet page (its refresh every 3 s, the same requests
//! `fleet.js` makes, concurrently as the page does: its page of devices, the filters' counts,
//! and the two panels: the fleet's counts, then each panel's list if its count is not zero), over HTTP, so the cost is the server's real cost. Also: the time
//! until the fleet page's first rows (its page of devices, answered while the page's other
//! first requests are in flight) with N devices.
//!
//! The rollout's end is awaited the same way in both arms (one gRPC `WatchRollout` stream),
//! so the only difference between them is the consoles.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_stream::StreamExt;

use super::clients::{PHASE_TIMEOUT, start_rollout_to_all, wait_registered};
use super::cpu::CpuSample;
use super::fail;
use super::fanout::connect_fleet;
use super::http::{EventStream, encode_query, post_json};
use super::server::{Rpc, SERVER_PASSWORD, SERVER_USER, ServerProcess};
use super::stats::{figure, median};
use crate::error::{Error, Result};
use crate::mosquitto::Broker;
use crate::proto::v1 as pb;

/// The gateway's path of a `ClientCommandService` method.
const CLIENTS: &str = "/api/rebound.v1.ClientCommandService";
/// How often the fleet page refreshes (its polling period, `POLL_MS` in fleet.js).
const FLEET_POLL: Duration = Duration::from_secs(3);
/// Label of the server in the CPU samples.
const SERVER: &str = "server";

/// Parameters of one run.
#[derive(Debug, Clone)]
pub struct ConsoleBench {
    pub devices: usize,
    /// Consoles watching in the watched arm.
    pub consoles: usize,
    /// Rollouts per arm; medians are reported.
    pub repeats: usize,
    /// Server binary; default: this executable.
    pub server: Option<PathBuf>,
}

impl ConsoleBench {
    pub fn smoke() -> Self {
        Self { devices: 20, consoles: 2, repeats: 1, server: None }
    }
}

pub async fn run(params: ConsoleBench) -> Result<()> {
    let n = params.devices.max(1);
    let devices: Vec<uuid::Uuid> = (0..n).map(|_| uuid::Uuid::new_v4()).collect();
    let mut users = vec![(SERVER_USER.to_owned(), SERVER_PASSWORD.to_owned())];
    users.extend(devices.iter().map(|d| (d.to_string(), format!("pw-{d}"))));
    let broker = Broker::start(&users).map_err(fail)?;
    let binary = match &params.server {
        Some(binary) => binary.clone(),
        None => std::env::current_exe().map_err(fail)?,
    };
    let server = ServerProcess::start_with_console(&binary, &broker)?;
    let port = server.http_port().ok_or_else(|| fail("the server has no HTTP listener"))?;
    let result = async {
        let rpc = server.wait_ready().await?;
        let fleet = connect_fleet(&broker, &devices).await?;
        wait_registered(&rpc, n).await?;
        let mut first_rows = Vec::new();
        for _ in 0..5 {
            first_rows.push(fleet_first_rows(port).await?.as_secs_f64());
        }
        let (mut quiet, mut watched, mut events) = (Vec::new(), Vec::new(), 0);
        for _ in 0..params.repeats.max(1) {
            quiet.push(rollout_cpu(&rpc, &server, port, 0).await?.0);
            let (cpu, received) = rollout_cpu(&rpc, &server, port, params.consoles).await?;
            watched.push(cpu);
            events += received;
        }
        drop(fleet);
        Ok::<_, Error>((first_rows, quiet, watched, events))
    }
    .await;
    if result.is_err() {
        eprintln!("server log:\n{}", server.log());
    }
    drop(server);
    let (mut first_rows, mut quiet, mut watched, events) = result?;

    let first_rows = median(&mut first_rows);
    let quiet = median(&mut quiet);
    let watched = median(&mut watched);
    let ratio = watched / quiet;
    figure("console.devices", n as f64, "devices");
    figure("console.consoles", params.consoles as f64, "consoles");
    figure("console.fleet_first_rows", first_rows * 1e3, "ms");
    figure("console.server_cpu_per_rollout_unwatched", quiet * 1e3, "ms");
    figure("console.server_cpu_per_rollout_watched", watched * 1e3, "ms");
    figure("console.cpu_ratio", ratio, "x");
    figure("console.rollout_events_received", events as f64, "events");
    println!();
    println!("| figure | value |");
    println!("|---|---|");
    println!("| devices | {n} |");
    println!(
        "| fleet page's first rows (ListClients through the gateway, median of 5) | {:.1} ms |",
        first_rows * 1e3
    );
    println!(
        "| server CPU per rollout, no console (median of {}) | {:.0} ms |",
        params.repeats,
        quiet * 1e3
    );
    println!(
        "| server CPU per rollout, {} consoles watching (median of {}) | {:.0} ms |",
        params.consoles,
        params.repeats,
        watched * 1e3
    );
    println!("| ratio (target ≤ 1.10) | {ratio:.3} |");
    println!("| rollout snapshots the consoles received | {events} |");
    if events == 0 && params.consoles > 0 {
        return Err(fail("the consoles received no rollout snapshot"));
    }
    Ok(())
}

/// Time from the fleet page's first refresh until its page of devices (the first rows) is
/// in; the refresh's other requests (panels, counts) go out with it, as in the browser.
async fn fleet_first_rows(port: u16) -> Result<Duration> {
    let started = Instant::now();
    let (rows, others) = tokio::join!(
        async {
            let answer = post_json(port, &format!("{CLIENTS}/ListClients"), FLEET_PAGE).await;
            (answer, started.elapsed())
        },
        async {
            let (counts, panels) =
                tokio::join!(send_all(port, &FLEET_LIST[1..]), fleet_panels(port));
            counts.and(panels)
        },
    );
    let ((status, body), elapsed) = (rows.0?, rows.1);
    others?;
    if status != 200 || !body.contains("client_uuid") {
        return Err(fail(format!("ListClients through the gateway: {status} {body:.200}")));
    }
    Ok(elapsed)
}

/// The fleet page's page of devices: the first of its requests.
const FLEET_PAGE: &str = r#"{"page_size":50,"page_token":""}"#;

/// One rollout to every device with `consoles` consoles following it; the server's CPU
/// time (seconds) from the StartRollout call until the rollout's terminal snapshot, and the
/// snapshots the consoles received.
async fn rollout_cpu(
    rpc: &Rpc,
    server: &ServerProcess,
    port: u16,
    consoles: usize,
) -> Result<(f64, u64)> {
    let processes = [(SERVER, server.pid())];
    let before = CpuSample::take(&processes);
    let id = start_rollout_to_all(rpc, 100_000, 600).await?;
    let mut streams = Vec::new();
    let mut pollers = JoinSet::new();
    for _ in 0..consoles {
        let request = encode_query(&format!(r#"{{"rollout_id":"{id}"}}"#));
        streams.push(
            EventStream::open(port, &format!("{CLIENTS}/WatchRollout?request={request}")).await?,
        );
        pollers.spawn(fleet_page(port));
    }
    let mut watch = rpc
        .clone()
        .watch_rollout(pb::WatchRolloutRequest { rollout_id: id.clone() })
        .await
        .map_err(fail)?
        .into_inner();
    tokio::time::timeout(PHASE_TIMEOUT, async {
        while let Some(message) = watch.next().await {
            message.map_err(fail)?;
        }
        Ok::<_, Error>(())
    })
    .await
    .map_err(|_| fail(format!("rollout {id} did not finish")))??;
    let spent = CpuSample::take(&processes).since(&before).process(SERVER);
    pollers.abort_all();
    while let Some(joined) = pollers.join_next().await {
        if let Ok(Err(err)) = joined {
            return Err(err);
        }
    }
    let events = streams.iter().map(EventStream::events).sum();
    Ok((spent.as_secs_f64(), events))
}

/// The fleet page's refresh loop until aborted: its requests every [`FLEET_POLL`].
async fn fleet_page(port: u16) -> Result<()> {
    loop {
        let (list, panels) = tokio::join!(send_all(port, FLEET_LIST), fleet_panels(port));
        list?;
        panels?;
        tokio::time::sleep(FLEET_POLL).await;
    }
}

/// The panels' refresh, as fleet.js's `drawPanels`: the fleet's counts, then the list of
/// each panel whose count is not zero.
async fn fleet_panels(port: u16) -> Result<()> {
    let (status, body) = post_json(port, &format!("{CLIENTS}/CountClients"), "{}").await?;
    if status != 200 {
        return Err(fail(format!("CountClients through the gateway: {status} {body:.200}")));
    }
    let counts: serde_json::Value = serde_json::from_str(&body).map_err(fail)?;
    let nonzero = |field: &str| match &counts[field] {
        serde_json::Value::String(n) => n.parse::<u64>().is_ok_and(|n| n > 0),
        serde_json::Value::Number(n) => n.as_u64().is_some_and(|n| n > 0),
        _ => false,
    };
    let panels: Vec<(&str, &str)> = [("service_failed", FAILED_PANEL), ("crashed", CRASHED_PANEL)]
        .into_iter()
        .filter(|(field, _)| nonzero(field))
        .map(|(_, body)| ("ListClients", body))
        .collect();
    send_all(port, &panels).await
}

/// Send `requests` at once, as the page's `Promise.all` does; fails on any non-200.
async fn send_all(port: u16, requests: &[(&str, &str)]) -> Result<()> {
    let calls = requests.iter().map(|(method, body)| async move {
        let (status, text) = post_json(port, &format!("{CLIENTS}/{method}"), body).await?;
        if status != 200 {
            return Err(fail(format!("{method} through the gateway: {status} {text:.200}")));
        }
        Ok(())
    });
    futures::future::try_join_all(calls).await.map(drop)
}

/// The requests of the list's refresh, as fleet.js makes them: its page of devices and the
/// counts of its filters (all, online, offline, crashed, service-failed: one `CountClients`).
const FLEET_LIST: &[(&str, &str)] = &[("ListClients", FLEET_PAGE), ("CountClients", "{}")];
/// The service-failed panel's list (up to 100 devices).
const FAILED_PANEL: &str = r#"{"service_failed":true,"page_size":100}"#;
/// The crashed panel's list.
const CRASHED_PANEL: &str = r#"{"crash_state":"CRASH_STATE_CRASHED","page_size":100}"#;
