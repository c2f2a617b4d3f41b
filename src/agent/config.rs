//! The agent's TOML config (`rebound-agent --config FILE`): broker, identity, heartbeat,
//! state directory and the executor with its argv allow-list.
//!
//! Every key is checked at load and every problem is reported with its key name. The password
//! never lives in this file: it comes from `password_file` or `REBOUND_AGENT_PASSWORD`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use uuid::Uuid;

use crate::contract::Action;
use crate::contract::broker::BrokerUrl;

/// Environment variable holding the device's broker password.
pub const PASSWORD_ENV: &str = "REBOUND_AGENT_PASSWORD";

/// Why the config cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid agent config: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("password_file {path}: {source}")]
    PasswordFile { path: String, source: std::io::Error },
    #[error("no broker password: set password_file or {PASSWORD_ENV}")]
    NoPassword,
}

/// How commands are carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    /// Run the allow-listed argv (no shell).
    #[default]
    Systemd,
    /// Pretend, without touching the host (tests, demos, fleet-sim).
    Simulate,
}

/// The argv run for each action. Nothing from a command payload is ever added.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commands {
    #[serde(default = "reboot_argv")]
    pub reboot_host: Vec<String>,
    #[serde(default = "poweroff_argv")]
    pub shutdown_host: Vec<String>,
    /// Default: `systemctl restart <app_unit>`.
    #[serde(default)]
    pub restart_app: Option<Vec<String>>,
}

impl Default for Commands {
    fn default() -> Self {
        Self { reboot_host: reboot_argv(), shutdown_host: poweroff_argv(), restart_app: None }
    }
}

fn reboot_argv() -> Vec<String> {
    vec!["systemctl".into(), "reboot".into()]
}

fn poweroff_argv() -> Vec<String> {
    vec!["systemctl".into(), "poweroff".into()]
}

/// Knobs of the simulated executor.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simulate {
    /// How long a simulated reboot keeps the device offline.
    #[serde(default = "default_reboot_delay", with = "crate::duration")]
    pub reboot_delay: Duration,
    /// Pause between `accepted` and `execution_started` (lets tests crash the agent there).
    #[serde(default, with = "crate::duration")]
    pub start_delay: Duration,
    /// How long a simulated action runs.
    #[serde(default = "default_run_time", with = "crate::duration")]
    pub run_time: Duration,
    /// Probability (0..=1) that a simulated action fails.
    #[serde(default)]
    pub failure_rate: f64,
}

impl Default for Simulate {
    fn default() -> Self {
        Self {
            reboot_delay: default_reboot_delay(),
            start_delay: Duration::ZERO,
            run_time: default_run_time(),
            failure_rate: 0.0,
        }
    }
}

fn default_reboot_delay() -> Duration {
    Duration::from_secs(2)
}

fn default_run_time() -> Duration {
    Duration::from_millis(100)
}

/// The whole agent config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// `mqtt://host[:port]` or `mqtts://host[:port]`.
    pub broker_url: String,
    pub client_uuid: Uuid,
    /// Broker username; default: the client UUID (what the shipped ACL expects).
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// PEM CA of the broker's certificate (`mqtts://` only).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_prefix")]
    pub topic_prefix: String,
    #[serde(default = "default_heartbeat", with = "crate::duration")]
    pub heartbeat_interval: Duration,
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    #[serde(default)]
    pub executor: ExecutorKind,
    /// The application's systemd unit: restarted by `restart_app`, its state is the
    /// heartbeat's `process_status`.
    #[serde(default = "default_app_unit")]
    pub app_unit: String,
    #[serde(default)]
    pub app_version: Option<String>,
    #[serde(default)]
    pub commands: Commands,
    #[serde(default)]
    pub simulate: Simulate,
}

fn default_prefix() -> String {
    "infoscreen".into()
}

fn default_heartbeat() -> Duration {
    Duration::from_secs(30)
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/rebound-agent")
}

fn default_app_unit() -> String {
    "infoscreen-app.service".into()
}

