//! rebound — a restart-and-recovery control plane.
//!
//! One process (`rebound serve`) serves a gRPC API (`proto/rebound/v1`) for hot restarts,
//! crash recovery, config reload and device commands. The modules stand in layers, and a
//! module imports only the layers below it (`tests/layers.rs` checks this, and that no
//! top-level modules import each other in a loop):
//!
//! ```text
//!  entry points   cli, bench                  (and src/bin)     may import anything
//!       |
//!  server         server                      wires listeners, services and loops
//!       |
//!  adapters       api (gRPC), mqtt, http       independent of each other
//!       |
//!  domain         commands, config, lifecycle, recovery, health, auth, audit, error,
//!                 cluster
//!       |                                     no tonic, no rumqttc; no loop among them
//!  store          store                       the Store traits, the SQLite and PostgreSQL backends
//!       |
//!  model          model                       records and enums: commands, clients,
//!       |                                     rollouts, restarts, process, durability
//!  leaves         proto, contract, ids, hex, pem, clock, tasks, duration, systemd, exit,
//!                 macros, mosquitto, telemetry, metrics, testing (unit tests only)
//!
//!  client side    client, mcp, agent, the admin half of cli: leaves (and client) only
//! ```
//!
//! - [`api`]: tonic services — thin adapters from proto to the domain, behind one RPC layer;
//! - [`http`]: the HTTP listener's adapter (the operator console, its JSON gateway to the
//!   same gRPC services, Prometheus `/metrics`);
//! - [`commands`], [`config`], [`health`], [`lifecycle`], [`recovery`], [`cluster`] (replica
//!   id, the lease, who leads): the transport-neutral domain; [`lifecycle::ServerContext`]
//!   is what every service shares;
//! - [`model`]: the records the domain decides about and the store keeps;
//! - [`store`]: the `Store` traits, the SQLite and PostgreSQL backends (the source of truth);
//! - [`server`]: wiring and the documented start-up/shutdown order;
//! - [`cli`], [`client`]: the admin command line and the gRPC connection helper;
//! - [`agent`]: `rebound-agent`, the device side of the MQTT contract (also run by fleet-sim);
//! - [`mcp`]: the `rebound-mcp` stdio MCP adapter (tools over the gRPC API);
//! - [`proto`]: the generated code, included in one place;
//! - [`contract`], [`clock`], [`duration`], [`systemd`], [`exit`], [`pem`]: leaves both ends
//!   share;
//! - [`metrics`]: the Prometheus registry, a leaf every layer records through.
//!
//! Without the default `server` feature only the agent and those leaves are compiled: the
//! agent-only build (`cargo build --no-default-features --bin rebound-agent`) has no tonic,
//! sqlx or rusqlite.
#![deny(unsafe_code)]

pub mod agent;
pub mod clock;
pub mod contract;
pub mod duration;
pub mod exit;
mod macros;
pub mod pem;
pub mod systemd;
/// The unit tests' helpers (their users are all in the `server` feature).
#[cfg(all(test, feature = "server"))]
mod testing;

// The modules of the `server` feature (everything but the agent and its leaves), each with
// its own attribute so that `cargo fmt` reaches them (it skips modules declared in a macro).
#[cfg(feature = "server")]
pub mod api;
#[cfg(feature = "server")]
pub mod audit;
#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "server")]
pub mod bench;
#[cfg(feature = "server")]
pub mod cli;
#[cfg(feature = "server")]
pub mod client;
#[cfg(feature = "server")]
pub mod cluster;
#[cfg(feature = "server")]
pub mod commands;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
pub mod health;
#[cfg(feature = "server")]
pub mod hex;
#[cfg(feature = "server")]
pub mod http;
#[cfg(feature = "server")]
pub mod ids;
#[cfg(feature = "server")]
pub mod lifecycle;
#[cfg(feature = "server")]
pub mod mcp;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod model;
#[cfg(feature = "server")]
pub mod mosquitto;
#[cfg(feature = "server")]
pub mod mqtt;
#[cfg(feature = "server")]
pub mod proto;
#[cfg(feature = "server")]
pub mod recovery;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod tasks;
#[cfg(feature = "server")]
pub mod telemetry;
