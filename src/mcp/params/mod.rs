//! The arguments of every MCP tool: their JSON Schemas (descriptions, bounds, defaults,
//! enums, derived from these types) and their translation into gRPC requests.
//!
//! Bounds the adapter defines (timeouts, page sizes, one-of choices) are checked here and
//! reported naming the argument; what only the server can judge (is this a registered
//! device, is the TOML valid) is left to it. Nothing here performs I/O.

mod fleet;

pub use fleet::*;

use crate::proto::v1 as pb;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Canonical UUID text, as the API's identifiers use (upper-case hex accepted).
const UUID: &str = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

fn yes() -> bool {
    true
}

fn thirty() -> u32 {
    30
}

/// A bad argument, named: "timeout: must be between 10 and 300 seconds".
pub type Invalid = String;

fn seconds(secs: u32) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds: i64::from(secs), nanos: 0 })
}

fn check_range(name: &str, value: u32, min: u32, max: u32, unit: &str) -> Result<(), Invalid> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(format!("{name}: must be between {min} and {max}{unit}, got {value}"))
    }
}

/// Why a restart is requested.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestartReason {
    ConfigurationUpdate,
    SchemaMigration,
    ErrorRecovery,
    #[default]
    ManualRequest,
    EmergencyShutdown,
}

impl From<RestartReason> for pb::RestartReason {
    fn from(reason: RestartReason) -> Self {
        match reason {
            RestartReason::ConfigurationUpdate => Self::ConfigurationUpdate,
            RestartReason::SchemaMigration => Self::SchemaMigration,
            RestartReason::ErrorRecovery => Self::ErrorRecovery,
            RestartReason::ManualRequest => Self::ManualRequest,
            RestartReason::EmergencyShutdown => Self::EmergencyShutdown,
        }
    }
}

/// Arguments of `orchestrator_restart_server`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartServer {
    /// Let in-flight requests finish (for up to `timeout` seconds) before the old process
    /// stops. false gives them at most 1 second.
    #[serde(default = "yes")]
    pub graceful: bool,
    /// Carry the server's volatile state (counters, caches, restart generation) to the new
    /// process in a verified snapshot.
    #[serde(default = "yes")]
    pub preserve_state: bool,
    /// Drain timeout in seconds for a graceful restart, 10 to 300.
    #[serde(default = "thirty")]
    #[schemars(range(min = 10, max = 300))]
    pub timeout: u32,
    /// Why the restart is requested; recorded with the restart.
    #[serde(default)]
    pub reason: RestartReason,
}

impl RestartServer {
    pub fn request(&self) -> Result<pb::RestartRequest, Invalid> {
        check_range("timeout", self.timeout, 10, 300, " seconds")?;
        Ok(pb::RestartRequest {
            mode: pb::RestartMode::Auto.into(),
            reason: pb::RestartReason::from(self.reason).into(),
            drain_timeout: seconds(if self.graceful { self.timeout } else { 1 }),
            preserve_state: Some(self.preserve_state),
            binary: String::new(),
        })
    }
}

/// Arguments of `orchestrator_health_check`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// Include whether a restart could start now and what would block it.
    #[serde(default = "yes")]
    pub include_reboot_readiness: bool,
    /// Include this session's connection to the server (held calls, reconnections) and a
    /// server self-test of a fresh connection.
    #[serde(default = "yes")]
    pub include_connection_status: bool,
    /// Include the database (store) component's status.
    #[serde(default = "yes")]
    pub include_database_status: bool,
}

/// Arguments of `orchestrator_shutdown_prepare`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShutdownPrepare {
    /// Report in-flight requests, open streams and background tasks a restart would drain.
    #[serde(default = "yes")]
    pub check_active_tasks: bool,
    /// Report store writes not yet committed.
    #[serde(default = "yes")]
    pub check_database_state: bool,
    /// Report open client connections.
    #[serde(default = "yes")]
    pub check_client_connections: bool,
}

/// Arguments of `orchestrator_restart_status`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartStatus {
    /// Also list the most recent restarts (up to 10), newest first.
    #[serde(default)]
    pub include_history: bool,
    /// Include why a restart failed or rolled back (error and failed phase).
    #[serde(default = "yes")]
    pub include_error_details: bool,
}

