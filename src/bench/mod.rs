//! Benchmarks (`rebound bench <name>`): programs that print figures, never tests.
//!
//! Every benchmark measures a baseline in the same run and reports ratios (see
//! BENCHMARKS.md), prints one `name=value unit` line per figure followed by a table for
//! people, and has a `--smoke` mode small enough for the test command.

mod clients;
pub mod cluster;
mod cluster_failover;
mod cluster_fanout;
pub mod console;
mod cpu;
mod device;
pub mod durability;
pub mod fanout;
mod http;
mod load;
pub mod memory;
pub mod recovery;
mod recovery_target;
pub mod reload;
pub mod restart;
pub mod server;
pub mod stats;

/// A benchmark's own failure (setup, timeout, a count that does not add up).
fn fail(what: impl std::fmt::Display) -> crate::error::Error {
    crate::error::Error::Internal(what.to_string())
}
