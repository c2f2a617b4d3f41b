//! kill -9 of the server at seeded random points while commands are issued and device acks
//! arrive, 20 times over one database (SQLite, and PostgreSQL), a real Mosquitto with
//! authentication and fake devices.
//!
//! After every crash (read straight from the database while no server runs): every command
//! the API acknowledged is stored, with exactly one audit row of its call. After every restart: the recovery report says the run
//! crashed and puts every command that was open at the crash in exactly one category. At the
//! end: every acknowledged command completed, each transition stored once (acks redelivered
//! by the broker or answered twice by a device after a republish changed nothing).
//!
//! The seed is printed (shown when the test fails); `REBOUND_CRASH_SEED=N` replays a run.

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rebound::model::commands::CommandState;
use rebound::proto::v1 as pb;
use rebound::store::Store;
use rebound::store::audit::AuditQuery;
use support::device::{Device, Rpc, rpc};
use support::mosquitto::Broker;
use support::rng::{Rng, seed};
use support::{Server, latest_report, wait_for};
use uuid::Uuid;

const ITERATIONS: usize = 20;
const DEVICES: usize = 4;
/// Concurrent API clients issuing commands.
const ISSUERS: usize = 3;
/// Timers far longer than the test: nothing expires, every acknowledged command completes.
const CONFIG: &str = "[commands]\ndefault_expiry = \"1h\"\nack_timeout = \"1h\"\n\
    [safety]\nlockout_max = 1000\n[scheduler]\ntick = \"100ms\"\n";
/// Categories that together hold every command open at start.
const COMMAND_CATEGORIES: &[&str] =
    &["commands_expired", "commands_timed_out", "commands_rearmed", "commands_to_publish"];

type Acknowledged = Arc<Mutex<Vec<String>>>;

/// Issue restart_app to random devices, paced by the seeded generator, recording every id
/// the API acknowledged.
fn issue_until_aborted(
    mut rpc: Rpc,
    devices: Vec<Uuid>,
    seed: u64,
    acknowledged: Acknowledged,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut rng = Rng(seed);
        loop {
            let uuid = devices[rng.below(devices.len() as u64) as usize];
            // The client chooses the id, as a careful client does, so that the audit row of
            // the call can be found by it.
            let request = pb::IssueCommandRequest {
                command_id: Uuid::new_v4().to_string(),
                client_uuid: uuid.to_string(),
                action: pb::Action::RestartApp as i32,
                ..Default::default()
            };
            if let Ok(response) = rpc.issue_command(request).await {
                acknowledged
                    .lock()
                    .unwrap()
                    .push(response.into_inner().command.unwrap().command_id);
            }
            // Load pacing (not synchronization), varied by the seed.
            tokio::time::sleep(Duration::from_millis(rng.below(10))).await;
        }
    })
}

/// A device that answers every command: accepted, execution_started, completed.
fn respond(mut device: Device) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(command) = device.recv_command().await {
            let id = command.command_id.to_string();
            for status in ["accepted", "execution_started", "completed"] {
                device.ack(&id, status, None).await;
            }
        }
    })
}

/// The report of a start after a crash accounts for every command open at the crash.
fn check_report(report: &pb::RecoveryReport, open: &BTreeSet<String>, context: &str) {
    assert_eq!(report.previous_run(), pb::PreviousRun::Crashed, "{context}");
    let category = |name: &str| {
        report
            .categories
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{context}: no category {name} in {report:?}"))
    };
    assert_eq!(category("commands_open").count, open.len() as u64, "{context}: {report:?}");
    let mut accounted = BTreeSet::new();
    for name in COMMAND_CATEGORIES {
        let found = category(name);
        assert!(!found.ids_truncated, "{context}: {name} truncated");
        assert_eq!(found.count, found.ids.len() as u64, "{context}: {name}");
        for id in &found.ids {
            assert!(accounted.insert(id.clone()), "{context}: {id} is in two categories");
        }
    }
    assert_eq!(&accounted, open, "{context}: categories vs commands open at the crash");
    assert_eq!(category("restart_interrupted").count, 0, "{context}");
}

/// Every acknowledged command has exactly one audit row of its IssueCommand call: the row
/// commits with the command, so a kill -9 right after the answer cannot lose it.
async fn check_audited_once(store: &dyn Store, acknowledged: &[String], context: &str) {
    let query = AuditQuery {
        rpc: Some("/rebound.v1.ClientCommandService/IssueCommand".into()),
        limit: u32::MAX,
        ..AuditQuery::default()
    };
    let rows = store.list_audit_events(&query).await.unwrap();
    for id in acknowledged {
        let found: Vec<_> = rows.iter().filter(|row| row.arguments.contains(id.as_str())).collect();
        assert_eq!(found.len(), 1, "{context}: audit rows of acknowledged command {id}: {found:?}");
        assert_eq!((found[0].outcome.as_str(), found[0].code.as_str()), ("succeeded", "OK"));
    }
}

/// The store the servers of the test use: `url` (PostgreSQL), or the default SQLite file in
/// `dir`.
async fn open_store(dir: &std::path::Path, url: Option<&str>) -> Arc<dyn Store> {
    let url = url.map_or_else(
        || format!("sqlite://{}", dir.join("rebound-data/rebound.db").display()),
        str::to_owned,
    );
    rebound::store::open(&url).await.unwrap()
}

