//! The configuration model: one struct per TOML section, defaults, and semantic validation.
//!
//! Every struct rejects unknown keys. Defaults are what `rebound serve` runs on with no
//! file at all. `validate` reports every problem at once with its dotted field path; it
//! never stops at the first one.

use super::duration;
use super::load::FieldError;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The only config file format version this build understands.
pub const CONFIG_VERSION: u32 = 1;
/// Where the gRPC API listens when nothing else is configured.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
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
    pub config: ReloadConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: CONFIG_VERSION,
            server: ServerConfig::default(),
            store: StoreConfig::default(),
            mqtt: MqttConfig::default(),
            telemetry: TelemetryConfig::default(),
            config: ReloadConfig::default(),
            retention: RetentionConfig::default(),
        }
    }
}

/// `[server]`: the gRPC listeners and shutdown behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// TCP address of the gRPC API (`host:port`).
    pub listen: String,
    /// Optional extra unix-domain-socket listener serving the same API.
    pub unix_socket: Option<PathBuf>,
    /// Serve gRPC reflection (v1 and v1alpha) so grpcurl works without .proto files.
    pub reflection: bool,
    /// How long in-flight RPCs get to finish on shutdown.
    #[serde(with = "duration")]
    pub drain_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.to_owned(),
            unix_socket: None,
            reflection: true,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

impl ServerConfig {
    /// The parsed listen address; only valid after `Config::validate` succeeded.
    pub fn listen_addr(&self) -> Result<SocketAddr, std::net::AddrParseError> {
        self.listen.parse()
    }
}

/// `[store]`: where acknowledged state lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://PATH` (relative or absolute) or `sqlite::memory:`.
    pub url: String,
    /// `full`: every commit reaches the disk before it is acknowledged (survives kill -9 and
    /// power loss); `normal`: survives kill -9 of the server, may lose the last commits on
    /// power loss, and commits far faster.
    pub durability: crate::store::Durability,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self { url: DEFAULT_STORE_URL.to_owned(), durability: crate::store::Durability::Full }
    }
}

/// `[mqtt]`: the device gateway's broker connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// Broker URL (`mqtt://host:port` or `mqtts://host:port`); unset disables the gateway.
    pub url: Option<String>,
}

/// `[telemetry]`: logs and traces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// A tracing filter directive such as `info` or `rebound=debug,sqlx=warn`.
    pub log_level: String,
    /// `text` for people, `json` for log pipelines.
    pub log_format: LogFormat,
    /// OTLP/gRPC collector endpoint (`http://host:4317`); `OTEL_EXPORTER_OTLP_ENDPOINT` also works.
    pub otlp_endpoint: Option<String>,
    /// Also write logs to `rebound.log` (and errors to `rebound.error.log`) in this directory.
    pub log_dir: Option<PathBuf>,
    /// Size at which a log file is rotated.
    pub log_max_bytes: u64,
    /// Rotated files kept per log (`rebound.log.1` … `.N`).
    pub log_keep: u32,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_level: "info".to_owned(),
            log_format: LogFormat::Text,
            otlp_endpoint: None,
            log_dir: None,
            log_max_bytes: 10 * 1024 * 1024,
            log_keep: 5,
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

/// Log line format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
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
        let drain = self.server.drain_timeout;
        check(
            drain >= Duration::from_millis(1) && drain <= Duration::from_secs(300),
            "server.drain_timeout",
            "must be between 1ms and 300s".to_owned(),
        );
        if let Some(path) = &self.server.unix_socket {
            check(!path.as_os_str().is_empty(), "server.unix_socket", "must not be empty".into());
        }
        let url = self.store.url.as_str();
        check(
            url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"),
            "store.url",
            format!("{url:?} must start with sqlite:// or postgres://"),
        );
        if let Some(url) = &self.mqtt.url {
            check(
                url.starts_with("mqtt://") || url.starts_with("mqtts://"),
                "mqtt.url",
                format!("{url:?} must start with mqtt:// or mqtts://"),
            );
        }
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
        if errors.is_empty() { Ok(()) } else { Err(errors) }
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
    fn validate_reports_every_error_with_its_path() {
        let mut config = Config { version: 2, ..Config::default() };
        config.server.listen = "nope".into();
        config.store.url = "mysql://x".into();
        config.telemetry.log_format = LogFormat::Json;
        config.telemetry.otlp_endpoint = Some("collector:4317".into());
        let paths: Vec<String> =
            config.validate().unwrap_err().into_iter().map(|e| e.path).collect();
        assert_eq!(paths, ["version", "server.listen", "store.url", "telemetry.otlp_endpoint"]);
    }
}
