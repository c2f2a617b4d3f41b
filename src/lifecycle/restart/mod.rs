//! Hot restart: replacing the running server process without failing a request, carrying
//! its volatile state over, and rolling back when the successor does not come up.
//!
//! # Protocol
//!
//! One restart runs at a time ([`Restarter::start`] refuses a second with
//! FAILED_PRECONDITION). Every phase is a tracing span `restart.<phase>` (exported over
//! OpenTelemetry), and every transition is saved to the store and broadcast to
//! `WatchRestart` subscribers.
//!
//! **Handover** (the default; the pid changes):
//!
//! 1. `preparing` — the PrepareShutdown checks ([`prepare`]); the mode is resolved.
//! 2. `suspending_tasks` — background loops park at a safe point ([`crate::tasks::Tasks`]).
//! 3. `serializing_state` — the snapshot ([`crate::lifecycle::snapshot`]) is written, unless
//!    `preserve_state` is false.
//! 4. `starting_successor` — the rate limit windows are saved to the store (the successor
//!    loads them at start, with or without a snapshot), and the binary is spawned with the same arguments and the
//!    environment variable [`HANDOVER_ENV`] (JSON, see [`Handover`]) naming the inherited
//!    descriptors: the TCP and unix listening sockets and one end of a control socket pair,
//!    plus the snapshot path, the restart id, the next generation and the W3C `traceparent`
//!    of this phase. The successor opens the store, restores the snapshot, serves on the
//!    inherited sockets (both processes accept for a moment), tells systemd `MAINPID=`, and
//!    writes `ready` on the control socket. If it exits first, or is not ready within
//!    `restart.ready_timeout`, it is killed, the loops resume and the restart ends
//!    `rolled_back`: the old process never stopped serving.
//! 5. `closing_connections` — the old process stops accepting (the listening sockets stay
//!    open in the successor, so no connection is refused), sends HTTP/2 GOAWAY, lets
//!    in-flight unary RPCs finish within `drain_timeout`, and ends server streams with
//!    UNAVAILABLE and a reconnect message.
//! 6. `finalizing` — the old process sends the restart record (ownership of it) on the
//!    control socket, stops its loops, marks its run clean and exits. The successor, seeing
//!    the control socket close, resumes its loops and records `complete` in the same trace.
//!
//! **Exec** (keeps the pid; AUTO picks it for PID 1): `preparing`, `suspending_tasks`, then
//! `closing_connections` (the listener descriptors are kept open, so arriving connections
//! wait in the kernel's accept queue), `serializing_state`, `starting_successor` (the record
//! is saved and the process `execve`s itself with the descriptors kept), and the new image
//! records `finalizing` and `complete`.
//!
//! A cold start marks restarts left unfinished by a dead process as `interrupted`.
//!
//! This module drives the phases and owns the restart record; serving and draining the gRPC
//! listeners stays in `server` (the restart asks for a drain through a [`Handoff`]).

mod control;
mod coordinator;
mod exec;
mod handover;
mod inherit;
mod phases;
mod prepare;
mod stats;
mod successor;

pub use crate::model::restart::{
    DrainStats, Mode, Outcome, Phase, PhaseTiming, Reason, RequestedMode, RestartRecord,
    SnapshotOutcome,
};
pub use coordinator::{AfterDrain, Handoff, RestartRequest, Restarter, Transition};
pub use exec::ExecPlan;
pub use inherit::{HANDOVER_ENV, Handover, InheritError, Inherited, ListenerSockets};
pub use prepare::{Checks, Issue, IssueCode, Readiness};
pub use stats::{ReconnectStats, SessionView};
pub use successor::Startup;
