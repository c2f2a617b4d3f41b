//! `rebound serve` as a child process for benchmarks and `rebound demo`: SQLite in a private
//! temp directory (or the store the benchmark names), MQTT through a [`Broker`] with the server's account, a free gRPC port.
//! A replica of a cluster bench can be killed or stopped and started again on the same
//! config (so with the same replica id). Killed and its directory removed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::fail;
use crate::error::Result;
use crate::mosquitto::Broker;
use crate::proto::v1 as pb;
use crate::proto::v1::client_command_service_client::ClientCommandServiceClient;

/// The server's broker account (password [`SERVER_PASSWORD`]).
pub const SERVER_USER: &str = "rebound-server";
pub const SERVER_PASSWORD: &str = "server-pw";

pub type Rpc = ClientCommandServiceClient<tonic::transport::Channel>;

/// `rebound serve` as a child process of the benchmark.
pub struct ServerProcess {
    child: Child,
    binary: PathBuf,
    dir: PathBuf,
    addr: String,
    /// Port of `server.http_listen` (the console and its JSON gateway) when it is on.
    http_port: Option<u16>,
}

impl ServerProcess {
    pub fn start(broker: &Broker) -> Result<Self> {
        Self::start_binary(&std::env::current_exe().map_err(fail)?, broker)
    }

    /// Like [`ServerProcess::start`] with another `rebound` binary (to compare two builds
    /// under the same harness).
    pub fn start_binary(binary: &std::path::Path, broker: &Broker) -> Result<Self> {
        Self::start_on(binary, broker, None)
    }

    /// Like [`ServerProcess::start_binary`] on the store at `store_url` (`store.url`);
    /// `None`: a new SQLite database in the server's temp directory.
    pub fn start_on(
        binary: &std::path::Path,
        broker: &Broker,
        store_url: Option<&str>,
    ) -> Result<Self> {
        Self::spawn(binary, broker, store_url, false, "")
    }

    /// Like [`ServerProcess::start_on`] with `extra` appended to the config file (TOML
    /// sections, e.g. `[cluster]`).
    pub fn start_with(
        binary: &std::path::Path,
        broker: &Broker,
        store_url: &str,
        extra: &str,
    ) -> Result<Self> {
        Self::spawn(binary, broker, Some(store_url), false, extra)
    }

    /// Like [`ServerProcess::start_binary`] with the HTTP listener (the console) on a free
    /// port: see [`ServerProcess::http_port`].
    pub fn start_with_console(binary: &std::path::Path, broker: &Broker) -> Result<Self> {
        Self::spawn(binary, broker, None, true, "")
    }

    fn spawn(
        binary: &std::path::Path,
        broker: &Broker,
        store_url: Option<&str>,
        console: bool,
        extra: &str,
    ) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("rebound-fanout-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).map_err(fail)?;
        std::fs::write(dir.join("mqtt-password"), SERVER_PASSWORD).map_err(fail)?;
        let port = free_port()?;
        let http_port = if console { Some(free_port()?) } else { None };
        let http_listen = http_port.map(|p| format!("127.0.0.1:{p}")).unwrap_or_default();
        let store_url = match store_url {
            Some(url) => url.to_owned(),
            None => format!("sqlite://{}/data/rebound.db", dir.display()),
        };
        let config = format!(
            "version = 1\n[server]\nlisten = \"127.0.0.1:{port}\"\nhttp_listen = {http_listen:?}\n[store]\nurl = {store_url:?}\n\
             [mqtt]\nurl = \"{}\"\nusername = \"{SERVER_USER}\"\npassword_file = \"{}\"\ncompat_topics = false\n\
             [safety]\nlockout_max = 1000\n[scheduler]\ntick = \"200ms\"\n[telemetry]\nlog_level = \"warn\"\n{extra}",
            broker.url(),
            dir.join("mqtt-password").display(),
        );
        std::fs::write(dir.join("rebound.toml"), config).map_err(fail)?;
        let child = launch(binary, &dir)?;
        Ok(Self {
            child,
            binary: binary.to_owned(),
            dir,
            addr: format!("http://127.0.0.1:{port}"),
            http_port,
        })
    }

    /// The gRPC address (`http://127.0.0.1:PORT`).
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `kill -9`, and reap the process.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (a graceful stop); returns without waiting for the process to exit.
    pub fn terminate(&self) {
        signal(self.child.id(), "TERM");
    }

    /// Start the server again after it stopped or was killed (waiting for the old process
    /// first): the same binary, config (so the same replica id) and store; its log goes on.
    pub fn start_again(&mut self) -> Result<()> {
        let _ = self.child.wait();
        self.child = launch(&self.binary, &self.dir)?;
        Ok(())
    }

    /// The port of the HTTP listener, when started with it.
    pub fn http_port(&self) -> Option<u16> {
        self.http_port
    }

    /// The server's resident set size (`VmRSS` in `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn rss_bytes(&self) -> Result<u64> {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| {
            fail(format!("server (pid {pid}) not running? {e}; its log: {}", self.log()))
        })?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .ok_or_else(|| fail("no VmRSS in the server's /proc status"))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Connect once the server serves and its gateway is connected.
    pub async fn wait_ready(&self) -> Result<Rpc> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(channel) = crate::client::connect(&self.addr).await {
                let health = crate::proto::v1::health_service_client::HealthServiceClient::new(
                    channel.clone(),
                )
                .get_health(pb::GetHealthRequest {})
                .await;
                let connected = health.ok().is_some_and(|h| {
                    h.into_inner()
                        .components
                        .iter()
                        .any(|c| c.name == "mqtt" && c.detail.starts_with("connected"))
                });
                if connected {
                    return Ok(ClientCommandServiceClient::new(channel));
                }
            }
            if Instant::now() > deadline {
                return Err(fail(format!("server not ready: {}", self.log())));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `rebound serve` on the config in `dir`, its stderr appended to `dir/server.log`.
fn launch(binary: &std::path::Path, dir: &std::path::Path) -> Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .map_err(fail)?;
    Command::new(binary)
        .args(["serve", "--config"])
        .arg(dir.join("rebound.toml"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(fail)
}

/// Send signal `name` (`TERM`, `KILL`, …) to process `pid` with kill(1).
pub(super) fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status();
}

/// A port free on 127.0.0.1 right now.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(fail)?;
    Ok(listener.local_addr().map_err(fail)?.port())
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
