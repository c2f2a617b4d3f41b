//! `rebound bench recovery`: start-up recovery on a large database. A generator writes the
//! database through the store's schema in big SQL batches (devices, commands — most of them
//! finished, some left open by a "crash", half of those with their timers run out — and their
//! events); then, on fresh copies of it, the same run measures the baseline (open the store
//! and count the rows), the start-up recovery `rebound serve` runs before it serves (open,
//! record the run, the command accounting, report), what it runs once it serves (the
//! integrity scan after a crash, the scheduler's first sweep that applies the timers that ran
//! out), plus the command accounting and the integrity check alone. Figures are medians over
//! the repeats.
//!
//! `--store-url` picks the backend: SQLite files in a temp dir (the default, or a
//! `sqlite://` path for the source file), or a PostgreSQL server (`postgres://…`), where the
//! bench creates the source database and a copy per measurement (`CREATE DATABASE … TEMPLATE`)
//! and drops them at the end. Where the databases live is [`super::recovery_target`].

use super::recovery_target::{Dialect, Target};
use super::stats::{figure, median};
use crate::commands::device::{DeviceLink, OutboundCommand};
use crate::commands::{DeviceSettings, Fleet, Settings};
use crate::config::Config;
use crate::error::Error;
use crate::model::process::ProcessInfo;
use crate::store::{self, Store};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

/// Rows written per generator statement.
const CHUNK: u64 = 100_000;

/// What to generate and how often to measure.
pub struct RecoveryBench {
    pub commands: u64,
    pub devices: u64,
    /// Commands left non-terminal (half of them past their expiry or deadline).
    pub open: u64,
    pub repeats: usize,
    /// Only write the database to this path, measure nothing.
    pub generate: Option<PathBuf>,
    /// Where to measure: a `postgres://` server or a `sqlite://` source file; `None`: SQLite
    /// files in a temp dir.
    pub store_url: Option<String>,
}

impl RecoveryBench {
    /// Small numbers, to check the benchmark works (CI).
    pub fn smoke() -> Self {
        Self {
            commands: 20_000,
            devices: 2_000,
            open: 1_000,
            repeats: 1,
            generate: None,
            store_url: None,
        }
    }
}

pub(super) fn internal(err: impl std::fmt::Display) -> Error {
    Error::Internal(err.to_string())
}

pub async fn run(params: RecoveryBench) -> Result<(), Error> {
    if params.open > params.commands || params.devices == 0 {
        return Err(Error::invalid_argument("open", "must be at most commands, with devices ≥ 1"));
    }
    if let Some(path) = &params.generate {
        let started = Instant::now();
        let target = Target::sqlite_file(path)?;
        generate(&target, &params).await?;
        println!("wrote {} in {:.1} s", path.display(), started.elapsed().as_secs_f64());
        return Ok(());
    }
    let target = Target::new(params.store_url.as_deref()).await?;
    let started = Instant::now();
    generate(&target, &params).await?;
    let generate_s = started.elapsed().as_secs_f64();
    let size_mb = target.size_bytes().await? as f64 / 1e6;

    let (mut baseline, mut recovery, mut commands) = (Vec::new(), Vec::new(), Vec::new());
    let (mut integrity, mut deferred, mut catch_up) = (Vec::new(), Vec::new(), Vec::new());
    let mut report = None;
    for repeat in 0..params.repeats.max(1) {
        let copy = target.copy(repeat).await?;
        baseline.push(count_rows(&target, &copy).await?);
        integrity.push(integrity_check(&copy).await?);
        let (seconds, scan, found) = startup_recovery(&copy).await?;
        recovery.push(seconds);
        deferred.push(scan);
        catch_up.push(first_sweep(&copy).await?);
        report.get_or_insert(found);
        target.drop_copy(&copy).await?;
        let copy = target.copy(repeat).await?;
        commands.push(commands_only(&copy).await?);
        target.drop_copy(&copy).await?;
    }
    target.drop_source().await?;
    let (baseline, recovery, commands) =
        (median(&mut baseline), median(&mut recovery), median(&mut commands));
    let (integrity, deferred) = (median(&mut integrity), median(&mut deferred));
    let catch_up = median(&mut catch_up);
    figure("recovery_generate_s", generate_s, "s");
    figure("recovery_db_size_mb", size_mb, "MB");
    figure("recovery_baseline_open_count_s", baseline, "s");
    figure("recovery_startup_s", recovery, "s");
    figure("recovery_integrity_after_serving_s", deferred, "s");
    figure("recovery_first_sweep_after_serving_s", catch_up, "s");
    figure("recovery_commands_pass_s", commands, "s");
    figure("recovery_integrity_check_s", integrity, "s");
    figure("recovery_startup_vs_baseline_ratio", recovery / baseline, "ratio");
    println!();
    println!(
        "{}: {} commands ({} open, half of them due), {} devices, {size_mb:.0} MB; median of {}",
        target.backend(),
        params.commands,
        params.open,
        params.devices,
        params.repeats.max(1)
    );
    println!("| phase | seconds | × baseline |");
    println!("|---|---|---|");
    println!("| open + count rows (baseline) | {baseline:.3} | 1.00 |");
    println!("| start-up recovery to SERVING | {recovery:.3} | {:.2} |", recovery / baseline);
    println!("| integrity scan after SERVING | {deferred:.3} | {:.2} |", deferred / baseline);
    println!(
        "| scheduler's first sweep after SERVING (the due timers) | {catch_up:.3} | {:.2} |",
        catch_up / baseline
    );
    println!("| command accounting alone | {commands:.3} | {:.2} |", commands / baseline);
    println!("| store integrity check alone | {integrity:.3} | {:.2} |", integrity / baseline);
    if let Some(found) = report {
        println!("\nreport: {found}");
    }
    Ok(())
}

