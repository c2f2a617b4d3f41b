//! Reads of the device registry: one row of `clients` per device (records in
//! `crate::model::clients`), registered from its first health or status message.
//!
//! Read queries only; what a heartbeat or a status change does to a device (and
//! to its commands) is decided by the command domain, which writes through a
//! [`super::FleetTx`].

use uuid::Uuid;

use super::StoreError;
use crate::model::clients::{ClientFilter, ClientRecord};

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
}
