//! Several `rebound serve` replicas on one PostgreSQL (docs/cluster.md), as real processes:
//! one leader among three, the lease moving within a second when the leader stops, an old
//! leader paused past its lease writing nothing with its epoch, every database connection
//! cut, and a command whose replica died before publishing it published by another.
//!
//! The lease is short here (`lease_ttl` 2 s, renewed every 500 ms) so failovers take seconds.

mod support;

use std::time::{Duration, Instant};

use rebound::proto::v1 as pb;
use sqlx::Connection;
use support::cluster::{FAST_LEASE, one_leader, status as cluster};
use support::device::{Device, eavesdrop, rpc, wait_registered, wait_state};
use support::mosquitto::Broker;
use support::{Server, closed_port, postgres_store, until, wait_for};
use uuid::Uuid;

const TTL: Duration = Duration::from_secs(2);

/// Who holds an unexpired lease, by the database.
async fn holder(url: &str) -> Option<String> {
    let mut conn = sqlx::PgConnection::connect(url).await.ok()?;
    sqlx::query_scalar(
        "SELECT holder FROM cluster_lease WHERE holder IS NOT NULL AND expires_at > now()",
    )
    .fetch_optional(&mut conn)
    .await
    .ok()
    .flatten()
}

async fn replica_id(server: &Server) -> String {
    wait_for("GetHealth with a cluster section", || cluster(server)).await.replica_id
}

async fn spawn(config: &str, store: &[(&str, &str)]) -> Server {
    Server::spawn(&format!("{FAST_LEASE}{config}"), store).await
}

/// `n` replicas without a broker on a fresh database, serving; `None` without PostgreSQL.
async fn replicas(n: usize) -> Option<(String, Vec<Server>)> {
    let (variable, url) = postgres_store().await?;
    let mut servers = Vec::new();
    for _ in 0..n {
        servers.push(spawn("", &[(variable, &url)]).await);
    }
    for server in &servers {
        server.wait_serving().await;
    }
    Some((url, servers))
}

#[tokio::test]
async fn three_replicas_elect_one_leader_and_a_sigterm_moves_the_lease_within_a_second() {
    let Some((url, servers)) = replicas(3).await else { return };
    let all: Vec<&Server> = servers.iter().collect();
    let leader = one_leader(&all, 3).await;
    let old = replica_id(&servers[leader]).await;
    assert_eq!(holder(&url).await.as_deref(), Some(old.as_str()));
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for server in &servers {
            ids.push(replica_id(server).await);
        }
        ids
    };
    assert!(ids.iter().all(|id| id.len() == 8), "random replica ids: {ids:?}");
    assert!(servers[leader].logs().contains(&old), "the replica id is logged");

    let signalled = Instant::now();
    servers[leader].signal(libc::SIGTERM);
    let next = until(Duration::from_secs(5), async || holder(&url).await.filter(|h| *h != old))
        .await
        .expect("another replica takes the lease");
    let moved = signalled.elapsed();
    assert!(moved < Duration::from_secs(1), "lease moved after {moved:?}");
    let rest: Vec<&Server> =
        servers.iter().enumerate().filter(|(i, _)| *i != leader).map(|(_, s)| s).collect();
    let new_leader = one_leader(&rest, 2).await;
    assert_eq!(replica_id(rest[new_leader]).await, next);
    let epoch = cluster(rest[new_leader]).await.unwrap().lease_epoch;
    assert!(epoch >= 2, "a takeover adds one to the epoch: {epoch}");
}

