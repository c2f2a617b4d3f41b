//! Configuration of the device side: the MQTT gateway (`[mqtt]`), the command lifecycle
//! timers (`[commands]`), the safety limits (`[safety]`), crash recovery
//! (`[crash_recovery]`, `[escalation]`), rollout defaults (`[rollout]`) and the scheduler
//! (`[scheduler]`).
//!
//! Defaults are the ones frozen by `contracts/mqtt-v1.md`. This module only describes and
//! checks values; the gateway and the command domain apply them.

use super::duration;
use super::load::FieldError;
pub use crate::contract::broker::BrokerUrl;
use crate::contract::limits::{MAX_EXPIRY, MIN_EXPIRY};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// `[mqtt]`: the device gateway's broker connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// Broker URL (`mqtt://host:port` or `mqtts://host:port`); unset disables the gateway.
    pub url: Option<String>,
    /// Username of the server at the broker; unset connects without credentials.
    pub username: Option<String>,
    /// File holding the password (first line). `REBOUND_MQTT_PASSWORD` is used when unset.
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA that signed the broker's certificate (`mqtts://` only).
    pub ca_file: Option<PathBuf>,
    /// Fixed client id: the broker keeps this session (and the acks queued in it) across
    /// server restarts.
    pub client_id: String,
    /// Topic prefix `{p}` of `{p}/{uuid}/…`.
    pub topic_prefix: String,
    /// Also publish commands on `{p}/{uuid}/command` and accept acks on
    /// `{p}/{uuid}/command/ack` (transitional aliases).
    pub compat_topics: bool,
    /// MQTT keep-alive interval.
    #[serde(with = "duration")]
    pub keep_alive: Duration,
    /// Inbound payloads larger than this are counted as oversized and dropped.
    pub max_payload_bytes: usize,
    /// Upper bound of the reconnect backoff (it starts at 100 ms and doubles).
    #[serde(with = "duration")]
    pub reconnect_max_backoff: Duration,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            url: None,
            username: None,
            password_file: None,
            ca_file: None,
            client_id: "rebound-server".to_owned(),
            topic_prefix: "infoscreen".to_owned(),
            compat_topics: true,
            keep_alive: Duration::from_secs(30),
            max_payload_bytes: 65_536,
            reconnect_max_backoff: Duration::from_secs(30),
        }
    }
}

/// `[commands]`: lifecycle timers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandsConfig {
    /// Lifetime of a command before the device must accept it, when the request sets none;
    /// within the bounds a request may set (`contract::limits::MIN_EXPIRY..=MAX_EXPIRY`).
    #[serde(with = "duration")]
    pub default_expiry: Duration,
    /// `restart_app` and `shutdown_host`: terminal ack due this long after execution_started.
    #[serde(with = "duration")]
    pub ack_timeout: Duration,
    /// `reboot_host`: terminal ack due this long after execution_started.
    #[serde(with = "duration")]
    pub reconnect_ceiling: Duration,
    /// `reboot_host`: the reconnect time a healthy device achieves; slower reboots are logged.
    #[serde(with = "duration")]
    pub reconnect_target: Duration,
}

impl Default for CommandsConfig {
    fn default() -> Self {
        Self {
            default_expiry: Duration::from_secs(240),
            ack_timeout: Duration::from_secs(60),
            reconnect_ceiling: Duration::from_secs(150),
            reconnect_target: Duration::from_secs(90),
        }
    }
}

/// `[safety]`: the per-device lockout and the escalation cooldown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyConfig {
    /// Disruptive commands (all three actions) allowed per device in one window.
    pub lockout_max: u32,
    /// Length of the rolling lockout window.
    #[serde(with = "duration")]
    pub lockout_window: Duration,
    /// Wait between two steps of the crash recovery ladder.
    #[serde(with = "duration")]
    pub escalation_cooldown: Duration,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        Self {
            lockout_max: 3,
            lockout_window: Duration::from_secs(15 * 60),
            escalation_cooldown: Duration::from_secs(60),
        }
    }
}

/// `[crash_recovery]`: crash detection and the automatic recovery ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrashRecoveryConfig {
    /// Run the ladder (restart_app → reboot_host → power cycle → needs_attention).
    pub enabled: bool,
    /// A device whose last heartbeat is older than this counts as crashed (stale).
    #[serde(with = "duration")]
    pub stale_after: Duration,
}

impl Default for CrashRecoveryConfig {
    fn default() -> Self {
        Self { enabled: false, stale_after: Duration::from_secs(90) }
    }
}

/// `[escalation]`: the optional managed power-cycle hook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationConfig {
    /// Program and arguments (no shell) run for devices of the `managed_power` tier; the
    /// argument `{client_uuid}` is replaced by the device's UUID. Unset: no power cycling.
    pub power_cycle_command: Option<Vec<String>>,
    /// The hook is killed and counts as failed after this long.
    #[serde(with = "duration")]
    pub power_cycle_timeout: Duration,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        Self { power_cycle_command: None, power_cycle_timeout: Duration::from_secs(60) }
    }
}

/// `[rollout]`: defaults of StartRollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RolloutConfig {
    /// Abort when (failed + timed_out) / finished × 100 is above this.
    pub abort_failure_percent: f64,
    /// The abort rule applies once this many commands have finished.
    pub min_finished: u32,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        Self { abort_failure_percent: 5.0, min_finished: 10 }
    }
}

