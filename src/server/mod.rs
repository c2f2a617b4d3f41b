//! The `rebound serve` process: binds listeners, opens the store, wires the gRPC services
//! behind the RPC layer, and runs the documented shutdown order (see `lifecycle`).

mod context;
mod devices;
mod error;
mod listeners;
mod probes;
mod run;

pub use context::{ProcessInfo, ServerContext};
pub use error::ServeError;
pub use run::run;
