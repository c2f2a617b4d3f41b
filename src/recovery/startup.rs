//! The start-up recovery pass, run before the server serves: the commands and rollouts a
//! previous run left open (counted by `crate::commands`; the scheduler's first sweep after
//! SERVING applies the timers that ran out), hot
//! restarts a dead process left half-done, and, in a hot-restart successor, whether the
//! handover and snapshot agree with the store. Everything found goes into the stored
//! [`RecoveryReport`]. The store's integrity scan after a crash (seconds on a large SQLite
//! database) runs once the server serves ([`spawn_store_check`]) and updates the report.
//!
//! It decides nothing about commands itself (`crate::commands::recover_at_start` does); it
//! turns what each subsystem did into report categories.

use std::sync::Arc;

use uuid::Uuid;

use super::report::{Category, MAX_IDS, PreviousRun, RecoveryReport, ReportBuilder, SnapshotCheck};
use crate::clock::now_ms;
use crate::commands::{Found, StartupSummary, recover_at_start};
use crate::error::Error;
use crate::lifecycle::restart::{SnapshotOutcome, Startup};
use crate::model::process::ProcessInfo;
use crate::store::{RunRecord, Store};
use crate::tasks::Tasks;

/// Run every start-up check, store the report and return it.
#[tracing::instrument(name = "recovery.startup", skip_all)]
pub async fn recover(
    run: &RunRecord,
    process: &ProcessInfo,
    startup: &Startup,
    store: &Arc<dyn Store>,
) -> Result<RecoveryReport, Error> {
    let mut builder = ReportBuilder::new(run, process);
    if startup.is_successor() {
        builder.handover(startup.restart_id());
    }
    if builder.previous_run() == PreviousRun::CleanShutdown {
        // A full scan (seconds on a large database, see docs/benchmarks.md): a hot-restart
        // successor or a start after a clean stop does not wait for it.
        let action = "skipped: the previous run ended cleanly (checked after a crash)";
        builder.add(Category::new("store_integrity", Vec::new(), action));
    } else {
        // After a crash: the scan runs once the server serves (`spawn_store_check`), so a
        // large database does not hold start-up back; the report says it is pending.
        builder.defer_store_check();
    }
    let commands = recover_at_start(store, MAX_IDS).await?;
    add_commands(&mut builder, &commands);
    let interrupted = store.interrupt_restarts(startup.restart_id(), now_ms()).await?;
    builder.add(Category::new(
        "restart_interrupted",
        strings(&interrupted),
        "marked failed (outcome interrupted): the process performing them died before they finished",
    ));
    if startup.is_successor() {
        check_handover(&mut builder, startup, store.as_ref()).await?;
    }
    let report = builder.finish(store.as_ref()).await?;
    let found: u64 = report.categories.iter().map(|c| c.count).sum();
    tracing::info!(
        report.id = report.id,
        previous_run = report.previous_run.as_str(),
        found,
        commands.open = commands.open_at_start,
        warnings = report.warnings.len(),
        duration_us = report.duration.as_micros() as u64,
        "startup recovery finished"
    );
    for warning in &report.warnings {
        tracing::warn!(%warning, "startup recovery");
    }
    Ok(report)
}

/// Run the integrity scan [`recover`] left pending, once the server serves, and store its
/// findings in `report`. Does nothing when no scan is pending. A server that stops or hands
/// over first abandons the scan; the report then keeps saying it is pending.
pub fn spawn_store_check(tasks: &Tasks, store: Arc<dyn Store>, mut report: RecoveryReport) {
    if !report.store_check_pending() {
        return;
    }
    tasks.spawn("recovery.integrity_scan", move |mut control| async move {
        let started = std::time::Instant::now();
        tokio::select! {
            done = report.finish_store_check(store.as_ref()) => match done {
                Ok(()) => tracing::info!(
                    report.id = report.id,
                    warnings = report.warnings.len(),
                    duration_ms = started.elapsed().as_millis() as u64,
                    "store integrity scan finished"
                ),
                Err(err) => tracing::warn!(error = %err, "store integrity scan failed"),
            },
            _ = control.changed() => {
                tracing::info!("store integrity scan abandoned: the server is stopping or handing over");
            }
        }
    });
}

fn strings(ids: &[Uuid]) -> Vec<String> {
    ids.iter().map(Uuid::to_string).collect()
}

/// A category whose count may exceed the ids kept.
fn category(name: &str, found: &Found, action: &str) -> Category {
    let mut category = Category::new(name, strings(&found.ids), action);
    category.count = found.count;
    category.ids_truncated = found.count > category.ids.len() as u64;
    category
}

/// `commands_open`: every open command found, with the ids the categories below list (each
/// open command is in exactly one of them), so ids_truncated means what it says.
fn open_commands(summary: &StartupSummary) -> Category {
    let placed =
        [&summary.expired, &summary.timed_out, &summary.rearmed, &summary.queued_for_publish];
    let ids = placed.iter().flat_map(|found| found.ids.iter().copied()).take(MAX_IDS).collect();
    category(
        "commands_open",
        &Found { count: summary.open_at_start, ids },
        "non-terminal commands found at start; each is in exactly one commands_* category below",
    )
}

