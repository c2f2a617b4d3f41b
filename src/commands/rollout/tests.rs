//! Rollouts driven through the domain against a real SQLite store, with a device link that
//! records what it was asked to publish (the MQTT side has its own tests): a first step cut
//! into pieces, the next step of a paced rollout planned at its start, steps interrupted
//! between their pieces, a step finding members issued since it read them, and an abort
//! withdrawing what was not sent yet.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tempfile::TempDir;
use uuid::Uuid;

use super::step::Change;
use super::{Canary, RolloutRequest};
use crate::audit::AuditSlot;
use crate::clock::now_ms;
use crate::commands::test_link::RecordingLink;
use crate::commands::{DeviceSettings, Fleet, Settings};
use crate::config::Config;
use crate::contract::Action;
use crate::model::clients::ClientRecord;
use crate::model::commands::EventSource;
use crate::model::rollouts::{RolloutState, RolloutTarget};

/// A fleet of `devices` registered devices on a database file of its own.
async fn fleet(devices: usize) -> (Arc<Fleet>, Arc<RecordingLink>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rebound.db").display());
    let store = crate::store::open(&url).await.unwrap();
    let mut tx = store.fleet_tx().await.unwrap();
    for _ in 0..devices {
        tx.put_client(&ClientRecord::new(Uuid::new_v4(), now_ms())).await.unwrap();
    }
    tx.commit().await.unwrap();
    let link = Arc::new(RecordingLink::default());
    let settings = Settings::new(DeviceSettings::from_config(&Config::default()));
    (Arc::new(Fleet::new(store, settings, link.clone())), link, dir)
}

pub(super) fn to_all(canary: u32) -> RolloutRequest {
    RolloutRequest {
        rollout_id: None,
        action: Action::RestartApp,
        target: RolloutTarget::All,
        canary: Canary::Count(canary),
        max_per_minute: 60,
        abort_failure_percent: None,
        min_finished: None,
        reason: None,
        requested_by: None,
        expires_in: None,
        principal: "test".into(),
        audit: AuditSlot::default(),
    }
}

#[tokio::test]
async fn a_canary_step_stopped_between_its_pieces_is_finished_by_the_next_step() {
    // A canary of 500 goes out in pieces of 64, 128, 256 and 52, one transaction each.
    let (fleet, link, _dir) = fleet(600).await;
    let (started, created) = fleet.start_rollout(to_all(500)).await.unwrap();
    assert!(created);
    assert_eq!(started.state, RolloutState::Pending, "no broker: nothing issued yet");
    let id = started.rollout_id;

    // The broker is back and a step issues the canary's first piece, then stops (a crash,
    // a store error) before the next one.
    link.connected.store(true, Ordering::SeqCst);
    let now = now_ms();
    let rollout = fleet.store.rollout(id).await.unwrap().unwrap();
    assert_eq!(fleet.first_step(&mut rollout.clone(), now), Some(500));
    let first = fleet.store.unissued_members(id, 64).await.unwrap();
    let piece = fleet.issue_piece(&rollout, Change::Begin, &first, now, EventSource::Scheduler);
    let rollout = piece.await.unwrap().rollout();
    assert_eq!((rollout.state, rollout.issued_members), (RolloutState::Canary, 64));
    assert_eq!(link.published(), 64);

    // The scheduler's next step issues the rest of the canary, and nothing beyond it.
    fleet.advance_rollouts().await.unwrap();
    let canary = fleet.store.rollout_counters(id, Some(0)).await.unwrap();
    assert_eq!((canary.total, canary.unissued), (500, 0), "{canary:?}");
    let (rollout, all) = fleet.rollout(id).await.unwrap();
    assert_eq!((rollout.state, rollout.issued_members), (RolloutState::Canary, 500));
    assert_eq!(all.unissued, 100, "the waves wait for the canary's verdict: {all:?}");
    assert_eq!(link.published(), 500);

    // Steps while the canary runs issue nothing more.
    fleet.advance_rollouts().await.unwrap();
    assert_eq!(link.published(), 500);
}

#[tokio::test]
async fn a_canary_larger_than_a_piece_is_issued_in_full_by_start_rollout() {
    let (fleet, link, _dir) = fleet(400).await;
    link.connected.store(true, Ordering::SeqCst);
    let (started, _) = fleet.start_rollout(to_all(300)).await.unwrap();
    assert_eq!((started.state, started.issued_members), (RolloutState::Canary, 300));
    let canary = fleet.store.rollout_counters(started.rollout_id, Some(0)).await.unwrap();
    assert_eq!((canary.total, canary.unissued, canary.queued), (300, 0, 300), "{canary:?}");
    assert_eq!(link.published(), 300, "published as each piece committed");
}

/// A step issues only the members still unissued in its own transaction: members read before
/// it and issued meanwhile (by another step) get no second command, counted twice.
#[tokio::test]
async fn members_issued_since_they_were_read_are_not_issued_again() {
    let (fleet, link, _dir) = fleet(300).await;
    let (started, _) = fleet.start_rollout(to_all(300)).await.unwrap();
    let id = started.rollout_id;
    link.connected.store(true, Ordering::SeqCst);
    let members = fleet.store.unissued_members(id, 300).await.unwrap();
    let (now, by) = (now_ms(), EventSource::Scheduler);
    fleet.issue_piece(&started, Change::Issue, &members[..200], now, by).await.unwrap();
    let piece = fleet.issue_piece(&started, Change::Issue, &members, now, by).await.unwrap();
    assert_eq!(piece.rollout().issued_members, 300, "the 100 still unissued, counted once");
    let (_, all) = fleet.rollout(id).await.unwrap();
    assert_eq!((all.total, all.unissued, all.queued), (300, 0, 300), "{all:?}");
    assert_eq!(link.published(), 300, "one command per member");
    assert!(fleet.store.integrity_problems().await.unwrap().is_empty());
}

/// An abort cancels the commands not accepted yet and withdraws them from the link, so that
/// copies still waiting for the broker are never sent.
#[tokio::test]
async fn an_abort_withdraws_the_commands_it_cancels() {
    let (fleet, link, _dir) = fleet(5).await;
    link.connected.store(true, Ordering::SeqCst);
    let (started, _) = fleet.start_rollout(to_all(3)).await.unwrap();
    assert_eq!(link.published(), 3);
    let aborted = fleet
        .abort_rollout(started.rollout_id, "test", "stop", &AuditSlot::default())
        .await
        .unwrap();
    assert_eq!(aborted.state, RolloutState::Aborted);
    let mut published: Vec<Uuid> =
        link.published.lock().unwrap().iter().map(|c| c.command_id).collect();
    let mut withdrawn = link.withdrawn.lock().unwrap().clone();
    published.sort();
    withdrawn.sort();
    assert_eq!(withdrawn, published, "every canceled command withdrawn, once");
}

#[tokio::test]
async fn a_paced_rollout_without_canary_issues_its_burst_and_plans_the_next_step() {
    let (fleet, link, _dir) = fleet(10).await;
    link.connected.store(true, Ordering::SeqCst);
    // 60 a minute: a burst of one second's worth (1), then one a second.
    let (started, _) = fleet.start_rollout(to_all(0)).await.unwrap();
    assert_eq!((started.state, started.issued_members), (RolloutState::Waves, 1));
    assert_eq!(link.published(), 1);
    let due = fleet.until_next_step(now_ms()).expect("the next step is planned");
    assert!(due <= std::time::Duration::from_secs(1), "{due:?}");
}
