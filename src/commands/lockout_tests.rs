//! The safety lockout under concurrency, on PostgreSQL: many issues to one device at once,
//! from two stores (two pools, as two servers sharing the database), each issue in its own
//! device-area transaction on its own connection. The lockout (3 disruptive commands per
//! device per 15 minutes) must admit exactly 3 and refuse the rest, which only holds if the
//! backend's `FleetTx` makes read-decide-write atomic across connections.

use std::sync::Arc;

use uuid::Uuid;

use crate::audit::AuditSlot;
use crate::clock::now_ms;
use crate::commands::IssueRequest;
use crate::commands::test_link::RecordingLink;
use crate::commands::{DeviceSettings, Fleet, Settings};
use crate::config::Config;
use crate::contract::Action;
use crate::error::Error;
use crate::model::clients::ClientRecord;
use crate::model::commands::{CommandFilter, CommandState};

/// Concurrent issues per store.
const ISSUES_PER_STORE: usize = 12;

fn request(client: Uuid) -> IssueRequest {
    IssueRequest {
        command_id: None,
        client_uuid: client,
        action: Action::RebootHost,
        reason: Some("lockout under concurrency".into()),
        requested_by: None,
        expires_in: None,
        principal: "test".into(),
        trace_parent: None,
        audit: AuditSlot::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_lockout_admits_three_when_many_connections_issue_to_one_device_at_once() {
    let Some(url) = crate::store::test_postgres::database().await else { return };
    let client = Uuid::new_v4();
    let mut fleets = Vec::new();
    for _ in 0..2 {
        let store = crate::store::open(&url).await.unwrap();
        let settings = Settings::new(DeviceSettings::from_config(&Config::default()));
        let link = Arc::new(RecordingLink::default());
        fleets.push(Arc::new(Fleet::new(store, settings, link)));
    }
    let mut tx = fleets[0].store().fleet_tx().await.unwrap();
    tx.put_client(&ClientRecord::new(client, now_ms())).await.unwrap();
    tx.commit().await.unwrap();

    // Every issue waits at the barrier, so they all start together.
    let barrier = Arc::new(tokio::sync::Barrier::new(2 * ISSUES_PER_STORE));
    let mut issues = tokio::task::JoinSet::new();
    for fleet in &fleets {
        for _ in 0..ISSUES_PER_STORE {
            let (fleet, barrier) = (fleet.clone(), barrier.clone());
            issues.spawn(async move {
                barrier.wait().await;
                fleet.issue(request(client)).await
            });
        }
    }
    let (mut admitted, mut refused) = (0, 0);
    while let Some(outcome) = issues.join_next().await {
        match outcome.unwrap() {
            Ok((command, true)) => {
                assert_eq!(command.state, CommandState::Queued);
                admitted += 1;
            }
            Err(Error::ResourceExhausted(message)) if message.contains("safety lockout") => {
                refused += 1;
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((admitted, refused), (3, 2 * ISSUES_PER_STORE - 3));

    // The store agrees: 3 commands count, the rest are stored as rejected.
    let store = fleets[1].store();
    let entries = store.lockout_entries_of(&[client], 0).await.unwrap();
    assert_eq!(entries.get(&client).map(Vec::len), Some(3), "{entries:?}");
    let filter = CommandFilter {
        client_uuid: Some(client),
        states: vec![CommandState::Rejected],
        ..CommandFilter::default()
    };
    let rejected = store.list_commands(&filter, None, 100).await.unwrap();
    assert_eq!(rejected.len(), 2 * ISSUES_PER_STORE - 3);
    for fleet in fleets {
        fleet.store().close().await;
    }
}
