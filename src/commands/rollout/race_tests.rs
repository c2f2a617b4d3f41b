//! A rollout changed by someone else between a step's read and its transaction, on every
//! backend of the store suite (SQLite, and PostgreSQL when `REBOUND_TEST_POSTGRES` is set):
//! an operator's abort committed meanwhile (through this replica or another) stays, and the
//! step issues nothing more; a rollout that completed meanwhile is not aborted after the fact;
//! and (PostgreSQL) an abort cancels what another replica issued while it waited, and of two
//! rollouts started at once on two replicas only one starts.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tempfile::TempDir;
use uuid::Uuid;

use super::fence_tests::{fleet, two_replicas_on};
use super::step::{Change, Piece};
use super::tests::to_all;
use crate::audit::AuditSlot;
use crate::clock::now_ms;
use crate::commands::Fleet;
use crate::commands::copies_tests::ack;
use crate::commands::device::AckStatus;
use crate::commands::fleet::Pending;
use crate::commands::test_link::RecordingLink;
use crate::model::clients::ClientRecord;
use crate::model::commands::{CommandState, EventSource};
use crate::model::rollouts::{AbortCause, RolloutState};
use crate::store::test_postgres::{database, wait_for_lock_waiters};
use crate::store::tests::backends;
use crate::store::{StoreOptions, open_with};

/// On each backend: a fleet of `devices` registered devices that holds the lease, with a
/// broker link that is not connected yet; and the temp dir the store lives in.
async fn leaders(devices: usize) -> Vec<(Arc<Fleet>, Arc<RecordingLink>, Option<TempDir>)> {
    let mut fleets = Vec::new();
    for (url, dir) in backends().await {
        let options = StoreOptions { replica_id: Some("a".into()), ..StoreOptions::default() };
        let store = open_with(&url, &options).await.unwrap();
        let mut tx = store.fleet_tx().await.unwrap();
        for _ in 0..devices {
            tx.put_client(&ClientRecord::new(Uuid::new_v4(), now_ms())).await.unwrap();
        }
        tx.commit().await.unwrap();
        let epoch = match store.cluster() {
            Some(cluster) => cluster.try_acquire("a", Duration::from_secs(30)).await.unwrap(),
            None => Some(0),
        };
        let (fleet, link) = fleet(&store, "a", epoch.expect("the lease is free"));
        link.connected.store(false, Ordering::SeqCst);
        fleets.push((fleet, link, dir));
    }
    fleets
}

#[tokio::test]
async fn an_abort_committed_after_a_step_read_the_rollout_stays_aborted() {
    for (fleet, link, _dir) in leaders(10).await {
        let (started, _) = fleet.start_rollout(to_all(2)).await.unwrap();
        assert_eq!(started.state, RolloutState::Pending, "no broker: nothing issued yet");
        let id = started.rollout_id;
        link.connected.store(true, Ordering::SeqCst);

        // The scheduler's step reads the rollout and the canary it would begin with; before
        // its transaction, an operator aborts the rollout.
        let read = fleet.store.rollout(id).await.unwrap().unwrap();
        let canary = fleet.store.unissued_members(id, 2).await.unwrap();
        fleet.abort_rollout(id, "op", "stop", &AuditSlot::default()).await.unwrap();
        let by = EventSource::Scheduler;
        let piece = fleet.issue_piece(&read, Change::Begin, &canary, now_ms(), by).await.unwrap();
        assert!(matches!(piece, Piece::Stopped(_)), "{piece:?}");

        let (after, counters) = fleet.rollout(id).await.unwrap();
        assert_eq!(after.state, RolloutState::Aborted, "the step undid the abort");
        assert_eq!(after.abort_cause, Some(AbortCause::Operator));
        assert_eq!((after.issued_members, counters.unissued), (0, 10), "{counters:?}");
        fleet.advance_rollouts().await.unwrap();
        assert_eq!(link.published(), 0, "a member of an aborted rollout was issued");
    }
}

#[tokio::test]
async fn an_abort_committed_between_two_pieces_of_a_step_stops_it() {
    for (fleet, link, _dir) in leaders(300).await {
        let (started, _) = fleet.start_rollout(to_all(300)).await.unwrap();
        let id = started.rollout_id;
        link.connected.store(true, Ordering::SeqCst);

        // A canary of 300 goes out in pieces of 64 and 236; the abort lands after the first.
        let read = fleet.store.rollout(id).await.unwrap().unwrap();
        let canary = fleet.store.unissued_members(id, 300).await.unwrap();
        let by = EventSource::Scheduler;
        let first = fleet.issue_piece(&read, Change::Begin, &canary[..64], now_ms(), by);
        let first = first.await.unwrap().rollout();
        assert_eq!((first.state, first.issued_members), (RolloutState::Canary, 64));
        fleet.abort_rollout(id, "op", "stop", &AuditSlot::default()).await.unwrap();
        let rest = fleet.issue_piece(&first, Change::Issue, &canary[64..], now_ms(), by);
        assert!(matches!(rest.await.unwrap(), Piece::Stopped(_)));

        let (after, counters) = fleet.rollout(id).await.unwrap();
        assert_eq!(after.state, RolloutState::Aborted, "the step undid the abort");
        assert_eq!((after.issued_members, counters.unissued), (64, 236), "{counters:?}");
        assert_eq!(link.published(), 64, "a member of an aborted rollout was issued");
    }
}

