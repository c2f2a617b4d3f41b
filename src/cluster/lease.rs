//! The lease loop (`cluster.lease`), on a shared store only: every `cluster.lease_renew` it
//! refreshes this replica's heartbeat, reads which replicas are alive (the ingest divides the
//! devices among them), then renews the lease it holds or tries to take a
//! released or expired one; a release by another replica (`LISTEN`) wakes it at once.
//!
//! A leader that cannot renew (database gone, lease taken over) stops leading when the
//! renewal fails or at its monotonic deadline: the start of its last successful renewal plus
//! `lease_ttl` minus [`margin`], whichever comes first. When the server suspends for a hot
//! restart or stops, the loop gives the lease up so that another replica (or the successor)
//! takes it within a second instead of waiting out the TTL.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Cluster, Members, Role};
use crate::config::ClusterConfig;
use crate::store::Fence;
use crate::store::cluster::{ClusterStore, LeaseEvents};
use crate::tasks::TaskControl;

/// How long before the lease's expiry (by the database clock) a leader stops acting as one,
/// by its own clock: room for the clocks' rates to differ and for a renewal in flight.
fn margin(ttl: Duration) -> Duration {
    (ttl / 5).min(Duration::from_secs(2))
}

/// The loop: runs until the server stops.
pub(super) async fn run(cluster: Arc<Cluster>, mut control: TaskControl) {
    let Some(store) = cluster.store.cluster() else { return };
    let mut events: Option<Box<dyn LeaseEvents>> = None;
    loop {
        let settings = cluster.config.config().cluster;
        if !cluster.retired.load(Ordering::SeqCst) {
            round(&cluster, store, &settings).await;
        }
        if events.is_none() {
            events = match store.lease_events().await {
                Ok(events) => Some(events),
                Err(err) => {
                    tracing::warn!(error = %err, "cluster: cannot listen for lease releases");
                    None
                }
            };
        }
        tokio::select! {
            _ = control.changed() => {
                if control.is_stopping() || control.is_suspended() {
                    resign(&cluster).await;
                }
                if !control.checkpoint().await {
                    return;
                }
                // Resumed: the hot restart failed and this process serves on.
                cluster.retired.store(false, Ordering::SeqCst);
            }
            _ = tokio::time::sleep(settings.lease_renew) => {}
            released = released(&mut events) => {
                if let Err(err) = released {
                    tracing::warn!(error = %err, "cluster: lease release listener lost");
                    events = None;
                }
            }
        }
    }
}

/// Resolves at the next lease release; never without a listener.
async fn released(
    events: &mut Option<Box<dyn LeaseEvents>>,
) -> Result<(), crate::store::StoreError> {
    match events {
        Some(events) => events.released().await,
        None => std::future::pending().await,
    }
}

/// One heartbeat, a look at who else is alive, then renew or acquire.
async fn round(cluster: &Cluster, store: &dyn ClusterStore, settings: &ClusterConfig) {
    let leadership = &cluster.leadership;
    let ttl = settings.lease_ttl;
    match store.heartbeat(&cluster.beat).await {
        Ok(()) => see_members(cluster, store, settings).await,
        Err(err) => tracing::warn!(error = %err, "cluster: heartbeat failed"),
    }
    let started = Instant::now();
    let deadline = started + ttl.saturating_sub(margin(ttl));
    match leadership.announced() {
        Role::Leader { epoch } => {
            let fence = Fence { holder: leadership.replica_id().to_owned(), epoch };
            match store.renew(&fence, ttl).await {
                Ok(true) => leadership.lead(epoch, deadline),
                Ok(false) => leadership.step_down(epoch, "the lease was taken over or expired"),
                Err(err) if !leadership.is_leader() => {
                    leadership.step_down(epoch, &format!("not renewed before the deadline: {err}"))
                }
                Err(err) => tracing::warn!(error = %err, "cluster: lease renewal failed"),
            }
        }
        Role::Follower => match store.try_acquire(leadership.replica_id(), ttl).await {
            Ok(Some(epoch)) => leadership.lead(epoch, deadline),
            Ok(None) => {}
            Err(err) => tracing::warn!(error = %err, "cluster: lease acquisition failed"),
        },
    }
}

/// Reads the live replicas into [`super::Leadership::see_members`]; on failure the last view
/// stays.
async fn see_members(cluster: &Cluster, store: &dyn ClusterStore, settings: &ClusterConfig) {
    match store.live_replicas(settings.lease_ttl).await {
        Ok(rows) => cluster.leadership.see_members(Members::new(
            cluster.leadership.replica_id(),
            rows.into_iter().map(|row| row.beat.replica_id).collect(),
            settings.lease_ttl,
            settings.lease_renew,
        )),
        Err(err) => tracing::warn!(error = %err, "cluster: cannot read the live replicas"),
    }
}

/// Stops leading and gives the lease up, waking the other replicas; the loop takes no lease
/// again unless the server resumes.
pub(super) async fn resign(cluster: &Cluster) {
    let Some(store) = cluster.store.cluster() else { return };
    cluster.retired.store(true, Ordering::SeqCst);
    let Some(fence) = cluster.leadership.fence() else { return };
    cluster.leadership.step_down(fence.epoch, "giving the lease up");
    match store.release(&fence).await {
        Ok(()) => tracing::info!(lease.epoch = fence.epoch, "lease released"),
        Err(err) => tracing::warn!(error = %err, "cluster: lease release failed"),
    }
}
