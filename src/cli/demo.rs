//! `rebound demo`: the whole system on one machine in one command. It starts a local
//! Mosquitto (generated accounts, the shipped config and ACL: [`crate::mosquitto`]),
//! `rebound serve` on SQLite ([`crate::bench::server`]), a simulated
//! fleet (real agent sessions, simulated executor), runs a canary rollout of `restart_app`
//! to every device with live progress, and prints the outcome table and throughput figures.
//! With `--devices 10000` it is the fleet benchmark of `docs/benchmarks.md`.

use std::time::{Duration, Instant};

use clap::Args;
use uuid::Uuid;

use super::rollout::progress;
use crate::agent::fleet::{Fleet, FleetSpec, rss_bytes};
use crate::bench::server::{Rpc, SERVER_PASSWORD, SERVER_USER, ServerProcess};
use crate::exit;
use crate::mosquitto::Broker;
use crate::proto::v1 as pb;

const DEADLINE: Duration = Duration::from_secs(600);

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Simulated devices.
    #[arg(long, default_value_t = 50)]
    pub devices: usize,
    /// Probability (0..=1) that a simulated restart fails.
    #[arg(long, default_value_t = 0.0)]
    pub failure_rate: f64,
    /// Canary size before the waves.
    #[arg(long, default_value_t = 5)]
    pub canary: u32,
    /// Commands issued per minute in the waves (1–100000).
    #[arg(long, default_value_t = 600)]
    pub max_per_minute: u32,
    /// Devices connected per second at start.
    #[arg(long, default_value_t = 1000)]
    pub connect_rate: u32,
    /// Print progress every this often.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub every: Duration,
}

/// Figures of one run (printed at the end).
struct Figures {
    connect: Duration,
    rollout: Duration,
    acks: u64,
    rss_per_device: f64,
}

pub async fn run(args: DemoArgs) -> u8 {
    if args.devices == 0 || !(0.0..=1.0).contains(&args.failure_rate) {
        eprintln!("rebound demo: --devices must be > 0 and --failure-rate within 0..=1");
        return exit::USAGE;
    }
    match demo(&args).await {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("rebound demo: {err}");
            exit::UNAVAILABLE
        }
    }
}

async fn demo(args: &DemoArgs) -> Result<u8, String> {
    let uuids: Vec<Uuid> = (0..args.devices).map(|_| Uuid::new_v4()).collect();
    let device_password = Uuid::new_v4().simple().to_string();
    let mut users = vec![(SERVER_USER.to_owned(), SERVER_PASSWORD.to_owned())];
    users.extend(uuids.iter().map(|u| (u.to_string(), device_password.clone())));
    println!(
        "==> starting mosquitto ({} device accounts, the shipped config and ACL)",
        args.devices
    );
    let broker = Broker::start(&users).map_err(|e| e.to_string())?;
    println!("==> starting rebound serve on SQLite, broker {}", broker.url());
    let server = ServerProcess::start(&broker).map_err(|e| e.to_string())?;
    let mut rpc = server.wait_ready().await.map_err(|e| e.to_string())?;

    println!(
        "==> starting {} simulated devices (rebound-agent sessions, simulated executor)",
        args.devices
    );
    let spec = FleetSpec {
        broker_url: broker.url(),
        username: None,
        password: device_password,
        topic_prefix: "infoscreen".into(),
        heartbeat_interval: Duration::from_secs(30),
        failure_rate: args.failure_rate,
        reboot_delay: Duration::from_secs(2),
        run_time: Duration::from_millis(100),
        connect_rate: args.connect_rate,
    };
    let rss_before = rss_bytes();
    let started = Instant::now();
    let fleet = Fleet::start(&spec, &uuids).await;
    wait_registered(&mut rpc, &fleet, args.devices, args.every).await?;
    let connect = started.elapsed();
    let rss_per_device = rss_bytes().saturating_sub(rss_before) as f64 / args.devices as f64;

    println!(
        "==> canary rollout of restart_app to {} devices (canary {})",
        args.devices, args.canary
    );
    let request = pb::StartRolloutRequest {
        action: pb::Action::RestartApp as i32,
        target: Some(pb::RolloutTarget {
            target: Some(pb::rollout_target::Target::Clients(pb::ClientUuidList {
                client_uuids: uuids.iter().map(Uuid::to_string).collect(),
            })),
        }),
        canary: Some(pb::start_rollout_request::Canary::CanaryCount(args.canary)),
        max_per_minute: args.max_per_minute,
        reason: Some("rebound demo".into()),
        ..Default::default()
    };
    let acks_before = fleet.stats.acks.load(std::sync::atomic::Ordering::Relaxed);
    let rollout_started = Instant::now();
    let rollout = rpc
        .start_rollout(request)
        .await
        .map_err(|s| format!("StartRollout: {}", s.message()))?
        .into_inner()
        .rollout
        .ok_or("StartRollout returned no rollout")?;
    let last = follow(&mut rpc, &rollout.rollout_id, &fleet, args.every).await?;
    let figures = Figures {
        connect,
        rollout: rollout_started.elapsed(),
        acks: fleet.stats.acks.load(std::sync::atomic::Ordering::Relaxed) - acks_before,
        rss_per_device,
    };
    print_outcome(&last, &figures, args.devices);
    fleet.stop().await;
    drop(server);
    drop(broker);
    Ok(if last.state() == pb::RolloutState::Completed { exit::OK } else { exit::FAILURE })
}

