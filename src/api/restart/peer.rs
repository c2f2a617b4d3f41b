//! Another replica as a rolling restart sees it: dialled in clear text at the `listen`
//! address of its row in `replicas`, every call carrying the caller's `authorization` and a
//! deadline of its own. It asks the replica to restart and waits until the replica serves
//! again with a higher generation. It decides nothing about order or failure policy (that is
//! [`super::rolling`]); every failure comes back as an error naming the replica.

use crate::error::Error;
use crate::proto::codes::code_name;
use crate::proto::v1 as pb;
use crate::proto::v1::health_service_client::HealthServiceClient;
use crate::proto::v1::restart_service_client::RestartServiceClient;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

/// Connecting, and each status or health call.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// A Restart call: it runs the readiness checks before it answers.
const RESTART_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between two looks at a restarting replica.
const POLL: Duration = Duration::from_millis(100);

/// One other replica, connected.
pub struct Peer {
    pub id: String,
    pub addr: SocketAddr,
    channel: Channel,
    authorization: Option<AsciiMetadataValue>,
}

/// The address a replica's `listen` can be dialled at: `host:port` with a specific IP. A
/// wildcard (`0.0.0.0`, `[::]`) says where the replica accepts, not where to reach it.
pub fn dialable(id: &str, listen: &str) -> Result<SocketAddr, Error> {
    let addr: SocketAddr = listen.parse().map_err(|_| {
        Error::FailedPrecondition(format!(
            "replica {id}: listen address {listen:?} is not an ip:port to dial"
        ))
    })?;
    if addr.ip().is_unspecified() {
        return Err(Error::FailedPrecondition(format!(
            "replica {id} listens on the wildcard address {listen}, which cannot be dialled; \
             give each replica its own address in server.listen"
        )));
    }
    Ok(addr)
}

/// An error's text with its sources (`transport error: tcp connect error: Connection
/// refused`): tonic's own text alone says little.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(err) = source {
        text.push_str(": ");
        text.push_str(&err.to_string());
        source = err.source();
    }
    text
}

fn described(status: &Status) -> String {
    format!("{}: {}", code_name(status.code()), status.message())
}

impl Peer {
    /// Dial replica `id` at `addr`; UNAVAILABLE naming it when nothing answers.
    pub async fn connect(
        id: &str,
        addr: SocketAddr,
        authorization: Option<AsciiMetadataValue>,
    ) -> Result<Peer, Error> {
        let unreachable = |reason: String| {
            Error::Unavailable(format!("replica {id} at {addr}: unreachable: {reason}"))
        };
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|err| unreachable(chain(&err)))?
            .connect_timeout(CALL_TIMEOUT);
        let channel = endpoint.connect().await.map_err(|err| unreachable(chain(&err)))?;
        Ok(Peer { id: id.to_owned(), addr, channel, authorization })
    }

    /// `message` with the caller's authorization and `timeout`.
    fn request<T>(&self, message: T, timeout: Duration) -> Request<T> {
        let mut metadata = MetadataMap::new();
        if let Some(value) = &self.authorization {
            metadata.insert("authorization", value.clone());
        }
        let mut request = Request::from_parts(metadata, Default::default(), message);
        request.set_timeout(timeout);
        request
    }

    fn named(&self, what: String) -> String {
        format!("replica {} at {}: {what}", self.id, self.addr)
    }

    pub async fn health(&self) -> Result<pb::GetHealthResponse, Status> {
        let request = self.request(pb::GetHealthRequest {}, CALL_TIMEOUT);
        let response = HealthServiceClient::new(self.channel.clone()).get_health(request).await;
        response.map(tonic::Response::into_inner)
    }

    /// Its generation now, checking it is the replica the row names (a port may have been
    /// taken by another process since): UNAVAILABLE when it does not answer.
    pub async fn generation(&self) -> Result<u64, Error> {
        let health = self.health().await.map_err(|status| {
            Error::Unavailable(
                self.named(format!("unreachable: GetHealth: {}", described(&status))),
            )
        })?;
        let answered = health.cluster.map(|c| c.replica_id).unwrap_or_default();
        if answered != self.id {
            return Err(Error::FailedPrecondition(
                self.named(format!("answered as replica {answered:?}")),
            ));
        }
        Ok(health.generation)
    }

    /// Ask it to restart; ABORTED naming it when it refuses.
    pub async fn restart(&self, message: pb::RestartRequest) -> Result<String, Error> {
        let request = self.request(message, RESTART_TIMEOUT);
        match RestartServiceClient::new(self.channel.clone()).restart(request).await {
            Ok(response) => Ok(response.into_inner().restart_id),
            Err(status) => {
                Err(Error::Aborted(self.named(format!("Restart refused: {}", described(&status)))))
            }
        }
    }

    /// Wait until restart `id` is COMPLETE and the replica answers GetHealth SERVING with a
    /// generation above `before`, for at most `limit`; its new generation. ABORTED naming it
    /// when the restart failed or rolled back, or the limit passed (with what it last saw).
    pub async fn wait_serving(&self, id: &str, before: u64, limit: Duration) -> Result<u64, Error> {
        let started = Instant::now();
        loop {
            let seen = match self.look(id, before).await {
                Look::Serving(generation) => return Ok(generation),
                Look::Ended(why) => {
                    return Err(Error::Aborted(self.named(format!("restart {id} {why}"))));
                }
                Look::Waiting(seen) => seen,
            };
            if started.elapsed() >= limit {
                return Err(Error::Aborted(self.named(format!(
                    "not serving with a new generation {limit:?} after its restart {id} began \
                     (last seen: {seen})"
                ))));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// One look at restart `id` and, once it is complete, at the replica's health.
    async fn look(&self, id: &str, before: u64) -> Look {
        let request =
            self.request(pb::GetRestartStatusRequest { restart_id: id.into() }, CALL_TIMEOUT);
        let client = RestartServiceClient::new(self.channel.clone());
        let event = match client.clone().get_restart_status(request).await {
            Ok(response) => response.into_inner().restart.unwrap_or_default(),
            Err(status) => {
                return Look::Waiting(format!("GetRestartStatus: {}", described(&status)));
            }
        };
        let phase = event.phase();
        match phase {
            pb::RestartPhase::Complete => {}
            pb::RestartPhase::Failed | pb::RestartPhase::RolledBack => {
                let phase = phase.as_str_name().trim_start_matches("RESTART_PHASE_").to_lowercase();
                return Look::Ended(format!("{phase}: {}", event.error));
            }
            other => return Look::Waiting(format!("restart in {}", other.as_str_name())),
        }
        match self.health().await {
            Ok(health)
                if health.status() == pb::ServingStatus::Serving && health.generation > before =>
            {
                Look::Serving(health.generation)
            }
            Ok(health) => Look::Waiting(format!(
                "GetHealth {} with generation {}",
                health.status().as_str_name(),
                health.generation
            )),
            Err(status) => Look::Waiting(format!("GetHealth: {}", described(&status))),
        }
    }
}

/// What one look at a restarting replica found.
enum Look {
    Serving(u64),
    Ended(String),
    Waiting(String),
}
