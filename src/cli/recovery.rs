//! `rebound recovery report|reports|cleanup|backup|audit`: the RecoveryService from a terminal;
//! `rebound recovery restore`: swaps a backup in while no server runs (no RPC, see
//! `recovery::restore`).

use super::{ClientArgs, display, rpc};
use crate::exit;
use crate::proto::v1 as pb;
use crate::proto::v1::recovery_service_client::RecoveryServiceClient;
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct RecoveryArgs {
    #[command(subcommand)]
    pub command: RecoveryCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub enum RecoveryCommand {
    /// Show a startup recovery report: how the previous run ended and what start-up found.
    Report {
        /// Report id; the latest when omitted.
        id: Option<String>,
        /// Also list each category's ids (commands, rollouts, restarts).
        #[arg(long)]
        detail: bool,
    },
    /// List startup recovery reports, newest first.
    Reports {
        #[arg(long, default_value_t = 20)]
        limit: i32,
    },
    /// Delete terminal commands and reload, restart and audit events older than the
    /// retention period (`retention.days` unless --retention is given).
    Cleanup {
        /// Only count what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Retention period for this run, e.g. "30d", "12h".
        #[arg(long, value_parser = humantime::parse_duration)]
        retention: Option<std::time::Duration>,
    },
    /// Write a consistent copy of the database while the server serves. PATH is on the
    /// server's filesystem and must not exist yet.
    Backup { path: String },
    /// Replace the database with a backup while the server is stopped: verifies the backup
    /// (integrity, schema version), refuses while a server runs on the database, keeps the
    /// current database and its -wal/-shm aside (`*.before-restore-<time>`), swaps the backup
    /// in. Reads store.url like `serve`; run it in the server's working directory.
    Restore {
        /// The backup file (e.g. written by `rebound recovery backup`).
        file: std::path::PathBuf,
        /// The server's TOML config file (for store.url); REBOUND_* variables apply as for
        /// `serve`.
        #[arg(long, short, env = "REBOUND_CONFIG")]
        config: Option<std::path::PathBuf>,
    },
    /// The audit log of mutating calls and refused calls, newest first.
    Audit {
        /// Only calls with this outcome.
        #[arg(long, value_enum)]
        outcome: Option<OutcomeArg>,
        #[arg(long, default_value_t = 20)]
        limit: i32,
        /// Only this method ("/rebound.v1.ConfigService/Reload") or service ("/rebound.v1.ConfigService/").
        #[arg(long)]
        rpc: Option<String>,
        /// Only this principal.
        #[arg(long)]
        principal: Option<String>,
    },
}

/// Outcome filter of `recovery audit`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OutcomeArg {
    Succeeded,
    Failed,
    /// UNAUTHENTICATED or PERMISSION_DENIED.
    Denied,
}

pub async fn run(args: RecoveryArgs) -> u8 {
    if let RecoveryCommand::Restore { file, config } = &args.command {
        return restore(file, config.as_deref());
    }
    let channel = match rpc::connect(&args.client).await {
        Ok(channel) => channel,
        Err(code) => return code,
    };
    let mut client = RecoveryServiceClient::new(channel);
    match args.command {
        RecoveryCommand::Restore { .. } => unreachable!("restore runs without a server"),
        RecoveryCommand::Report { id, detail } => {
            let request = pb::GetRecoveryReportRequest { report_id: id.unwrap_or_default() };
            match client.get_recovery_report(request).await {
                Ok(response) => {
                    let report = response.into_inner().report.unwrap_or_default();
                    print_report(&report, if detail { Detail::Ids } else { Detail::Counts });
                    exit::OK
                }
                Err(status) => rpc::failed("GetRecoveryReport", &status),
            }
        }
        RecoveryCommand::Reports { limit } => {
            let request = pb::ListRecoveryReportsRequest { page_size: limit, ..Default::default() };
            match client.list_recovery_reports(request).await {
                Ok(response) => {
                    for report in response.into_inner().reports {
                        print_report(&report, Detail::Summary);
                    }
                    exit::OK
                }
                Err(status) => rpc::failed("ListRecoveryReports", &status),
            }
        }
        RecoveryCommand::Cleanup { dry_run, retention } => {
            let retention = retention.and_then(|d| prost_types::Duration::try_from(d).ok());
            match client.run_cleanup(pb::RunCleanupRequest { dry_run, retention }).await {
                Ok(response) => {
                    let r = response.into_inner();
                    let verb = if r.dry_run { "would delete" } else { "deleted" };
                    println!(
                        "{verb} {} row(s) older than {}",
                        r.total_rows,
                        display::time(r.cutoff.as_ref())
                    );
                    for table in r.tables {
                        println!("  {:<22} {}", table.table, table.rows);
                    }
                    exit::OK
                }
                Err(status) => rpc::failed("RunCleanup", &status),
            }
        }
        RecoveryCommand::Backup { path } => match client.backup(pb::BackupRequest { path }).await {
            Ok(response) => {
                let b = response.into_inner();
                println!(
                    "backup written: {} ({} bytes, sha256 {}) in {}",
                    b.path,
                    b.size_bytes,
                    b.sha256,
                    display::millis(b.duration.as_ref())
                );
                exit::OK
            }
            Err(status) => rpc::failed("Backup", &status),
        },
        RecoveryCommand::Audit { limit, rpc: method, principal, outcome } => {
            let outcome = match outcome {
                None => pb::AuditOutcome::Unspecified,
                Some(OutcomeArg::Succeeded) => pb::AuditOutcome::Succeeded,
                Some(OutcomeArg::Failed) => pb::AuditOutcome::Failed,
                Some(OutcomeArg::Denied) => pb::AuditOutcome::Denied,
            };
            let request = pb::ListAuditEventsRequest {
                page_size: limit,
                outcome: outcome as i32,
                rpc: method.unwrap_or_default(),
                principal: principal.unwrap_or_default(),
                ..Default::default()
            };
            match client.list_audit_events(request).await {
                Ok(response) => {
                    for e in response.into_inner().events {
                        println!(
                            "{:>5}  {}  {:<9} {:<18} {}  {}  {}",
                            e.event_id,
                            display::time(e.occurred_at.as_ref()),
                            e.outcome()
                                .as_str_name()
                                .trim_start_matches("AUDIT_OUTCOME_")
                                .to_lowercase(),
                            e.code,
                            e.principal,
                            e.rpc,
                            e.arguments
                        );
                    }
                    exit::OK
                }
                Err(status) => rpc::failed("ListAuditEvents", &status),
            }
        }
    }
}

