//! The device side of several replicas (issue 24): two or three `rebound serve` processes on one
//! PostgreSQL database and one Mosquitto (with authentication), each with its own persistent
//! MQTT session, and simulated devices speaking the contract.
//!
//! - Watches opened on one replica see, within 1 s and in order, every transition of a
//!   command issued on the other, and a rollout started there (PostgreSQL LISTEN/NOTIFY).
//! - Every replica receives every device message and each device's owner stores it: with
//!   one of three replicas killed (`kill -9`) while a rollout's acks flow, the other two take
//!   its devices over (messages kept in their standby), and, once it is started again, every
//!   command still ends terminal with one event per transition and no ack counted twice.
//! - The change listener reconnects: after `pg_terminate_backend` on every replica's
//!   `LISTEN rebound_changes` connection, a watch on one replica ends with `UNAVAILABLE`
//!   (changes may have been missed), and a new watch there sees a command issued on the
//!   other replica completing within a few seconds.
//!
//! Skipped without PostgreSQL (`REBOUND_TEST_POSTGRES`), like every PostgreSQL test.

mod support;

use std::time::Duration;

use futures::StreamExt;
use rebound::clock::now_ms;
use rebound::proto::v1 as pb;
use rebound::proto::v1::health_service_client::HealthServiceClient;
use sqlx::Connection;
use support::cluster::replica;
use support::device::{
    Device, Rpc, event_states, get, restart_app_to_all, rpc, wait_client, wait_registered,
};
use support::mosquitto::Broker;
use support::{Server, postgres_store, wait_for};
use uuid::Uuid;

use pb::CommandState as S;

/// How late a watcher on another replica may see a change.
const CROSS_REPLICA: Duration = Duration::from_secs(1);

/// Checks that `states` are the transitions of a command completed by its device, each once:
/// queued, published (unless the device's accepted ack was stored before the broker's
/// PUBACK, which reach different replicas), accepted, execution_started, completed.
fn assert_completed_once(states: &[S], what: &str) {
    let full = [S::Queued, S::Published, S::Accepted, S::ExecutionStarted, S::Completed];
    let unpublished = [S::Queued, S::Accepted, S::ExecutionStarted, S::Completed];
    assert!(states == full || states == unpublished, "{what}: {states:?}");
}

fn ms(at: &Option<prost_types::Timestamp>) -> i64 {
    let at = at.as_ref().expect("timestamp set");
    at.seconds * 1000 + i64::from(at.nanos) / 1_000_000
}

