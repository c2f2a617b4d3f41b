//! rebound — a restart-and-recovery control plane.
//!
//! One process (`rebound serve`) serves a gRPC API (`proto/rebound/v1`) for hot restarts,
//! crash recovery, config reload and device commands. The layering:
//!
//! - [`api`]: tonic services — thin adapters from proto to the domain, behind one RPC layer;
//! - [`config`], [`health`], [`lifecycle`]: the transport-neutral domain;
//! - [`store`]: the `Store` trait and its SQLite implementation (the source of truth);
//! - [`server`]: wiring and the documented start-up/shutdown order;
//! - [`cli`], [`client`]: the admin command line and the gRPC connection helper;
//! - [`agent`]: `rebound-agent`, the device side of the MQTT contract (also run by fleet-sim);
//! - [`mcp`]: the `rebound-mcp` stdio MCP adapter (tools over the gRPC API);
//! - [`proto`]: the generated code, included in one place;
//! - [`contract`], [`duration`], [`systemd`], [`exit`], [`pem`]: leaves both ends share.
//!
//! Without the default `server` feature only the agent and those leaves are compiled: the
//! agent-only build (`cargo build --no-default-features --bin rebound-agent`) has no tonic,
//! sqlx or rusqlite.
#![deny(unsafe_code)]

pub mod agent;
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
pub mod commands;
#[cfg(feature = "server")]
pub mod config;
pub mod contract;
pub mod duration;
#[cfg(feature = "server")]
pub mod error;
pub mod exit;
#[cfg(feature = "server")]
pub mod health;
#[cfg(feature = "server")]
pub mod hex;
#[cfg(feature = "server")]
pub mod ids;
#[cfg(feature = "server")]
pub mod lifecycle;
mod macros;
#[cfg(feature = "server")]
pub mod mcp;
#[cfg(feature = "server")]
pub mod mqtt;
pub mod pem;
#[cfg(feature = "server")]
pub mod proto;
#[cfg(feature = "server")]
pub mod recovery;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod store;
pub mod systemd;
#[cfg(feature = "server")]
pub mod telemetry;
