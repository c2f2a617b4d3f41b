//! `rebound rollout start|get|list|watch|abort`: one action for many devices, with live
//! progress.

use clap::{ArgGroup, Args, Subcommand};

use super::ClientArgs;
use super::display::{self, failed, name, time};
use crate::exit;
use crate::proto::v1 as pb;

#[derive(Debug, Args)]
pub struct RolloutArgs {
    #[command(subcommand)]
    pub verb: Verb,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Start a rollout: the canary first, then waves, aborted automatically when too many fail.
    #[command(group(ArgGroup::new("target").required(true).args(["all", "group", "clients"])))]
    Start {
        #[arg(long, value_parser = display::parse_action)]
        action: i32,
        /// Every registered device.
        #[arg(long)]
        all: bool,
        /// Every device of this group.
        #[arg(long)]
        group: Option<String>,
        /// These devices (comma-separated UUIDs).
        #[arg(long, value_delimiter = ',')]
        clients: Vec<String>,
        /// Canary size (0: no canary); default 5 % of the targets.
        #[arg(long, conflicts_with = "canary_percent")]
        canary_count: Option<u32>,
        #[arg(long)]
        canary_percent: Option<u32>,
        /// Commands per minute in the waves (default 60).
        #[arg(long, default_value_t = 0)]
        max_per_minute: u32,
        /// Abort above this failure percentage (default rollout.abort_failure_percent).
        #[arg(long)]
        abort_failure_percent: Option<f64>,
        /// The abort rule applies once this many finished (default rollout.min_finished).
        #[arg(long)]
        min_finished: Option<u32>,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long, value_parser = display::parse_duration)]
        expires_in: Option<prost_types::Duration>,
        /// Idempotency key (UUID).
        #[arg(long)]
        rollout_id: Option<String>,
        /// Then show live progress until the rollout ends.
        #[arg(long)]
        watch: bool,
    },
    /// Show one rollout and its counters.
    Get { rollout_id: String },
    /// List rollouts, newest first.
    List,
    /// Show live progress until the rollout ends.
    Watch { rollout_id: String },
    /// Abort: cancel what the devices have not accepted; issue nothing more.
    Abort {
        rollout_id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// One progress line.
pub fn progress(r: &pb::Rollout) -> String {
    let c = r.counters.unwrap_or_default();
    let mut line = format!(
        "{} {:<9} total {} pending {} queued {} in_flight {} completed {} failed {} timed_out {} expired {} canceled {} rejected {} failure {:.1}%",
        r.rollout_id,
        name(r.state().as_str_name(), "ROLLOUT_STATE_"),
        c.total,
        c.pending,
        c.queued,
        c.in_flight,
        c.completed,
        c.failed,
        c.timed_out,
        c.expired,
        c.canceled,
        c.rejected,
        r.failure_percent,
    );
    if !r.abort_reason.is_empty() {
        line.push_str(&format!(" — {}", r.abort_reason));
    }
    line
}

pub async fn run(args: RolloutArgs) -> u8 {
    let mut rpc = match display::connect(&args.client).await {
        Ok(rpc) => rpc,
        Err(code) => return code,
    };
    match args.verb {
        Verb::Start {
            action,
            all,
            group,
            clients,
            canary_count,
            canary_percent,
            max_per_minute,
            abort_failure_percent,
            min_finished,
            reason,
            expires_in,
            rollout_id,
            watch,
        } => {
            use pb::rollout_target::Target;
            let target = if all {
                Target::AllClients(true)
            } else if let Some(group) = group {
                Target::Group(group)
            } else {
                Target::Clients(pb::ClientUuidList { client_uuids: clients })
            };
            use pb::start_rollout_request::Canary;
            let canary =
                canary_count.map(Canary::CanaryCount).or(canary_percent.map(Canary::CanaryPercent));
            let request = pb::StartRolloutRequest {
                rollout_id: rollout_id.unwrap_or_default(),
                action,
                target: Some(pb::RolloutTarget { target: Some(target) }),
                canary,
                max_per_minute,
                abort_failure_percent,
                min_finished,
                reason,
                requested_by: None,
                expires_in,
            };
            let rollout = match rpc.start_rollout(request).await {
                Ok(r) => r.into_inner().rollout.unwrap_or_default(),
                Err(status) => return failed("StartRollout", &status),
            };
            println!("started: {}", progress(&rollout));
            if watch { follow(&mut rpc, rollout.rollout_id).await } else { exit::OK }
        }
        Verb::Get { rollout_id } => {
            match rpc.get_rollout(pb::GetRolloutRequest { rollout_id }).await {
                Ok(r) => {
                    let r = r.into_inner().rollout.unwrap_or_default();
                    println!("{}", progress(&r));
                    println!(
                        "action {}  canary {}  max/min {}  abort above {:.1}% after {}  created {}  finished {}",
                        name(r.action().as_str_name(), "ACTION_"),
                        r.canary_size,
                        r.max_per_minute,
                        r.abort_failure_percent,
                        r.min_finished,
                        time(r.created_at.as_ref()),
                        time(r.finished_at.as_ref()),
                    );
                    exit::OK
                }
                Err(status) => failed("GetRollout", &status),
            }
        }
        Verb::List => {
            let reply = rpc.list_rollouts(pb::ListRolloutsRequest::default()).await;
            display::print_reply("ListRollouts", reply, |r| {
                r.rollouts.iter().map(progress).collect::<Vec<_>>().join("\n")
            })
        }
        Verb::Watch { rollout_id } => follow(&mut rpc, rollout_id).await,
        Verb::Abort { rollout_id, reason } => {
            let reply = rpc.abort_rollout(pb::AbortRolloutRequest { rollout_id, reason }).await;
            display::print_reply("AbortRollout", reply, |r| {
                format!("aborted: {}", progress(&r.rollout.unwrap_or_default()))
            })
        }
    }
}

async fn follow(rpc: &mut display::DeviceRpc, rollout_id: String) -> u8 {
    let opened = rpc.watch_rollout(pb::WatchRolloutRequest { rollout_id }).await;
    display::print_stream("WatchRollout", opened, |m| progress(&m.rollout.unwrap_or_default()))
        .await
}
