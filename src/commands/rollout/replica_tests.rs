//! Two replicas issuing one rollout's members at once, on PostgreSQL: the replica that
//! served StartRollout issues the rest of the first step piece by piece while the leader's
//! scheduler steps the same rollout from what it read before its transaction. Each member
//! must get one command: a second one would be counted by the rollout's progress as well,
//! and its `completed` counter would end above its `total`. And every replica ingesting
//! every ack of those commands at once: each transition is counted once.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use uuid::Uuid;

use super::RolloutRequest;
use super::fence_tests::{fleet, two_replicas};
use super::step::Change;
use super::tests::to_all;
use crate::clock::now_ms;
use crate::commands::Fleet;
use crate::commands::copies_tests::ack;
use crate::commands::device::AckStatus;
use crate::commands::test_link::RecordingLink;
use crate::model::commands::EventSource;
use crate::model::rollouts::RolloutState;
use crate::store::Store;

/// To every device, no canary, all of them in the first step.
fn at_once() -> RolloutRequest {
    RolloutRequest { max_per_minute: 100_000, ..to_all(0) }
}

/// The devices the links were asked to send a command to, and how many commands.
fn sent(links: &[&Arc<RecordingLink>]) -> (HashSet<Uuid>, usize) {
    let commands: Vec<_> = links.iter().flat_map(|l| l.published.lock().unwrap().clone()).collect();
    (commands.iter().map(|c| c.client_uuid).collect(), commands.len())
}

/// Every sent command completes; then the rollout's counters must agree with its members.
async fn complete_all(fleet: &Fleet, links: &[&Arc<RecordingLink>], id: Uuid, devices: u32) {
    let commands: Vec<_> = links.iter().flat_map(|l| l.published.lock().unwrap().clone()).collect();
    for status in [AckStatus::Accepted, AckStatus::ExecutionStarted, AckStatus::Completed] {
        let mut batch: Vec<_> =
            commands.iter().map(|c| ack(c.client_uuid, c.command_id, status)).collect();
        fleet.ingest(&mut batch).await.unwrap();
    }
    let (_, counters) = fleet.rollout(id).await.unwrap();
    assert_eq!((counters.total, counters.completed), (devices, devices), "{counters:?}");
    let problems = fleet.store().integrity_problems().await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

/// A replica and its link.
type Replica = (Arc<Fleet>, Arc<RecordingLink>);

/// On a fresh database with `devices` devices: replica `a`, leading, and replica `b`, which
/// serves the API; with `a`'s store. `None` without PostgreSQL.
async fn leader_and_api(devices: u32) -> Option<(Arc<dyn Store>, Replica, Replica)> {
    let (a, b, fence) = two_replicas(devices as usize).await?;
    let (leader, api) = (fleet(&a, "a", fence.epoch), fleet(&b, "b", 0));
    Some((a, leader, api))
}

#[tokio::test]
async fn a_member_another_replica_issued_meanwhile_is_not_issued_again() {
    let Some((a, (leader, leader_link), (api, api_link))) = leader_and_api(300).await else {
        return;
    };
    api_link.connected.store(false, Ordering::SeqCst);
    let (started, _) = api.start_rollout(at_once()).await.unwrap();
    assert_eq!(started.state, RolloutState::Pending, "no broker: nothing issued yet");
    let id = started.rollout_id;

    // The leader reads what its step would issue; before its transaction, the other
    // replica issues those same members.
    let unissued = a.unissued_members(id, 1000).await.unwrap();
    assert_eq!(unissued.len(), 300);
    let rollout = a.rollout(id).await.unwrap().unwrap();
    let (issue, now) = (Change::Issue, now_ms());
    api.issue_piece(&rollout, issue, &unissued[..200], now, EventSource::Api).await.unwrap();
    leader.issue_piece(&rollout, issue, &unissued, now, EventSource::Scheduler).await.unwrap();

    let links = [&leader_link, &api_link];
    complete_all(&leader, &links, id, 300).await;
    let (devices, commands) = sent(&links);
    assert_eq!((devices.len(), commands), (300, 300), "one command per member");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_first_step_racing_the_leaders_step_issues_each_member_once() {
    const DEVICES: u32 = 1000;
    let Some((_, (leader, leader_link), (api, api_link))) = leader_and_api(DEVICES).await else {
        return;
    };

    // The leader steps every active rollout as fast as it can while the other replica
    // serves StartRollout (whose first step goes out in pieces of 64, 128, 256, 512, 40).
    let done = Arc::new(AtomicBool::new(false));
    let stepping = tokio::spawn({
        let (leader, done) = (leader.clone(), done.clone());
        async move {
            while !done.load(Ordering::SeqCst) {
                leader.advance_rollouts().await.unwrap();
                tokio::task::yield_now().await;
            }
        }
    });
    let (started, _) = api.start_rollout(at_once()).await.unwrap();
    done.store(true, Ordering::SeqCst);
    stepping.await.unwrap();
    leader.advance_rollouts().await.unwrap();

    let links = [&leader_link, &api_link];
    complete_all(&leader, &links, started.rollout_id, DEVICES).await;
    let (devices, commands) = sent(&links);
    assert_eq!(devices.len(), DEVICES as usize, "every member was issued");
    assert_eq!(commands, DEVICES as usize, "one command per member");
}

/// Every replica ingests every ack of the rollout's commands (as when their views of the live
/// replicas differ and each takes itself for the devices' owner), at once and in batches cut
/// differently: each transition is applied once, so the counters end equal to a recount.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acks_every_replica_ingests_at_once_are_counted_once() {
    const DEVICES: u32 = 400;
    let Some((a, (leader, leader_link), (api, _))) = leader_and_api(DEVICES).await else {
        return;
    };
    let (started, _) = leader.start_rollout(at_once()).await.unwrap();
    let commands = leader_link.published.lock().unwrap().clone();
    assert_eq!(commands.len(), DEVICES as usize);

    for status in [AckStatus::Accepted, AckStatus::ExecutionStarted, AckStatus::Completed] {
        let mut ingests = tokio::task::JoinSet::new();
        for (replica, batch_size) in [(leader.clone(), 7), (api.clone(), 50)] {
            let commands = commands.clone();
            ingests.spawn(async move {
                for piece in commands.chunks(batch_size) {
                    let mut batch: Vec<_> =
                        piece.iter().map(|c| ack(c.client_uuid, c.command_id, status)).collect();
                    replica.ingest(&mut batch).await.unwrap();
                }
            });
        }
        while let Some(done) = ingests.join_next().await {
            done.unwrap();
        }
    }
    let (_, counters) = leader.rollout(started.rollout_id).await.unwrap();
    assert_eq!((counters.total, counters.completed), (DEVICES, DEVICES), "{counters:?}");
    let problems = a.integrity_problems().await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let ignored: u64 =
        [&leader, &api].iter().map(|f| f.stats().ignored_acks.load(Ordering::SeqCst)).sum();
    assert_eq!(ignored, 0, "no copy was taken for a repeat by the device");
}