/// Every acknowledged command is completed, its transitions strictly forward, each once.
async fn check_completed_once(store: &dyn Store, acknowledged: &[String], context: &str) {
    for id in acknowledged {
        let uuid: Uuid = id.parse().unwrap();
        let command = store.command(uuid).await.unwrap().unwrap();
        assert_eq!(command.state, CommandState::Completed, "{context}: {id}");
        let events = store.command_events(uuid).await.unwrap();
        assert_eq!(events[0].to_state, CommandState::Queued, "{context}: {id}");
        let ranks: Vec<u8> = events.iter().map(|e| e.to_state.rank()).collect();
        assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{context}: {id} events {events:?}");
        assert_eq!(events.last().unwrap().to_state, CommandState::Completed, "{context}: {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_points_loses_and_duplicates_nothing() {
    kill_9_at_random_points(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_points_loses_and_duplicates_nothing_on_postgres() {
    let Some((key, url)) = support::postgres_store().await else { return };
    kill_9_at_random_points(Some((key, &url))).await;
}

/// The scenario on the store `store` names (from [`support::postgres_store`]), or on the
/// default SQLite file.
async fn kill_9_at_random_points(store: Option<(&str, &str)>) {
    let env: Vec<(&str, &str)> = store.into_iter().collect();
    let url = store.map(|(_, url)| url);
    let seed = seed("REBOUND_CRASH_SEED");
    eprintln!("crash recovery seed {seed} (REBOUND_CRASH_SEED={seed} replays this run)");
    let mut rng = Rng(seed);
    let uuids: Vec<Uuid> = (0..DEVICES).map(|_| Uuid::new_v4()).collect();
    let broker = Broker::start(&uuids);
    let config = format!("{}{CONFIG}", broker.server_config(""));
    let dir = tempfile::tempdir().unwrap();
    let mut responders = Vec::new();
    for uuid in &uuids {
        responders.push(respond(Device::connect(&broker, *uuid).await));
    }
    let acknowledged: Acknowledged = Arc::default();
    let mut open_at_crash: Option<BTreeSet<String>> = None;

    for iteration in 0..=ITERATIONS {
        let context = format!("seed {seed}, iteration {iteration}");
        let mut server = Server::spawn_in(dir.path(), &config, &env).await;
        server.wait_serving().await;
        let report = latest_report(&server.addr).await;
        match &open_at_crash {
            None => assert_eq!(report.previous_run(), pb::PreviousRun::FirstStart),
            Some(open) => check_report(&report, open, &context),
        }
        if iteration == ITERATIONS {
            let store = open_store(dir.path(), url).await;
            wait_for("every acknowledged command terminal", || async {
                let open = store.open_command_summary(0, 0).await.unwrap();
                open.iter().all(|s| s.count == 0).then_some(())
            })
            .await;
            let acknowledged = acknowledged.lock().unwrap().clone();
            check_completed_once(store.as_ref(), &acknowledged, &context).await;
            assert!(acknowledged.len() >= ITERATIONS, "{context}: too few commands issued");
            store.close().await;
            server.signal(libc::SIGTERM);
            assert_eq!(server.wait_exit().await.code(), Some(0));
            break;
        }

        let before = acknowledged.lock().unwrap().len();
        let mut issuers = Vec::new();
        for _ in 0..ISSUERS {
            let (channel, seed) = (rpc(&server).await, rng.next());
            issuers.push(issue_until_aborted(channel, uuids.clone(), seed, acknowledged.clone()));
        }
        wait_for("a command acknowledged in this run", || async {
            (acknowledged.lock().unwrap().len() > before).then_some(())
        })
        .await;
        // The seeded crash point: somewhere in the next 0.6 s of issuing and acking.
        tokio::time::sleep(Duration::from_millis(rng.below(600))).await;
        server.signal(libc::SIGKILL);
        server.wait_exit().await;
        issuers.iter().for_each(|issuer| issuer.abort());
        if let Some(url) = url {
            // What the killed server had already sent (a COMMIT) still lands: read after it.
            support::postgres::wait_until_only_session(url).await;
        }

        let store = open_store(dir.path(), url).await;
        let issued = acknowledged.lock().unwrap()[before..].to_vec();
        for id in &issued {
            let found = store.command(id.parse().unwrap()).await.unwrap();
            assert!(found.is_some(), "{context}: acknowledged command {id} lost");
        }
        check_audited_once(store.as_ref(), &issued, &context).await;
        let mut open = BTreeSet::new();
        for state in store.open_command_summary(1000, 0).await.unwrap() {
            assert_eq!(state.count, state.ids.len() as u64, "{context}");
            open.extend(state.ids.iter().map(Uuid::to_string));
        }
        assert!(
            open.len() < 100,
            "{context}: {} open commands (report ids are capped)",
            open.len()
        );
        store.close().await;
        eprintln!("{context}: {} acknowledged, {} open at the crash", issued.len(), open.len());
        open_at_crash = Some(open);
    }
    for responder in responders {
        responder.abort();
    }
}