/// Arguments of `orchestrator_reconnect_test`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconnectTest {
    /// Session id remembered by the server across restarts, so a later call proves the
    /// session reconnected to a new generation. Default: this MCP session's own id.
    #[schemars(length(min = 1, max = 128), pattern("^[A-Za-z0-9._:-]+$"))]
    pub session_id: Option<String>,
    /// Include this session's buffer of calls held while the server was away.
    #[serde(default = "yes")]
    pub include_buffer_status: bool,
    /// Include the server's reconnection statistics across restarts.
    #[serde(default = "yes")]
    pub include_reconnection_stats: bool,
}

/// Arguments of `config_validate`. Give `path` or `content`, or neither to validate the
/// server's own configuration file.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigValidate {
    /// Absolute path of a TOML file on the server host.
    pub path: Option<String>,
    /// Inline TOML to validate (at most 1 MiB).
    #[schemars(length(max = 1048576))]
    pub content: Option<String>,
}

impl ConfigValidate {
    pub fn request(&self) -> Result<pb::ValidateRequest, Invalid> {
        use pb::validate_request::Candidate;
        let candidate = match (&self.path, &self.content) {
            (Some(_), Some(_)) => return Err("path, content: give one, not both".to_owned()),
            (Some(path), None) => Some(Candidate::Path(path.clone())),
            (None, Some(content)) => Some(Candidate::Content(content.clone())),
            (None, None) => None,
        };
        Ok(pb::ValidateRequest { candidate })
    }
}

/// Arguments of `config_reload`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigReload {
    /// Inline TOML to apply instead of re-reading the server's file (at most 1 MiB; not
    /// written to disk).
    #[schemars(length(max = 1048576))]
    pub content: Option<String>,
    /// When some changed keys need a restart, start a hot restart to apply them (only for
    /// reloads from the file).
    #[serde(default)]
    pub restart_if_required: bool,
}

impl ConfigReload {
    pub fn request(&self) -> pb::ReloadRequest {
        pb::ReloadRequest {
            content: self.content.clone(),
            restart_if_required: self.restart_if_required,
        }
    }
}

/// Arguments of `recovery_report`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryReport {
    /// A report id as the reports list it (a decimal number, e.g. "42"). Default: the latest
    /// one (the running server's start-up).
    #[schemars(pattern("^[0-9]+$"))]
    pub report_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(json: serde_json::Value) -> T {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn restart_defaults_follow_the_issue() {
        let args: RestartServer = parse(serde_json::json!({}));
        let request = args.request().unwrap();
        assert_eq!(request.drain_timeout, seconds(30));
        assert_eq!(request.preserve_state, Some(true));
        assert_eq!(request.reason(), pb::RestartReason::ManualRequest);
        let args: RestartServer =
            parse(serde_json::json!({"graceful": false, "reason": "error_recovery"}));
        let request = args.request().unwrap();
        assert_eq!(
            (request.drain_timeout, request.reason()),
            (seconds(1), pb::RestartReason::ErrorRecovery)
        );
    }

    #[test]
    fn report_ids_are_advertised_as_the_decimal_ids_the_server_serves() {
        let schema = serde_json::to_value(schemars::schema_for!(RecoveryReport)).unwrap();
        let pattern = schema["properties"]["report_id"]["pattern"].as_str().unwrap();
        assert_eq!(pattern, "^[0-9]+$");
    }

    #[test]
    fn bounds_are_checked_naming_the_argument() {
        let args: RestartServer = parse(serde_json::json!({"timeout": 5}));
        assert_eq!(
            args.request().unwrap_err(),
            "timeout: must be between 10 and 300 seconds, got 5"
        );
        let args: ConfigValidate = parse(serde_json::json!({"path": "/a", "content": "b"}));
        assert!(args.request().unwrap_err().starts_with("path, content:"));
        assert!(serde_json::from_value::<HealthCheck>(serde_json::json!({"bogus": 1})).is_err());
    }
}