/// Open the store and count the rows of the device tables.
async fn count_rows(target: &Target, url: &str) -> Result<f64, Error> {
    let started = Instant::now();
    let store = store::open(url).await?;
    target.count_rows(url, &["clients", "commands", "command_events"]).await?;
    let seconds = started.elapsed().as_secs_f64();
    store.close().await;
    Ok(seconds)
}

/// What `rebound serve` does before serving: open, record the run, recover, store the report;
/// then, timed apart, the integrity scan it runs after SERVING.
async fn startup_recovery(url: &str) -> Result<(f64, f64, String), Error> {
    let started = Instant::now();
    let store = store::open(url).await?;
    let process = ProcessInfo::current(0, String::new());
    let run = store.begin_run(process.pid, 0).await?;
    let mut report = crate::recovery::startup::recover(
        &run,
        &process,
        &crate::lifecycle::restart::Startup::cold(),
        &store,
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let scan_started = Instant::now();
    report.finish_store_check(store.as_ref()).await?;
    let scan = scan_started.elapsed().as_secs_f64();
    store.close().await;
    let found: Vec<String> = report
        .categories
        .iter()
        .filter(|c| c.count > 0)
        .map(|c| format!("{} {}", c.name, c.count))
        .collect();
    Ok((seconds, scan, found.join(", ")))
}

async fn integrity_check(url: &str) -> Result<f64, Error> {
    let store = store::open(url).await?;
    let started = Instant::now();
    store.integrity_problems().await?;
    let seconds = started.elapsed().as_secs_f64();
    store.close().await;
    Ok(seconds)
}

/// The scheduler's first sweep once the server serves: every command whose timer ran out
/// while no server ran becomes expired or timed out (start-up only counted them).
async fn first_sweep(url: &str) -> Result<f64, Error> {
    let store: Arc<dyn Store> = store::open(url).await?;
    let settings = Settings::new(DeviceSettings::from_config(&Config::default()));
    let fleet = Fleet::new(store.clone(), settings, Arc::new(NoBroker));
    let started = Instant::now();
    fleet.sweep_timers().await?;
    let seconds = started.elapsed().as_secs_f64();
    store.close().await;
    Ok(seconds)
}

/// The device link of a server without `mqtt.url`: the sweep publishes nothing.
struct NoBroker;

impl DeviceLink for NoBroker {
    fn is_configured(&self) -> bool {
        false
    }
    fn is_connected(&self) -> bool {
        false
    }
    fn publish_command(&self, _: OutboundCommand) {}
    fn withdraw_command(&self, _: Uuid) {}
    fn clear_service_failed(&self, _: Uuid) {}
}

async fn commands_only(url: &str) -> Result<f64, Error> {
    let store: Arc<dyn Store> = store::open(url).await?;
    let started = Instant::now();
    crate::commands::recover_at_start(&store, crate::recovery::report::MAX_IDS).await?;
    let seconds = started.elapsed().as_secs_f64();
    store.close().await;
    Ok(seconds)
}

/// Write the source database: the schema through the store, the rows in big INSERT …
/// SELECT statements (without waiting for the disk while generating).
async fn generate(target: &Target, params: &RecoveryBench) -> Result<(), Error> {
    store::open(&target.source_url()).await?.close().await;
    let mut conn = target.generator().await?;
    let dialect = target.dialect();
    let now = crate::clock::now_ms();
    for start in (0..params.devices).step_by(CHUNK as usize) {
        let end = (start + CHUNK).min(params.devices);
        let sql = format!(
            "WITH {} INSERT INTO clients (client_uuid, group_name, first_seen_ms, last_seen_ms, \
                 online, last_online_ms, last_health_ms, process_status, updated_ms) \
             SELECT {}, 'group-' || (i % 100), {now} - 86400000, \
                 {now} - 1000, 1, {now} - 60000, {now} - 1000, 'running', {now} FROM n",
            dialect.series(start, end),
            dialect.uuid("00000001", "i")
        );
        conn.execute(sql).await?;
    }
    for start in (0..params.commands).step_by(CHUNK as usize) {
        let end = (start + CHUNK).min(params.commands);
        conn.execute(commands_sql(dialect, start, end, params, now)).await?;
        conn.execute(events_sql(dialect, start, end)).await?;
    }
    conn.finish().await
}

/// Commands `start..end`: the first `open` are non-terminal (by `i % 8`: queued, published,
/// accepted, execution_started, each with its timer run out for even `i`), the rest finished
/// long ago (1 in 50 failed, the others completed).
fn commands_sql(d: Dialect, start: u64, end: u64, params: &RecoveryBench, now: i64) -> String {
    let (open, devices) = (params.open, params.devices);
    let (command, device) =
        (d.uuid("00000002", "i"), d.uuid("00000001", &format!("i % {devices}")));
    format!(
        "WITH {}, \
         r AS (SELECT i, i < {open} AS open, i % 2 = 0 AS due, (i % 8) / 2 AS kind, \
                  CASE WHEN i < {open} THEN {now} - 60000 ELSE {now} - 3600000 - i END AS issued FROM n), \
         s AS (SELECT *, CASE WHEN open THEN (CASE kind WHEN 0 THEN 'queued' WHEN 1 THEN 'published' \
                  WHEN 2 THEN 'accepted' ELSE 'execution_started' END) \
                  WHEN i % 50 = 0 THEN 'failed' ELSE 'completed' END AS state FROM r) \
         INSERT INTO commands (command_id, client_uuid, action, state, source, params_hash, principal, \
             issued_ms, expires_ms, published_ms, accepted_ms, started_ms, finished_ms, deadline_ms, \
             error_code, completion_evidence, updated_ms) \
         SELECT {command}, {device}, 'restart_app', state, 'api', \
             'bench', 'bench', issued, \
             CASE WHEN open AND kind < 2 AND due THEN {now} - 1000 ELSE {now} + 3600000 END, \
             CASE WHEN open AND kind = 0 THEN NULL ELSE issued + 10 END, \
             CASE WHEN open AND kind < 2 THEN NULL ELSE issued + 20 END, \
             CASE WHEN open AND kind < 3 THEN NULL ELSE issued + 30 END, \
             CASE WHEN open THEN NULL ELSE issued + 5000 END, \
             CASE WHEN open AND kind >= 2 THEN (CASE WHEN due THEN {now} - 1000 ELSE {now} + 3600000 END) END, \
             CASE WHEN state = 'failed' THEN 'execution_failed' END, \
             CASE WHEN state = 'completed' THEN 'ack' END, issued FROM s",
        d.series(start, end)
    )
}

/// Events of commands `start..end`: the creating event, and one to the current state. On
/// SQLite the ids follow the commands' rowids; PostgreSQL's identity column numbers them.
fn events_sql(d: Dialect, start: u64, end: u64) -> String {
    let (id, first, second) = match d {
        Dialect::Sqlite => ("id, ", "2 * rowid - 1, ", "2 * rowid, "),
        Dialect::Postgres => ("", "", ""),
    };
    let range = format!(
        "command_id >= {} AND command_id < {}",
        d.uuid("00000002", &start.to_string()),
        d.uuid("00000002", &end.to_string())
    );
    format!(
        "INSERT INTO command_events ({id}command_id, at_ms, from_state, to_state, source, detail) \
         SELECT {first}command_id, issued_ms, NULL, 'queued', 'api', 'issued' \
         FROM commands WHERE {range} \
         UNION ALL \
         SELECT {second}command_id, updated_ms + 5000, 'queued', state, 'mqtt', 'ack' \
         FROM commands WHERE {range} AND state <> 'queued'"
    )
}
