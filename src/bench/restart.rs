//! `rebound bench restart`: closed-loop unary load while the server hot-restarts N times,
//! then the same load while it is stopped (SIGTERM) and started again N times (baseline).
//!
//! The server is this binary (`serve`) in a temporary directory, a separate process from the
//! load. Figures: failed RPCs of each phase, restart time (request → successor serving →
//! old process gone, from the restart record), and RPC latency p50/p99 inside restart
//! windows vs outside them.

use super::load::{self, Load, Sample};
use super::server::signal as kill;
use super::stats::percentile;
use crate::client::Transport;
use crate::proto::v1 as pb;
use crate::proto::v1::health_service_client::HealthServiceClient;
use crate::proto::v1::restart_service_client::RestartServiceClient;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Steady load between two restarts, so that outside-window samples exist.
const SETTLE: Duration = Duration::from_millis(200);
const DEADLINE: Duration = Duration::from_secs(60);

/// Parameters of one run.
#[derive(Debug, Clone)]
pub struct RestartBench {
    /// Hot restarts (and as many stop/start restarts for the baseline).
    pub restarts: usize,
    /// Closed-loop clients, one connection each.
    pub clients: usize,
    /// EXEC instead of HANDOVER.
    pub exec: bool,
    /// Server binary; default: this executable.
    pub server: Option<PathBuf>,
}

impl RestartBench {
    /// A quick run that checks the benchmark works (CI).
    pub fn smoke() -> Self {
        Self { restarts: 3, clients: 2, exec: false, server: None }
    }

    fn mode(&self) -> &'static str {
        if self.exec { "exec" } else { "handover" }
    }
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

/// Run the benchmark; `Err` when it could not run, or when a hot restart failed an RPC or
/// did not complete.
pub async fn run(args: RestartBench) -> Result<(), String> {
    let args = &args;
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
        // The benchmark restarts back to back: no per-principal restart limit.
        format!(
            "version = 1\n[server]\nlisten = \"127.0.0.1:{port}\"\nhttp_listen = \"\"\n\
             drain_timeout = \"10s\"\n\
             [rate_limit]\nrestarts_per_minute = 0\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let addr = format!("http://127.0.0.1:{port}");
    println!(
        "bench restart: {} {} restarts vs {} stop/start restarts, {} clients, server {}",
        args.restarts,
        args.mode(),
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
    report(args, &hot, &cold)
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

async fn hot(args: &RestartBench, binary: &Path, dir: &Path, addr: &str) -> Result<Phase, String> {
    let mut first = spawn_server(binary, dir)?;
    wait_serving(addr).await?;
    let load = Load::start(addr, args.clients).await?;
    let control = Transport::connect(addr).await.map_err(|e| e.to_string())?;
    let mut restarts = RestartServiceClient::new(control);
    let mode = if args.exec { pb::RestartMode::Exec } else { pb::RestartMode::Handover };
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

async fn cold(args: &RestartBench, binary: &Path, dir: &Path, addr: &str) -> Result<Phase, String> {
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
        let (mut serving, mut gone) = (phase.to_serving.clone(), phase.to_gone.clone());
        let (mut inside, mut outside) = (split.inside, split.outside);
        Self {
            name,
            restarts: phase.windows.len(),
            failed_restarts: phase.failed_restarts,
            rpcs: split.total,
            failed: split.failed,
            serving_p50: percentile(&mut serving, 50),
            serving_max: percentile(&mut serving, 100),
            gone_p50: percentile(&mut gone, 50),
            inside: (percentile(&mut inside, 50), percentile(&mut inside, 99)),
            outside: (percentile(&mut outside, 50), percentile(&mut outside, 99)),
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

/// Print the figures; `Err` when a hot restart failed an RPC or did not complete.
fn report(args: &RestartBench, hot: &Phase, cold: &Phase) -> Result<(), String> {
    let figures = [Figures::of(args.mode(), hot), Figures::of("stop_start", cold)];
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
    if hot.failed > 0 || hot.failed_restarts > 0 {
        return Err(format!(
            "{} failed RPC(s) and {} failed restart(s) during {} restarts",
            hot.failed, hot.failed_restarts, hot.name
        ));
    }
    Ok(())
}
