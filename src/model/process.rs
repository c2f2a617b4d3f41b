//! Facts about the serving process (start time, pid, restart generation, replica id): reported by health,
//! recorded by recovery, handed from one generation to the next by a hot restart.

use std::time::{Instant, SystemTime};

/// Facts about the serving process.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    pub started_at: SystemTime,
    pub started: Instant,
    pub pid: u32,
    /// 0 for a fresh start; each hot restart hands over `generation + 1`.
    pub generation: u64,
    /// This replica's id in a cluster (`cluster.replica_id` or drawn at a cold start; kept
    /// over hot restarts). See `crate::cluster::identity`.
    pub replica_id: String,
}

impl ProcessInfo {
    pub fn current(generation: u64, replica_id: String) -> Self {
        Self {
            started_at: SystemTime::now(),
            started: Instant::now(),
            pid: std::process::id(),
            generation,
            replica_id,
        }
    }
}