/// Offline: swap the backup `file` in for the database `store.url` names.
fn restore(file: &std::path::Path, config: Option<&std::path::Path>) -> u8 {
    use crate::recovery::restore::{self, RestoreError};
    let loaded = match crate::config::load(config, std::env::vars()) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("rebound: {err}");
            return exit::USAGE;
        }
    };
    match restore::restore(&loaded.config.store.url, file) {
        Ok(done) => {
            println!(
                "verified {}: integrity ok, schema version {}",
                file.display(),
                done.schema_version
            );
            if done.kept_aside.is_empty() {
                println!("no current database at {}: nothing kept aside", done.database.display());
            }
            for aside in &done.kept_aside {
                println!("kept aside: {}", aside.display());
            }
            println!(
                "restored {} ({} bytes, sha256 {}); start the server to use it",
                done.database.display(),
                done.size_bytes,
                done.sha256
            );
            exit::OK
        }
        Err(err) => {
            eprintln!("rebound: restore refused: {err}");
            match err {
                RestoreError::Url(_) => exit::USAGE,
                RestoreError::ServerRunning { .. } => exit::UNAVAILABLE,
                _ => exit::FAILURE,
            }
        }
    }
}

/// How much of a report `print_report` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// The one summary line.
    Summary,
    /// Plus each category's count and action, the snapshot check and warnings.
    Counts,
    /// Plus each category's ids.
    Ids,
}

fn print_report(report: &pb::RecoveryReport, detail: Detail) {
    let previous =
        report.previous_run().as_str_name().trim_start_matches("PREVIOUS_RUN_").to_lowercase();
    println!(
        "report {}  {}  previous run: {previous}  pid {}  generation {}  took {}",
        report.report_id,
        display::time(report.started_at.as_ref()),
        report.pid,
        report.generation,
        display::millis(report.duration.as_ref())
    );
    if detail == Detail::Summary {
        return;
    }
    for category in &report.categories {
        let ids = if detail == Detail::Ids && !category.ids.is_empty() {
            let more = if category.ids_truncated { ", …" } else { "" };
            format!("  [{}{more}]", category.ids.join(", "))
        } else {
            String::new()
        };
        println!("  {:<22} {:>6}  {}{ids}", category.name, category.count, category.action);
    }
    if let Some(check) = &report.snapshot {
        let snapshot =
            check.snapshot().as_str_name().trim_start_matches("SNAPSHOT_OUTCOME_").to_lowercase();
        let verdict = if check.consistent { "consistent with the store" } else { "inconsistent" };
        println!("  hot restart {}: snapshot {snapshot}, {verdict}", report.restart_id);
        for discrepancy in &check.discrepancies {
            println!("    {discrepancy}");
        }
    }
    for warning in &report.warnings {
        println!("  warning: {warning}");
    }
}
