//! Failover under load (issue 24): a rollout to 1,000 simulated devices on three replicas
//! (one PostgreSQL, one Mosquitto with authentication) while the leader is killed with
//! `kill -9` at 10 seeded random points of the rollout's progress.
//!
//! - Every command ends terminal (completed).
//! - Each device runs one command, once: the simulated devices record every execution and,
//!   as the contract says, answer a `command_id` they already ran by re-sending their latest
//!   ack (a second command for the same device, a rollout member issued twice, would run). A sniffer subscription (the server's account) counts the PUBLISHes per
//!   `command_id` on the command topics: a duplicate at the broker is allowed (a command in
//!   flight when its publisher died), one at the device's execution is not.
//! - After each kill a surviving replica reports itself leader in `GetHealth` within
//!   2 × `lease_ttl` (the singleton loops resume), and the killed replica is started again
//!   with the same replica id, so there are three again before the next kill.
//!
//! Each device is its own MQTT client (rumqttc, one connection each, in this process). The
//! seed is printed; `REBOUND_CHAOS_SEED` repeats a run. Skipped without PostgreSQL.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rebound::mqtt::payload::decode_command;
use rebound::proto::v1 as pb;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use support::cluster::{FAST_LEASE, one_leader, replica, status};
use support::device::{Device, PREFIX, restart_app_to_all, rpc};
use support::mosquitto::{Broker, SERVER_PASSWORD, SERVER_USER};
use support::rng::{Rng, seed};
use support::{Server, postgres_store, until, wait_for};
use uuid::Uuid;

const DEVICES: usize = 1000;
const KILLS: usize = 10;
/// The lease of [`FAST_LEASE`].
const LEASE_TTL: Duration = Duration::from_secs(2);
/// The rollout's pace: about 50 s for the waves, long enough for ten failovers.
const PER_MINUTE: u32 = 1200;
const NAMES: [&str; 3] = ["a", "b", "c"];

/// What the simulated devices did.
#[derive(Default)]
struct Fleet {
    /// The command ids each device executed, in order.
    executed: Mutex<HashMap<Uuid, Vec<String>>>,
    /// Commands a device received again after executing them (answered with the latest ack).
    repeats: AtomicUsize,
    /// Executions finished.
    done: AtomicUsize,
}

/// Run `device` by the contract: execute a new command (accepted, execution_started,
/// completed) and record it; answer a `command_id` it already ran by re-sending the latest
/// ack, without executing it again.
fn simulate(mut device: Device, fleet: Arc<Fleet>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ran = HashSet::new();
        while let Some(command) = device.recv_command().await {
            let id = command.command_id.to_string();
            if !ran.insert(id.clone()) {
                fleet.repeats.fetch_add(1, Ordering::SeqCst);
                device.ack(&id, "completed", None).await;
                continue;
            }
            fleet.executed.lock().unwrap().entry(device.uuid).or_default().push(id.clone());
            for status in ["accepted", "execution_started", "completed"] {
                device.ack(&id, status, None).await;
            }
            fleet.done.fetch_add(1, Ordering::SeqCst);
        }
    })
}

/// Counts the PUBLISHes per `command_id` on every device's command topic, as the server's
/// broker account.
async fn sniffer(
    broker: &Broker,
) -> (Arc<Mutex<HashMap<String, u32>>>, tokio::task::JoinHandle<()>) {
    let mut options =
        MqttOptions::new(format!("sniffer-{}", Uuid::new_v4()), "127.0.0.1", broker.port);
    options.set_credentials(SERVER_USER, SERVER_PASSWORD);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut eventloop) = AsyncClient::new(options, 100);
    client.subscribe(format!("{PREFIX}/+/commands"), QoS::AtLeastOnce).await.unwrap();
    until(support::DEADLINE, async || {
        matches!(eventloop.poll().await, Ok(Event::Incoming(Packet::SubAck(_)))).then_some(())
    })
    .await
    .expect("the sniffer's suback");
    let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let counts = seen.clone();
    let task = tokio::spawn(async move {
        let _client = client;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let command = decode_command(&p.payload).expect("contract commands");
                    *counts.lock().unwrap().entry(command.command_id.to_string()).or_default() += 1;
                }
                Ok(_) => {}
                // The broker went away (the test's end); mid-test, the count then falls short.
                Err(err) => return eprintln!("the sniffer lost its connection: {err}"),
            }
        }
    });
    (seen, task)
}

/// The rollout's current record, from whichever of `servers` answers.
async fn rollout(servers: &[Server], id: &str) -> Option<pb::Rollout> {
    for server in servers {
        let request = pb::GetRolloutRequest { rollout_id: id.to_owned() };
        if let Ok(response) = rpc(server).await.get_rollout(request).await {
            return response.into_inner().rollout;
        }
    }
    None
}

