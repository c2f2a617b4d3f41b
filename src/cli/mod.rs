//! The `rebound` command line: `serve` runs the control plane; every other subcommand is an
//! admin command that talks to a running server over gRPC (`--addr`).
//!
//! Commands print for people on stdout, errors as one line on stderr, and exit with the
//! codes in [`crate::exit`].

mod auth;
mod bench;
mod clients;
mod command;
mod config;
mod demo;
mod device;
mod display;
mod fleet_sim;
mod health;
mod recovery;
mod restart;
mod restart_all;
mod rollout;
mod rpc;
mod serve;

use crate::client::{ClientArgs, parse_args};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// rebound — restart-and-recovery control plane.
///
/// Hot restarts without failed requests, crash recovery from the database, config reload
/// without restart, and device commands over MQTT, all behind one gRPC API.
#[derive(Debug, Parser)]
#[command(name = "rebound", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("REBOUND_GIT_SHA"), ")"), propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the control plane server (SQLite under ./rebound-data and 127.0.0.1:50051 by default).
    ///
    /// Its async runtime uses one worker per core less one (at least one), leaving a core to
    /// the SQLite connection threads; TOKIO_WORKER_THREADS sets the count instead.
    Serve(serve::ServeArgs),
    /// Print a running server's health report; exit 0 when serving, 69 when not or unreachable.
    Health(health::HealthArgs),
    /// Device commands: issue, get, list, watch, cancel.
    Command(command::CommandArgs),
    /// The device registry: list, get, update, clear-service-failed.
    Clients(clients::ClientsArgs),
    /// Rollouts of one action to many devices: start, get, list, watch, abort.
    Rollout(rollout::RolloutArgs),
    /// Hot-restart a running server (--wait follows the phases; exit 1 on failure or
    /// rollback), every replica of a cluster one at a time (--all), or report on restarts:
    /// status, history, prepare.
    Restart(restart::RestartArgs),
    /// Inspect, validate and reload the server's configuration without restarting it.
    Config(config::ConfigArgs),
    /// Startup recovery reports, retention cleanup, online backups and the audit log.
    Recovery(recovery::RecoveryArgs),
    /// Make API tokens for auth.tokens_file: new-token, hash-token.
    Auth(auth::AuthArgs),
    /// Provision devices: broker accounts in Mosquitto's password file and their agent.toml.
    Device(device::DeviceArgs),
    /// Run a benchmark and print its figures (use a release build).
    Bench(bench::BenchArgs),
    /// Simulate N devices (real agent sessions, simulated executor) against a broker.
    FleetSim(fleet_sim::FleetSimArgs),
    /// Everything on this machine: mosquitto, a server on SQLite, 50 simulated devices and a
    /// canary rollout of restart_app with live progress (needs mosquitto installed).
    Demo(demo::DemoArgs),
}

/// The async runtime a command runs on. `serve` leaves one core to the threads outside the
/// runtime: every pool connection runs on a thread of its own (sqlx), and the device
/// writer's statements run in `block_in_place`, which hands the worker's other tasks to a
/// thread of their own meanwhile. With as many runtime workers as cores the workers kept
/// waking and stealing from each other around it: on 2 cores the fan-out benchmark measured
/// 5 % less server CPU per rollout with one worker than with two (median of 22 alternated
/// pairs with sqlx's writer thread); with the rusqlite writer two workers took ×1.07 as long
/// to all terminal (6 pairs, docs/benchmarks.md). `TOKIO_WORKER_THREADS` overrides it.
fn runtime_for(command: &Command) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if matches!(command, Command::Serve(_)) && std::env::var_os(WORKERS_ENV).is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        builder.worker_threads(serve_workers(cores));
    }
    builder.build()
}

/// Environment variable tokio reads for its worker count.
const WORKERS_ENV: &str = "TOKIO_WORKER_THREADS";

/// Runtime workers of `rebound serve` on a machine with `cores` cores: one core less, at
/// least one.
fn serve_workers(cores: usize) -> usize {
    cores.saturating_sub(1).max(1)
}

/// Parse the command line and run the chosen command.
pub fn main() -> ExitCode {
    let cli: Cli = match parse_args() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let runtime = match runtime_for(&cli.command) {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("rebound: cannot start the async runtime: {err}");
            return ExitCode::from(crate::exit::FAILURE);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Health(args) => health::run(args).await,
            Command::Command(args) => command::run(args).await,
            Command::Clients(args) => clients::run(args).await,
            Command::Rollout(args) => rollout::run(args).await,
            Command::Restart(args) => restart::run(args).await,
            Command::Config(args) => config::run(args).await,
            Command::Auth(args) => auth::run(args),
            Command::Device(args) => device::run(args),
            Command::Bench(args) => bench::run(args).await,
            Command::Recovery(args) => recovery::run(args).await,
            Command::FleetSim(args) => fleet_sim::run(args).await,
            Command::Demo(args) => demo::run(args).await,
        }
    });
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::serve_workers;

    #[test]
    fn serve_leaves_one_core_to_the_database_threads() {
        assert_eq!(serve_workers(0), 1);
        assert_eq!(serve_workers(1), 1);
        assert_eq!(serve_workers(2), 1);
        assert_eq!(serve_workers(8), 7);
    }
}