#[tokio::test]
async fn a_rollout_is_neither_completed_after_an_abort_nor_aborted_after_completing() {
    for (fleet, link, _dir) in leaders(1).await {
        link.connected.store(true, Ordering::SeqCst);
        let (started, _) = fleet.start_rollout(to_all(0)).await.unwrap();
        assert_eq!((started.state, started.issued_members), (RolloutState::Waves, 1));
        let id = started.rollout_id;
        let sent = link.published.lock().unwrap()[0].clone();
        for status in [AckStatus::Accepted, AckStatus::ExecutionStarted, AckStatus::Completed] {
            fleet.ingest(&mut vec![ack(sent.client_uuid, sent.command_id, status)]).await.unwrap();
        }

        // An abort read the rollout running; the scheduler completes it before the abort's
        // transaction: the abort leaves it completed.
        let read = fleet.store.rollout(id).await.unwrap().unwrap();
        fleet.advance_rollouts().await.unwrap();
        let (why, audit) = ("aborted by op".to_owned(), AuditSlot::default());
        let (cause, source) = (AbortCause::Operator, EventSource::Api);
        let after = fleet.abort(id, cause, why, source, &audit).await.unwrap();
        assert_eq!(after.state, RolloutState::Completed);
        let (after, _) = fleet.rollout(id).await.unwrap();
        assert_eq!((after.state, after.abort_cause), (RolloutState::Completed, None));

        // The other way round: an abort committed before the completion's transaction.
        let mut running = read;
        running.rollout_id = Uuid::new_v4();
        let mut tx = fleet.store.fleet_tx().await.unwrap();
        tx.put_rollout(&running).await.unwrap();
        tx.commit().await.unwrap();
        let id = running.rollout_id;
        fleet.abort_rollout(id, "op", "stop", &AuditSlot::default()).await.unwrap();
        let completed = fleet.complete(id, now_ms()).await.unwrap();
        assert_eq!(completed.state, RolloutState::Aborted, "the completion undid the abort");
        let (after, _) = fleet.rollout(id).await.unwrap();
        assert_eq!(after.state, RolloutState::Aborted);
    }
}

/// PostgreSQL: while one replica's abort waits for the whole device area, the leader's step
/// (a device transaction, holding the area's lock shared) issues the canary. The abort
/// cancels those commands too: it reads what to cancel inside its own transaction, not
/// before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_cancels_what_a_step_issued_while_it_waited() {
    let Some(url) = database().await else { return };
    let (a, b, fence) = two_replicas_on(&url, 10).await;
    let (leader, leader_link) = fleet(&a, "a", fence.epoch);
    let (api, api_link) = fleet(&b, "b", 0);
    api_link.connected.store(false, Ordering::SeqCst);
    let (started, _) = api.start_rollout(to_all(2)).await.unwrap();
    let id = started.rollout_id;

    // The leader's step transaction holds the area's lock shared; the abort, which takes it
    // exclusively, queues behind it.
    let mut step = a.fleet_tx().await.unwrap();
    let aborting = tokio::spawn({
        let api = api.clone();
        async move { api.abort_rollout(id, "op", "stop", &AuditSlot::default()).await }
    });
    wait_for_lock_waiters(&url, 1).await;
    let mut rollout = started.clone();
    rollout.state = RolloutState::Canary;
    let canary = a.unissued_members(id, 2).await.unwrap();
    let mut pending = Pending::default();
    leader.issue_into(&mut *step, &mut pending, &mut rollout, &canary, now_ms()).await.unwrap();
    step.put_rollout(&rollout).await.unwrap();
    step.commit().await.unwrap();
    leader.finish(pending);

    let aborted = aborting.await.unwrap().unwrap();
    assert_eq!(aborted.state, RolloutState::Aborted);
    let issued = leader_link.published.lock().unwrap().clone();
    assert_eq!(issued.len(), 2);
    for command in issued {
        let stored = a.command(command.command_id).await.unwrap().unwrap();
        assert_eq!(stored.state, CommandState::Canceled, "the abort left a command to run");
    }
}

/// PostgreSQL: two replicas start a rollout each at once; both find none active before their
/// transactions. Only one starts: the other finds the first under its transaction's lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rollouts_started_at_once_on_two_replicas_start_one() {
    let Some(url) = database().await else { return };
    let (a, b, fence) = two_replicas_on(&url, 10).await;
    let (one, _) = fleet(&a, "a", fence.epoch);
    let (other, _) = fleet(&b, "b", 0);
    let held = a.fleet_tx().await.unwrap();
    let mut starts = tokio::task::JoinSet::new();
    for replica in [one, other] {
        starts.spawn(async move { replica.start_rollout(to_all(2)).await });
    }
    wait_for_lock_waiters(&url, 2).await;
    drop(held);
    let mut refused = 0;
    while let Some(started) = starts.join_next().await {
        match started.unwrap() {
            Ok((_, created)) => assert!(created),
            Err(crate::error::Error::FailedPrecondition(_)) => refused += 1,
            Err(err) => panic!("{err}"),
        }
    }
    assert_eq!(refused, 1, "both rollouts started");
    assert_eq!(a.active_rollouts().await.unwrap().len(), 1);
}
