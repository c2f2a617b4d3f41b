//! Reads of the device registry: one row of `clients` per device (records in
//! `crate::model::clients`), registered from its first health or status message.
//!
//! Read queries only; what a heartbeat or a status change does to a device (and
//! to its commands) is decided by the command domain, which writes through a
//! [`super::FleetTx`].

use uuid::Uuid;

use super::StoreError;
use crate::model::clients::{ClientCounts, ClientFilter, ClientRecord};

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

    /// The devices matching `filter`, counted per state (all, online, offline, crashed,
    /// service-failed) by one grouped query.
    async fn client_counts(&self, filter: &ClientFilter) -> Result<ClientCounts, StoreError>;

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

        async fn client_counts(&self, _: &ClientFilter) -> Result<ClientCounts, StoreError> {
            unreachable!("the default count reads list_clients only")
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
