//! Test harness shared by the whole-process tests: starts the real `rebound` binary on
//! port 0 in a temp dir (reading back the port it bound), waits on conditions with deadlines
//! (never bare sleeps), and cleans up after itself.
#![allow(dead_code)]

pub mod agent;
pub mod auth;
pub mod browser;
pub mod certs;
pub mod cluster;
pub mod device;
pub mod http;
pub mod mosquitto;
pub mod postgres;
pub mod restart;
pub mod rng;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;
use tempfile::TempDir;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// How long any single condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The `rebound` binary cargo built for these tests.
pub fn rebound_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rebound"))
}

/// A TCP port that nothing listened on a moment ago (bound to port 0, then released), for a
/// test that needs a refused connection. Never for something to listen on: a server binds
/// port 0 and reports the port it got (see [`Server::spawn_in`]).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Pause between two runs of an `until` condition that did not hold yet.
const RETRY: Duration = Duration::from_millis(20);

/// Run `condition` until it returns `Some` (pausing [`RETRY`] after each `None`) and return
/// its value, or `None` once `deadline` has passed; a run still going then is dropped, so a
/// condition may await events (an MQTT poll, a stream) as well as check a state. The one
/// deadline loop of the tests: every wait on a condition goes through it.
pub async fn until<T>(
    deadline: Duration,
    mut condition: impl AsyncFnMut() -> Option<T>,
) -> Option<T> {
    let runs = async {
        loop {
            if let Some(value) = condition().await {
                return value;
            }
            tokio::time::sleep(RETRY).await;
        }
    };
    tokio::time::timeout(deadline, runs).await.ok()
}

/// [`until`] `check` holds, within [`DEADLINE`], or panic naming `what`.
pub async fn wait_for<T>(what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
    until(DEADLINE, check)
        .await
        .unwrap_or_else(|| panic!("timed out after {DEADLINE:?} waiting for {what}"))
}

/// Find an external tool on PATH or in the Go bin directory, or fail with how to install it.
pub fn tool(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join("go/bin"));
    }
    dirs.into_iter().map(|dir| dir.join(name)).find(|candidate| candidate.is_file()).unwrap_or_else(
        || {
            panic!(
                "{name} not found on PATH or in ~/go/bin; run ./scripts/test.sh, which installs it"
            )
        },
    )
}

/// A `rebound serve` process in its own temp dir.
pub struct Server {
    child: Child,
    /// The server's working directory (config, data, log).
    pub dir: PathBuf,
    _temp: Option<TempDir>,
    pub port: u16,
    pub addr: String,
    /// The port of the HTTP listener (`/metrics`), a free one of its own.
    pub http_port: u16,
    pub log: PathBuf,
}

impl Server {
    /// Start on a port of its own with `extra` (whole TOML sections other than `[server]`)
    /// appended to the generated config, and wait until `grpc.health.v1` reports SERVING.
    pub async fn start(extra: &str) -> Server {
        let server = Self::spawn(extra, &[]).await;
        server.wait_serving().await;
        server
    }

    /// [`Server::start`] with `env` added to the child's environment (e.g. [`postgres_store`]).
    pub async fn start_with(extra: &str, env: &[(&str, &str)]) -> Server {
        let server = Self::spawn(extra, env).await;
        server.wait_serving().await;
        server
    }

    /// Start without waiting for SERVING; `env` is added to the child's environment.
    pub async fn spawn(extra: &str, env: &[(&str, &str)]) -> Server {
        let temp = tempfile::tempdir().unwrap();
        let mut server = Self::spawn_in(temp.path(), extra, env).await;
        server._temp = Some(temp);
        server
    }

    /// Start without waiting for SERVING in an existing directory `dir` (e.g. the data of an
    /// earlier server). The caller keeps `dir` alive.
    ///
    /// The server binds `127.0.0.1:0` (gRPC and HTTP) and this reads the ports it got from its
    /// "listening" log line, so no port is chosen here and released for someone else to take.
    /// A server that exits before binding (bad config, say) keeps port 0: such a test only
    /// looks at its exit and its log.
    pub async fn spawn_in(dir: &Path, extra: &str, env: &[(&str, &str)]) -> Server {
        // `extra` adds other sections; [server] keys go through `env` (REBOUND_SERVER__…).
        // Every server gets an HTTP port of its own, so parallel tests never meet on 8080.
        let config = "version = 1\n[server]\nlisten = \"127.0.0.1:0\"\n\
             http_listen = \"127.0.0.1:0\"\ndrain_timeout = \"10s\"\n"
            .to_owned()
            + extra
            + "\n";
        std::fs::write(dir.join("rebound.toml"), config).unwrap();
        let log = unused_log_file(dir);
        let child = Command::new(rebound_bin())
            .args(["serve", "--config", "rebound.toml"])
            .current_dir(dir)
            // Scenario tests restart back to back; tests/security.rs tests the limit itself.
            .env("REBOUND_RATE_LIMIT__RESTARTS_PER_MINUTE", "0")
            .envs(env.iter().copied())
            .env("RUST_LOG", "info,rebound::api=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut server = Server {
            child,
            dir: dir.to_owned(),
            _temp: None,
            port: 0,
            addr: String::new(),
            http_port: 0,
            log,
        };
        let bound = server.wait_bound().await;
        server.port = bound.map_or(0, |(grpc, _)| grpc);
        server.http_port = bound.and_then(|(_, http)| http).unwrap_or(0);
        server.addr = format!("http://127.0.0.1:{}", server.port);
        server
    }

