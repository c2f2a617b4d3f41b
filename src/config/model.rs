//! The configuration model: one struct per TOML section, defaults, and semantic validation.
//!
//! Every struct rejects unknown keys. Defaults are what `rebound serve` runs on with no
//! file at all. `validate` reports every problem at once with its dotted field path; it
//! never stops at the first one.

use super::devices::{
    CommandsConfig, CrashRecoveryConfig, DeviceSections, EscalationConfig, MqttConfig,
    RolloutConfig, SafetyConfig, SchedulerConfig,
};
use super::duration;
use super::load::FieldError;
use super::security::{AuthConfig, RateLimitConfig};
pub use crate::telemetry::{LogFormat, TelemetryConfig};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The only config file format version this build understands.
pub const CONFIG_VERSION: u32 = 1;
/// Where the gRPC API listens when nothing else is configured.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
/// Where the HTTP listener (`/metrics`, the console) listens when nothing else is configured.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8080";
/// The SQLite database used when nothing else is configured (relative to the working dir).
pub const DEFAULT_STORE_URL: &str = "sqlite://rebound-data/rebound.db";

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// File format version; must be 1.
    pub version: u32,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub mqtt: MqttConfig,
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    #[serde(default)]
    pub commands: CommandsConfig,
    #[serde(default)]
    pub safety: SafetyConfig,
    #[serde(default)]
    pub crash_recovery: CrashRecoveryConfig,
    #[serde(default)]
    pub escalation: EscalationConfig,
    #[serde(default)]
    pub rollout: RolloutConfig,
    #[serde(default)]
    pub scheduler: SchedulerConfig,
    #[serde(default)]
    pub restart: RestartConfig,
    #[serde(default)]
    pub config: ReloadConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    #[serde(default)]
    pub cluster: ClusterConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: CONFIG_VERSION,
            server: ServerConfig::default(),
            store: StoreConfig::default(),
            mqtt: MqttConfig::default(),
            telemetry: TelemetryConfig::default(),
            commands: CommandsConfig::default(),
            safety: SafetyConfig::default(),
            crash_recovery: CrashRecoveryConfig::default(),
            escalation: EscalationConfig::default(),
            rollout: RolloutConfig::default(),
            scheduler: SchedulerConfig::default(),
            restart: RestartConfig::default(),
            config: ReloadConfig::default(),
            retention: RetentionConfig::default(),
            auth: AuthConfig::default(),
            rate_limit: RateLimitConfig::default(),
            cluster: ClusterConfig::default(),
        }
    }
}

/// `[server]`: the gRPC listeners and shutdown behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// TCP address of the gRPC API (`host:port`).
    pub listen: String,
    /// TCP address of the HTTP listener (`host:port`): Prometheus `/metrics` and the console
    /// index at `/`. Empty turns it off. Served over TLS with `[server.tls]` like the gRPC
    /// listener, and handed over in a hot restart like it.
    pub http_listen: String,
    /// Optional extra unix-domain-socket listener serving the same API.
    pub unix_socket: Option<PathBuf>,
    /// Permissions of the unix socket file, in octal (`"0600"`: only the server's user can
    /// connect; `"0660"` adds its group). An integer (as an environment override gives)
    /// is read by its digits: `660` is `"0660"`.
    #[serde(deserialize_with = "mode_digits")]
    pub unix_socket_mode: String,
    /// Serve gRPC reflection (v1 and v1alpha) so grpcurl works without .proto files.
    pub reflection: bool,
    /// How long in-flight RPCs get to finish on shutdown.
    #[serde(with = "duration")]
    pub drain_timeout: Duration,
    /// How long after SIGTERM/SIGINT health reports NOT_SERVING while RPCs are still served,
    /// before the drain begins (so load balancers and probes stop sending traffic first).
    /// Read when the signal arrives, so a reload applies to the next stop.
    #[serde(with = "duration")]
    pub shutdown_delay: Duration,
    /// TLS on the TCP listener.
    pub tls: TlsConfig,
}

