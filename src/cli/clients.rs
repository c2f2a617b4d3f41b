//! `rebound clients list|get|update|clear-service-failed`: the device registry.

use clap::{Args, Subcommand};

use super::ClientArgs;
use super::display::{self, failed, name, time};
use crate::exit;
use crate::proto::v1 as pb;

#[derive(Debug, Args)]
pub struct ClientsArgs {
    #[command(subcommand)]
    pub verb: Verb,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// List registered devices by UUID.
    List {
        #[arg(long)]
        group: Option<String>,
        /// Only devices whose crash recovery is exhausted.
        #[arg(long)]
        needs_attention: bool,
        /// Only devices with a recorded service failure.
        #[arg(long)]
        service_failed: bool,
        #[arg(long, default_value_t = 500)]
        limit: usize,
    },
    /// Show one device: presence, health, lockout and crash recovery.
    Get { client_uuid: String },
    /// Set a device's group ("" removes it) and/or capability tier (basic, managed_power).
    Update {
        client_uuid: String,
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        tier: Option<String>,
    },
    /// Clear a recorded service failure and the retained MQTT message.
    ClearServiceFailed { client_uuid: String },
}

fn line(c: &pb::Client) -> String {
    format!(
        "{}  {:<8} {:<9} {:<8} {}{}",
        c.client_uuid,
        name(c.presence().as_str_name(), "PRESENCE_"),
        name(c.crash_state().as_str_name(), "CRASH_STATE_"),
        if c.group.is_empty() { "-" } else { &c.group },
        if c.needs_attention { "NEEDS ATTENTION " } else { "" },
        if c.service_failed_unit.is_empty() {
            String::new()
        } else {
            format!("service failed: {}", c.service_failed_unit)
        },
    )
}

/// A device's details as `get` and `update` print them.
fn shown(client: Option<pb::Client>) -> String {
    details(&client.unwrap_or_default()).trim_end().to_owned()
}

fn details(c: &pb::Client) -> String {
    let lockout = c.lockout.unwrap_or_default();
    let recovery = c.crash_recovery.clone().unwrap_or_default();
    format!(
        "client        {}\ngroup         {}\ntier          {}\npresence      {} since {}\nlast health   {}\nprocess       {}\ncrash state   {}\nboot id       {}\napp version   {}\nservice fail  {} {}\nlockout       {}/{} in window{}\nrecovery      {} {}\nregistered    {}\n",
        c.client_uuid,
        c.group,
        name(c.capability_tier().as_str_name(), "CAPABILITY_TIER_"),
        name(c.presence().as_str_name(), "PRESENCE_"),
        time(c.presence_changed_at.as_ref()),
        time(c.last_health_at.as_ref()),
        name(c.process_status().as_str_name(), "PROCESS_STATUS_"),
        name(c.crash_state().as_str_name(), "CRASH_STATE_"),
        c.boot_id,
        c.app_version,
        c.service_failed_unit,
        time(c.service_failed_at.as_ref()),
        lockout.commands_in_window,
        lockout.max,
        if lockout.locked_out {
            format!(", locked out until {}", time(lockout.next_allowed_at.as_ref()))
        } else {
            String::new()
        },
        name(recovery.step().as_str_name(), "CRASH_RECOVERY_STEP_"),
        recovery.detail,
        time(c.registered_at.as_ref()),
    )
}

pub async fn run(args: ClientsArgs) -> u8 {
    let mut rpc = match display::connect(&args.client).await {
        Ok(rpc) => rpc,
        Err(code) => return code,
    };
    match args.verb {
        Verb::List { group, needs_attention, service_failed, limit } => {
            let request = pb::ListClientsRequest {
                page_size: display::page_size(limit),
                group: group.unwrap_or_default(),
                needs_attention: needs_attention.then_some(true),
                service_failed: service_failed.then_some(true),
                ..Default::default()
            };
            let fetch = |page_token: String| {
                let mut rpc = rpc.clone();
                let request = pb::ListClientsRequest { page_token, ..request.clone() };
                async move {
                    let page = rpc.list_clients(request).await?.into_inner();
                    Ok((page.clients, page.next_page_token))
                }
            };
            display::print_pages("ListClients", limit, fetch, line).await
        }
        Verb::Get { client_uuid } => {
            let response = rpc.get_client(pb::GetClientRequest { client_uuid }).await;
            display::print_reply("GetClient", response, |r| shown(r.client))
        }
        Verb::Update { client_uuid, group, tier } => {
            let capability_tier = match tier.as_deref() {
                None => pb::CapabilityTier::Unspecified,
                Some("basic") => pb::CapabilityTier::Basic,
                Some("managed_power") => pb::CapabilityTier::ManagedPower,
                Some(other) => {
                    eprintln!("rebound: unknown tier {other:?} (basic or managed_power)");
                    return exit::USAGE;
                }
            };
            let request = pb::UpdateClientRequest {
                client_uuid,
                group,
                capability_tier: capability_tier as i32,
            };
            let response = rpc.update_client(request).await;
            display::print_reply("UpdateClient", response, |r| shown(r.client))
        }
        Verb::ClearServiceFailed { client_uuid } => {
            match rpc.clear_service_failed(pb::ClearServiceFailedRequest { client_uuid }).await {
                Ok(r) => {
                    let r = r.into_inner();
                    println!(
                        "{}",
                        if r.cleared {
                            "service failure cleared"
                        } else {
                            "no service failure recorded"
                        }
                    );
                    exit::OK
                }
                Err(status) => failed("ClearServiceFailed", &status),
            }
        }
    }
}
