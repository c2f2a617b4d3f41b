//! The device registry: one row of `clients` per device, registered from its first health or
//! status message.
//!
//! Records and read queries only; what a heartbeat or a status change does to a device (and
//! to its commands) is decided by the command domain, which writes through a
//! [`super::FleetTx`].

use uuid::Uuid;

use super::StoreError;
use super::commands::text_enum;

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

/// Filters of [`ClientStore::list_clients`]; they combine with AND.
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
}

/// Reads of the device registry.
#[async_trait::async_trait]
pub trait ClientStore {
    async fn client(&self, uuid: Uuid) -> Result<Option<ClientRecord>, StoreError>;

    /// Devices matching `filter`, by client_uuid ascending, strictly after `after`.
    async fn list_clients(
        &self,
        filter: &ClientFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ClientRecord>, StoreError>;

    /// Devices the crash loop must look at: crashed, stale (last heartbeat before
    /// `stale_before_ms` and not shut down on purpose), or with a ladder in progress.
    async fn crash_candidates(&self, stale_before_ms: i64)
    -> Result<Vec<ClientRecord>, StoreError>;

    /// UUIDs of every device, or of one group, ascending.
    async fn client_uuids(&self, group: Option<&str>) -> Result<Vec<Uuid>, StoreError>;

    /// How many devices match `filter`. This default pages through [`Self::list_clients`];
    /// a backend overrides it with a counting query.
    async fn count_clients(&self, filter: &ClientFilter) -> Result<u64, StoreError> {
        const PAGE: u32 = 1000;
        let (mut count, mut after) = (0u64, None);
        loop {
            let page = self.list_clients(filter, after, PAGE).await?;
            count += page.len() as u64;
            match page.last() {
                Some(last) if page.len() == PAGE as usize => after = Some(last.client_uuid),
                _ => return Ok(count),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Devices in memory, listed in pages: only what the default `count_clients` uses.
    struct Listed(Vec<Uuid>);

    #[async_trait::async_trait]
    impl ClientStore for Listed {
        async fn client(&self, _: Uuid) -> Result<Option<ClientRecord>, StoreError> {
            Ok(None)
        }

        async fn list_clients(
            &self,
            _: &ClientFilter,
            after: Option<Uuid>,
            limit: u32,
        ) -> Result<Vec<ClientRecord>, StoreError> {
            let page = self.0.iter().filter(|id| after.is_none_or(|after| **id > after));
            Ok(page.take(limit as usize).map(|id| ClientRecord::new(*id, 1)).collect())
        }

        async fn crash_candidates(&self, _: i64) -> Result<Vec<ClientRecord>, StoreError> {
            Ok(Vec::new())
        }

        async fn client_uuids(&self, _: Option<&str>) -> Result<Vec<Uuid>, StoreError> {
            Ok(self.0.clone())
        }
    }

    #[tokio::test]
    async fn the_default_count_pages_through_every_device() {
        for devices in [0, 1, 1000, 2500] {
            let mut ids: Vec<Uuid> = (0..devices).map(|_| Uuid::new_v4()).collect();
            ids.sort();
            let count = Listed(ids).count_clients(&ClientFilter::default()).await.unwrap();
            assert_eq!(count, devices as u64);
        }
    }
}
