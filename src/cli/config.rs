//! `rebound config show|validate|reload|history|stats`: the ConfigService from a terminal.

use super::{ClientArgs, display, rpc};
use crate::exit;
use crate::proto::v1 as pb;
use crate::proto::v1::config_service_client::ConfigServiceClient;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the configuration in force (secrets redacted), its version, hash and source.
    Show,
    /// Check a config without applying it: every error with its key path, and the changes
    /// against the configuration in force. Exit 0 when valid, 64 when not.
    Validate {
        /// A local TOML file to check; without it, the server's own config file is checked.
        file: Option<PathBuf>,
    },
    /// Reload the configuration: from the server's config file, or from a local file sent
    /// inline. Exit 0 when applied (or unchanged), 64 when invalid, 69 when another reload
    /// runs, 1 otherwise (restart required, rolled back, file missing).
    Reload {
        /// Send this local TOML file as the new configuration instead of re-reading the
        /// server's file.
        #[arg(long)]
        file: Option<PathBuf>,
        /// When restart-only keys changed, ask the server to restart itself to apply them.
        #[arg(long)]
        restart_if_required: bool,
    },
    /// Past reloads, newest first.
    History {
        /// How many events to show.
        #[arg(long, default_value_t = 20)]
        limit: i32,
    },
    /// Reload totals, last result and latency percentiles.
    Stats,
}

pub async fn run(args: ConfigArgs) -> u8 {
    let channel = match rpc::connect(&args.client).await {
        Ok(channel) => channel,
        Err(code) => return code,
    };
    let mut client = ConfigServiceClient::new(channel);
    match args.command {
        ConfigCommand::Show => match client.get_config(pb::GetConfigRequest {}).await {
            Ok(response) => {
                let c = response.into_inner();
                let source =
                    c.source().as_str_name().trim_start_matches("CONFIG_SOURCE_").to_lowercase();
                println!(
                    "# version {} ({source} {}), hash {}",
                    c.version, c.source_path, c.content_hash
                );
                println!(
                    "# loaded {}, watch {}",
                    display::time(c.loaded_at.as_ref()),
                    if c.watch_enabled { "on" } else { "off" }
                );
                if !c.env_overrides.is_empty() {
                    println!("# environment overrides: {}", c.env_overrides.join(", "));
                }
                print!("{}", c.toml);
                exit::OK
            }
            Err(status) => rpc::failed("GetConfig", &status),
        },
        ConfigCommand::Validate { file } => {
            let candidate = match file {
                None => None,
                Some(path) => match read(&path) {
                    Ok(content) => Some(pb::validate_request::Candidate::Content(content)),
                    Err(code) => return code,
                },
            };
            match client.validate(pb::ValidateRequest { candidate }).await {
                Ok(response) => print_validation(&response.into_inner()),
                Err(status) => rpc::failed("Validate", &status),
            }
        }
        ConfigCommand::Reload { file, restart_if_required } => {
            let content = match file.as_deref().map(read).transpose() {
                Ok(content) => content,
                Err(code) => return code,
            };
            match client.reload(pb::ReloadRequest { content, restart_if_required }).await {
                Ok(response) => {
                    let event = response.into_inner().event.unwrap_or_default();
                    print_event(&event);
                    reload_exit_code(&event)
                }
                Err(status) => rpc::failed("Reload", &status),
            }
        }
        ConfigCommand::History { limit } => {
            let request = pb::ListReloadEventsRequest { page_size: limit, ..Default::default() };
            match client.list_reload_events(request).await {
                Ok(response) => {
                    let events = response.into_inner().events;
                    if events.is_empty() {
                        println!("no reloads yet");
                    }
                    for event in events {
                        println!(
                            "{:>5}  {}  {:<19} {:<7} v{}→v{}  {}{}",
                            event.reload_id,
                            display::time(event.started_at.as_ref()),
                            result_name(event.result()),
                            trigger_name(event.trigger()),
                            event.version_before,
                            event.version_after,
                            event
                                .changes
                                .iter()
                                .map(|c| c.path.as_str())
                                .collect::<Vec<_>>()
                                .join(","),
                            if event.error.is_empty() {
                                String::new()
                            } else {
                                format!("  ({})", event.error)
                            },
                        );
                    }
                    exit::OK
                }
                Err(status) => rpc::failed("ListReloadEvents", &status),
            }
        }
        ConfigCommand::Stats => {
            match client.get_reload_stats(pb::GetReloadStatsRequest::default()).await {
                Ok(response) => {
                    let s = response.into_inner();
                    println!("total        {}", s.total);
                    println!("successes    {}", s.successes);
                    println!("unchanged    {}", s.unchanged);
                    println!("failures     {}", s.failures);
                    println!("refused      {}", s.refused);
                    println!(
                        "last result  {} at {}",
                        result_name(s.last_result()),
                        display::time(s.last_reload_at.as_ref())
                    );
                    println!("last success {}", display::time(s.last_success_at.as_ref()));
                    println!(
                        "latency      p50 {}  p99 {}",
                        display::millis(s.latency_p50.as_ref()),
                        display::millis(s.latency_p99.as_ref())
                    );
                    println!("version      {}", s.current_version);
                    exit::OK
                }
                Err(status) => rpc::failed("GetReloadStats", &status),
            }
        }
    }
}