/// The index of the replica that leads, by its own `GetHealth`, among `servers` but `not`.
async fn new_leader(servers: &[Server], not: usize) -> Option<usize> {
    for (i, server) in servers.iter().enumerate() {
        if i != not && status(server).await.is_some_and(|s| s.leader) {
            return Some(i);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_to_a_thousand_devices_survives_ten_leader_kills() {
    let Some((_, url)) = postgres_store().await else { return };
    let began = Instant::now();
    let seed = seed("REBOUND_CHAOS_SEED");
    eprintln!("chaos seed {seed} (REBOUND_CHAOS_SEED={seed} repeats this run)");
    let mut rng = Rng(seed);
    // The kill points: fractions of the devices done, from 2 % to 90 %, in order.
    let mut points: Vec<usize> =
        (0..KILLS).map(|_| DEVICES / 50 + rng.below(DEVICES as u64 * 88 / 100) as usize).collect();
    points.sort_unstable();
    eprintln!("kill points (devices done): {points:?}");

    let uuids: Vec<Uuid> = (0..DEVICES).map(|_| Uuid::new_v4()).collect();
    let broker = Broker::start(&uuids);
    let mut servers = Vec::new();
    for name in NAMES {
        servers.push(replica(&broker, &url, name, FAST_LEASE).await);
    }
    one_leader(&servers.iter().collect::<Vec<_>>(), 3).await;

    let devices: Vec<Device> = futures::stream::iter(uuids.iter().copied())
        .map(|uuid| Device::connect(&broker, uuid))
        .buffer_unordered(32)
        .collect()
        .await;
    let on_a = rpc(&servers[0]).await;
    wait_for("every device online", || {
        let mut on_a = on_a.clone();
        async move {
            let request = pb::ListClientsRequest {
                page_size: 1,
                presence: pb::Presence::Online as i32,
                include_total_size: true,
                ..Default::default()
            };
            let online = on_a.list_clients(request).await.ok()?.into_inner().total_size;
            (online as usize == DEVICES).then_some(())
        }
    })
    .await;
    eprintln!("{DEVICES} devices online after {:?}", began.elapsed());
    let (published, _sniffer) = sniffer(&broker).await;
    let fleet = Arc::new(Fleet::default());
    let running: Vec<_> = devices.into_iter().map(|d| simulate(d, fleet.clone())).collect();

    let request = pb::StartRolloutRequest { max_per_minute: PER_MINUTE, ..restart_app_to_all(20) };
    let started = on_a.clone().start_rollout(request).await.unwrap().into_inner().rollout.unwrap();
    let id = started.rollout_id;
    let rollout_began = Instant::now();

    let mut failovers = Vec::new();
    for (kill, point) in points.iter().enumerate() {
        until(Duration::from_secs(120), async || {
            (fleet.done.load(Ordering::SeqCst) >= *point).then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("{point} devices done: {}", fleet.done.load(Ordering::SeqCst)));
        let leader = one_leader(&servers.iter().collect::<Vec<_>>(), 3).await;
        let killed_at = Instant::now();
        servers[leader].signal(libc::SIGKILL);
        servers[leader].wait_exit().await;
        let next = until(4 * LEASE_TTL, async || new_leader(&servers, leader).await)
            .await
            .unwrap_or_else(|| panic!("kill {kill}: no new leader within {:?}", 4 * LEASE_TTL));
        let took = killed_at.elapsed();
        eprintln!(
            "kill {kill} at {} done: leader {} killed, {} leads after {took:?}",
            fleet.done.load(Ordering::SeqCst),
            NAMES[leader],
            NAMES[next]
        );
        failovers.push(took);
        servers[leader] = replica(&broker, &url, NAMES[leader], FAST_LEASE).await;
    }

    let finished = until(Duration::from_secs(180), async || {
        let rollout = rollout(&servers, &id).await?;
        (rollout.state() == pb::RolloutState::Completed).then_some(rollout)
    })
    .await;
    let Some(finished) = finished else {
        panic!("the rollout did not complete: {:?}", rollout(&servers, &id).await);
    };
    let rollout_took = rollout_began.elapsed();
    let counters = finished.counters.unwrap();
    assert_eq!(counters.total as usize, DEVICES);
    assert_eq!(counters.completed as usize, DEVICES, "every command completed: {counters:?}");

    let executed = fleet.executed.lock().unwrap().clone();
    assert_eq!(executed.len(), DEVICES, "every device ran a command");
    let twice: Vec<_> = executed.iter().filter(|(_, ids)| ids.len() != 1).collect();
    assert!(twice.is_empty(), "devices that ran more than one command: {twice:?}");
    let executions: HashSet<&String> = executed.values().flatten().collect();
    assert_eq!(executions.len(), DEVICES, "one command per device");

    let published = published.lock().unwrap().clone();
    assert!(
        executions.iter().all(|id| published.contains_key(*id)),
        "the sniffer saw every command"
    );
    let duplicated: Vec<_> = published.iter().filter(|(_, n)| **n > 1).collect();
    let extra: u32 = duplicated.iter().map(|(_, n)| **n - 1).sum();
    let repeats = fleet.repeats.load(Ordering::SeqCst);

    failovers.sort();
    let worst = *failovers.last().unwrap();
    eprintln!(
        "seed {seed}: rollout completed in {rollout_took:?} (test {:?}); failover p50 {:?}, \
         max {worst:?}; {} commands published more than once ({extra} extra PUBLISHes), \
         {repeats} repeats answered by the devices' dedupe",
        began.elapsed(),
        failovers[failovers.len() / 2],
        duplicated.len()
    );
    assert!(worst < 2 * LEASE_TTL, "the loops resumed within 2 × lease_ttl: {failovers:?}");
    one_leader(&servers.iter().collect::<Vec<_>>(), 3).await;
    for task in running {
        task.abort();
    }
}
