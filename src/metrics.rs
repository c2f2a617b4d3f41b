//! The Prometheus registry of the process and the handle the rest of the code records through:
//! a leaf (it imports nothing of the crate), so the store, the domain and the adapters all
//! record through it without importing upward.
//!
//! One [`Metrics`] exists per process ([`metrics`]); every family is registered here, under the
//! `rebound_` prefix, with `_total` on counters and `_seconds` on durations. Domain modules call
//! its small recording methods with bounded, `'static` label values (an action, an outcome, a
//! reason): no device uuid, no free text, ever. Values that are state rather than events (the
//! device counts, the MQTT connection) are gauges the scrape handler sets just before
//! [`Metrics::encode`]. This module knows nothing about HTTP or about the domain's types.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::sync::LazyLock;
use std::time::Duration;

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of the gRPC server families (the method is one this server registers).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrpcLabels {
    pub grpc_service: &'static str,
    pub grpc_method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrpcHandledLabels {
    grpc_service: &'static str,
    grpc_method: &'static str,
    grpc_code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionOutcome {
    action: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabel {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabel {
    op: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Fast operations: RPCs, store transactions (1 ms to about 33 s).
fn fast() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Slow operations: commands from issue to terminal, restarts, reloads (50 ms to about 27 min).
fn slow() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 2.0, 16))
}

/// Every family of the process.
pub struct Metrics {
    registry: Registry,
    grpc_started: Family<GrpcLabels, Counter>,
    grpc_handled: Family<GrpcHandledLabels, Counter>,
    grpc_seconds: Histograms<GrpcLabels>,
    commands_issued: Family<ActionLabel, Counter>,
    commands: Family<ActionOutcome, Counter>,
    command_seconds: Histograms<ActionOutcome>,
    devices: Family<StateLabel, Gauge>,
    mqtt_connected: Gauge,
    mqtt_reconnects: Counter,
    acks: Family<StatusLabel, Counter>,
    malformed: Family<ReasonLabel, Counter>,
    rollouts: Family<OutcomeLabel, Counter>,
    restarts: Family<OutcomeLabel, Counter>,
    restart_seconds: Histograms<OutcomeLabel>,
    reloads: Family<OutcomeLabel, Counter>,
    reload_seconds: Histograms<OutcomeLabel>,
    store_tx_seconds: Histograms<OpLabel>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("rebound");
        let grpc_started = Family::default();
        let grpc_handled = Family::default();
        let grpc_seconds = Family::new_with_constructor(fast as fn() -> Histogram);
        let commands_issued = Family::default();
        let commands = Family::default();
        let command_seconds = Family::new_with_constructor(slow as fn() -> Histogram);
        let devices = Family::default();
        let mqtt_connected = Gauge::default();
        let mqtt_reconnects = Counter::default();
        let acks = Family::default();
        let malformed = Family::default();
        let rollouts = Family::default();
        let restarts = Family::default();
        let restart_seconds = Family::new_with_constructor(slow as fn() -> Histogram);
        let reloads = Family::default();
        let reload_seconds = Family::new_with_constructor(slow as fn() -> Histogram);
        let store_tx_seconds = Family::new_with_constructor(fast as fn() -> Histogram);
        let r = &mut registry;
        r.register("grpc_server_started", "gRPC calls started", grpc_started.clone());
        r.register("grpc_server_handled", "gRPC calls finished, by status", grpc_handled.clone());
        let help = "Time from a gRPC call's start to its final status";
        r.register_with_unit("grpc_server_handling", help, Unit::Seconds, grpc_seconds.clone());
        r.register("commands_issued", "Device commands created", commands_issued.clone());
        r.register("commands", "Device commands that reached a terminal state", commands.clone());
        let help = "Time from a command's issue to its terminal state";
        r.register_with_unit("command_duration", help, Unit::Seconds, command_seconds.clone());
        let help = "Devices online, offline, crashed and service-failed, read at scrape time";
        r.register("devices", help, devices.clone());
        let help = "1 while the MQTT gateway is connected to the broker";
        r.register("mqtt_connected", help, mqtt_connected.clone());
        let help = "MQTT gateway reconnections after its first connection";
        r.register("mqtt_reconnects", help, mqtt_reconnects.clone());
        r.register("mqtt_acks", "Device acks ingested, by reported status", acks.clone());
        let help = "Inbound MQTT payloads dropped as malformed, by reason";
        r.register("mqtt_malformed_payloads", help, malformed.clone());
        r.register("rollouts", "Rollouts that ended, by outcome", rollouts.clone());
        r.register("restarts", "Hot restarts that ended, by outcome", restarts.clone());
        let help = "Duration of hot restarts, by outcome";
        r.register_with_unit("restart_duration", help, Unit::Seconds, restart_seconds.clone());
        r.register("config_reloads", "Config reloads, by outcome", reloads.clone());
        let help = "Duration of config reloads, by outcome";
        r.register_with_unit("config_reload_duration", help, Unit::Seconds, reload_seconds.clone());
        let help = "Duration of store write transactions, by operation";
        r.register_with_unit("store_transaction", help, Unit::Seconds, store_tx_seconds.clone());
        Self {
            registry,
            grpc_started,
            grpc_handled,
            grpc_seconds,
            commands_issued,
            commands,
            command_seconds,
            devices,
            mqtt_connected,
            mqtt_reconnects,
            acks,
            malformed,
            rollouts,
            restarts,
            restart_seconds,
            reloads,
            reload_seconds,
            store_tx_seconds,
        }
    }

    /// The registry in the OpenMetrics text format (see [`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    pub fn grpc_started(&self, labels: &GrpcLabels) {
        self.grpc_started.get_or_create(labels).inc();
    }

    pub fn grpc_handled(&self, labels: &GrpcLabels, code: &'static str, elapsed: Duration) {
        let GrpcLabels { grpc_service, grpc_method } = *labels;
        let handled = GrpcHandledLabels { grpc_service, grpc_method, grpc_code: code };
        self.grpc_handled.get_or_create(&handled).inc();
        self.grpc_seconds.get_or_create(labels).observe(elapsed.as_secs_f64());
    }

    pub fn command_issued(&self, action: &'static str) {
        self.commands_issued.get_or_create(&ActionLabel { action }).inc();
    }

    /// A command reached its terminal `outcome`, `elapsed` after it was issued.
    pub fn command_ended(&self, action: &'static str, outcome: &'static str, elapsed: Duration) {
        let labels = ActionOutcome { action, outcome };
        self.commands.get_or_create(&labels).inc();
        self.command_seconds.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    /// Set the number of devices in `state` (online, offline, crashed, service_failed).
    pub fn set_devices(&self, state: &'static str, count: u64) {
        self.devices.get_or_create(&StateLabel { state }).set(count as i64);
    }

    pub fn set_mqtt_connected(&self, connected: bool) {
        self.mqtt_connected.set(i64::from(connected));
    }

    pub fn mqtt_reconnected(&self) {
        self.mqtt_reconnects.inc();
    }

    pub fn ack_ingested(&self, status: &'static str) {
        self.acks.get_or_create(&StatusLabel { status }).inc();
    }

    pub fn payload_malformed(&self, reason: &'static str) {
        self.malformed.get_or_create(&ReasonLabel { reason }).inc();
    }

    pub fn rollout_ended(&self, outcome: &'static str) {
        self.rollouts.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    pub fn restart_ended(&self, outcome: &'static str, elapsed: Duration) {
        let labels = OutcomeLabel { outcome };
        self.restarts.get_or_create(&labels).inc();
        self.restart_seconds.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    pub fn reload_ended(&self, outcome: &'static str, elapsed: Duration) {
        let labels = OutcomeLabel { outcome };
        self.reloads.get_or_create(&labels).inc();
        self.reload_seconds.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    pub fn store_transaction(&self, op: &'static str, elapsed: Duration) {
        self.store_tx_seconds.get_or_create(&OpLabel { op }).observe(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every family with one sample.
    fn populated() -> Metrics {
        let m = Metrics::new();
        let grpc = GrpcLabels { grpc_service: "rebound.v1.X", grpc_method: "Y" };
        let second = Duration::from_secs(1);
        m.grpc_started(&grpc);
        m.grpc_handled(&grpc, "OK", second);
        m.command_issued("restart_app");
        m.command_ended("restart_app", "completed", second);
        m.set_devices("online", 1);
        m.set_mqtt_connected(true);
        m.mqtt_reconnected();
        m.ack_ingested("completed");
        m.payload_malformed("invalid_json");
        m.rollout_ended("completed");
        m.restart_ended("succeeded", second);
        m.reload_ended("success", second);
        m.store_transaction("fleet_tx", second);
        m
    }

    #[test]
    fn the_grafana_dashboard_queries_only_metrics_this_registry_writes() {
        let text = populated().encode();
        let written: std::collections::HashSet<&str> = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split(['{', ' ']).next())
            .collect();
        let dashboard = include_str!("../deploy/grafana/rebound-dashboard.json");
        let mut queried = 0;
        for (at, _) in dashboard.match_indices("rebound_") {
            let name: String = dashboard[at..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if name == "rebound_" {
                continue;
            }
            assert!(written.contains(name.as_str()), "the dashboard queries {name}: not written");
            queried += 1;
        }
        assert!(queried >= 15, "the dashboard queries {queried} metrics");
    }

    #[test]
    fn families_follow_the_naming_rules() {
        let m = Metrics::new();
        m.command_ended("reboot_host", "completed", Duration::from_millis(300));
        m.grpc_started(&GrpcLabels { grpc_service: "rebound.v1.X", grpc_method: "Y" });
        m.set_devices("online", 3);
        let text = m.encode();
        assert!(
            text.contains(r#"rebound_commands_total{action="reboot_host",outcome="completed"} 1"#)
        );
        assert!(text.contains("# TYPE rebound_command_duration_seconds histogram"), "{text}");
        assert!(text.contains(r#"rebound_devices{state="online"} 3"#), "{text}");
        for line in text.lines().filter(|l| l.starts_with("# TYPE")) {
            let name = line.split(' ').nth(2).unwrap();
            assert!(name.starts_with("rebound_"), "{line}");
            if line.ends_with(" histogram") {
                assert!(name.ends_with("_seconds"), "{line}");
            }
        }
    }
}
