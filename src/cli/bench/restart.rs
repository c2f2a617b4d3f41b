//! `rebound bench restart`: closed-loop unary load while the server hot-restarts N times,
//! then the same load while it is stopped (SIGTERM) and started again N times (baseline).
//!
//! The server is this binary (`serve`) in a temporary directory, a separate process from the
//! load. Figures: failed RPCs of each phase, restart time (request → successor serving →
//! old process gone, from the restart record), and RPC latency p50/p99 inside restart
//! windows vs outside them.

use super::load::{self, Load, Sample};
use crate::client::Transport;
use crate::exit;
use crate::proto::v1 as pb;
use crate::proto::v1::health_service_client::HealthServiceClient;
use crate::proto::v1::restart_service_client::RestartServiceClient;
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Steady load between two restarts, so that outside-window samples exist.
const SETTLE: Duration = Duration::from_millis(200);
const DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub struct RestartBenchArgs {
    /// Hot restarts (and as many stop/start restarts for the baseline).
    #[arg(long, default_value_t = 100)]
    restarts: usize,
    /// Closed-loop clients, one connection each.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    #[arg(long, value_enum, default_value_t = BenchMode::Handover)]
    mode: BenchMode,
    /// A quick run (3 restarts, 2 clients) that checks the benchmark works.
    #[arg(long)]
    smoke: bool,
    /// Server binary; default: this executable.
    #[arg(long)]
    server: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BenchMode {
    Handover,
    Exec,
}

/// One measured phase (hot or cold).
#[derive(Default)]
struct Phase {
    samples: Vec<Sample>,
    errors: Vec<String>,
    windows: Vec<(Duration, Duration)>,
    /// Request → successor serving, per restart.
    to_serving: Vec<Duration>,
    /// Request → old process gone (hot only).
    to_gone: Vec<Duration>,
    failed_restarts: usize,
}

pub async fn run(mut args: RestartBenchArgs) -> u8 {
    if args.smoke {
        args.restarts = args.restarts.min(3);
        args.clients = args.clients.min(2);
    }
    match bench(&args).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("rebound: bench restart: {err}");
            exit::FAILURE
        }
    }
}

async fn bench(args: &RestartBenchArgs) -> Result<u8, String> {
    let binary = match &args.server {
        Some(path) => path.clone(),
        None => std::env::current_exe().map_err(|e| e.to_string())?,
    };
    let dir = std::env::temp_dir().join(format!("rebound-bench-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    std::fs::write(
        dir.join("rebound.toml"),
        format!("version = 1\n[server]\nlisten = \"127.0.0.1:{port}\"\ndrain_timeout = \"10s\"\n"),
    )
    .map_err(|e| e.to_string())?;
    let addr = format!("http://127.0.0.1:{port}");
    println!(
        "bench restart: {} {} restarts vs {} stop/start restarts, {} clients, server {}",
        args.restarts,
        mode_name(args.mode),
        args.restarts,
        args.clients,
        binary.display()
    );
    let hot = hot(args, &binary, &dir, &addr).await;
    let cold = match &hot {
        Ok(_) => cold(args, &binary, &dir, &addr).await,
        Err(_) => Err("skipped".into()),
    };
    let _ = std::fs::remove_dir_all(&dir);
    let (hot, cold) = (hot?, cold?);
    Ok(report(args, &hot, &cold))
}

fn spawn_server(binary: &Path, dir: &Path) -> Result<Child, String> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .map_err(|e| e.to_string())?;
    Command::new(binary)
        .args(["serve", "--config", "rebound.toml"])
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .env_remove(crate::lifecycle::restart::HANDOVER_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))
}