/// `[server.tls]`: serve the TCP listener over TLS (both files set) or in clear (neither).
/// The files are re-read on every config reload, so certificates renew without a restart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain of the server, leaf first.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of that certificate.
    pub key_file: Option<PathBuf>,
    /// PEM bundle of CAs whose client certificates are accepted (mutual TLS). A verified
    /// certificate authenticates as `cert:<identity>` when the tokens file lists it under
    /// `[[clients]]`; clients without one may still use a bearer token. Needs cert_file,
    /// key_file and auth.tokens_file.
    pub client_ca_file: Option<PathBuf>,
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some() && self.key_file.is_some()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.to_owned(),
            http_listen: DEFAULT_HTTP_LISTEN.to_owned(),
            unix_socket: None,
            unix_socket_mode: "0600".to_owned(),
            reflection: true,
            drain_timeout: Duration::from_secs(30),
            shutdown_delay: Duration::ZERO,
            tls: TlsConfig::default(),
        }
    }
}

impl ServerConfig {
    /// The parsed listen address; only valid after `Config::validate` succeeded.
    pub fn listen_addr(&self) -> Result<SocketAddr, std::net::AddrParseError> {
        self.listen.parse()
    }

    /// The parsed HTTP listen address; `None` when the listener is off (empty).
    pub fn http_listen_addr(&self) -> Option<Result<SocketAddr, std::net::AddrParseError>> {
        (!self.http_listen.is_empty()).then(|| self.http_listen.parse())
    }

    /// `unix_socket_mode` as permission bits; `None` when it is not octal up to 0777.
    pub fn unix_socket_permissions(&self) -> Option<u32> {
        u32::from_str_radix(&self.unix_socket_mode, 8).ok().filter(|mode| *mode <= 0o777)
    }
}

/// A mode written as a string or as a bare number, kept as its octal digits.
fn mode_digits<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Mode {
        Text(String),
        Number(u32),
    }
    Ok(match Mode::deserialize(deserializer)? {
        Mode::Text(text) => text,
        Mode::Number(number) => format!("0{number}"),
    })
}

/// `[store]`: where acknowledged state lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://PATH` (relative or absolute), `sqlite::memory:`, or
    /// `postgres://USER@HOST:PORT/DATABASE` (also `postgresql://`).
    pub url: String,
    /// SQLite: `full`: every commit reaches the disk before it is acknowledged (survives
    /// kill -9 and power loss); `normal`: survives kill -9 of the server, may lose the last
    /// commits on power loss, and commits far faster. PostgreSQL commits by its own settings.
    pub durability: crate::model::durability::Durability,
    /// PostgreSQL: a file whose first line is the password, so that neither the URL nor the
    /// config holds it.
    pub password_file: Option<PathBuf>,
    /// PostgreSQL: how long `rebound serve` keeps trying to reach the database at start before
    /// it gives up (exit 69).
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_STORE_URL.to_owned(),
            durability: crate::model::durability::Durability::Full,
            password_file: None,
            connect_timeout: crate::store::DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl StoreConfig {
    /// How the store is opened with these settings.
    pub fn options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            durability: self.durability,
            password_file: self.password_file.clone(),
            connect_timeout: self.connect_timeout,
            replica_id: None,
        }
    }
}

/// `[restart]`: hot restart (see `lifecycle::restart`).
/// Name of the snapshot key file looked for beside the snapshot directory.
pub const DEFAULT_SNAPSHOT_KEY: &str = "snapshot.key";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestartConfig {
    /// How long a handover successor may take to report ready before it is killed and the
    /// restart rolled back.
    #[serde(with = "duration")]
    pub ready_timeout: Duration,
    /// Where the state snapshot is written during a restart; unset: `snapshots/` next to the
    /// SQLite database (or `rebound-data/snapshots` for a non-file store).
    pub snapshot_dir: Option<PathBuf>,
    /// Key for encrypting the snapshot at rest (ChaCha20-Poly1305): a file holding 32 bytes,
    /// raw or as 64 hex digits. Unset: `snapshot.key` next to the snapshot directory is used
    /// when that file exists (encryption is on by default once a key is in place); otherwise
    /// the snapshot is integrity-checked but not encrypted.
    pub snapshot_key_file: Option<PathBuf>,
}

