//! Rolling restart (`rebound restart --all`, RestartService.RollingRestart) as real
//! processes: three replicas on one PostgreSQL restarted one at a time by the real CLI while
//! a client spreads unary calls over all three (none may fail); a non-admin token refused;
//! a wildcard listen address and an unreachable replica stopping it before anything restarts,
//! each named; and on SQLite the one server restarted.

mod support;

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rebound::client::Transport;
use rebound::proto::v1 as pb;
use rebound::proto::v1::client_command_service_client::ClientCommandServiceClient;
use rebound::proto::v1::health_service_client::HealthServiceClient;
use support::auth::token;
use support::restart::KillOnDrop;
use support::{Server, postgres_store, rebound_bin, wait_for};
use tokio::task::JoinSet;

/// A lease long enough that a replica paused by a loaded machine stays live, and a killed one
/// stays listed while the test runs the CLI against it.
const CLUSTER: &str = "[cluster]\nlease_ttl = \"10s\"\nlease_renew = \"1s\"\n";

/// `n` replicas with the auth tokens of `support::auth` on one fresh database, serving;
/// `env` is added to each listed replica's environment. `None` without PostgreSQL.
async fn replicas(envs: &[&[(&str, &str)]]) -> Option<Vec<(tempfile::TempDir, Server)>> {
    let (variable, url) = postgres_store().await?;
    let mut servers = Vec::new();
    for extra in envs {
        let mut env = vec![(variable, url.as_str())];
        env.extend_from_slice(extra);
        servers.push(support::auth::server(CLUSTER, &env).await);
    }
    Some(servers)
}

/// `server`'s GetHealth as `role`.
async fn health(server: &Server) -> Option<pb::GetHealthResponse> {
    let transport = Transport::connect_as(&server.addr, Some(token("viewer"))).await.ok()?;
    let response = HealthServiceClient::new(transport).get_health(pb::GetHealthRequest {}).await;
    Some(response.ok()?.into_inner())
}

/// Guards that kill the processes serving at `servers`' addresses now, where a hot restart
/// replaced the process the test spawned: a successor is not the test's child, so `Server`'s
/// drop does not reach it, and it would outlive the test.
async fn successors(servers: &[&Server]) -> Vec<KillOnDrop> {
    let mut guards = Vec::new();
    for server in servers {
        if let Some(now) = health(server).await.filter(|now| now.pid != server.pid()) {
            guards.push(KillOnDrop(now.pid));
        }
    }
    guards
}

/// Wait until every server lists all `servers.len()` replicas as live; their replica ids.
async fn formed(servers: &[&Server]) -> Vec<String> {
    wait_for("every replica sees every other", || async {
        let mut ids = Vec::new();
        for server in servers {
            let cluster = health(server).await?.cluster?;
            (cluster.replicas.len() == servers.len()).then_some(())?;
            ids.push(cluster.replica_id);
        }
        Some(ids)
    })
    .await
}

