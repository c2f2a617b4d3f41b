//! `rebound command issue|get|list|watch|cancel`: device commands from the shell.

use clap::{Args, Subcommand};

use super::ClientArgs;
use super::display::{self, failed, name, time};
use crate::exit;
use crate::proto::v1 as pb;

#[derive(Debug, Args)]
pub struct CommandArgs {
    #[command(subcommand)]
    pub verb: Verb,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Issue a command to one device; prints it. Refused with exit 1 when the device's safety
    /// lockout is full (the command is then stored as rejected).
    Issue {
        /// Device UUID.
        #[arg(long = "client")]
        client_uuid: String,
        /// reboot_host, shutdown_host or restart_app.
        #[arg(long, value_parser = display::parse_action)]
        action: i32,
        /// Free-text reason (at most 2000 characters).
        #[arg(long)]
        reason: Option<String>,
        /// Numeric id of the requesting user (at least 1).
        #[arg(long)]
        requested_by: Option<i64>,
        /// Lifetime before the device must accept (e.g. 4m); default commands.default_expiry.
        #[arg(long, value_parser = display::parse_duration)]
        expires_in: Option<prost_types::Duration>,
        /// Idempotency key (UUID); retrying with the same key never issues twice.
        #[arg(long)]
        command_id: Option<String>,
        /// Then follow the command until it is terminal.
        #[arg(long)]
        wait: bool,
    },
    /// Show one command with its event history.
    Get { command_id: String },
    /// List commands, newest first.
    List {
        #[arg(long = "client")]
        client_uuid: Option<String>,
        #[arg(long)]
        rollout: Option<String>,
        /// Only this state (repeatable), e.g. --state completed.
        #[arg(long = "state")]
        states: Vec<String>,
        /// At most this many (all pages are read up to it).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Print transitions as they are stored (one command until it ends, or all until Ctrl-C).
    Watch {
        /// Follow only this command.
        command_id: Option<String>,
        #[arg(long = "client")]
        client_uuid: Option<String>,
        #[arg(long)]
        rollout: Option<String>,
    },
    /// Cancel a command the device has not accepted yet.
    Cancel {
        command_id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

fn state_value(text: &str) -> Result<i32, u8> {
    let upper = format!("COMMAND_STATE_{}", text.to_uppercase());
    pb::CommandState::from_str_name(&upper).map(|s| s as i32).ok_or_else(|| {
        eprintln!("rebound: unknown state {text:?}");
        exit::USAGE
    })
}

pub fn line(c: &pb::Command) -> String {
    format!(
        "{}  {:<17} {:<13} {}  {}",
        c.command_id,
        name(c.state().as_str_name(), "COMMAND_STATE_"),
        name(c.action().as_str_name(), "ACTION_"),
        c.client_uuid,
        time(c.issued_at.as_ref()),
    )
}

fn details(c: &pb::Command) -> String {
    let mut out = format!(
        "command     {}\nclient      {}\naction      {}\nstate       {}\nissued      {}\nexpires     {}\n",
        c.command_id,
        c.client_uuid,
        name(c.action().as_str_name(), "ACTION_"),
        name(c.state().as_str_name(), "COMMAND_STATE_"),
        time(c.issued_at.as_ref()),
        time(c.expires_at.as_ref()),
    );
    if !c.error_code.is_empty() {
        out.push_str(&format!("error       {}: {}\n", c.error_code, c.error_message));
    }
    if c.completion_evidence != 0 {
        out.push_str(&format!(
            "evidence    {}\n",
            name(c.completion_evidence().as_str_name(), "COMPLETION_EVIDENCE_")
        ));
    }
    if let Some(late) = &c.late_outcome {
        out.push_str(&format!(
            "late        {} at {}\n",
            name(late.state().as_str_name(), "COMMAND_STATE_"),
            time(late.received_at.as_ref())
        ));
    }
    if c.ignored_acks > 0 {
        out.push_str(&format!("ignored     {} acks\n", c.ignored_acks));
    }
    if !c.events.is_empty() {
        out.push_str("events\n");
        for e in &c.events {
            out.push_str(&format!(
                "  {}  {:<9} {} -> {}  {}\n",
                time(e.occurred_at.as_ref()),
                name(e.source().as_str_name(), "COMMAND_EVENT_SOURCE_"),
                name(e.from_state().as_str_name(), "COMMAND_STATE_"),
                name(e.to_state().as_str_name(), "COMMAND_STATE_"),
                e.detail
            ));
        }
    }
    out
}

pub async fn run(args: CommandArgs) -> u8 {
    let mut rpc = match display::connect(&args.client).await {
        Ok(rpc) => rpc,
        Err(code) => return code,
    };
    match args.verb {
        Verb::Issue { client_uuid, action, reason, requested_by, expires_in, command_id, wait } => {
            let request = pb::IssueCommandRequest {
                command_id: command_id.unwrap_or_default(),
                client_uuid,
                action,
                reason,
                requested_by,
                expires_in,
            };
            let response = match rpc.issue_command(request).await {
                Ok(r) => r.into_inner(),
                Err(status) => return failed("IssueCommand", &status),
            };
            let command = response.command.unwrap_or_default();
            let verb = if response.created { "issued" } else { "already issued" };
            println!("{verb}: {}", line(&command));
            if wait {
                return follow(
                    &mut rpc,
                    pb::WatchCommandsRequest {
                        command_id: command.command_id,
                        include_current: false,
                        ..Default::default()
                    },
                )
                .await;
            }
            exit::OK
        }
        Verb::Get { command_id } => {
            let reply = rpc.get_command(pb::GetCommandRequest { command_id }).await;
            display::print_reply("GetCommand", reply, |r| {
                details(&r.command.unwrap_or_default()).trim_end().to_owned()
            })
        }
        Verb::List { client_uuid, rollout, states, limit } => {
            let states = match states.iter().map(|s| state_value(s)).collect::<Result<Vec<_>, _>>()
            {
                Ok(states) => states,
                Err(code) => return code,
            };
            let request = pb::ListCommandsRequest {
                page_size: display::page_size(limit),
                client_uuid: client_uuid.unwrap_or_default(),
                rollout_id: rollout.unwrap_or_default(),
                states,
                ..Default::default()
            };
            let fetch = |page_token: String| {
                let mut rpc = rpc.clone();
                let request = pb::ListCommandsRequest { page_token, ..request.clone() };
                async move {
                    let page = rpc.list_commands(request).await?.into_inner();
                    Ok((page.commands, page.next_page_token))
                }
            };
            display::print_pages("ListCommands", limit, fetch, line).await
        }
        Verb::Watch { command_id, client_uuid, rollout } => {
            let request = pb::WatchCommandsRequest {
                command_id: command_id.unwrap_or_default(),
                client_uuid: client_uuid.unwrap_or_default(),
                rollout_id: rollout.unwrap_or_default(),
                include_current: true,
                ..Default::default()
            };
            follow(&mut rpc, request).await
        }
        Verb::Cancel { command_id, reason } => {
            let reply = rpc.cancel_command(pb::CancelCommandRequest { command_id, reason }).await;
            display::print_reply("CancelCommand", reply, |r| {
                format!("canceled: {}", line(&r.command.unwrap_or_default()))
            })
        }
    }
}

async fn follow(rpc: &mut display::DeviceRpc, request: pb::WatchCommandsRequest) -> u8 {
    let opened = rpc.watch_commands(request).await;
    display::print_stream("WatchCommands", opened, |m| {
        let command = m.command.unwrap_or_default();
        match m.event {
            Some(e) => format!("{}  ({})", line(&command), e.detail),
            None => line(&command),
        }
    })
    .await
}
