//! How many devices are online, offline, crashed and service-failed right now: the fleet's
//! state as the metrics endpoint (and later the console) reads it. Read-only.

use super::Fleet;
use crate::store::StoreError;
use crate::model::clients::{ClientFilter, CrashFilter};

/// Device counts per state. A device may count in several (offline and crashed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceCounts {
    pub online: u64,
    /// Seen once and offline now (never-seen devices count in neither).
    pub offline: u64,
    pub crashed: u64,
    pub service_failed: u64,
}

impl DeviceCounts {
    /// The counts with the names the metrics use for them.
    pub fn by_state(&self) -> [(&'static str, u64); 4] {
        [
            ("online", self.online),
            ("offline", self.offline),
            ("crashed", self.crashed),
            ("service_failed", self.service_failed),
        ]
    }
}

impl Fleet {
    /// Count the devices per state, from the store.
    pub async fn device_counts(&self) -> Result<DeviceCounts, StoreError> {
        let count = |filter: ClientFilter| async move { self.store.count_clients(&filter).await };
        Ok(DeviceCounts {
            online: count(ClientFilter { online: Some(true), ..Default::default() }).await?,
            offline: count(ClientFilter { online: Some(false), ..Default::default() }).await?,
            crashed: count(ClientFilter {
                crash: Some((CrashFilter::Crashed, 0)),
                ..Default::default()
            })
            .await?,
            service_failed: count(ClientFilter { service_failed: Some(true), ..Default::default() })
                .await?,
        })
    }
}
