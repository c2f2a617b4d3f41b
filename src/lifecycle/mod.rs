//! Process lifecycle: the drain coordinator, OS signals and systemd notifications.
//!
//! Shutdown happens in a fixed order, driven by `server::run`:
//!
//! 1. a signal (SIGTERM/SIGINT) arrives; systemd is told `STOPPING=1`;
//! 2. every health status flips to NOT_SERVING (probes and `Watch` subscribers see it first)
//!    and [`Drain::announce`] refuses new restarts; for `server.shutdown_delay` (0 by default)
//!    the listeners still accept and RPCs are served, so load balancers and probes stop
//!    sending traffic before anything is refused (a second signal ends the wait);
//! 3. [`Drain::begin`]: the listeners stop accepting and HTTP/2 GOAWAY goes out, while RPCs
//!    already received keep running;
//! 4. after a short flush grace, [`Drain::close_streams`] ends open server streams with
//!    UNAVAILABLE and a "reconnect" message;
//! 5. the process waits for in-flight RPCs up to `server.drain_timeout`;
//! 6. background loops ([`crate::tasks::Tasks`]) are told to stop and awaited;
//! 7. the rate limit windows are saved (`auth::carry`), the run is marked clean in the store
//!    and the process exits.
//!
//! A hot restart ([`restart`]) replaces steps 1 and 7: the successor is started first and
//! the old process drains the same way once it serves.
//!
//! It also owns the [`ServerContext`], the handles every service shares, which `server` builds
//! and hands down. Apart from [`restart`] (which drives the store and the server context
//! through a restart), this module knows nothing about gRPC or the store; it only provides the
//! handles.

mod context;
mod drain;
pub mod fds;
pub mod restart;
pub mod signals;
pub mod snapshot;

pub use context::ServerContext;
pub use drain::{ConnectionGuard, Drain, RpcGuard};
