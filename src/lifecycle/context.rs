//! What every service of a running server shares: configuration, store, drain handle and
//! facts about this process.
//!
//! It lives here rather than in `server` because the domain needs it (a restart drives the
//! whole server through it; the health report reads parts of it): `server` builds one at
//! start-up and hands it down. Plain handles, no behaviour beyond lending narrow views.

use super::Drain;
use super::snapshot::StateSections;
use crate::auth::RateLimiter;
use crate::cluster::Cluster;
use crate::config::{ConfigHandle, Observers};
use crate::health;
use crate::model::process::ProcessInfo;
use crate::store::Store;
use crate::tasks::Tasks;
use std::sync::Arc;

/// Shared, read-mostly state handed to every gRPC service.
pub struct ServerContext {
    /// The live configuration (swapped atomically on reload).
    pub config: ConfigHandle,
    /// Components that follow config reloads register here.
    pub observers: Observers,
    pub store: Arc<dyn Store>,
    /// Shutdown state and in-flight RPC accounting.
    pub drain: Drain,
    /// The background loops (suspended for hot restarts, stopped at shutdown).
    pub tasks: Tasks,
    /// Components that report their own health (MQTT gateway, …).
    pub health: health::Sources,
    /// Volatile state carried over hot restarts: register a section to contribute to the
    /// snapshot; take what the predecessor saved at start-up.
    pub state: StateSections,
    /// The per-principal rate limits; their window is carried to the next process
    /// (`auth::carry`) when this one hands over or stops.
    pub limits: Arc<RateLimiter>,
    pub process: ProcessInfo,
    /// This replica's side of the cluster: its id and whether it leads.
    pub cluster: Arc<Cluster>,
}

impl ServerContext {
    /// What the health report reads of this server.
    pub fn health_inputs(&self) -> health::Inputs<'_> {
        health::Inputs {
            store: self.store.as_ref(),
            config: &self.config,
            sources: &self.health,
            draining: self.drain.is_stopping(),
            process: &self.process,
            cluster: &self.cluster,
        }
    }
}
