//! `rebound-agent`: the device side of `contracts/mqtt-v1.md`, what runs on each device.
//!
//! It receives commands, validates them strictly, remembers every `command_id` durably before
//! acking, runs the allow-listed argv of the action (or simulates it), and reports heartbeats
//! and its online/offline status. It shares the contract's payload and topic code with the
//! server ([`crate::contract`]) and uses none of the server's config, store, API or gateway.
//! `rebound fleet-sim` runs many of these agents in one process.

pub mod config;
pub mod executor;
pub mod fleet;
pub mod machine;
mod notify;
pub mod session;
pub mod state;
pub mod validate;
pub mod wire;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

pub use config::AgentConfig;
pub use session::{Agent, AgentError, Exit, Stats};
pub use state::State;

/// rebound-agent — carries out rebound's device commands (reboot, shutdown, app restart).
#[derive(Debug, Parser)]
#[command(name = "rebound-agent", version)]
pub struct AgentCli {
    /// The agent's TOML config.
    #[arg(long, short, env = "REBOUND_AGENT_CONFIG", default_value = "/etc/rebound/agent.toml")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Option<AgentCommand>,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Run the agent (the default).
    Run,
    /// Publish the retained service_failed message for UNIT (systemd OnFailure=) and exit.
    NotifyFailure {
        /// The failed systemd unit.
        #[arg(long)]
        unit: String,
    },
}

/// The `rebound-agent` binary.
pub fn main() -> ExitCode {
    let cli = AgentCli::parse();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    let config = match AgentConfig::load(&cli.config) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("rebound-agent: {err}");
            return ExitCode::from(crate::exit::USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("rebound-agent: cannot start the async runtime: {err}");
            return ExitCode::from(crate::exit::FAILURE);
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(AgentCommand::Run) {
            AgentCommand::Run => run(config).await,
            AgentCommand::NotifyFailure { unit } => {
                notify::notify_failure(&config, &unit).await.map(|()| Exit::Stopped)
            }
        }
    });
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rebound-agent: {err}");
            let code = match err {
                AgentError::Config(_) => crate::exit::USAGE,
                _ => crate::exit::FAILURE,
            };
            ExitCode::from(code)
        }
    }
}

async fn run(config: AgentConfig) -> Result<Exit, AgentError> {
    let password = config.password()?;
    let state = State::open(&config.state_dir, wire::now_ms())?;
    let stop = CancellationToken::new();
    spawn_signal_handler(stop.clone())?;
    crate::systemd::spawn_watchdog(stop.clone());
    crate::systemd::ready();
    tracing::info!(client = %config.client_uuid, broker = %config.broker_url, "agent started");
    let agent = Agent::new(Arc::new(config), state, password, Arc::new(Stats::default()));
    let exit = agent.run(stop).await;
    crate::systemd::stopping();
    tracing::info!("agent stopped");
    exit
}

fn spawn_signal_handler(stop: CancellationToken) -> Result<(), AgentError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(AgentError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(AgentError::Signals)?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        stop.cancel();
    });
    Ok(())
}
