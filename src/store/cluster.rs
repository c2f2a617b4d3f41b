//! The cluster area: replica heartbeats, the one leader lease with its fencing epoch, and
//! the owners of queued commands (migrations/postgres/0010_cluster.sql).
//!
//! Only a store shared by several processes has it ([`super::Store::cluster`] is `None` on
//! SQLite, where the one process is always the leader with epoch 0). Every time is taken
//! from the database clock, never the replica's, and no session advisory lock is involved:
//! the lease is a row, its epoch the fencing token that a leader's write transactions check
//! ([`super::FleetTx::fence`]). Deciding when to renew or step down is the domain's
//! (`crate::cluster`), not this module's.

use std::time::Duration;

use uuid::Uuid;

use super::StoreError;

/// What a replica says about itself at each heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaBeat {
    pub replica_id: String,
    /// Its gRPC listen address.
    pub listen: String,
    pub pid: u32,
    pub generation: u64,
}

/// A replica seen alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaRow {
    pub beat: ReplicaBeat,
    /// Its latest heartbeat, unix ms by the database clock.
    pub heartbeat_ms: i64,
}

/// A holder of the lease at one epoch: what a fenced write checks is still current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub holder: String,
    pub epoch: i64,
}

/// The cluster tables of a shared store.
#[async_trait::async_trait]
pub trait ClusterStore: Send + Sync {
    /// Inserts or refreshes this replica's row (heartbeat at `now()`).
    async fn heartbeat(&self, me: &ReplicaBeat) -> Result<(), StoreError>;

    /// Deletes this replica's row: it stops and no successor takes its id.
    async fn leave(&self, replica_id: &str) -> Result<(), StoreError>;

    /// Replicas whose heartbeat is younger than `ttl`, by id.
    async fn live_replicas(&self, ttl: Duration) -> Result<Vec<ReplicaRow>, StoreError>;

    /// Takes the lease for `holder` if it is released or expired: epoch + 1, expiry
    /// `now() + ttl`. The new epoch, or `None` when someone else holds it.
    async fn try_acquire(&self, holder: &str, ttl: Duration) -> Result<Option<i64>, StoreError>;

    /// Extends the lease to `now() + ttl`, only while `fence` holds it and it has not expired.
    /// `false`: the lease was lost.
    async fn renew(&self, fence: &Fence, ttl: Duration) -> Result<bool, StoreError>;

    /// The current holder of the lease, unless it is released or expired.
    async fn lease_holder(&self) -> Result<Option<Fence>, StoreError>;

    /// Gives the lease up (if `fence` still holds it) and wakes the waiting replicas
    /// ([`LeaseEvents`]).
    async fn release(&self, fence: &Fence) -> Result<(), StoreError>;

    /// A subscription to lease releases.
    async fn lease_events(&self) -> Result<Box<dyn LeaseEvents>, StoreError>;

    /// Makes `fence`'s holder the owner of at most `limit` queued commands, not expired at
    /// `now_ms`, whose owner is not a live replica (heartbeat younger than `ttl`), in one
    /// transaction fenced by `fence`. Their ids, oldest first.
    async fn adopt_orphans(
        &self,
        fence: &Fence,
        ttl: Duration,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<Uuid>, StoreError>;

    /// Ids of the queued commands, not expired at `now_ms`, that `owner` publishes.
    async fn owned_queued(&self, owner: &str, now_ms: i64) -> Result<Vec<Uuid>, StoreError>;
}

/// Lease releases as they happen.
#[async_trait::async_trait]
pub trait LeaseEvents: Send {
    /// Resolves at the next release. An error: the subscription broke (it reconnects on the
    /// next call).
    async fn released(&mut self) -> Result<(), StoreError>;
}