    /// The gRPC and HTTP ports from the server's "listening" line, or `None` once it has
    /// exited without one.
    async fn wait_bound(&mut self) -> Option<(u16, Option<u16>)> {
        let (log, child) = (&self.log, &mut self.child);
        wait_for("the server's \"listening\" line (or its exit)", || {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let bound = text.lines().find_map(listening_ports).map(Some);
            let exited = || child.try_wait().unwrap().map(|_| None);
            let found = bound.or_else(exited);
            async move { found }
        })
        .await
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn channel(&self) -> Channel {
        rebound::client::connect(&self.addr).await.unwrap()
    }

    /// Wait until the standard health service reports SERVING for "".
    pub async fn wait_serving(&self) {
        let addr = self.addr.clone();
        wait_for("grpc.health.v1 SERVING", || {
            let addr = addr.clone();
            async move {
                let channel = rebound::client::connect(&addr).await.ok()?;
                let response = HealthClient::new(channel)
                    .check(HealthCheckRequest { service: String::new() })
                    .await
                    .ok()?;
                (response.into_inner().status() == ServingStatus::Serving).then_some(())
            }
        })
        .await;
    }

    /// Wait until the server's log contains `needle`.
    pub async fn wait_log(&self, needle: &str) {
        wait_for(&format!("log line {needle:?}"), || async {
            self.logs().contains(needle).then_some(())
        })
        .await;
    }

    /// Send `signal` (e.g. `libc::SIGTERM`) to the server.
    pub fn signal(&self, signal: i32) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Wait for the process to exit within the deadline.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        let child = &mut self.child;
        wait_for("server exit", || {
            let status = child.try_wait().unwrap();
            async move { status }
        })
        .await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A hot restart's successor serves on after this process: stop it too.
        let successors = restart::successors_of(self.child.id());
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for pid in successors {
            restart::kill(pid, "KILL");
        }
        if std::thread::panicking() {
            eprintln!("--- server log ---\n{}--- end of server log ---", self.logs());
        }
    }
}

/// A log file name in `dir` that no earlier server there used.
fn unused_log_file(dir: &Path) -> PathBuf {
    (1..).map(|n| dir.join(format!("server-{n}.log"))).find(|path| !path.exists()).unwrap()
}

/// The ports of a "listening" log line (`addr=127.0.0.1:PORT http=127.0.0.1:PORT`, `http=off`
/// when the HTTP listener is off), text or JSON format.
fn listening_ports(line: &str) -> Option<(u16, Option<u16>)> {
    if !line.contains("listening") {
        return None;
    }
    let field = |name: &str| {
        let start = [format!("{name}="), format!("\"{name}\":\"")]
            .iter()
            .find_map(|key| line.find(key.as_str()).map(|at| at + key.len()))?;
        let value = line[start..].trim_start_matches('"');
        let end = value.find([' ', '"']).unwrap_or(value.len());
        Some(value[..end].to_owned())
    };
    let port = |addr: String| addr.rsplit_once(':').and_then(|(_, port)| port.parse().ok());
    let grpc = port(field("addr")?)?;
    Some((grpc, field("http").and_then(port)))
}

/// The environment variable that puts a server's store on a fresh, empty PostgreSQL database
/// (`store.url`), or `None` where PostgreSQL is missing: the caller skips (under `CI=true`
/// this fails instead).
pub async fn postgres_store() -> Option<(&'static str, String)> {
    postgres::database().await.map(|url| ("REBOUND_STORE__URL", url))
}

/// The latest startup recovery report of the server at `addr`.
pub async fn latest_report(addr: &str) -> rebound::proto::v1::RecoveryReport {
    use rebound::proto::v1 as pb;
    let channel = rebound::client::connect(addr).await.unwrap();
    pb::recovery_service_client::RecoveryServiceClient::new(channel)
        .get_recovery_report(pb::GetRecoveryReportRequest::default())
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap()
}

/// Run `rebound ARGS` to completion in `dir` and return its output.
pub fn run_rebound(dir: &Path, args: &[&str]) -> Output {
    Command::new(rebound_bin()).args(args).current_dir(dir).stdin(Stdio::null()).output().unwrap()
}
