//! What every service of a running server shares: configuration, store, drain handle and
//! facts about this process.

use crate::auth::RateLimiter;
use crate::config::{ConfigHandle, Observers};
use crate::lifecycle::snapshot::StateSections;
use crate::lifecycle::{Drain, Tasks};
use crate::store::Store;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

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
    pub health: crate::health::Sources,
    /// Volatile state carried over hot restarts: register a section to contribute to the
    /// snapshot; take what the predecessor saved at start-up.
    pub state: StateSections,
    /// The per-principal rate limits; their window is carried to the next process
    /// (`auth::carry`) when this one hands over or stops.
    pub limits: Arc<RateLimiter>,
    pub process: ProcessInfo,
}

/// Facts about the serving process.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    pub started_at: SystemTime,
    pub started: Instant,
    pub pid: u32,
    /// 0 for a fresh start; each hot restart hands over `generation + 1`.
    pub generation: u64,
}

impl ProcessInfo {
    pub fn current(generation: u64) -> Self {
        Self {
            started_at: SystemTime::now(),
            started: Instant::now(),
            pid: std::process::id(),
            generation,
        }
    }
}
