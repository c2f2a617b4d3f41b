//! The device registry's records: one `clients` row per device, and the filters over them.
//!
//! Plain data: what a heartbeat or a status change does to a device is decided by the command
//! domain; nothing here does I/O.

use uuid::Uuid;

use crate::macros::text_enum;

text_enum! {
    /// What the crash recovery ladder may do to a device beyond MQTT commands.
    CapabilityTier { Basic = "basic", ManagedPower = "managed_power" }
}

text_enum! {
    /// `process_status` of the device's health message.
    ProcessStatus {
        Starting = "starting",
        Running = "running",
        Crashed = "crashed",
        Stopped = "stopped",
    }
}

text_enum! {
    /// Step of the crash recovery ladder (`clients.recovery_state`).
    RecoveryStep {
        Idle = "idle",
        RestartApp = "restart_app",
        RebootHost = "reboot_host",
        PowerCycle = "power_cycle",
        NeedsAttention = "needs_attention",
    }
}

/// One row of `clients`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_uuid: Uuid,
    pub group: Option<String>,
    pub capability_tier: Option<CapabilityTier>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// `None` until the first status message.
    pub online: Option<bool>,
    pub last_online_ms: Option<i64>,
    pub last_offline_ms: Option<i64>,
    pub last_health_ms: Option<i64>,
    pub boot_id: Option<String>,
    pub uptime_s: Option<i64>,
    pub app_version: Option<String>,
    pub process_status: Option<ProcessStatus>,
    pub mqtt_reconnect_count: Option<i64>,
    pub mqtt_last_disconnect_ms: Option<i64>,
    pub service_failed_unit: Option<String>,
    pub service_failed_ms: Option<i64>,
    pub recovery_step: RecoveryStep,
    pub recovery_step_ms: Option<i64>,
    pub recovery_command_id: Option<Uuid>,
    pub recovery_detected_ms: Option<i64>,
    pub recovery_detail: Option<String>,
    pub needs_attention: bool,
    pub attention_reason: Option<String>,
    /// Set when a shutdown_host completed; a device shut down on purpose is not stale.
    pub shut_down_ms: Option<i64>,
    pub updated_ms: i64,
}

impl ClientRecord {
    /// A device seen for the first time at `now_ms`.
    pub fn new(client_uuid: Uuid, now_ms: i64) -> Self {
        Self {
            client_uuid,
            group: None,
            capability_tier: None,
            first_seen_ms: now_ms,
            last_seen_ms: now_ms,
            online: None,
            last_online_ms: None,
            last_offline_ms: None,
            last_health_ms: None,
            boot_id: None,
            uptime_s: None,
            app_version: None,
            process_status: None,
            mqtt_reconnect_count: None,
            mqtt_last_disconnect_ms: None,
            service_failed_unit: None,
            service_failed_ms: None,
            recovery_step: RecoveryStep::Idle,
            recovery_step_ms: None,
            recovery_command_id: None,
            recovery_detected_ms: None,
            recovery_detail: None,
            needs_attention: false,
            attention_reason: None,
            shut_down_ms: None,
            updated_ms: now_ms,
        }
    }
}

/// Crash detection result, as a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashFilter {
    Healthy,
    Crashed,
    Stale,
}

/// Filters of the store's `ClientStore::list_clients`; they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ClientFilter {
    pub group: Option<String>,
    /// `Some(true)`: online; `Some(false)`: offline.
    pub online: Option<bool>,
    pub needs_attention: Option<bool>,
    pub service_failed: Option<bool>,
    pub capability_tier: Option<CapabilityTier>,
    /// With the staleness bound: heartbeats older than this (unix ms) are stale.
    pub crash: Option<(CrashFilter, i64)>,
    /// Only devices whose uuid starts with this (lowercase hex digits and dashes only).
    pub uuid_prefix: Option<String>,
}

/// How many devices are in each state the console's filters and the metrics show, among
/// the devices a [`ClientFilter`] selects. A device may count in several (offline and
/// crashed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCounts {
    /// Every device selected.
    pub total: u64,
    pub online: u64,
    /// Seen once and offline now (never-seen devices count in neither).
    pub offline: u64,
    /// Whose last health message reported the process crashed.
    pub crashed: u64,
    /// With a recorded service failure.
    pub service_failed: u64,
}

impl ClientCounts {
    /// The per-state counts with the names the metrics use for them.
    pub fn by_state(&self) -> [(&'static str, u64); 4] {
        [
            ("online", self.online),
            ("offline", self.offline),
            ("crashed", self.crashed),
            ("service_failed", self.service_failed),
        ]
    }
}
