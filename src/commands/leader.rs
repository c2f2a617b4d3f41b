//! The command domain's side of the cluster (`crate::cluster`): the scheduler's fenced write
//! transactions, the step-down of a leader whose fenced write failed (which retention shares),
//! and the adoption of orphaned commands.
//!
//! A command is published by the replica that created it (its `owner`). When that replica
//! dies before the broker acknowledged the publish, the command stays `queued` with an owner
//! nobody hears from: the leader adopts it (becomes its owner, in a transaction fenced by its
//! epoch) and publishes it again with the same command id, so it reaches the device within
//! one lease time; the device's dedupe by command id makes it run once.

use uuid::Uuid;

use super::fleet::{Fleet, outbound};
use crate::clock::now_ms;
use crate::cluster::Leadership;
use crate::error::Result;
use crate::model::commands::{CommandRecord, EventSource};
use crate::store::{Fence, FleetTx, Store, StoreError};

/// Most orphaned commands adopted per scheduler tick.
const ADOPT_LIMIT: u32 = 1000;

/// Steps `leadership` down from `fence`'s epoch when `err` says a write fenced by it was
/// fenced off: another replica took the lease over.
pub fn step_down_if_fenced(leadership: &Leadership, fence: &Fence, err: &StoreError) {
    if matches!(err, StoreError::Fenced { .. }) {
        leadership.step_down(fence.epoch, "a write was fenced off");
    }
}

/// A write transaction of the leader's duties on `store`: fenced by `leadership`'s lease
/// epoch, so that it writes nothing once another replica took the lease over. A replica that
/// finds itself fenced steps down.
pub(super) async fn fenced_tx(
    store: &dyn Store,
    leadership: &Leadership,
    scope: Scope,
) -> Result<Box<dyn FleetTx>> {
    let Some(fence) = leadership.fence() else {
        let holder = leadership.replica_id().to_owned();
        return Err(StoreError::Fenced { holder, epoch: 0 }.into());
    };
    let mut tx = scope.begin(store).await?;
    match tx.fence(&fence).await {
        Ok(()) => Ok(tx),
        Err(err) => {
            step_down_if_fenced(leadership, &fence, &err);
            Err(err.into())
        }
    }
}

/// What a write transaction covers: the devices it names
/// ([`crate::store::CommandStore::fleet_tx`]) or the whole device area
/// ([`crate::store::CommandStore::fleet_tx_whole`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scope {
    Devices,
    Whole,
}

impl Scope {
    /// Begins a write transaction of this scope on `store`.
    pub(super) async fn begin(self, store: &dyn Store) -> Result<Box<dyn FleetTx>> {
        Ok(match self {
            Scope::Devices => store.fleet_tx().await?,
            Scope::Whole => store.fleet_tx_whole().await?,
        })
    }
}

impl Fleet {
    /// [`fenced_tx`] of named devices on this replica's store and leadership.
    pub(super) async fn leader_tx(&self) -> Result<Box<dyn FleetTx>> {
        fenced_tx(self.store.as_ref(), &self.leadership, Scope::Devices).await
    }

    /// The write transaction of a rollout step taken by `source`: fenced when the scheduler
    /// takes it (a singleton duty: wave issuing, an automatic abort), a plain one when an RPC
    /// does (any replica serves those: a rollout's start, an operator's abort).
    pub(super) async fn step_tx(
        &self,
        source: EventSource,
        scope: Scope,
    ) -> Result<Box<dyn FleetTx>> {
        match source {
            EventSource::Scheduler => fenced_tx(self.store.as_ref(), &self.leadership, scope).await,
            _ => scope.begin(self.store.as_ref()).await,
        }
    }

    /// Adopt the queued commands of replicas that are gone and publish them again. The
    /// number adopted (always 0 on a store without a cluster area).
    pub async fn adopt_orphans(&self) -> Result<usize> {
        let Some(cluster) = self.store.cluster() else { return Ok(0) };
        let Some(fence) = self.leadership.fence() else { return Ok(0) };
        let ttl = self.settings.current().cluster.lease_ttl;
        let now = now_ms();
        let adopted = cluster
            .adopt_orphans(&fence, ttl, now, ADOPT_LIMIT)
            .await
            .inspect_err(|err| step_down_if_fenced(&self.leadership, &fence, err))?;
        let commands = self.commands_by_id(&adopted).await?;
        for command in &commands {
            tracing::info!(command.id = %command.command_id, "adopted an orphaned command; publishing it again");
            self.link.publish_command(outbound(command));
        }
        Ok(commands.len())
    }

    /// The stored records of `ids`, in that order, skipping unknown ones.
    pub(super) async fn commands_by_id(&self, ids: &[Uuid]) -> Result<Vec<CommandRecord>> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(command) = self.store.command(*id).await? {
                found.push(command);
            }
        }
        Ok(found)
    }
}