/// Wait until the server answers GetHealth; returns its pid.
async fn wait_serving(addr: &str) -> Result<u32, String> {
    let started = Instant::now();
    while started.elapsed() < DEADLINE {
        if let Ok(transport) = Transport::connect(addr).await
            && let Ok(health) =
                HealthServiceClient::new(transport).get_health(pb::GetHealthRequest {}).await
        {
            return Ok(health.into_inner().pid);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Err(format!("server at {addr} not serving within {DEADLINE:?}"))
}

fn kill(pid: u32, signal: &str) {
    let _ = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status();
}

async fn hot(
    args: &RestartBenchArgs,
    binary: &Path,
    dir: &Path,
    addr: &str,
) -> Result<Phase, String> {
    let mut first = spawn_server(binary, dir)?;
    wait_serving(addr).await?;
    let load = Load::start(addr, args.clients).await?;
    let control = Transport::connect(addr).await.map_err(|e| e.to_string())?;
    let mut restarts = RestartServiceClient::new(control);
    let mode = match args.mode {
        BenchMode::Handover => pb::RestartMode::Handover,
        BenchMode::Exec => pb::RestartMode::Exec,
    };
    let mut phase = Phase::default();
    tokio::time::sleep(SETTLE).await;
    for _ in 0..args.restarts {
        let requested = Instant::now();
        let request = pb::RestartRequest { mode: mode as i32, ..pb::RestartRequest::default() };
        let id = restarts
            .restart(request)
            .await
            .map_err(|s| format!("Restart: {s}"))?
            .into_inner()
            .restart_id;
        let event = loop {
            if requested.elapsed() > DEADLINE {
                return Err(format!("restart {id} did not finish within {DEADLINE:?}"));
            }
            let status = restarts
                .get_restart_status(pb::GetRestartStatusRequest { restart_id: id.clone() })
                .await;
            if let Ok(status) = status
                && let Some(event) = status.into_inner().restart
                && matches!(
                    event.phase(),
                    pb::RestartPhase::Complete
                        | pb::RestartPhase::Failed
                        | pb::RestartPhase::RolledBack
                )
            {
                break event;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        phase.windows.push((requested - load.epoch, Instant::now() - load.epoch));
        if event.phase() != pb::RestartPhase::Complete {
            phase.failed_restarts += 1;
            continue;
        }
        let since_request = |at: Option<prost_types::Timestamp>| {
            let (Some(at), Some(from)) = (at, event.requested_at) else { return Duration::ZERO };
            let ms =
                (at.seconds - from.seconds) * 1000 + i64::from(at.nanos - from.nanos) / 1_000_000;
            Duration::from_millis(ms.max(0) as u64)
        };
        phase.to_serving.push(since_request(event.successor_ready_at));
        phase.to_gone.push(since_request(event.finished_at));
        tokio::time::sleep(SETTLE).await;
    }
    let (samples, errors) = load.stop().await;
    phase.samples = samples;
    phase.errors = errors;
    let pid = wait_serving(addr).await?;
    kill(pid, "TERM");
    let _ = first.wait();
    wait_gone(addr).await;
    Ok(phase)
}

async fn wait_gone(addr: &str) {
    let started = Instant::now();
    while started.elapsed() < DEADLINE && Transport::connect(addr).await.is_ok() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn cold(
    args: &RestartBenchArgs,
    binary: &Path,
    dir: &Path,
    addr: &str,
) -> Result<Phase, String> {
    let mut server = spawn_server(binary, dir)?;
    wait_serving(addr).await?;
    let load = Load::start(addr, args.clients).await?;
    let mut phase = Phase::default();
    tokio::time::sleep(SETTLE).await;
    for _ in 0..args.restarts {
        let requested = Instant::now();
        kill(server.id(), "TERM");
        let _ = server.wait();
        phase.to_gone.push(requested.elapsed());
        server = spawn_server(binary, dir)?;
        wait_serving(addr).await?;
        phase.to_serving.push(requested.elapsed());
        phase.windows.push((requested - load.epoch, Instant::now() - load.epoch));
        tokio::time::sleep(SETTLE).await;
    }
    let (samples, errors) = load.stop().await;
    phase.samples = samples;
    phase.errors = errors;
    kill(server.id(), "TERM");
    let _ = server.wait();
    Ok(phase)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mode_name(mode: BenchMode) -> &'static str {
    match mode {
        BenchMode::Handover => "handover",
        BenchMode::Exec => "exec",
    }
}

/// The figures of one phase.
struct Figures {
    name: &'static str,
    restarts: usize,
    failed_restarts: usize,
    rpcs: usize,
    failed: usize,
    serving_p50: Duration,
    serving_max: Duration,
    gone_p50: Duration,
    inside: (Duration, Duration),
    outside: (Duration, Duration),
}

impl Figures {
    fn of(name: &'static str, phase: &Phase) -> Self {
        let split = load::split(&phase.samples, &phase.windows);
        let sorted = |values: &[Duration]| {
            let mut values = values.to_vec();
            values.sort();
            values
        };
        let (serving, gone) = (sorted(&phase.to_serving), sorted(&phase.to_gone));
        let p = |values: &[Duration]| (load::quantile(values, 0.5), load::quantile(values, 0.99));
        Self {
            name,
            restarts: phase.windows.len(),
            failed_restarts: phase.failed_restarts,
            rpcs: split.total,
            failed: split.failed,
            serving_p50: load::quantile(&serving, 0.5),
            serving_max: load::quantile(&serving, 1.0),
            gone_p50: load::quantile(&gone, 0.5),
            inside: p(&split.inside),
            outside: p(&split.outside),
        }
    }

    fn lines(&self) -> Vec<String> {
        let name = self.name;
        vec![
            format!("{name}.restarts={} count", self.restarts),
            format!("{name}.failed_restarts={} count", self.failed_restarts),
            format!("{name}.rpcs={} count", self.rpcs),
            format!("{name}.failed_rpcs={} count", self.failed),
            format!("{name}.to_serving_p50={:.1} ms", ms(self.serving_p50)),
            format!("{name}.to_serving_max={:.1} ms", ms(self.serving_max)),
            format!("{name}.to_old_gone_p50={:.1} ms", ms(self.gone_p50)),
            format!("{name}.latency_inside_p50={:.2} ms", ms(self.inside.0)),
            format!("{name}.latency_inside_p99={:.2} ms", ms(self.inside.1)),
            format!("{name}.latency_outside_p50={:.2} ms", ms(self.outside.0)),
            format!("{name}.latency_outside_p99={:.2} ms", ms(self.outside.1)),
            format!(
                "{name}.p99_inside_over_outside={:.2} ratio",
                ms(self.inside.1) / ms(self.outside.1).max(1e-3)
            ),
        ]
    }

    fn row(&self) -> String {
        format!(
            "{:<12} {:>9} {:>7} {:>9.1} ms {:>9.1} ms {:>8.2} ms {:>8.2} ms",
            self.name,
            self.rpcs,
            self.failed,
            ms(self.serving_p50),
            ms(self.gone_p50),
            ms(self.inside.1),
            ms(self.outside.1),
        )
    }
}

/// Print the figures; exit 1 when a hot restart failed an RPC or did not complete.
fn report(args: &RestartBenchArgs, hot: &Phase, cold: &Phase) -> u8 {
    let figures = [Figures::of(mode_name(args.mode), hot), Figures::of("stop_start", cold)];
    for (figures, phase) in figures.iter().zip([hot, cold]) {
        if !phase.errors.is_empty() {
            println!("{}: first errors: {:?}", figures.name, phase.errors);
        }
        for line in figures.lines() {
            println!("{line}");
        }
    }
    println!(
        "\n{:<12} {:>9} {:>7} {:>12} {:>12} {:>11} {:>11}",
        "restarts", "rpcs", "failed", "serving p50", "gone p50", "p99 inside", "p99 outside"
    );
    for figures in &figures {
        println!("{}", figures.row());
    }
    let hot = &figures[0];
    if hot.failed == 0 && hot.failed_restarts == 0 { exit::OK } else { exit::FAILURE }
}