/// `devices` connected and online, registered (seen by `rpc`).
async fn devices(broker: &Broker, rpc: &Rpc, uuids: &[Uuid]) -> Vec<Device> {
    let mut devices = Vec::new();
    for uuid in uuids {
        devices.push(Device::connect(broker, *uuid).await);
    }
    for uuid in uuids {
        wait_registered(rpc, *uuid).await;
    }
    devices
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_command_and_a_rollout_started_on_one_replica_are_watched_on_another() {
    let Some((_, url)) = postgres_store().await else { return };
    let uuids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    let broker = Broker::start(&uuids);
    let a = replica(&broker, &url, "a", "").await;
    let b = replica(&broker, &url, "b", "").await;
    let (mut on_a, on_b) = (rpc(&a).await, rpc(&b).await);
    let mut devices = devices(&broker, &on_b, &uuids).await.into_iter();
    let first = devices.next().unwrap();
    let responders: Vec<_> = devices.map(|d| d.respond_forever(false)).collect();

    let request =
        pb::WatchCommandsRequest { client_uuid: first.uuid.to_string(), ..Default::default() };
    let mut watch = on_b.clone().watch_commands(request).await.unwrap().into_inner();
    let responder = first.respond_forever(false);
    let command = support::device::issue_id(&mut on_a, uuids[0], pb::Action::RestartApp).await;
    let mut seen = Vec::new();
    while seen.last() != Some(&S::Completed) {
        let message = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("the watch on replica b sees every transition")
            .expect("stream open")
            .unwrap();
        let (changed, event) = (message.command.unwrap(), message.event.unwrap());
        assert_eq!(changed.command_id, command);
        let late = now_ms() - ms(&event.occurred_at);
        assert!(
            late < CROSS_REPLICA.as_millis() as i64,
            "{:?} seen {late} ms late",
            event.to_state()
        );
        seen.push(event.to_state());
    }
    assert_completed_once(&seen, "watched on replica b");
    let stored = get(&mut on_a, &command).await;
    assert_eq!(seen, event_states(&stored), "the watch shows the stored history, in order");
    responder.abort();

    let request = pb::StartRolloutRequest {
        action: pb::Action::RestartApp as i32,
        target: Some(pb::RolloutTarget {
            target: Some(pb::rollout_target::Target::Clients(pb::ClientUuidList {
                client_uuids: uuids[1..].iter().map(Uuid::to_string).collect(),
            })),
        }),
        canary: Some(pb::start_rollout_request::Canary::CanaryCount(2)),
        ..Default::default()
    };
    let started = on_a.start_rollout(request).await.unwrap().into_inner().rollout.unwrap();
    let request = pb::WatchRolloutRequest { rollout_id: started.rollout_id.clone() };
    let mut watch = on_b.clone().watch_rollout(request).await.unwrap().into_inner();
    let mut last = None;
    while let Some(message) = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("the rollout watch on replica b ends")
    {
        last = Some((message.unwrap().rollout.unwrap(), now_ms()));
    }
    let (last, seen_ms) = last.unwrap();
    assert_eq!(last.state(), pb::RolloutState::Completed);
    assert_eq!(last.counters.unwrap().completed, 2);
    let late = seen_ms - ms(&last.finished_at);
    assert!(late < CROSS_REPLICA.as_millis() as i64, "completion seen {late} ms late");
    for responder in responders {
        responder.abort();
    }
}

/// The `commands` health component's detail on `server`.
async fn commands_health(server: &Server) -> String {
    let report = HealthServiceClient::new(server.channel().await)
        .get_health(pb::GetHealthRequest {})
        .await
        .unwrap()
        .into_inner();
    report.components.into_iter().find(|c| c.name == "commands").unwrap().detail
}

/// The number after `label` in a `commands` health detail (0 when absent).
fn counted(detail: &str, label: &str) -> u64 {
    let after = detail.split(label).nth(1).unwrap_or("");
    after.split(',').next().and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

/// Answer the one command `device` gets with accepted, execution_started and completed,
/// `pace` apart (the devices of a fleet answer at different speeds). The device comes back:
/// it must stay connected until its last ack has left.
fn answer_paced(mut device: Device, pace: Duration) -> tokio::task::JoinHandle<Device> {
    tokio::spawn(async move {
        let id = device.next_command().await.command_id.to_string();
        for status in ["accepted", "execution_started", "completed"] {
            tokio::time::sleep(pace).await;
            device.ack(&id, status, None).await;
        }
        device
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_while_acks_flow_loses_no_ack_and_doubles_none() {
    const DEVICES: usize = 120;
    let Some((_, url)) = postgres_store().await else { return };
    let uuids: Vec<Uuid> = (0..DEVICES).map(|_| Uuid::new_v4()).collect();
    let broker = Broker::start(&uuids);
    let a = replica(&broker, &url, "a", "").await;
    let mut b = replica(&broker, &url, "b", "").await;
    let c = replica(&broker, &url, "c", "").await;
    let mut on_a = rpc(&a).await;
    let devices = devices(&broker, &on_a, &uuids).await;
    // Every replica knows every device before the rollout starts (owners stored each status).
    for other in [&b, &c] {
        let on_other = rpc(other).await;
        for uuid in &uuids {
            wait_client(&on_other, *uuid, "online", |c| c.presence() == pb::Presence::Online).await;
        }
    }
    // Acks spread over about 4 s: 0 to 1.3 s between a device's acks.
    let answering: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(n, device)| answer_paced(device, Duration::from_millis(100 * (n % 14) as u64)))
        .collect();

    let request = restart_app_to_all(DEVICES as u32);
    let rollout = on_a.start_rollout(request).await.unwrap().into_inner().rollout.unwrap();
    let list = pb::ListCommandsRequest {
        rollout_id: rollout.rollout_id.clone(),
        page_size: 500,
        ..Default::default()
    };
    let commands = |rpc: &Rpc| {
        let (mut rpc, list) = (rpc.clone(), list.clone());
        async move { rpc.list_commands(list).await.unwrap().into_inner().commands }
    };
    // Kill replica b once some commands completed and most acks are still to come.
    wait_for("a tenth of the commands completed", || async {
        let done = commands(&on_a).await.iter().filter(|c| c.state() == S::Completed).count();
        (done >= DEVICES / 10).then_some(())
    })
    .await;
    b.signal(libc::SIGKILL);
    b.wait_exit().await;

    let all_done = wait_for("every command terminal", || async {
        let all = commands(&on_a).await;
        (all.len() == DEVICES && all.iter().all(|c| c.state() == S::Completed)).then_some(all)
    })
    .await;
    // Replica b owned about a third of the devices: what it had not stored, a and c kept
    // and stored once they saw it gone.
    let taken = counted(&commands_health(&a).await, "taken over ")
        + counted(&commands_health(&c).await, "taken over ");
    assert!(taken > 0, "a and c took over messages of b's devices");
    let mut connected = Vec::new();
    for handle in answering {
        connected.push(handle.await.unwrap());
    }
    // Replica b back with its session: the acks queued for it meanwhile are copies.
    let b = replica(&broker, &url, "b", "").await;
    wait_for("replica b replayed its session's acks as copies", || async {
        let copies = counted(&commands_health(&b).await, "copies applied by another replica ");
        (copies > 0).then_some(())
    })
    .await;

    for listed in all_done {
        let command = get(&mut on_a, &listed.command_id).await;
        assert_completed_once(&event_states(&command), "one event per transition");
        assert_eq!(command.ignored_acks, 0, "no ack counted twice: {command:?}");
    }
    drop(connected);
    drop(c);
}

/// Cuts every replica's `LISTEN rebound_changes` connection; how many were cut.
async fn cut_change_listeners(url: &str) -> usize {
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'listen%rebound_changes%'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    cut.into_iter().filter(|killed| *killed).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_its_change_listener_is_cut_a_replica_sees_the_other_replicas_changes_again() {
    let Some((_, url)) = postgres_store().await else { return };
    let uuid = Uuid::new_v4();
    let broker = Broker::start(&[uuid]);
    let a = replica(&broker, &url, "a", "").await;
    let b = replica(&broker, &url, "b", "").await;
    let (mut on_a, on_b) = (rpc(&a).await, rpc(&b).await);
    let responder = devices(&broker, &on_b, &[uuid]).await.pop().unwrap().respond_forever(false);
    let request = pb::WatchCommandsRequest { client_uuid: uuid.to_string(), ..Default::default() };
    let mut before = on_b.clone().watch_commands(request.clone()).await.unwrap().into_inner();

    assert!(cut_change_listeners(&url).await >= 2, "both replicas listen");
    // Back on a new connection, replica b ends its watches: notices sent meanwhile are lost.
    let ended = tokio::time::timeout(support::DEADLINE, async {
        loop {
            match before.next().await {
                Some(Ok(_)) => {}
                Some(Err(status)) => return Some(status),
                None => return None,
            }
        }
    })
    .await
    .expect("the watch on replica b ends once its listener is back");
    let status = ended.expect("it ends with a status");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(status.message().contains("missed"), "{status:?}");

    // A new watch on b sees a command issued on a, every transition within a few seconds.
    let mut watch = on_b.clone().watch_commands(request).await.unwrap().into_inner();
    let command = support::device::issue_id(&mut on_a, uuid, pb::Action::RestartApp).await;
    let mut seen = Vec::new();
    while seen.last() != Some(&S::Completed) {
        let message = tokio::time::timeout(Duration::from_secs(5), watch.next())
            .await
            .expect("the watch on replica b sees replica a's changes again")
            .expect("stream open")
            .unwrap();
        let (changed, event) = (message.command.unwrap(), message.event.unwrap());
        assert_eq!(changed.command_id, command);
        seen.push(event.to_state());
    }
    assert_completed_once(&seen, "watched on replica b after its listener reconnected");
    responder.abort();
}