/// `rebound restart --all --addr ADDR` as `role`, run to completion off the async runtime.
async fn restart_all(addr: &str, role: &str) -> Output {
    let (addr, token) = (addr.to_owned(), token(role));
    tokio::task::spawn_blocking(move || {
        Command::new(rebound_bin())
            .args(["restart", "--all", "--replica-timeout", "60s", "--addr", &addr])
            .env("REBOUND_TOKEN", token)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Unary calls spread round-robin over every address (each on its own connection, the
/// retrying transport), alternating GetHealth and ListClients; every error is kept.
struct Spread {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    errors: Arc<Mutex<Vec<String>>>,
    tasks: JoinSet<()>,
}

impl Spread {
    async fn start(addrs: &[String], callers: usize) -> Spread {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = JoinSet::new();
        for _ in 0..callers {
            let mut channels = Vec::new();
            for addr in addrs {
                let transport = Transport::connect_as(addr, Some(token("viewer"))).await.unwrap();
                channels.push((addr.clone(), transport));
            }
            let (stop, ok, errors) = (stop.clone(), ok.clone(), errors.clone());
            tasks.spawn(async move {
                let mut turn = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let (addr, transport) = &channels[turn % channels.len()];
                    let result = if turn.is_multiple_of(2) {
                        let mut client = HealthServiceClient::new(transport.clone());
                        client.get_health(pb::GetHealthRequest {}).await.map(drop)
                    } else {
                        let mut client = ClientCommandServiceClient::new(transport.clone());
                        client.list_clients(pb::ListClientsRequest::default()).await.map(drop)
                    };
                    match result {
                        Ok(()) => _ = ok.fetch_add(1, Ordering::Relaxed),
                        Err(status) => errors.lock().unwrap().push(format!(
                            "{addr}: {:?}: {}",
                            status.code(),
                            status.message()
                        )),
                    }
                    turn += 1;
                }
            });
        }
        Spread { stop, ok, errors, tasks }
    }

    async fn stop(mut self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        while self.tasks.join_next().await.is_some() {}
        let errors = std::mem::take(&mut *self.errors.lock().unwrap());
        (self.ok.load(Ordering::Relaxed), errors)
    }
}

#[tokio::test]
async fn a_rolling_restart_of_three_replicas_under_spread_load_fails_no_rpc() {
    let Some(servers) = replicas(&[&[], &[], &[]]).await else { return };
    let servers: Vec<&Server> = servers.iter().map(|(_, s)| s).collect();
    let ids = formed(&servers).await;
    let mut before = Vec::new();
    for server in &servers {
        let health = health(server).await.unwrap();
        before.push((health.pid, health.generation));
    }
    let addrs: Vec<String> = servers.iter().map(|s| s.addr.clone()).collect();
    let load = Spread::start(&addrs, 3).await;
    wait_for("the load is running", || async {
        (load.ok.load(Ordering::Relaxed) > 30).then_some(())
    })
    .await;

    let output = restart_all(&servers[1].addr, "admin").await;
    let _successors = successors(&servers).await;
    let calls_during = load.ok.load(Ordering::Relaxed);
    let (ok, errors) = load.stop().await;
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        errors.is_empty(),
        "{} failed RPCs of {}: {errors:?}",
        errors.len(),
        ok + errors.len() as u64
    );
    assert!(calls_during > 100, "the load kept calling: {calls_during}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    for id in &ids {
        assert!(stdout.contains(&format!("replica {id} ")), "{id} reported:\n{}", text(&output));
    }
    assert_eq!(stdout.matches("-> 1, serving after").count(), 3, "{}", text(&output));
    assert!(stdout.contains("rolling restart complete"), "{}", text(&output));
    // The replica at --addr went last.
    let last = stdout.lines().rev().find(|l| l.contains("serving after")).unwrap();
    assert!(last.contains(&ids[1]), "{}", text(&output));
    for (server, (pid, generation)) in servers.iter().zip(before) {
        let after = health(server).await.unwrap();
        assert_eq!(after.generation, generation + 1, "{}", server.addr);
        assert_ne!(after.pid, pid, "a handover: a new process serves {}", server.addr);
    }
}

#[tokio::test]
async fn a_rolling_restart_is_admin_only_and_stops_before_restarting_at_a_replica_it_cannot_dial() {
    let wildcard: &[(&str, &str)] = &[("REBOUND_SERVER__LISTEN", "0.0.0.0:0")];
    let Some(mut servers) = replicas(&[&[], &[], wildcard]).await else { return };
    let ids = formed(&servers.iter().map(|(_, s)| s).collect::<Vec<_>>()).await;
    let addr = servers[0].1.addr.clone();

    let refused = restart_all(&addr, "operator").await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("PERMISSION_DENIED"),
        "{}",
        text(&refused)
    );

    let output = restart_all(&addr, "admin").await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(stderr.contains("FAILED_PRECONDITION"), "{}", text(&output));
    assert!(
        stderr.contains(&format!("replica {} listens on the wildcard address 0.0.0.0:", ids[2])),
        "{}",
        text(&output)
    );

    // Gone for good (its row deleted), and one killed: its row stays while its lease lasts.
    let (_, mut wild) = servers.pop().unwrap();
    wild.signal(libc::SIGTERM);
    wild.wait_exit().await;
    servers[1].1.signal(libc::SIGKILL);
    servers[1].1.wait_exit().await;
    let output = restart_all(&addr, "admin").await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(69), "{}", text(&output));
    assert!(stderr.contains("UNAVAILABLE"), "{}", text(&output));
    assert!(stderr.contains(&format!("replica {} at 127.0.0.1:", ids[1])), "{}", text(&output));
    assert!(stderr.contains("unreachable"), "{}", text(&output));
    assert_eq!(health(&servers[0].1).await.unwrap().generation, 0, "nothing was restarted");
}

#[tokio::test]
async fn on_sqlite_restart_all_restarts_the_one_server() {
    let (_dir, server) = support::auth::server("", &[]).await;
    let output = restart_all(&server.addr, "admin").await;
    let _successor = successors(&[&server]).await;
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("rolling restart of 1 replica(s)"), "{}", text(&output));
    assert!(stdout.contains("generation 0 -> 1, serving after"), "{}", text(&output));
    assert_eq!(health(&server).await.unwrap().generation, 1);
}
