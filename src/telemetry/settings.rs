//! The `[telemetry]` settings: what [`super::init`] needs to start logging and tracing. The
//! server reads them from its config file (`crate::config` re-exports them); `rebound-mcp`
//! starts on the defaults.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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

/// Log line format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}
