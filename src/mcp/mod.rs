//! `rebound-mcp`: a stdio MCP server (rmcp) whose tools call a rebound server over gRPC.
//!
//! Stdout carries only the MCP protocol; logs go to stderr. The session survives restarts
//! and crashes of the rebound server: [`gateway`] holds calls made while it is away (a
//! bounded buffer, `--buffer`) and retries them with backoff until `--call-deadline`.
//! [`tools`] defines the tools, [`params`] their arguments, [`schema`] their input and output
//! JSON Schemas, [`render`] and [`json`] their text and structured results, [`explain`]
//! their error messages.
//! This module only parses the command line and runs the server; it does not touch gRPC
//! messages.

pub mod explain;
pub mod gateway;
pub mod json;
pub mod params;
pub mod render;
pub mod schema;
pub mod tools;

use clap::Parser;
use rmcp::ServiceExt;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// rebound-mcp — MCP stdio server for a rebound control plane.
///
/// Speaks MCP on stdin/stdout and calls the rebound server's gRPC API. Add it to an MCP
/// client as the command `rebound-mcp --addr 127.0.0.1:50051`. While the rebound server
/// restarts, tool calls are held (up to --buffer of them) and retried until
/// --call-deadline, then fail with a clear message.
#[derive(Debug, Parser)]
#[command(name = "rebound-mcp", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("REBOUND_GIT_SHA"), ")"))]
pub struct Args {
    #[command(flatten)]
    pub client: crate::client::ClientArgs,
    /// How many calls may be held at once while the server is unreachable; more fail at once.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub buffer: u32,
    /// How long a call may be held and retried while the server is unreachable, e.g. 60s, 2m.
    #[arg(long, default_value = "60s", value_parser = parse_deadline)]
    pub call_deadline: Duration,
}

fn parse_deadline(text: &str) -> Result<Duration, String> {
    let deadline = humantime::parse_duration(text).map_err(|err| err.to_string())?;
    if deadline.is_zero() {
        return Err("must be greater than 0".to_owned());
    }
    Ok(deadline)
}

/// Parse the command line and serve MCP on stdio until the client disconnects.
pub fn main() -> ExitCode {
    let args: Args = match crate::client::parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    if let Err(err) = crate::client::Address::parse(&args.client.addr) {
        eprintln!("rebound-mcp: --addr: {err}");
        return ExitCode::from(crate::exit::USAGE);
    }
    if let Some(Err(err)) = args.client.token.as_deref().map(crate::client::bearer) {
        eprintln!("rebound-mcp: --token: {err}");
        return ExitCode::from(crate::exit::USAGE);
    }
    let telemetry = match crate::telemetry::init(&crate::telemetry::TelemetryConfig::default()) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("rebound-mcp: {err}");
            return ExitCode::from(crate::exit::FAILURE);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("rebound-mcp: cannot start the async runtime: {err}");
            return ExitCode::from(crate::exit::FAILURE);
        }
    };
    let code = runtime.block_on(serve(args));
    telemetry.shutdown();
    ExitCode::from(code)
}

async fn serve(args: Args) -> u8 {
    let gateway = Arc::new(
        gateway::Gateway::new(args.client.addr.clone(), args.buffer as usize, args.call_deadline)
            .with_options(args.client.options()),
    );
    tracing::info!(
        addr = %args.client.addr, buffer = args.buffer, call_deadline = ?args.call_deadline,
        "rebound-mcp serving MCP on stdio"
    );
    let service = match tools::Tools::new(gateway).serve(rmcp::transport::stdio()).await {
        Ok(service) => service,
        Err(err) => {
            tracing::error!(error = %err, "mcp initialization failed");
            return crate::exit::FAILURE;
        }
    };
    match service.waiting().await {
        Ok(reason) => {
            tracing::info!(?reason, "mcp session ended");
            crate::exit::OK
        }
        Err(err) => {
            tracing::error!(error = %err, "mcp session failed");
            crate::exit::FAILURE
        }
    }
}