/// `[scheduler]`: the loop that expires, times out, recovers and paces rollouts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// Interval of the scheduler loop.
    #[serde(with = "duration")]
    pub tick: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self { tick: Duration::from_secs(1) }
    }
}

/// The device sections together, for validation.
pub(super) struct DeviceSections<'a> {
    pub mqtt: &'a MqttConfig,
    pub commands: &'a CommandsConfig,
    pub safety: &'a SafetyConfig,
    pub crash_recovery: &'a CrashRecoveryConfig,
    pub escalation: &'a EscalationConfig,
    pub rollout: &'a RolloutConfig,
    pub scheduler: &'a SchedulerConfig,
}

fn within(value: Duration, min: Duration, max: Duration) -> bool {
    value >= min && value <= max
}

impl DeviceSections<'_> {
    /// Every problem of the device sections, with its dotted path.
    pub fn validate(&self, errors: &mut Vec<FieldError>) {
        let mut check = |ok: bool, path: &str, reason: &str| {
            if !ok {
                errors.push(FieldError::new(path, reason));
            }
        };
        let ms = Duration::from_millis;
        let secs = Duration::from_secs;
        let mqtt = self.mqtt;
        if let Some(url) = &mqtt.url {
            let parsed = BrokerUrl::parse(url);
            check(parsed.is_ok(), "mqtt.url", &parsed.err().unwrap_or_default());
        }
        if mqtt.ca_file.is_some() {
            let tls = mqtt.url.as_deref().is_some_and(|u| u.starts_with("mqtts://"));
            check(tls, "mqtt.ca_file", "only used with an mqtts:// url");
        }
        check(
            !mqtt.client_id.is_empty() && mqtt.client_id.len() <= 128,
            "mqtt.client_id",
            "must be 1 to 128 characters",
        );
        check(
            !mqtt.topic_prefix.is_empty()
                && !mqtt.topic_prefix.contains(['+', '#'])
                && !mqtt.topic_prefix.starts_with('/')
                && !mqtt.topic_prefix.ends_with('/'),
            "mqtt.topic_prefix",
            "must be non-empty, without wildcards (+, #) or leading/trailing '/'",
        );
        check(
            within(mqtt.keep_alive, secs(5), secs(3600)),
            "mqtt.keep_alive",
            "must be between 5s and 1h",
        );
        check(
            (256..=16 * 1024 * 1024).contains(&mqtt.max_payload_bytes),
            "mqtt.max_payload_bytes",
            "must be between 256 and 16777216",
        );
        check(
            within(mqtt.reconnect_max_backoff, ms(100), secs(600)),
            "mqtt.reconnect_max_backoff",
            "must be between 100ms and 10m",
        );
        let c = self.commands;
        check(
            within(c.default_expiry, MIN_EXPIRY, MAX_EXPIRY),
            "commands.default_expiry",
            "must be between 1s and 24h",
        );
        check(
            within(c.ack_timeout, ms(100), secs(86_400)),
            "commands.ack_timeout",
            "must be between 100ms and 24h",
        );
        check(
            within(c.reconnect_ceiling, ms(100), secs(86_400)),
            "commands.reconnect_ceiling",
            "must be between 100ms and 24h",
        );
        check(
            c.reconnect_target <= c.reconnect_ceiling,
            "commands.reconnect_target",
            "must not exceed commands.reconnect_ceiling",
        );
        let s = self.safety;
        check((1..=1000).contains(&s.lockout_max), "safety.lockout_max", "must be 1 to 1000");
        check(
            within(s.lockout_window, secs(1), secs(7 * 86_400)),
            "safety.lockout_window",
            "must be between 1s and 7 days",
        );
        check(
            s.escalation_cooldown <= secs(86_400),
            "safety.escalation_cooldown",
            "must be at most 24h",
        );
        check(
            within(self.crash_recovery.stale_after, ms(100), secs(86_400)),
            "crash_recovery.stale_after",
            "must be between 100ms and 24h",
        );
        if let Some(argv) = &self.escalation.power_cycle_command {
            check(
                argv.first().is_some_and(|p| !p.is_empty()),
                "escalation.power_cycle_command",
                "must name a program as its first element",
            );
        }
        check(
            within(self.escalation.power_cycle_timeout, ms(100), secs(3600)),
            "escalation.power_cycle_timeout",
            "must be between 100ms and 1h",
        );
        let r = self.rollout;
        check(
            r.abort_failure_percent > 0.0 && r.abort_failure_percent <= 100.0,
            "rollout.abort_failure_percent",
            "must be greater than 0 and at most 100",
        );
        check(r.min_finished >= 1, "rollout.min_finished", "must be at least 1");
        check(
            within(self.scheduler.tick, ms(10), secs(60)),
            "scheduler.tick",
            "must be between 10ms and 60s",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn device_errors_carry_their_paths() {
        let mut config = Config::default();
        config.mqtt.url = Some("tcp://x:1".into());
        config.mqtt.topic_prefix = "a/#".into();
        config.safety.lockout_max = 0;
        config.rollout.abort_failure_percent = 0.0;
        config.scheduler.tick = std::time::Duration::ZERO;
        let paths: Vec<String> =
            config.validate().unwrap_err().into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            [
                "mqtt.url",
                "mqtt.topic_prefix",
                "safety.lockout_max",
                "rollout.abort_failure_percent",
                "scheduler.tick"
            ]
        );
    }
}