fn read(path: &std::path::Path) -> Result<String, u8> {
    std::fs::read_to_string(path).map_err(|err| {
        eprintln!("rebound: cannot read {}: {err}", path.display());
        exit::USAGE
    })
}

fn result_name(result: pb::ReloadResult) -> String {
    result.as_str_name().trim_start_matches("RELOAD_RESULT_").to_lowercase()
}

fn trigger_name(trigger: pb::ReloadTrigger) -> String {
    trigger.as_str_name().trim_start_matches("RELOAD_TRIGGER_").to_lowercase()
}

fn print_changes(changes: &[pb::ConfigChange]) {
    for change in changes {
        let restart = if change.restart_required { "  [restart required]" } else { "" };
        let old = if change.old_value.is_empty() { "(unset)" } else { &change.old_value };
        let new = if change.new_value.is_empty() { "(unset)" } else { &change.new_value };
        println!("  {}: {old} -> {new}{restart}", change.path);
    }
}

fn print_errors(errors: &[pb::ConfigValidationError]) {
    for error in errors {
        let at = if error.line > 0 {
            format!(" (line {}, column {})", error.line, error.column)
        } else {
            String::new()
        };
        let path = if error.path.is_empty() { "config" } else { &error.path };
        println!("  {path}: {}{at}", error.reason);
    }
}

fn print_validation(v: &pb::ValidateResponse) -> u8 {
    if !v.valid {
        println!("invalid: {}", result_name(v.result()));
        if !v.error.is_empty() && v.errors.is_empty() {
            println!("  {}", v.error);
        }
        print_errors(&v.errors);
        return exit::USAGE;
    }
    if v.changes.is_empty() {
        println!("valid; no changes against the configuration in force");
    } else {
        let how = if v.restart_required { "some need a restart" } else { "all apply live" };
        println!("valid; {} change(s), {how}:", v.changes.len());
        print_changes(&v.changes);
    }
    exit::OK
}

fn print_event(event: &pb::ReloadEvent) {
    println!(
        "{}: version {} -> {} in {}",
        result_name(event.result()),
        event.version_before,
        event.version_after,
        display::millis(event.duration.as_ref())
    );
    print_changes(&event.changes);
    print_errors(&event.validation_errors);
    if !event.error.is_empty() {
        println!("  {}", event.error);
    }
    if !event.restart_id.is_empty() {
        println!("  follow it with: rebound restart status {}", event.restart_id);
    }
}

/// A reload that started the restart it needed succeeded as far as the CLI is concerned.
fn reload_exit_code(event: &pb::ReloadEvent) -> u8 {
    match event.result() {
        pb::ReloadResult::Success | pb::ReloadResult::Unchanged => exit::OK,
        pb::ReloadResult::RestartRequired if !event.restart_id.is_empty() => exit::OK,
        pb::ReloadResult::ValidationFailed => exit::USAGE,
        pb::ReloadResult::AlreadyInProgress => exit::UNAVAILABLE,
        _ => exit::FAILURE,
    }
}
