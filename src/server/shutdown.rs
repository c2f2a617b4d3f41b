//! The serving half of the process and its ordered stop (see `lifecycle`'s module doc):
//! health flips (and, on a signal, RPCs are still served for `server.shutdown_delay`),
//! listeners stop accepting (GOAWAY), open streams end with a reconnect
//! status, in-flight RPCs finish within the drain timeout, loops stop, the rate limit
//! windows are saved and the run is marked in the store. A plain shutdown and a hot
//! restart's `closing_connections` use the same drain.

use super::ServeError;
use super::listeners::Listeners;
use super::probes::Probes;
use crate::lifecycle::ServerContext;
use crate::lifecycle::restart::DrainStats;
use crate::store::RunId;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;

/// After health flips and listeners close, open streams get this long to flush what they
/// already have (e.g. the NOT_SERVING update to health watchers) before they are ended.
const STREAM_FLUSH_GRACE: Duration = Duration::from_millis(100);

/// How long background loops get to return once told to stop.
const TASK_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The result of one gRPC server future.
pub type ServerResult = Result<(), tonic::transport::Error>;

/// What is serving, and what must be undone when it stops.
pub struct Serving {
    pub ctx: Arc<ServerContext>,
    pub servers: JoinSet<ServerResult>,
    pub probes: Probes,
    /// Cancels process-wide helpers (the systemd watchdog).
    pub background: CancellationToken,
    pub run_id: RunId,
    pub socket_path: Option<PathBuf>,
}

/// Whether the unix socket file is removed at the end (not when a successor serves on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketFile {
    Remove,
    Keep,
}

impl Serving {
    /// Announce the shutdown and keep serving for `delay` (`server.shutdown_delay`): health
    /// reports NOT_SERVING, so probes and load balancers stop sending traffic, while every
    /// listener still accepts and RPCs are answered. `cut_short` (a second signal) ends the
    /// wait early.
    pub async fn announce(&self, delay: Duration, cut_short: impl Future<Output = ()>) {
        self.ctx.drain.announce();
        self.probes.set(ServingStatus::NotServing).await;
        if delay.is_zero() {
            return;
        }
        tracing::info!(delay = %humantime::format_duration(delay), "health is NOT_SERVING; still serving until the drain (server.shutdown_delay)");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cut_short => tracing::info!("second stop signal: draining now"),
        }
    }

    /// Stop accepting and drain within `timeout`. `early_exit` is a server future that had
    /// already ended (its error is reported). Returns the result and what the drain did.
    pub async fn drain(
        &mut self,
        timeout: Duration,
        early_exit: Option<ServerResult>,
    ) -> (Result<(), ServeError>, DrainStats) {
        let drain = self.ctx.drain.clone();
        self.probes.set(ServingStatus::NotServing).await;
        let connections = drain.connections();
        drain.begin();
        if drain.open_streams() > 0 {
            tokio::time::sleep(STREAM_FLUSH_GRACE).await;
        }
        drain.close_streams();
        let servers = &mut self.servers;
        let drained = tokio::time::timeout(timeout, async {
            let mut result = match early_exit {
                Some(Err(err)) => Err(ServeError::Transport(err)),
                _ => Ok(()),
            };
            while let Some(finished) = servers.join_next().await {
                if let Ok(Err(err)) = finished {
                    result = result.and(Err(ServeError::Transport(err)));
                }
            }
            drain.idle().await;
            // Closed connections linger until their clients close too (see `connections`).
            drain.disconnected().await;
            result
        })
        .await;
        self.background.cancel();
        let canceled = drain.in_flight().saturating_sub(drain.open_streams());
        let result = match drained {
            Ok(result) => result,
            Err(_) => {
                self.servers.abort_all();
                Err(ServeError::DrainTimeout { timeout, in_flight: drain.in_flight() })
            }
        };
        let (completed, streams) = drain.drained_counts();
        let stats = DrainStats {
            connections_drained: connections as u64,
            streams_told_to_reconnect: streams,
            rpcs_completed: completed,
            rpcs_canceled: canceled as u64,
        };
        (result, stats)
    }

    /// Stop the loops, save the rate limit windows for the next process, record the end of
    /// the run and close the store.
    pub async fn finish(
        self,
        outcome: Result<(), ServeError>,
        socket: SocketFile,
    ) -> Result<(), ServeError> {
        let mut outcome = outcome;
        let stuck = self.ctx.tasks.stop(TASK_STOP_TIMEOUT).await;
        if stuck > 0 {
            outcome = outcome.and(Err(ServeError::TasksStuck { count: stuck }));
        }
        crate::auth::carry::save(&self.ctx.limits, self.ctx.store.as_ref()).await;
        if let Err(err) = self.ctx.store.end_run(self.run_id, outcome.is_ok()).await {
            tracing::error!(error = %err, "could not record the end of this run");
        }
        self.ctx.store.close().await;
        if socket == SocketFile::Remove {
            self.socket_path.as_deref().map(Listeners::remove_socket_file);
        }
        outcome
    }
}