impl Default for RestartConfig {
    fn default() -> Self {
        Self { ready_timeout: Duration::from_secs(30), snapshot_dir: None, snapshot_key_file: None }
    }
}

impl RestartConfig {
    /// The snapshot key file in force for a store at `store_url`: the configured one, else
    /// `snapshot.key` beside the snapshot directory if it exists.
    pub fn snapshot_key(&self, store_url: &str) -> Option<PathBuf> {
        if let Some(file) = &self.snapshot_key_file {
            return Some(file.clone());
        }
        let dir = self.snapshot_dir(store_url);
        let default = dir.parent().unwrap_or(std::path::Path::new("")).join(DEFAULT_SNAPSHOT_KEY);
        default.is_file().then_some(default)
    }

    /// The snapshot directory in force for a store at `store_url`.
    pub fn snapshot_dir(&self, store_url: &str) -> PathBuf {
        if let Some(dir) = &self.snapshot_dir {
            return dir.clone();
        }
        let db = store_url
            .strip_prefix("sqlite://")
            .or_else(|| store_url.strip_prefix("sqlite:"))
            .filter(|path| !path.is_empty() && !path.contains(":memory:"))
            .map(PathBuf::from);
        match db.as_deref().and_then(std::path::Path::parent) {
            Some(parent) if !parent.as_os_str().is_empty() => parent.join("snapshots"),
            Some(_) => PathBuf::from("snapshots"),
            None => PathBuf::from("rebound-data/snapshots"),
        }
    }
}

/// `[config]`: how the configuration itself is reloaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReloadConfig {
    /// Reload automatically when the config file changes on disk.
    pub watch: bool,
    /// Quiet time after the last file change before the reload runs (editors write in bursts).
    #[serde(with = "duration")]
    pub watch_debounce: Duration,
}

impl Default for ReloadConfig {
    fn default() -> Self {
        Self { watch: false, watch_debounce: Duration::from_millis(200) }
    }
}

/// `[retention]`: how long finished history is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days to keep terminal commands and reload, restart and audit events; 0 keeps them forever.
    pub days: u32,
    /// How often the background cleanup runs.
    #[serde(with = "duration")]
    pub interval: Duration,
    /// Rows deleted per transaction.
    pub batch_size: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self { days: 7, interval: Duration::from_secs(3600), batch_size: 500 }
    }
}

impl RetentionConfig {
    pub fn enabled(&self) -> bool {
        self.days > 0
    }

    pub fn max_age(&self) -> Duration {
        Duration::from_secs(u64::from(self.days) * 86_400)
    }
}

/// `[cluster]`: several replicas on one PostgreSQL (docs/cluster.md). On SQLite there is one
/// process and it is always the leader; these settings are then unused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// This replica's id: letters, digits, `-` and `_`, at most 64. Empty (the default): an id
    /// derived from the host name, the config file's path and `server.listen`, the same at
    /// every start of this instance (logged); a hot-restart successor keeps its predecessor's.
    /// The MQTT client id on PostgreSQL is `<mqtt.client_id>-<replica id>`.
    pub replica_id: String,
    /// How long a lease lasts without renewal, by the database's clock.
    #[serde(with = "duration")]
    pub lease_ttl: Duration,
    /// How often the leader renews its lease (and every replica its heartbeat).
    #[serde(with = "duration")]
    pub lease_renew: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            replica_id: String::new(),
            lease_ttl: Duration::from_secs(15),
            lease_renew: Duration::from_secs(5),
        }
    }
}

