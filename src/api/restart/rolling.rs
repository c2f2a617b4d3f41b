//! `RollingRestart`: hot-restart every live replica of the cluster one at a time, this one
//! last (docs/cluster.md, "Rolling restart").
//!
//! [`Rolling::plan`] does everything that can fail before anything restarts: it validates the
//! request, reads the live replicas (`Cluster::status`), refuses wildcard addresses and TLS
//! (replicas are dialled in clear text), dials every other replica and reads its generation.
//! [`Rolling::run`] then streams the steps: each other replica in replica id order gets a
//! Restart (with the caller's `authorization`) and is waited for until it serves again with
//! a higher generation; the first failure ends the stream with an error naming the replica.
//! Last, this process starts its own restart and says so in the final message: the stream
//! ends before the drain closes the caller's connection, and the caller follows the restart
//! by its id.

use super::domain_request;
use super::peer::{self, Peer};
use crate::error::Error;
use crate::lifecycle::ServerContext;
use crate::lifecycle::restart::{RestartRequest, Restarter};
use crate::proto::v1 as pb;
use pb::RollingRestartStep as Step;
use std::time::{Duration, Instant};
use tokio_stream::Stream;
use tonic::{Request, Status};

const REPLICA_TIMEOUT_DEFAULT: Duration = Duration::from_secs(120);
const REPLICA_TIMEOUT_MIN: Duration = Duration::from_secs(1);
const REPLICA_TIMEOUT_MAX: Duration = Duration::from_secs(600);

/// A rolling restart whose checks passed, ready to run.
pub struct Rolling {
    /// The other replicas in order, each with its generation before.
    peers: Vec<(Peer, u64)>,
    /// This replica: id, address, generation.
    me: (String, String, u64),
    /// What each other replica is asked for.
    message: pb::RestartRequest,
    /// This replica's own restart.
    own: RestartRequest,
    replica_timeout: Duration,
}

/// `replica_timeout`: 1 s to 600 s, default 120 s.
fn replica_timeout(value: Option<prost_types::Duration>) -> Result<Duration, Error> {
    let timeout = crate::api::convert::optional_duration("replica_timeout", value)?
        .unwrap_or(REPLICA_TIMEOUT_DEFAULT);
    if !(REPLICA_TIMEOUT_MIN..=REPLICA_TIMEOUT_MAX).contains(&timeout) {
        return Err(Error::invalid_argument("replica_timeout", "must be between 1s and 600s"));
    }
    Ok(timeout)
}

impl Rolling {
    /// Check the request and reach every replica; nothing is restarted yet.
    pub async fn plan(
        ctx: &ServerContext,
        call: &Request<pb::RollingRestartRequest>,
    ) -> Result<Rolling, Error> {
        let message = call.get_ref().restart.clone().unwrap_or_default();
        let own = domain_request(call, &message)?;
        own.validate()?;
        let replica_timeout = replica_timeout(call.get_ref().replica_timeout)?;
        let cluster = ctx.cluster.status().await?;
        let mut others: Vec<_> =
            cluster.replicas.iter().filter(|r| r.replica_id != cluster.replica_id).collect();
        others.sort_by(|a, b| a.replica_id.cmp(&b.replica_id));
        if !others.is_empty() && ctx.config.config().server.tls.enabled() {
            return Err(Error::FailedPrecondition(
                "server.tls: a rolling restart dials the other replicas in clear text, which a \
                 TLS listener refuses; restart each replica with `rebound restart --addr \
                 https://…` instead"
                    .into(),
            ));
        }
        let addrs = others
            .iter()
            .map(|r| peer::dialable(&r.replica_id, &r.listen))
            .collect::<Result<Vec<_>, _>>()?;
        let authorization = call.metadata().get("authorization").cloned();
        let mut peers = Vec::with_capacity(others.len());
        for (replica, addr) in others.iter().zip(addrs) {
            let peer = Peer::connect(&replica.replica_id, addr, authorization.clone()).await?;
            let generation = peer.generation().await?;
            peers.push((peer, generation));
        }
        let listen = cluster
            .replicas
            .iter()
            .find(|r| r.replica_id == cluster.replica_id)
            .map(|r| r.listen.clone())
            .unwrap_or_default();
        let me = (cluster.replica_id, listen, ctx.process.generation);
        Ok(Rolling { peers, me, message, own, replica_timeout })
    }

