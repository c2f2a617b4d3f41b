//! Several replicas of one cluster (docs/cluster.md) for the whole-process tests: starting a
//! replica by name (its replica id, and with it its MQTT session, kept across its restarts),
//! reading a replica's cluster status from `GetHealth`, and waiting until the replicas agree
//! on one leader.

use rebound::proto::v1 as pb;
use rebound::proto::v1::health_service_client::HealthServiceClient;

use super::mosquitto::Broker;
use super::{Server, wait_for};

/// A short lease (`lease_ttl` 2 s, renewed every 500 ms) and a fast scheduler tick, so that
/// failovers take seconds: the `[cluster]` and `[scheduler]` sections.
pub const FAST_LEASE: &str =
    "[cluster]\nlease_ttl = \"2s\"\nlease_renew = \"500ms\"\n[scheduler]\ntick = \"100ms\"\n";

/// The cluster section of `server`'s GetHealth, when it answers with one.
pub async fn status(server: &Server) -> Option<pb::ClusterStatus> {
    let channel = rebound::client::connect(&server.addr).await.ok()?;
    let response = HealthServiceClient::new(channel).get_health(pb::GetHealthRequest {}).await;
    response.ok()?.into_inner().cluster
}

/// Waits until each of `servers` lists `live` replicas and exactly one of them leads, all
/// agreeing on who; the leader's index.
pub async fn one_leader(servers: &[&Server], live: usize) -> usize {
    wait_for(&format!("{live} live replicas and one leader"), || async {
        let mut leaders = Vec::new();
        let mut named = Vec::new();
        for (i, server) in servers.iter().enumerate() {
            let status = status(server).await?;
            if status.replicas.len() != live {
                return None;
            }
            named.extend(status.replicas.iter().filter(|r| r.leader).map(|r| r.replica_id.clone()));
            if status.leader {
                leaders.push((i, status.replica_id));
            }
        }
        match leaders.as_slice() {
            [(i, id)] if named.iter().all(|n| n == id) && named.len() == servers.len() => Some(*i),
            _ => None,
        }
    })
    .await
}

/// One replica on `url` and `broker` with replica id `name`, serving, kept across its
/// restarts (and with it its MQTT client id `rebound-<name>-<name>` and so its persistent
/// session). `extra` is appended to the config (e.g. [`FAST_LEASE`], whose `[cluster]`
/// section then takes the id too).
pub async fn replica(broker: &Broker, url: &str, name: &str, extra: &str) -> Server {
    let config = broker.server_config(&format!("client_id = \"rebound-{name}\"\n{extra}"));
    let config = match config.find("[cluster]\n") {
        Some(at) => {
            format!("{}[cluster]\nreplica_id = \"{name}\"\n{}", &config[..at], &config[at + 10..])
        }
        None => format!("{config}[cluster]\nreplica_id = \"{name}\"\n"),
    };
    Server::start_with(&config, &[("REBOUND_STORE__URL", url)]).await
}
