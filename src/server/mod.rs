//! The `rebound serve` process: binds (or inherits) listeners, opens the store, wires the
//! gRPC services behind the RPC layer, and runs the documented shutdown order (see
//! `lifecycle`) or the end of a hot restart.

mod connections;
mod devices;
mod error;
mod listeners;
mod probes;
mod run;
mod shutdown;
mod tls;

pub use error::ServeError;
pub use run::{Stopped, run};