    /// Every replica in order, as the PLANNED message lists them.
    fn order(&self) -> Vec<pb::ReplicaRestart> {
        let mut order: Vec<_> = self
            .peers
            .iter()
            .map(|(peer, before)| pb::ReplicaRestart {
                replica_id: peer.id.clone(),
                address: peer.addr.to_string(),
                generation_before: *before,
                ..Default::default()
            })
            .collect();
        order.push(pb::ReplicaRestart {
            replica_id: self.me.0.clone(),
            address: self.me.1.clone(),
            generation_before: self.me.2,
            coordinator: true,
            ..Default::default()
        });
        for (i, replica) in order.iter_mut().enumerate() {
            replica.position = i as u32 + 1;
        }
        order
    }

    /// Restart the others one at a time, then this process; one message per step.
    pub fn run(
        self,
        restarter: Restarter,
    ) -> impl Stream<Item = Result<pb::RollingRestartResponse, Status>> + Send {
        let step = |step: Step, replica: &pb::ReplicaRestart| pb::RollingRestartResponse {
            step: step as i32,
            replica: Some(replica.clone()),
            plan: Vec::new(),
        };
        async_stream::stream! {
            let mut order = self.order();
            yield Ok(pb::RollingRestartResponse {
                step: Step::Planned as i32,
                replica: None,
                plan: order.clone(),
            });
            for ((peer, before), replica) in self.peers.iter().zip(order.iter_mut()) {
                let restart_id = match peer.restart(self.message.clone()).await {
                    Ok(id) => id,
                    Err(err) => {
                        yield Err(Status::from(err));
                        return;
                    }
                };
                let accepted = Instant::now();
                replica.restart_id = restart_id.clone();
                tracing::info!(replica.id = %peer.id, restart.id = %restart_id, "rolling restart: replica restarting");
                yield Ok(step(Step::Restarting, replica));
                match peer.wait_serving(&restart_id, *before, self.replica_timeout).await {
                    Ok(generation) => replica.generation_after = generation,
                    Err(err) => {
                        tracing::warn!(replica.id = %peer.id, error = %err, "rolling restart stopped");
                        yield Err(Status::from(err));
                        return;
                    }
                }
                replica.time_to_serving = prost_types::Duration::try_from(accepted.elapsed()).ok();
                tracing::info!(replica.id = %peer.id, generation = replica.generation_after, "rolling restart: replica serving");
                yield Ok(step(Step::Serving, replica));
            }
            let Some(me) = order.last_mut() else { return };
            match restarter.start(self.own).await {
                Ok(record) => me.restart_id = record.id.to_string(),
                Err(err) => {
                    yield Err(Status::from(err));
                    return;
                }
            }
            tracing::info!(restart.id = %me.restart_id, "rolling restart: restarting this replica last");
            yield Ok(step(Step::RestartingSelf, me));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_timeout_bounds() {
        let d = |seconds| Some(prost_types::Duration { seconds, nanos: 0 });
        assert_eq!(replica_timeout(None).unwrap(), REPLICA_TIMEOUT_DEFAULT);
        assert_eq!(replica_timeout(d(1)).unwrap(), Duration::from_secs(1));
        let err = replica_timeout(d(601)).unwrap_err().to_string();
        assert_eq!(err, "replica_timeout: must be between 1s and 600s");
        assert!(replica_timeout(d(0)).is_err());
    }

    #[test]
    fn wildcard_and_malformed_listen_addresses_are_refused_by_name() {
        assert_eq!(
            peer::dialable("r1", "127.0.0.1:50051").unwrap(),
            "127.0.0.1:50051".parse().unwrap()
        );
        for wildcard in ["0.0.0.0:50051", "[::]:50051"] {
            let err = peer::dialable("r2", wildcard).unwrap_err();
            assert!(matches!(err, Error::FailedPrecondition(_)), "{err:?}");
            assert!(
                err.to_string()
                    .starts_with(&format!("replica r2 listens on the wildcard address {wildcard}")),
                "{err}"
            );
        }
        let err = peer::dialable("r3", "unix:/tmp/x").unwrap_err().to_string();
        assert_eq!(err, "replica r3: listen address \"unix:/tmp/x\" is not an ip:port to dial");
    }
}
