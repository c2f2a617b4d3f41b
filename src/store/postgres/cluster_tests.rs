//! The cluster area on PostgreSQL: heartbeats and liveness, the lease (take, renew, release,
//! expiry) with its epoch, fencing of a leader's write transaction, and orphan adoption.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::contract::Action;
use crate::model::commands::{CommandRecord, Origin};
use crate::store::cluster::{Fence, ReplicaBeat};
use crate::store::test_postgres::database;
use crate::store::{Store, StoreError, StoreOptions, open_with};

/// A store connected as replica `id`, on the database at `url`.
async fn replica(url: &str, id: &str) -> Arc<dyn Store> {
    let options = StoreOptions { replica_id: Some(id.into()), ..StoreOptions::default() };
    open_with(url, &options).await.unwrap_or_else(|e| panic!("open {url}: {e}"))
}

fn beat(id: &str) -> ReplicaBeat {
    ReplicaBeat { replica_id: id.into(), listen: "127.0.0.1:1".into(), pid: 7, generation: 0 }
}

const TTL: Duration = Duration::from_secs(30);

#[tokio::test]
async fn the_lease_moves_only_when_released_or_expired_and_each_takeover_adds_an_epoch() {
    let Some(url) = database().await else { return };
    let a = replica(&url, "a").await;
    let b = replica(&url, "b").await;
    let (ca, cb) = (a.cluster().unwrap(), b.cluster().unwrap());
    ca.heartbeat(&beat("a")).await.unwrap();
    cb.heartbeat(&beat("b")).await.unwrap();
    let live: Vec<_> = ca.live_replicas(TTL).await.unwrap();
    assert_eq!(live.iter().map(|r| r.beat.replica_id.as_str()).collect::<Vec<_>>(), ["a", "b"]);

    let first = ca.try_acquire("a", TTL).await.unwrap().expect("a free lease is taken");
    assert_eq!(cb.try_acquire("b", TTL).await.unwrap(), None, "a held lease is not");
    let fence_a = Fence { holder: "a".into(), epoch: first };
    assert!(ca.renew(&fence_a, TTL).await.unwrap());
    assert_eq!(cb.lease_holder().await.unwrap(), Some(fence_a.clone()));

    let mut events = cb.lease_events().await.unwrap();
    ca.release(&fence_a).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), events.released()).await.unwrap().unwrap();
    assert!(!ca.renew(&fence_a, TTL).await.unwrap(), "a released lease is not renewed");
    let second = cb.try_acquire("b", Duration::from_millis(300)).await.unwrap().unwrap();
    assert_eq!(second, first + 1);

    // Expired by the database clock: anyone may take it, at the next epoch.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let fence_b = Fence { holder: "b".into(), epoch: second };
    assert!(!cb.renew(&fence_b, TTL).await.unwrap(), "an expired lease is not renewed");
    assert_eq!(ca.try_acquire("a", TTL).await.unwrap(), Some(second + 1));
    cb.leave("b").await.unwrap();
    assert_eq!(ca.live_replicas(TTL).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_old_epoch_writes_nothing_and_a_takeover_waits_for_the_fenced_transaction() {
    let Some(url) = database().await else { return };
    let a = replica(&url, "a").await;
    let b = replica(&url, "b").await;
    let epoch = a.cluster().unwrap().try_acquire("a", Duration::from_millis(500)).await.unwrap();
    let fence = Fence { holder: "a".into(), epoch: epoch.unwrap() };

    // A fenced transaction that holds the lease row while the lease expires underneath it.
    let mut tx = a.fleet_tx().await.unwrap();
    tx.fence(&fence).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let takeover = tokio::spawn({
        let b = b.clone();
        async move { b.cluster().unwrap().try_acquire("b", TTL).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!takeover.is_finished(), "the takeover waits for the fenced transaction");
    let command = CommandRecord::new(
        Uuid::new_v4(),
        Uuid::new_v4(),
        Action::RestartApp,
        Origin::Api,
        1,
        i64::MAX / 2,
    );
    tx.insert_command(&command).await.unwrap();
    tx.commit().await.unwrap();
    let new_epoch = takeover.await.unwrap().unwrap().expect("taken once the transaction ended");
    assert_eq!(new_epoch, fence.epoch + 1);

    // The old epoch is refused before the transaction writes anything.
    let mut late = a.fleet_tx().await.unwrap();
    let err = late.fence(&fence).await.expect_err("fenced");
    assert!(matches!(err, StoreError::Fenced { epoch, .. } if epoch == fence.epoch), "{err}");
    assert_eq!(err.kind(), crate::store::StoreErrorKind::Fenced);
    drop(late);
    let next = Fence { holder: "b".into(), epoch: new_epoch };
    let mut current = b.fleet_tx().await.unwrap();
    current.fence(&next).await.unwrap();
    current.commit().await.unwrap();
}

#[tokio::test]
async fn queued_commands_of_a_dead_owner_are_adopted_by_the_leader_once() {
    let Some(url) = database().await else { return };
    let a = replica(&url, "a").await;
    let b = replica(&url, "b").await;
    let (ca, cb) = (a.cluster().unwrap(), b.cluster().unwrap());
    ca.heartbeat(&beat("a")).await.unwrap();
    let queued = CommandRecord::new(
        Uuid::new_v4(),
        Uuid::new_v4(),
        Action::RestartApp,
        Origin::Api,
        1,
        i64::MAX / 2,
    );
    let mut tx = a.fleet_tx().await.unwrap();
    tx.insert_command(&queued).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ca.owned_queued("a", 2).await.unwrap(), [queued.command_id], "owned by its creator");

    cb.heartbeat(&beat("b")).await.unwrap();
    let epoch = cb.try_acquire("b", TTL).await.unwrap().unwrap();
    let fence = Fence { holder: "b".into(), epoch };
    assert_eq!(
        cb.adopt_orphans(&fence, TTL, 2, 100).await.unwrap(),
        Vec::<Uuid>::new(),
        "a is alive"
    );
    ca.leave("a").await.unwrap();
    assert_eq!(cb.adopt_orphans(&fence, TTL, 2, 100).await.unwrap(), [queued.command_id]);
    assert_eq!(cb.owned_queued("b", 2).await.unwrap(), [queued.command_id]);
    assert_eq!(cb.adopt_orphans(&fence, TTL, 2, 100).await.unwrap(), Vec::<Uuid>::new(), "once");
    let stale = Fence { holder: "b".into(), epoch: epoch - 1 };
    let err = cb.adopt_orphans(&stale, TTL, 2, 100).await.expect_err("fenced");
    assert!(matches!(err, StoreError::Fenced { .. }), "{err}");
}

#[tokio::test]
async fn a_leader_paused_inside_a_fenced_transaction_does_not_block_the_takeover_for_long() {
    let Some(url) = database().await else { return };
    let a = replica(&url, "a").await;
    let b = replica(&url, "b").await;
    let short = Duration::from_millis(300);
    let epoch = a.cluster().unwrap().try_acquire("a", short).await.unwrap().unwrap();
    // a checks its fence, then is paused with the transaction open (never commits).
    let mut paused = a.fleet_tx().await.unwrap();
    paused.fence(&Fence { holder: "a".into(), epoch }).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while b.cluster().unwrap().lease_holder().await.unwrap().is_some() {
        assert!(std::time::Instant::now() < deadline, "the lease never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The takeover's UPDATE waits for the paused share lock until PostgreSQL ends the idle
    // transaction (IDLE_IN_TRANSACTION_TIMEOUT), not for as long as a stays paused.
    let takeover = b.cluster().unwrap().try_acquire("b", TTL);
    let taken = tokio::time::timeout(Duration::from_secs(15), takeover).await;
    assert_eq!(taken.expect("the takeover waited on the paused leader").unwrap(), Some(epoch + 1));
    drop(paused);
}
