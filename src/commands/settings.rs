//! The live settings of the device side, following config reloads.
//!
//! [`Settings`] holds the sections the command domain, the scheduler and the MQTT gateway
//! use, in a `watch` channel: readers take the current value without locking, and loops that
//! must react to a change (the scheduler's tick, the gateway's broker connection) wait on
//! [`Settings::subscribe`]. [`SettingsObserver`] is the [`ConfigObserver`] that feeds it.

use std::sync::Arc;
use tokio::sync::watch;

use crate::config::{
    ClusterConfig, CommandsConfig, Config, ConfigObserver, CrashRecoveryConfig, EscalationConfig,
    MqttConfig, RolloutConfig, SafetyConfig, SchedulerConfig,
};

/// The device-side configuration sections, as one value.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSettings {
    pub mqtt: MqttConfig,
    pub commands: CommandsConfig,
    pub safety: SafetyConfig,
    pub crash_recovery: CrashRecoveryConfig,
    pub escalation: EscalationConfig,
    pub rollout: RolloutConfig,
    pub scheduler: SchedulerConfig,
    /// The lease TTL tells the leader when an orphaned command's owner is gone.
    pub cluster: ClusterConfig,
}

impl DeviceSettings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            mqtt: config.mqtt.clone(),
            commands: config.commands.clone(),
            safety: config.safety.clone(),
            crash_recovery: config.crash_recovery.clone(),
            escalation: config.escalation.clone(),
            rollout: config.rollout.clone(),
            scheduler: config.scheduler.clone(),
            cluster: config.cluster.clone(),
        }
    }
}

/// Shared handle to the current device settings. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Settings {
    tx: Arc<watch::Sender<Arc<DeviceSettings>>>,
}

impl Settings {
    pub fn new(initial: DeviceSettings) -> Self {
        Self { tx: Arc::new(watch::Sender::new(Arc::new(initial))) }
    }

    /// The settings in force now.
    pub fn current(&self) -> Arc<DeviceSettings> {
        self.tx.borrow().clone()
    }

    /// A receiver that sees every later change.
    pub fn subscribe(&self) -> watch::Receiver<Arc<DeviceSettings>> {
        self.tx.subscribe()
    }

    /// Install new settings (the observer does this on reload).
    pub fn replace(&self, settings: DeviceSettings) {
        self.tx.send_if_modified(|current| {
            let changed = **current != settings;
            if changed {
                *current = Arc::new(settings);
            }
            changed
        });
    }

    /// The observer that keeps these settings in step with config reloads.
    pub fn observer(&self) -> Arc<dyn ConfigObserver> {
        Arc::new(SettingsObserver { settings: self.clone() })
    }
}

/// Applies reloaded `[mqtt]`, `[commands]`, `[safety]`, `[crash_recovery]`, `[escalation]`,
/// `[rollout]` and `[scheduler]` values. The config was validated before `apply` runs, so
/// applying cannot fail: the scheduler picks the new tick up at once, the gateway reconnects
/// when its broker settings changed, and the limits apply to the next command.
struct SettingsObserver {
    settings: Settings,
}

impl ConfigObserver for SettingsObserver {
    fn name(&self) -> &'static str {
        "device_commands"
    }

    fn apply(&self, _old: &Config, new: &Config) -> Result<(), String> {
        let next = DeviceSettings::from_config(new);
        if *self.settings.current() != next {
            tracing::info!("device command settings changed; applying");
        }
        self.settings.replace(next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observer_applies_new_limits_and_notifies_subscribers() {
        let config = Config::default();
        let settings = Settings::new(DeviceSettings::from_config(&config));
        let mut rx = settings.subscribe();
        let mut next = config.clone();
        next.safety.lockout_max = 5;
        next.scheduler.tick = std::time::Duration::from_millis(200);
        settings.observer().apply(&config, &next).unwrap();
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().safety.lockout_max, 5);
        assert_eq!(settings.current().scheduler.tick.as_millis(), 200);
        settings.observer().apply(&next, &next).unwrap();
        assert!(!rx.has_changed().unwrap(), "an unchanged reload notifies nobody");
    }
}
