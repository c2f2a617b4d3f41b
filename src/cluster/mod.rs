//! Several `rebound serve` processes on one PostgreSQL: this replica's identity, its
//! heartbeat, the leader lease and who runs the singleton loops (docs/cluster.md).
//!
//! [`Cluster`] owns this replica's side: its id ([`identity`]), its [`Leadership`] (the role
//! the singleton loops read), and on a shared store the lease loop ([`lease`]) that heartbeats
//! and takes, renews or gives up the lease. On SQLite there is no loop: the one process is
//! always the leader with epoch 0. The SQL is the store's (`crate::store::cluster`); the
//! loops this gates (scheduler, retention) live in their own domains and only read the role.

pub mod identity;
mod leadership;
mod lease;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub use leadership::{Leadership, Members, Role};

use crate::config::ConfigHandle;
use crate::store::Store;
use crate::store::cluster::ReplicaBeat;
use crate::tasks::Tasks;

/// This replica's side of the cluster.
pub struct Cluster {
    leadership: Leadership,
    store: Arc<dyn Store>,
    config: ConfigHandle,
    beat: ReplicaBeat,
    /// Set when this replica gave the lease up for good (stopping, or suspended for a hot
    /// restart): the lease loop then only waits.
    retired: AtomicBool,
}

/// What `GetHealth` reports of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterStatus {
    pub replica_id: String,
    pub leader: bool,
    pub lease_epoch: i64,
    /// The live replicas, by id (on SQLite: this one).
    pub replicas: Vec<ReplicaStatus>,
}

/// One live replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaStatus {
    pub replica_id: String,
    pub listen: String,
    pub leader: bool,
    /// Unix ms by the database clock (on SQLite: now).
    pub heartbeat_ms: i64,
    pub pid: u32,
    pub generation: u64,
}

impl Cluster {
    /// This replica's side; on a shared store the lease loop starts as the background task
    /// `cluster.lease`.
    pub fn start(
        tasks: &Tasks,
        store: Arc<dyn Store>,
        config: ConfigHandle,
        beat: ReplicaBeat,
    ) -> Arc<Self> {
        tracing::info!(replica.id = %beat.replica_id, "replica id");
        let leadership = match store.cluster() {
            Some(_) => Leadership::follower(&beat.replica_id),
            None => Leadership::always(&beat.replica_id),
        };
        let cluster =
            Arc::new(Self { leadership, store, config, beat, retired: AtomicBool::new(false) });
        if cluster.store.cluster().is_some() {
            let looped = cluster.clone();
            tasks.spawn("cluster.lease", move |control| lease::run(looped, control));
        }
        cluster
    }

    pub fn leadership(&self) -> &Leadership {
        &self.leadership
    }

    /// Gives the lease up at once (a graceful stop), waking the other replicas to take it.
    pub async fn resign(&self) {
        lease::resign(self).await;
    }

    /// Leaves the cluster for good (a stop that hands over to no successor): gives the lease
    /// up and deletes this replica's row.
    pub async fn leave(&self) {
        self.resign().await;
        if let Some(store) = self.store.cluster()
            && let Err(err) = store.leave(&self.beat.replica_id).await
        {
            tracing::warn!(error = %err, "cluster: could not remove this replica's row");
        }
    }

    /// This replica and the live ones, for the health report.
    pub async fn status(&self) -> Result<ClusterStatus, crate::store::StoreError> {
        let role = self.leadership.role();
        let epoch = match role {
            Role::Leader { epoch } => epoch,
            Role::Follower => 0,
        };
        let Some(store) = self.store.cluster() else {
            let me = ReplicaStatus {
                replica_id: self.beat.replica_id.clone(),
                listen: self.beat.listen.clone(),
                leader: true,
                heartbeat_ms: crate::clock::now_ms(),
                pid: self.beat.pid,
                generation: self.beat.generation,
            };
            return Ok(ClusterStatus {
                replica_id: me.replica_id.clone(),
                leader: true,
                lease_epoch: 0,
                replicas: vec![me],
            });
        };
        let holder = store.lease_holder().await?;
        let ttl = self.config.config().cluster.lease_ttl;
        let replicas = store
            .live_replicas(ttl)
            .await?
            .into_iter()
            .map(|row| ReplicaStatus {
                leader: holder.as_ref().is_some_and(|h| h.holder == row.beat.replica_id),
                replica_id: row.beat.replica_id,
                listen: row.beat.listen,
                heartbeat_ms: row.heartbeat_ms,
                pid: row.beat.pid,
                generation: row.beat.generation,
            })
            .collect();
        Ok(ClusterStatus {
            replica_id: self.beat.replica_id.clone(),
            leader: matches!(role, Role::Leader { .. }),
            lease_epoch: holder.map_or(epoch, |h| h.epoch.max(epoch)),
            replicas,
        })
    }
}