fn add_commands(builder: &mut ReportBuilder, summary: &StartupSummary) {
    builder.add(open_commands(summary));
    builder.add(category(
        "commands_expired",
        &summary.expired,
        "expires_at passed while no server ran: marked expired by the scheduler's first sweep once the server serves",
    ));
    builder.add(category(
        "commands_timed_out",
        &summary.timed_out,
        "the terminal ack deadline passed while no server ran: marked timed_out by the scheduler's first sweep once the server serves",
    ));
    builder.add(category(
        "commands_rearmed",
        &summary.rearmed,
        "still within their timers: expiry and ack deadlines re-armed from stored timestamps",
    ));
    builder.add(category(
        "commands_to_publish",
        &summary.queued_for_publish,
        "queued and unexpired: published once the MQTT gateway connects",
    ));
    builder.add(Category::new(
        "rollouts_resumed",
        strings(&summary.rollouts_resumed),
        "active rollouts continue their waves from the stored members",
    ));
    let unaccounted = summary.unaccounted();
    if unaccounted != 0 {
        builder.warn(format!(
            "{unaccounted} open command(s) changed while recovery ran (another process wrote them)"
        ));
    }
}

/// A successor: do the handover and the snapshot agree with the store?
async fn check_handover(
    builder: &mut ReportBuilder,
    startup: &Startup,
    store: &dyn Store,
) -> Result<(), Error> {
    let mut problems = Vec::new();
    if let Some(id) = startup.restart_id() {
        match store.restart(id).await? {
            None => problems.push(format!(
                "restart {id} is not in the store: this process may use another database than its predecessor"
            )),
            Some(record) => {
                if record.outcome.is_some() {
                    problems.push(format!("restart {id} is already finished in the store"));
                }
                if record.generation_before + 1 != startup.generation() {
                    problems.push(format!(
                        "the store says restart {id} leaves generation {}, the handover says this is generation {}",
                        record.generation_before,
                        startup.generation()
                    ));
                }
                if Some(record.old_pid) != startup.predecessor_pid() {
                    problems.push(format!(
                        "the store says restart {id} began in pid {}, the handover came from pid {:?}",
                        record.old_pid,
                        startup.predecessor_pid()
                    ));
                }
            }
        }
    }
    let mut check = SnapshotCheck { checked: true, ..SnapshotCheck::default() };
    if let Some((outcome, detail)) = startup.snapshot() {
        check.outcome = outcome.as_str().to_owned();
        check.detail = detail.to_owned();
        if !matches!(outcome, SnapshotOutcome::Restored | SnapshotOutcome::Disabled) {
            problems.push(format!("snapshot {outcome}: {detail}; state rebuilt from the store"));
        }
    }
    let action = if problems.is_empty() {
        "handover, snapshot and store agree"
    } else {
        builder.warn(format!("hot restart consistency: {} problem(s)", problems.len()));
        "serving from the store (the store wins); the ids say what disagreed"
    };
    check.discrepancies = problems.clone();
    builder.snapshot(check);
    builder.add(Category::new("snapshot_mismatch", problems, action));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(count: u64) -> Found {
        let ids: Vec<Uuid> = (0..count.min(MAX_IDS as u64)).map(|_| Uuid::new_v4()).collect();
        Found { count, ids }
    }

    #[tokio::test]
    async fn after_a_crash_the_integrity_check_is_pending_until_it_runs_after_serving() {
        let store = crate::store::open("sqlite::memory:").await.unwrap();
        let process = ProcessInfo::current(0, String::new());
        store.begin_run(process.pid, 0).await.unwrap();
        let run = store.begin_run(process.pid, 0).await.unwrap();
        let mut report = recover(&run, &process, &Startup::cold(), &store).await.unwrap();
        assert!(report.store_check_pending(), "{report:?}");

        report.finish_store_check(store.as_ref()).await.unwrap();
        assert!(!report.store_check_pending());
        let stored = RecoveryReport::from_row(
            store.get_recovery_report(Some(report.id)).await.unwrap().unwrap(),
        );
        let integrity = stored.categories.iter().find(|c| c.name == "store_integrity").unwrap();
        assert_eq!((integrity.count, integrity.action.as_str()), (0, "integrity check passed"));
        assert_eq!(stored.categories.len(), report.categories.len());
    }

    #[test]
    fn open_commands_list_the_ids_of_the_categories_below() {
        let summary = StartupSummary {
            open_at_start: 2,
            expired: found(1),
            rearmed: found(1),
            ..StartupSummary::default()
        };
        let open = open_commands(&summary);
        let ids = [summary.expired.ids[0].to_string(), summary.rearmed.ids[0].to_string()];
        assert_eq!((open.count, open.ids.as_slice(), open.ids_truncated), (2, &ids[..], false));

        let many = StartupSummary {
            open_at_start: 250,
            timed_out: found(150),
            queued_for_publish: found(100),
            ..StartupSummary::default()
        };
        let open = open_commands(&many);
        assert_eq!((open.count, open.ids.len(), open.ids_truncated), (250, MAX_IDS, true));
    }
}
