//! What the gateway reports about itself: connection state, reconnects, the last error and
//! the malformed-payload counters, shown as the `mqtt` component of the health report.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::payload::Reason;
use crate::health::{Component, ComponentStatus, HealthSource};

/// Shared, lock-light gateway state.
#[derive(Debug, Default)]
pub struct GatewayStatus {
    configured: AtomicBool,
    connected: AtomicBool,
    suspended: AtomicBool,
    reconnects: AtomicU64,
    connects: AtomicU64,
    malformed: [AtomicU64; Reason::ALL.len()],
    broker: Mutex<String>,
    last_error: Mutex<Option<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl GatewayStatus {
    pub fn is_configured(&self) -> bool {
        self.configured.load(Ordering::SeqCst)
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    pub fn set_configured(&self, broker: Option<&str>) {
        self.configured.store(broker.is_some(), Ordering::SeqCst);
        *lock(&self.broker) = broker.unwrap_or_default().to_owned();
    }

    pub fn set_connected(&self) {
        let metrics = crate::metrics::metrics();
        if self.connects.fetch_add(1, Ordering::SeqCst) > 0 {
            self.reconnects.fetch_add(1, Ordering::SeqCst);
            metrics.mqtt_reconnected();
        }
        metrics.set_mqtt_connected(true);
        self.connected.store(true, Ordering::SeqCst);
        self.suspended.store(false, Ordering::SeqCst);
    }

    pub fn set_disconnected(&self, error: Option<String>) {
        self.connected.store(false, Ordering::SeqCst);
        crate::metrics::metrics().set_mqtt_connected(false);
        if let Some(error) = error {
            *lock(&self.last_error) = Some(error);
        }
    }

    /// Record an error that did not end the connection (a refused subscription).
    pub fn set_error(&self, error: String) {
        *lock(&self.last_error) = Some(error);
    }

    pub fn set_suspended(&self, suspended: bool) {
        self.suspended.store(suspended, Ordering::SeqCst);
        if suspended {
            self.connected.store(false, Ordering::SeqCst);
            crate::metrics::metrics().set_mqtt_connected(false);
        }
    }

    pub fn count_malformed(&self, reason: Reason) {
        let index = Reason::ALL.iter().position(|r| *r == reason).unwrap_or(0);
        self.malformed[index].fetch_add(1, Ordering::Relaxed);
        crate::metrics::metrics().payload_malformed(reason.as_str());
    }

    /// Dropped payloads per reason.
    pub fn malformed(&self) -> Vec<(Reason, u64)> {
        Reason::ALL
            .iter()
            .zip(&self.malformed)
            .map(|(r, n)| (*r, n.load(Ordering::Relaxed)))
            .collect()
    }

    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::SeqCst)
    }

    pub fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }
}

impl HealthSource for GatewayStatus {
    fn component(&self) -> Component {
        if !self.is_configured() {
            return Component {
                name: "mqtt",
                status: ComponentStatus::Disabled,
                detail: "no broker configured (mqtt.url)".into(),
            };
        }
        let broker = lock(&self.broker).clone();
        let (status, state) = if self.is_connected() {
            (ComponentStatus::Healthy, format!("connected to {broker}"))
        } else if self.suspended.load(Ordering::SeqCst) {
            (ComponentStatus::Degraded, format!("suspended, broker {broker}"))
        } else {
            (ComponentStatus::Degraded, format!("disconnected from {broker}"))
        };
        let mut detail = format!("{state}, reconnects {}", self.reconnects());
        if let Some(error) = self.last_error() {
            detail.push_str(&format!(", last error: {error}"));
        }
        let dropped: Vec<String> = self
            .malformed()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{}={n}", r.as_str()))
            .collect();
        if !dropped.is_empty() {
            detail.push_str(&format!(", malformed: {}", dropped.join(" ")));
        }
        Component { name: "mqtt", status, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detail_reads_as_english_in_every_state() {
        let status = GatewayStatus::default();
        status.set_configured(Some("mqtt://broker:1883"));
        let detail = || status.component().detail;
        assert_eq!(detail(), "disconnected from mqtt://broker:1883, reconnects 0");
        status.set_connected();
        assert_eq!(detail(), "connected to mqtt://broker:1883, reconnects 0");
        status.set_suspended(true);
        assert_eq!(detail(), "suspended, broker mqtt://broker:1883, reconnects 0");
        status.set_disconnected(Some("connection refused".into()));
        status.set_suspended(false);
        assert_eq!(
            detail(),
            "disconnected from mqtt://broker:1883, reconnects 0, last error: connection refused"
        );
    }
}