impl AgentConfig {
    /// A config with defaults for everything but the identity and broker.
    pub fn new(broker_url: &str, client_uuid: Uuid) -> Self {
        Self {
            broker_url: broker_url.to_owned(),
            client_uuid,
            username: None,
            password_file: None,
            ca_file: None,
            topic_prefix: default_prefix(),
            heartbeat_interval: default_heartbeat(),
            state_dir: default_state_dir(),
            executor: ExecutorKind::default(),
            app_unit: default_app_unit(),
            app_version: None,
            commands: Commands::default(),
            simulate: Simulate::default(),
        }
    }

    /// Read, parse and validate `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
        let config: Self = toml::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: shown, message: e.to_string() })?;
        config.validate()?;
        Ok(config)
    }

    /// Every problem, each naming its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut errors = Vec::new();
        if let Err(e) = BrokerUrl::parse(&self.broker_url) {
            errors.push(format!("broker_url: {e}"));
        }
        let prefix = &self.topic_prefix;
        if prefix.is_empty() || prefix.contains(['+', '#']) || prefix.ends_with('/') {
            errors.push(format!(
                "topic_prefix: {prefix:?} must be a non-empty topic without wildcards"
            ));
        }
        if self.heartbeat_interval < Duration::from_secs(1) {
            errors.push("heartbeat_interval: must be at least 1s".into());
        }
        if !(0.0..=1.0).contains(&self.simulate.failure_rate) {
            errors.push("simulate.failure_rate: must be between 0 and 1".into());
        }
        if self.app_unit.is_empty() {
            errors.push("app_unit: must not be empty".into());
        }
        for action in Action::ALL {
            let argv = self.argv(*action);
            if argv.is_empty() || argv.iter().any(String::is_empty) {
                errors.push(format!("commands.{action}: argv must be non-empty words"));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(ConfigError::Invalid(errors)) }
    }

    /// The broker username.
    pub fn username(&self) -> String {
        self.username.clone().unwrap_or_else(|| self.client_uuid.to_string())
    }

    /// The broker password: `password_file` (first line), else the environment.
    pub fn password(&self) -> Result<String, ConfigError> {
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path).map_err(|source| {
                ConfigError::PasswordFile { path: path.display().to_string(), source }
            })?;
            return Ok(text.lines().next().unwrap_or_default().to_owned());
        }
        std::env::var(PASSWORD_ENV).map_err(|_| ConfigError::NoPassword)
    }

    /// The allow-listed argv of `action`.
    pub fn argv(&self, action: Action) -> Vec<String> {
        match action {
            Action::RebootHost => self.commands.reboot_host.clone(),
            Action::ShutdownHost => self.commands.shutdown_host.clone(),
            Action::RestartApp => self.commands.restart_app.clone().unwrap_or_else(|| {
                vec!["systemctl".into(), "restart".into(), self.app_unit.clone()]
            }),
        }
    }

    /// `{p}/{uuid}/{suffix}`.
    pub fn topic(&self, suffix: &str) -> String {
        format!("{}/{}/{suffix}", self.topic_prefix, self.client_uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_every_error_named() {
        let id = Uuid::new_v4();
        let config: AgentConfig =
            toml::from_str(&format!("broker_url = \"mqtt://b\"\nclient_uuid = \"{id}\"")).unwrap();
        config.validate().unwrap();
        assert_eq!(config.heartbeat_interval, Duration::from_secs(30));
        assert_eq!(config.username(), id.to_string());
        assert_eq!(
            config.argv(Action::RestartApp),
            ["systemctl", "restart", "infoscreen-app.service"]
        );
        let bad = AgentConfig {
            broker_url: "http://x".into(),
            topic_prefix: "a/#".into(),
            commands: Commands { reboot_host: vec![], ..Commands::default() },
            ..config
        };
        let err = bad.validate().unwrap_err().to_string();
        for key in ["broker_url", "topic_prefix", "commands.reboot_host"] {
            assert!(err.contains(key), "{err}");
        }
        let unknown = toml::from_str::<AgentConfig>(&format!(
            "broker_url = \"mqtt://b\"\nclient_uuid = \"{id}\"\nshell = \"sh\""
        ));
        assert!(unknown.is_err());
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let text = include_str!("../../deploy/agent/agent.toml");
        let config: AgentConfig = toml::from_str(text).unwrap();
        config.validate().unwrap();
        assert_eq!(config.argv(Action::RebootHost), ["systemctl", "reboot"]);
        assert_eq!(config.simulate, Simulate::default());
    }
}
