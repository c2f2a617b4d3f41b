//! `rebound restart`: hot-restart a running server and follow it; `status`, `history` and
//! `prepare` report on restarts. Talks to RestartService through the retrying transport, so
//! following a restart survives the old process going away.

use super::{ClientArgs, display, rpc};
use crate::client::Transport;
use crate::exit;
use crate::proto::v1 as pb;
use crate::proto::v1::restart_service_client::RestartServiceClient;
use clap::{Args, Subcommand, ValueEnum};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;

/// How long `--wait` follows a restart before giving up.
const WAIT_LIMIT: Duration = Duration::from_secs(600);

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RestartArgs {
    #[command(subcommand)]
    pub command: Option<RestartCommand>,
    #[command(flatten)]
    pub start: StartArgs,
}

#[derive(Debug, Subcommand)]
pub enum RestartCommand {
    /// Show a restart (by id), or the running one, else the most recent one.
    Status {
        /// Restart id (UUID); default: the current or latest restart.
        id: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List stored restarts, newest first.
    History {
        /// Restarts per page (1–500).
        #[arg(long, default_value_t = 20)]
        limit: i32,
        /// Continue from the token a previous page printed.
        #[arg(long, default_value = "")]
        page_token: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Report whether a restart could start now, without restarting; exit 0 when ready.
    Prepare {
        #[arg(long, value_enum, default_value_t = ModeArg::Auto)]
        mode: ModeArg,
        /// Successor executable to check (absolute path on the server host).
        #[arg(long)]
        binary: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Options of `rebound restart` itself (start a restart).
#[derive(Debug, Args)]
pub struct StartArgs {
    /// handover: a new process takes the sockets over (pid changes); exec: re-exec in place
    /// (pid kept); auto: exec when the server is PID 1, else handover.
    #[arg(long, value_enum, default_value_t = ModeArg::Auto)]
    mode: ModeArg,
    /// Why (recorded with the restart).
    #[arg(long, value_enum, default_value_t = ReasonArg::Manual)]
    reason: ReasonArg,
    /// Successor executable (absolute path on the server host); default: the running one.
    #[arg(long)]
    binary: Option<String>,
    /// How long in-flight RPCs may take to finish (1s–300s); default: server.drain_timeout.
    #[arg(long, value_parser = humantime::parse_duration)]
    drain_timeout: Option<Duration>,
    /// Start the successor from the store alone (no state snapshot).
    #[arg(long)]
    no_preserve_state: bool,
    /// Follow the phases live; exit 1 when the restart fails or rolls back.
    #[arg(long)]
    wait: bool,
    /// Restart every live replica of the cluster one at a time (RollingRestart): the others
    /// first, each once the previous one serves again with a new generation, the one at
    /// --addr last; prints each replica's id, address, old -> new generation and time to
    /// SERVING, waits for all, and exits non-zero naming the replica that failed (nothing
    /// after it is restarted). On SQLite: this one server. See docs/cluster.md.
    #[arg(long)]
    all: bool,
    /// With --all: how long each replica may take to serve again (1s–600s; default 120s).
    #[arg(long, value_parser = humantime::parse_duration, requires = "all")]
    replica_timeout: Option<Duration>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Auto,
    Handover,
    Exec,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReasonArg {
    Manual,
    ConfigurationUpdate,
    SchemaMigration,
    ErrorRecovery,
    EmergencyShutdown,
    BinaryUpgrade,
}

impl ModeArg {
    fn proto(self) -> pb::RestartMode {
        match self {
            ModeArg::Auto => pb::RestartMode::Auto,
            ModeArg::Handover => pb::RestartMode::Handover,
            ModeArg::Exec => pb::RestartMode::Exec,
        }
    }
}

impl ReasonArg {
    fn proto(self) -> pb::RestartReason {
        use pb::RestartReason as R;
        match self {
            ReasonArg::Manual => R::ManualRequest,
            ReasonArg::ConfigurationUpdate => R::ConfigurationUpdate,
            ReasonArg::SchemaMigration => R::SchemaMigration,
            ReasonArg::ErrorRecovery => R::ErrorRecovery,
            ReasonArg::EmergencyShutdown => R::EmergencyShutdown,
            ReasonArg::BinaryUpgrade => R::BinaryUpgrade,
        }
    }
}

/// A command's result: `Err` holds the exit code of a failure already reported on stderr.
type Outcome = Result<u8, u8>;

async fn client(args: &ClientArgs) -> Result<RestartServiceClient<Transport>, u8> {
    rpc::connect(args).await.map(RestartServiceClient::new)
}

pub async fn run(args: RestartArgs) -> u8 {
    let result = match args.command {
        None => start(args.start).await,
        Some(RestartCommand::Status { id, client }) => status(id, &client).await,
        Some(RestartCommand::History { limit, page_token, client }) => {
            history(limit, page_token, &client).await
        }
        Some(RestartCommand::Prepare { mode, binary, client }) => {
            prepare(mode, binary, &client).await
        }
    };
    result.unwrap_or_else(|code| code)
}

async fn start(args: StartArgs) -> Outcome {
    let request = pb::RestartRequest {
        mode: args.mode.proto() as i32,
        reason: args.reason.proto() as i32,
        drain_timeout: args.drain_timeout.and_then(|d| prost_types::Duration::try_from(d).ok()),
        preserve_state: Some(!args.no_preserve_state),
        binary: args.binary.unwrap_or_default(),
    };
    if args.all {
        return super::restart_all::run(&args.client, request, args.replica_timeout).await;
    }
    let response = client(&args.client)
        .await?
        .restart(request)
        .await
        .map_err(|status| rpc::failed("Restart", &status))?
        .into_inner();
    let event = response.restart.unwrap_or_default();
    println!(
        "restart {} requested: mode {}, reason {}",
        response.restart_id,
        name(event.mode().as_str_name(), "RESTART_MODE_"),
        name(event.reason().as_str_name(), "RESTART_REASON_")
    );
    if !args.wait {
        return Ok(exit::OK);
    }
    let last = follow(&args.client, &response.restart_id).await?;
    print!("{}", render(&last));
    Ok(if last.phase() == pb::RestartPhase::Complete { exit::OK } else { exit::FAILURE })
}

/// Print phase transitions until the restart is terminal, reconnecting (to the successor)
/// when the old process ends the stream.
async fn follow(args: &ClientArgs, id: &str) -> Result<pb::RestartEvent, u8> {
    let started = Instant::now();
    let mut printed = 0usize;
    loop {
        if started.elapsed() > WAIT_LIMIT {
            eprintln!("rebound: restart {id} not finished after {WAIT_LIMIT:?}");
            return Err(exit::FAILURE);
        }
        let Ok(mut client) = client(args).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let request = pb::WatchRestartRequest { restart_id: id.to_owned() };
        let mut stream = match client.watch_restart(request).await {
            Ok(stream) => stream.into_inner(),
            Err(status) if status.code() == tonic::Code::Unavailable => continue,
            Err(status) => return Err(rpc::failed("WatchRestart", &status)),
        };
        while let Some(message) = stream.next().await {
            let event = match message {
                Ok(message) => message.restart.unwrap_or_default(),
                Err(status) if status.code() == tonic::Code::Unavailable => break,
                Err(status) => return Err(rpc::failed("WatchRestart", &status)),
            };
            for timing in event.phase_timings.iter().skip(printed) {
                println!("  {:<20} started", name(timing.phase().as_str_name(), "RESTART_PHASE_"));
                printed += 1;
            }
            if is_terminal(event.phase()) {
                return Ok(event);
            }
        }
    }
}

fn is_terminal(phase: pb::RestartPhase) -> bool {
    matches!(
        phase,
        pb::RestartPhase::Complete | pb::RestartPhase::Failed | pb::RestartPhase::RolledBack
    )
}

async fn status(id: Option<String>, args: &ClientArgs) -> Outcome {
    let request = pb::GetRestartStatusRequest { restart_id: id.unwrap_or_default() };
    let response = client(args)
        .await?
        .get_restart_status(request)
        .await
        .map_err(|status| rpc::failed("GetRestartStatus", &status))?
        .into_inner();
    println!("serving     pid {} generation {}", response.pid, response.generation);
    match response.restart {
        Some(event) => print!("{}", render(&event)),
        None => println!("no restart recorded"),
    }
    Ok(exit::OK)
}

async fn history(limit: i32, page_token: String, args: &ClientArgs) -> Outcome {
    let request = pb::ListRestartEventsRequest { page_size: limit, page_token, outcomes: vec![] };
    let page = client(args)
        .await?
        .list_restart_events(request)
        .await
        .map_err(|status| rpc::failed("ListRestartEvents", &status))?
        .into_inner();
    println!(
        "{:<36}  {:<24}  {:<8}  {:<11}  {:>9}  pids",
        "restart", "requested", "mode", "phase", "duration"
    );
    for event in &page.events {
        println!(
            "{:<36}  {:<24}  {:<8}  {:<11}  {:>9}  {} -> {}",
            event.restart_id,
            display::time(event.requested_at.as_ref()),
            name(event.mode().as_str_name(), "RESTART_MODE_"),
            name(event.phase().as_str_name(), "RESTART_PHASE_"),
            display::millis(event.duration.as_ref()),
            event.old_pid,
            event.new_pid
        );
    }
    if !page.next_page_token.is_empty() {
        println!("more: --page-token {}", page.next_page_token);
    }
    Ok(exit::OK)
}

async fn prepare(mode: ModeArg, binary: Option<String>, args: &ClientArgs) -> Outcome {
    let request = pb::PrepareShutdownRequest {
        mode: mode.proto() as i32,
        binary: binary.unwrap_or_default(),
    };
    let report = client(args)
        .await?
        .prepare_shutdown(request)
        .await
        .map_err(|status| rpc::failed("PrepareShutdown", &status))?
        .into_inner();
    let checks = report.checks.clone().unwrap_or_default();
    println!("ready              {}", if report.ready { "yes" } else { "no" });
    println!("mode               {}", name(report.resolved_mode().as_str_name(), "RESTART_MODE_"));
    for issue in &report.blocking_issues {
        println!(
            "blocking           {}: {}",
            name(issue.code().as_str_name(), "BLOCKING_ISSUE_CODE_"),
            issue.message
        );
    }
    println!("in-flight rpcs     {}", checks.in_flight_rpcs);
    println!("open streams       {}", checks.open_streams);
    println!("open connections   {}", checks.open_connections);
    println!("scheduler tasks    {}", checks.scheduler_tasks);
    println!("pending writes     {}", checks.pending_store_writes);
    println!(
        "successor binary   {} (present: {}, executable: {})",
        checks.successor_binary,
        checks.successor_binary_present,
        checks.successor_binary_executable
    );
    Ok(if report.ready { exit::OK } else { exit::FAILURE })
}

fn name(full: &str, prefix: &str) -> String {
    full.trim_start_matches(prefix).to_lowercase()
}

/// A restart as a few aligned lines.
fn render(event: &pb::RestartEvent) -> String {
    let mut out = format!(
        "restart     {}\nphase       {} ({}%)\nmode        {} (requested {})\nreason      {}\npids        {} -> {}\ngeneration  {} -> {}\n",
        event.restart_id,
        name(event.phase().as_str_name(), "RESTART_PHASE_"),
        event.progress_percent,
        name(event.mode().as_str_name(), "RESTART_MODE_"),
        name(event.requested_mode().as_str_name(), "RESTART_MODE_"),
        name(event.reason().as_str_name(), "RESTART_REASON_"),
        event.old_pid,
        event.new_pid,
        event.generation_before,
        event.generation_after,
    );
    out.push_str(&format!(
        "snapshot    {} {}\nduration    {}\n",
        name(event.snapshot().as_str_name(), "SNAPSHOT_OUTCOME_"),
        event.snapshot_detail,
        display::millis(event.duration.as_ref())
    ));
    if let Some(drain) = &event.drain {
        out.push_str(&format!(
            "drain       {} connection(s), {} stream(s) told to reconnect, {} rpc(s) completed, {} canceled\n",
            drain.connections_drained, drain.streams_told_to_reconnect, drain.rpcs_completed, drain.rpcs_canceled
        ));
    }
    for timing in &event.phase_timings {
        out.push_str(&format!(
            "  {:<20} {}\n",
            name(timing.phase().as_str_name(), "RESTART_PHASE_"),
            display::millis(timing.duration.as_ref())
        ));
    }
    if !event.error.is_empty() {
        out.push_str(&format!(
            "error       {} (in {})\n",
            event.error,
            name(event.failed_phase().as_str_name(), "RESTART_PHASE_")
        ));
    }
    out
}