/// Whether `id` is a well-formed replica id (letters, digits, `-`, `_`; 1 to 64 characters).
pub fn valid_replica_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Config {
    /// Semantic checks that serde cannot express. Returns every problem found.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut check = |ok: bool, path: &str, reason: String| {
            if !ok {
                errors.push(FieldError::new(path, reason));
            }
        };
        check(
            self.version == CONFIG_VERSION,
            "version",
            format!(
                "unsupported version {}; this build reads version {CONFIG_VERSION}",
                self.version
            ),
        );
        check(
            self.server.listen_addr().is_ok(),
            "server.listen",
            format!("{:?} is not a host:port socket address", self.server.listen),
        );
        if let Some(http) = self.server.http_listen_addr() {
            let grpc = self.server.listen_addr().ok();
            let reason = match http {
                Err(_) => Some(format!(
                    "{:?} is not a host:port socket address (empty turns the listener off)",
                    self.server.http_listen
                )),
                Ok(http) if http.port() != 0 && grpc == Some(http) => {
                    Some("must differ from server.listen".to_owned())
                }
                Ok(_) => None,
            };
            check(reason.is_none(), "server.http_listen", reason.unwrap_or_default());
        }
        let drain = self.server.drain_timeout;
        check(
            drain >= Duration::from_millis(1) && drain <= Duration::from_secs(300),
            "server.drain_timeout",
            "must be between 1ms and 300s".to_owned(),
        );
        check(
            self.server.shutdown_delay <= Duration::from_secs(300),
            "server.shutdown_delay",
            "must be at most 300s".to_owned(),
        );
        if let Some(path) = &self.server.unix_socket {
            check(!path.as_os_str().is_empty(), "server.unix_socket", "must not be empty".into());
        }
        let tls = &self.server.tls;
        check(
            tls.cert_file.is_some() == tls.key_file.is_some(),
            "server.tls",
            "set both cert_file and key_file, or neither".into(),
        );
        check(
            self.server.unix_socket_permissions().is_some(),
            "server.unix_socket_mode",
            format!("{:?} is not an octal mode like \"0600\"", self.server.unix_socket_mode),
        );
        let url = self.store.url.as_str();
        check(
            url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"),
            "store.url",
            format!(
                "{:?} must start with sqlite:// or postgres://",
                crate::error::echo(&crate::store::redact_url(url))
            ),
        );
        check(
            self.store.connect_timeout <= Duration::from_secs(3600),
            "store.connect_timeout",
            "must be at most 1h".into(),
        );
        check(
            tracing_subscriber::EnvFilter::builder().parse(&self.telemetry.log_level).is_ok(),
            "telemetry.log_level",
            format!(
                "{:?} is not a valid log filter (try \"info\" or \"rebound=debug\")",
                self.telemetry.log_level
            ),
        );
        if let Some(endpoint) = &self.telemetry.otlp_endpoint {
            check(
                endpoint.starts_with("http://") || endpoint.starts_with("https://"),
                "telemetry.otlp_endpoint",
                format!("{endpoint:?} must be an http:// or https:// URL"),
            );
        }
        let ready = self.restart.ready_timeout;
        check(
            ready >= Duration::from_millis(100) && ready <= Duration::from_secs(600),
            "restart.ready_timeout",
            "must be between 100ms and 600s".to_owned(),
        );
        for (path, value) in [
            ("restart.snapshot_dir", &self.restart.snapshot_dir),
            ("restart.snapshot_key_file", &self.restart.snapshot_key_file),
        ] {
            if let Some(value) = value {
                check(!value.as_os_str().is_empty(), path, "must not be empty".into());
            }
        }
        check(
            self.telemetry.log_max_bytes >= 4096,
            "telemetry.log_max_bytes",
            "must be at least 4096".to_owned(),
        );
        check(
            self.telemetry.log_keep <= 1000,
            "telemetry.log_keep",
            "must be at most 1000".to_owned(),
        );
        check(
            self.config.watch_debounce <= Duration::from_secs(60),
            "config.watch_debounce",
            "must be at most 60s".to_owned(),
        );
        check(
            self.retention.days <= 36_500,
            "retention.days",
            "must be at most 36500 (0 keeps history forever)".to_owned(),
        );
        check(
            self.retention.interval >= Duration::from_secs(1),
            "retention.interval",
            "must be at least 1s".to_owned(),
        );
        check(
            (1..=100_000).contains(&self.retention.batch_size),
            "retention.batch_size",
            "must be between 1 and 100000".to_owned(),
        );
        check(
            self.cluster.replica_id.is_empty() || valid_replica_id(&self.cluster.replica_id),
            "cluster.replica_id",
            format!(
                "{:?} must be 1 to 64 letters, digits, '-' or '_' (or empty for a random id)",
                crate::error::echo(&self.cluster.replica_id)
            ),
        );
        check(
            self.cluster.lease_renew >= Duration::from_millis(100),
            "cluster.lease_renew",
            "must be at least 100ms".to_owned(),
        );
        check(
            self.cluster.lease_ttl >= self.cluster.lease_renew * 2
                && self.cluster.lease_ttl <= Duration::from_secs(600),
            "cluster.lease_ttl",
            "must be at least twice cluster.lease_renew and at most 600s".to_owned(),
        );
        self.device_sections().validate(&mut errors);
        super::security::validate(self, &mut errors);
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn device_sections(&self) -> DeviceSections<'_> {
        DeviceSections {
            mqtt: &self.mqtt,
            commands: &self.commands,
            safety: &self.safety,
            crash_recovery: &self.crash_recovery,
            escalation: &self.escalation,
            rollout: &self.rollout,
            scheduler: &self.scheduler,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn http_listen_is_an_address_apart_from_the_grpc_one_or_empty() {
        let errors = |http: &str| {
            let mut config = Config::default();
            config.server.http_listen = http.into();
            config.validate().err().unwrap_or_default()
        };
        assert!(errors("").is_empty(), "empty turns the listener off");
        assert!(errors("0.0.0.0:9090").is_empty());
        let bad = errors("localhost:8080");
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(bad[0].path, "server.http_listen");
        assert!(bad[0].reason.contains("not a host:port socket address"), "{bad:?}");
        let same = errors(DEFAULT_LISTEN);
        assert_eq!(same[0].path, "server.http_listen");
        assert!(same[0].reason.contains("must differ from server.listen"), "{same:?}");
    }

    #[test]
    fn validate_reports_every_error_with_its_path() {
        let mut config = Config { version: 2, ..Config::default() };
        config.server.listen = "nope".into();
        config.server.http_listen = "localhost".into();
        config.store.url = "mysql://x".into();
        config.telemetry.log_format = LogFormat::Json;
        config.telemetry.otlp_endpoint = Some("collector:4317".into());
        config.restart.ready_timeout = Duration::ZERO;
        config.restart.snapshot_key_file = Some(PathBuf::new());
        config.server.unix_socket_mode = "0800".into();
        config.server.shutdown_delay = Duration::from_secs(301);
        let paths: Vec<String> =
            config.validate().unwrap_err().into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            [
                "version",
                "server.listen",
                "server.http_listen",
                "server.shutdown_delay",
                "server.unix_socket_mode",
                "store.url",
                "telemetry.otlp_endpoint",
                "restart.ready_timeout",
                "restart.snapshot_key_file"
            ]
        );
    }

    #[test]
    fn snapshot_dir_defaults_next_to_the_database() {
        let restart = RestartConfig::default();
        assert_eq!(
            restart.snapshot_dir("sqlite://rebound-data/rebound.db"),
            PathBuf::from("rebound-data/snapshots")
        );
        assert_eq!(
            restart.snapshot_dir("sqlite:///var/lib/rebound/r.db"),
            PathBuf::from("/var/lib/rebound/snapshots")
        );
        assert_eq!(restart.snapshot_dir("sqlite:r.db"), PathBuf::from("snapshots"));
        assert_eq!(
            restart.snapshot_dir("sqlite::memory:"),
            PathBuf::from("rebound-data/snapshots")
        );
        let set = RestartConfig { snapshot_dir: Some("/x".into()), ..RestartConfig::default() };
        assert_eq!(set.snapshot_dir("sqlite::memory:"), PathBuf::from("/x"));
    }

    #[test]
    fn the_snapshot_key_beside_the_data_is_used_once_it_exists() {
        let tmp = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", tmp.path().join("rebound.db").display());
        let restart = RestartConfig::default();
        assert_eq!(restart.snapshot_key(&url), None, "no key file: not encrypted");
        let default = tmp.path().join(DEFAULT_SNAPSHOT_KEY);
        std::fs::write(&default, "5a".repeat(32)).unwrap();
        assert_eq!(restart.snapshot_key(&url), Some(default));
        let set =
            RestartConfig { snapshot_key_file: Some("/k".into()), ..RestartConfig::default() };
        assert_eq!(set.snapshot_key(&url), Some(PathBuf::from("/k")), "configured wins");
    }
}
