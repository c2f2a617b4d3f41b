//! The scheduler's rollout steps are leader duties: on PostgreSQL each one's write
//! transaction is fenced by the lease epoch. A replica that still takes itself for the leader
//! after the lease moved on (paused past its lease, cut off) issues no paced wave and aborts
//! no rollout over its failure threshold, and steps down; the replica holding the lease now
//! takes the same step.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use uuid::Uuid;

use super::RolloutRequest;
use super::tests::to_all;
use crate::clock::now_ms;
use crate::cluster::Leadership;
use crate::commands::copies_tests::ack;
use crate::commands::device::AckStatus;
use crate::commands::test_link::RecordingLink;
use crate::commands::{DeviceSettings, Fleet, Settings};
use crate::config::Config;
use crate::model::clients::ClientRecord;
use crate::model::rollouts::RolloutState;
use crate::store::cluster::Fence;
use crate::store::test_postgres::database;
use crate::store::{Store, StoreOptions, open_with};

const TTL: Duration = Duration::from_secs(30);

/// A replica's store on `url` (its connections name it `id`).
async fn store(url: &str, id: &str) -> Arc<dyn Store> {
    let options = StoreOptions { replica_id: Some(id.into()), ..StoreOptions::default() };
    open_with(url, &options).await.unwrap()
}

/// The fleet of replica `id` on `store`, leading at `epoch` by its own account, with a
/// connected broker link.
pub(super) fn fleet(
    store: &Arc<dyn Store>,
    id: &str,
    epoch: i64,
) -> (Arc<Fleet>, Arc<RecordingLink>) {
    let link = Arc::new(RecordingLink::default());
    link.connected.store(true, Ordering::SeqCst);
    let settings = Settings::new(DeviceSettings::from_config(&Config::default()));
    let fleet = Fleet::new(store.clone(), settings, link.clone())
        .with_leadership(Leadership::leading(id, epoch));
    (Arc::new(fleet), link)
}

/// Two replicas, `a` leading, on a fresh database with `devices` registered devices; `None`
/// without PostgreSQL.
pub(super) async fn two_replicas(
    devices: usize,
) -> Option<(Arc<dyn Store>, Arc<dyn Store>, Fence)> {
    Some(two_replicas_on(&database().await?, devices).await)
}

/// [`two_replicas`] on the database `url`.
pub(super) async fn two_replicas_on(
    url: &str,
    devices: usize,
) -> (Arc<dyn Store>, Arc<dyn Store>, Fence) {
    let (a, b) = (store(url, "a").await, store(url, "b").await);
    let mut tx = a.fleet_tx().await.unwrap();
    for _ in 0..devices {
        tx.put_client(&ClientRecord::new(Uuid::new_v4(), now_ms())).await.unwrap();
    }
    tx.commit().await.unwrap();
    let epoch = a.cluster().unwrap().try_acquire("a", TTL).await.unwrap().unwrap();
    (a, b, Fence { holder: "a".into(), epoch })
}

/// The lease moves from `a` (which does not notice) to `b`; `b`'s epoch.
async fn take_over(a: &Arc<dyn Store>, b: &Arc<dyn Store>, fence: &Fence) -> i64 {
    a.cluster().unwrap().release(fence).await.unwrap();
    b.cluster().unwrap().try_acquire("b", TTL).await.unwrap().expect("b takes the lease")
}

/// To every device, 60 a minute after a canary of `canary`, aborted once more than 10 % of
/// at least one finished command failed.
fn rollout(canary: u32) -> RolloutRequest {
    RolloutRequest { abort_failure_percent: Some(10.0), min_finished: Some(1), ..to_all(canary) }
}

#[tokio::test]
async fn an_old_leader_issues_no_paced_wave() {
    let Some((a, b, fence)) = two_replicas(10).await else { return };
    let (old, old_link) = fleet(&a, "a", fence.epoch);
    // 60 a minute without canary: one now, then one a second.
    let (started, _) = old.start_rollout(rollout(0)).await.unwrap();
    assert_eq!((started.state, started.issued_members), (RolloutState::Waves, 1));
    // Ten seconds later: ten more are due.
    let mut due = started.clone();
    due.canary_finished_ms = due.canary_finished_ms.map(|ms| ms - 10_000);
    let mut tx = a.fleet_tx().await.unwrap();
    tx.put_rollout(&due).await.unwrap();
    tx.commit().await.unwrap();

    let epoch = take_over(&a, &b, &fence).await;
    old.advance_rollouts().await.unwrap();
    let (after, counters) = old.rollout(started.rollout_id).await.unwrap();
    assert_eq!(after.issued_members, 1, "the old leader issued a wave");
    assert_eq!(counters.unissued, 9, "{counters:?}");
    assert_eq!(old_link.published(), 1);
    assert!(!old.leadership.is_leader(), "a fenced leader steps down");

    let (new, new_link) = fleet(&b, "b", epoch);
    new.advance_rollouts().await.unwrap();
    let (after, _) = new.rollout(started.rollout_id).await.unwrap();
    assert_eq!(after.issued_members, 10, "the leader issues the wave");
    assert_eq!(new_link.published(), 9);
}

#[tokio::test]
async fn an_old_leader_does_not_abort_a_rollout_over_its_failure_threshold() {
    let Some((a, b, fence)) = two_replicas(3).await else { return };
    let (old, old_link) = fleet(&a, "a", fence.epoch);
    let (started, _) = old.start_rollout(rollout(1)).await.unwrap();
    assert_eq!((started.state, started.issued_members), (RolloutState::Canary, 1));
    let canary = old_link.published.lock().unwrap()[0].clone();
    let (client, command) = (canary.client_uuid, canary.command_id);
    for status in [AckStatus::Accepted, AckStatus::ExecutionStarted, AckStatus::Failed] {
        old.ingest(&mut vec![ack(client, command, status)]).await.unwrap();
    }

    let epoch = take_over(&a, &b, &fence).await;
    old.advance_rollouts().await.unwrap();
    let (after, _) = old.rollout(started.rollout_id).await.unwrap();
    assert_eq!(after.state, RolloutState::Canary, "the old leader aborted it");
    assert!(!old.leadership.is_leader(), "a fenced leader steps down");

    let (new, _) = fleet(&b, "b", epoch);
    new.advance_rollouts().await.unwrap();
    let (after, _) = new.rollout(started.rollout_id).await.unwrap();
    assert_eq!(after.state, RolloutState::Aborted, "the leader aborts it");
}
