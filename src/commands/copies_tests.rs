//! Device messages ingested by several replicas, on PostgreSQL: every replica's MQTT session
//! receives every device message, so each one is ingested once per replica, concurrently. Two
//! fleets (two pools, as two servers on one database) ingest the same deliveries at once: the
//! stored result must be that of one ingestion (one event per transition, no ack counted as
//! ignored), while a message the device really sent twice still counts once as ignored.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use uuid::Uuid;

use crate::audit::AuditSlot;
use crate::clock::now_ms;
use crate::commands::device::{AckStatus, Delivery, DeviceAck, DeviceMessage, GatewayEvent};
use crate::commands::test_link::RecordingLink;
use crate::commands::{DeviceSettings, Fleet, IssueRequest, Settings};
use crate::config::Config;
use crate::contract::Action;
use crate::model::clients::ClientRecord;
use crate::model::commands::{AckTopic, CommandState};

async fn fleets(url: &str) -> Vec<Arc<Fleet>> {
    let mut fleets = Vec::new();
    for _ in 0..2 {
        let store = crate::store::open(url).await.unwrap();
        let settings = Settings::new(DeviceSettings::from_config(&Config::default()));
        fleets.push(Arc::new(Fleet::new(store, settings, Arc::new(RecordingLink::default()))));
    }
    fleets
}

/// The delivery of one ack message, as each replica's gateway hands it over.
pub(super) fn ack(client: Uuid, command_id: Uuid, status: AckStatus) -> Delivery {
    let topic = format!("rebound/{client}/commands/ack");
    let ack =
        DeviceAck { command_id, status, error_code: None, error_message: None, boot_id: None };
    let digest = Some(crate::hex::sha256(format!("{topic}\0{command_id}{}", status.as_str())));
    let message = DeviceMessage::Ack { topic: AckTopic::Canonical, ack };
    Delivery { event: GatewayEvent::Device { client, topic, message, digest }, receipt: None }
}

/// Both fleets ingest their copy of `message` at the same moment.
async fn both_ingest(fleets: &[Arc<Fleet>], message: impl Fn() -> Delivery) {
    let barrier = Arc::new(tokio::sync::Barrier::new(fleets.len()));
    let mut ingests = tokio::task::JoinSet::new();
    for fleet in fleets {
        let (fleet, barrier, mut batch) = (fleet.clone(), barrier.clone(), vec![message()]);
        ingests.spawn(async move {
            barrier.wait().await;
            fleet.ingest(&mut batch).await
        });
    }
    while let Some(done) = ingests.join_next().await {
        done.unwrap().expect("no replica fails on a copy");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_ack_every_replica_receives_is_applied_once() {
    let Some(url) = crate::store::test_postgres::database().await else { return };
    let fleets = fleets(&url).await;
    let client = Uuid::new_v4();
    let mut tx = fleets[0].store().fleet_tx().await.unwrap();
    tx.put_client(&ClientRecord::new(client, now_ms())).await.unwrap();
    tx.commit().await.unwrap();
    let request = IssueRequest {
        command_id: None,
        client_uuid: client,
        action: Action::RestartApp,
        reason: None,
        requested_by: None,
        expires_in: None,
        principal: "test".into(),
        trace_parent: None,
        audit: AuditSlot::default(),
    };
    let (command, _) = fleets[0].issue(request).await.unwrap();
    let id = command.command_id;

    for status in [AckStatus::Accepted, AckStatus::ExecutionStarted, AckStatus::Completed] {
        both_ingest(&fleets, || ack(client, id, status)).await;
    }
    let store = fleets[1].store();
    let stored = store.command(id).await.unwrap().unwrap();
    assert_eq!((stored.state, stored.ignored_acks), (CommandState::Completed, 0));
    let events = store.command_events(id).await.unwrap();
    let moves: Vec<_> = events.iter().map(|e| (e.from_state, e.to_state)).collect();
    assert_eq!(
        moves,
        [
            (None, CommandState::Queued),
            (Some(CommandState::Queued), CommandState::Accepted),
            (Some(CommandState::Accepted), CommandState::ExecutionStarted),
            (Some(CommandState::ExecutionStarted), CommandState::Completed),
        ],
        "one event per transition"
    );
    let copies: u64 = fleets.iter().map(|f| f.stats().replica_copies.load(Relaxed)).sum();
    assert_eq!(copies, 3, "each replica's loser counted its copy");

    // The device really sends its completed ack again: every replica gets that second send,
    // and it counts once.
    both_ingest(&fleets, || ack(client, id, AckStatus::Completed)).await;
    let stored = store.command(id).await.unwrap().unwrap();
    assert_eq!(stored.ignored_acks, 1, "a repeat by the device is counted once");
    assert_eq!(store.command_events(id).await.unwrap().len(), 4);
    for fleet in fleets {
        fleet.store().close().await;
    }
}