#[tokio::test]
async fn after_pg_terminate_backend_on_every_connection_exactly_one_replica_leads() {
    let Some((url, servers)) = replicas(2).await else { return };
    let all: Vec<&Server> = servers.iter().collect();
    one_leader(&all, 2).await;
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'rebound' AND datname = current_database()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(killed.len() >= 4, "every replica's pool and listener: {}", killed.len());
    let leader = one_leader(&all, 2).await;
    let id = replica_id(all[leader]).await;
    wait_for("the leader holds the lease by the database", || async {
        (holder(&url).await? == id).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_leader_paused_past_its_lease_writes_nothing_with_its_old_epoch_and_steps_down() {
    let Some(store) = postgres_store().await else { return };
    let url = store.1.clone();
    let device = Uuid::new_v4();
    let broker = Broker::start(&[device]);
    let config = broker.server_config("");
    let first = spawn(&config, &[(store.0, &url)]).await;
    first.wait_serving().await;
    one_leader(&[&first], 1).await;
    let second = spawn(&config, &[(store.0, &url)]).await;
    second.wait_serving().await;
    let (old, new) = (&first, &second);
    assert_eq!(one_leader(&[old, new], 2).await, 0);
    let old_epoch = cluster(old).await.unwrap().lease_epoch;

    // A command the device never accepts: it expires while the leader is paused.
    let _silent = Device::connect(&broker, device).await;
    let mut rpc = rpc(new).await;
    wait_registered(&rpc, device).await;
    let request = pb::IssueCommandRequest {
        client_uuid: device.to_string(),
        action: pb::Action::RestartApp as i32,
        expires_in: Some(prost_types::Duration { seconds: 1, nanos: 0 }),
        ..Default::default()
    };
    old.signal(libc::SIGSTOP);
    let id = rpc.issue_command(request).await.unwrap().into_inner().command.unwrap().command_id;
    let expired = wait_state(&rpc, &id, pb::CommandState::Expired).await;
    let new_status = one_leader_of(new).await;
    assert!(new_status.lease_epoch > old_epoch, "{new_status:?}");
    old.signal(libc::SIGCONT);

    wait_for("the old leader reports follower", || async {
        cluster(old).await.filter(|s| !s.leader && s.replicas.len() == 2).map(drop)
    })
    .await;
    assert_eq!(one_leader(&[old, new], 2).await, 1, "the new leader keeps the lease");
    let after = support::device::get(&mut rpc, &id).await;
    let expiries = after.events.iter().filter(|e| e.to_state() == pb::CommandState::Expired);
    assert_eq!(expiries.count(), 1, "{:?}", after.events);
    assert_eq!(
        after.events.len(),
        expired.events.len(),
        "nothing written since: {:?}",
        after.events
    );
    let swept = |server: &Server| {
        server.logs().lines().any(|l| l.contains(&id) && l.contains("to=expired"))
    };
    assert!(swept(new), "the new leader expired it:\n{}", new.logs());
    assert!(!swept(old), "the old leader wrote nothing:\n{}", old.logs());
}

/// `server`'s cluster status once it leads.
async fn one_leader_of(server: &Server) -> pb::ClusterStatus {
    wait_for("the replica leads", || async { cluster(server).await.filter(|s| s.leader) }).await
}

#[tokio::test]
async fn a_command_whose_replica_died_before_publishing_is_published_by_the_leader() {
    let Some(store) = postgres_store().await else { return };
    let url = store.1.clone();
    let device = Uuid::new_v4();
    let broker = Broker::start(&[device]);
    let leader = spawn(&broker.server_config(""), &[(store.0, &url)]).await;
    leader.wait_serving().await;
    one_leader(&[&leader], 1).await;
    // This replica's broker is unreachable: what it issues stays queued.
    let cut_off = format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\nusername = \"rebound-server\"\n",
        closed_port()
    );
    let mut doomed = spawn(&cut_off, &[(store.0, &url)]).await;
    doomed.wait_serving().await;
    one_leader(&[&leader, &doomed], 2).await;

    let online = Device::connect(&broker, device).await;
    let rpc_doomed = rpc(&doomed).await;
    wait_registered(&rpc_doomed, device).await;
    let topic = format!("infoscreen/{device}/commands");
    let (seen, _sniffer) = eavesdrop(&broker, device, &topic).await;
    let id =
        support::device::issue_id(&mut rpc_doomed.clone(), device, pb::Action::RestartApp).await;
    let queued = support::device::get(&mut rpc_doomed.clone(), &id).await;
    assert_eq!(queued.state(), pb::CommandState::Queued);

    doomed.signal(libc::SIGKILL);
    let killed = Instant::now();
    doomed.wait_exit().await;
    let rpc_leader = rpc(&leader).await;
    wait_state(&rpc_leader, &id, pb::CommandState::Published).await;
    let took = killed.elapsed();
    assert!(took < TTL + Duration::from_millis(1500), "published {took:?} after the kill");
    wait_for("the sniffer saw the command", || async {
        (seen.load(std::sync::atomic::Ordering::SeqCst) >= 1).then_some(())
    })
    .await;
    assert!(leader.logs().contains("adopted an orphaned command"), "{}", leader.logs());
    drop(online);
}