async fn wait_registered(
    rpc: &mut Rpc,
    fleet: &Fleet,
    devices: usize,
    every: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + DEADLINE;
    let mut last_print = Instant::now();
    loop {
        let mut count = 0;
        let mut token = String::new();
        loop {
            let request =
                pb::ListClientsRequest { page_size: 1000, page_token: token, ..Default::default() };
            let page = rpc
                .list_clients(request)
                .await
                .map_err(|s| format!("ListClients: {}", s.message()))?;
            let page = page.into_inner();
            count += page.clients.len();
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        if count >= devices {
            println!("    {count} devices connected and registered");
            return Ok(());
        }
        if last_print.elapsed() >= every {
            println!("    connected {} registered {count}/{devices}", fleet.connected());
            last_print = Instant::now();
        }
        if Instant::now() > deadline {
            return Err(format!("only {count} of {devices} devices registered"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn follow(
    rpc: &mut Rpc,
    rollout_id: &str,
    fleet: &Fleet,
    every: Duration,
) -> Result<pb::Rollout, String> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let request = pb::GetRolloutRequest { rollout_id: rollout_id.to_owned() };
        let rollout = rpc
            .get_rollout(request)
            .await
            .map_err(|s| format!("GetRollout: {}", s.message()))?
            .into_inner()
            .rollout
            .ok_or("GetRollout returned no rollout")?;
        let done = rollout.finished_at.is_some();
        println!("    {}", progress(&rollout));
        if done {
            return Ok(rollout);
        }
        println!("    devices: {}", fleet.stats.line(fleet.connected()));
        if Instant::now() > deadline {
            return Err("the rollout did not finish within 10 minutes".into());
        }
        tokio::time::sleep(every).await;
    }
}

fn print_outcome(rollout: &pb::Rollout, f: &Figures, devices: usize) {
    let c = rollout.counters.unwrap_or_default();
    println!(
        "\n==> outcome: rollout {}",
        super::display::name(rollout.state().as_str_name(), "ROLLOUT_STATE_")
    );
    println!("    {:<12} {:>8}", "outcome", "devices");
    for (name, count) in [
        ("completed", c.completed),
        ("failed", c.failed),
        ("timed_out", c.timed_out),
        ("expired", c.expired),
        ("canceled", c.canceled),
        ("rejected", c.rejected),
        ("total", c.total),
    ] {
        println!("    {name:<12} {count:>8}");
    }
    if !rollout.abort_reason.is_empty() {
        println!("    aborted: {}", rollout.abort_reason);
    }
    let secs = f.rollout.as_secs_f64().max(1e-9);
    println!("\n==> figures ({devices} devices)");
    println!("    connect + register   {:>10.2} s", f.connect.as_secs_f64());
    println!("    rollout to terminal  {:>10.2} s", secs);
    println!("    acks sent            {:>10} ({:.0}/s)", f.acks, f.acks as f64 / secs);
    println!(
        "    memory per device    {:>10.1} KiB (RSS delta / devices)",
        f.rss_per_device / 1024.0
    );
}
