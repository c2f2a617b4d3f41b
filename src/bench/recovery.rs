//! `rebound bench recovery`: start-up recovery on a large database. A generator writes the
//! database through the store's schema in big SQL batches (devices, commands — most of them
//! finished, some left open by a "crash", half of those with their timers run out — and their
//! events); then, on fresh copies of it, the same run measures the baseline (open the store
//! and count the rows) and the start-up recovery `rebound serve` runs before it serves (open,
//! record the run, integrity check, command re-evaluation, report), plus the command
//! re-evaluation and the integrity check alone. Figures are medians over the repeats.

use super::stats::{figure, median};
use crate::error::Error;
use crate::model::process::ProcessInfo;
use crate::store::{self, Store};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AssertSqlSafe, ConnectOptions, SqliteConnection};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

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
}

impl RecoveryBench {
    /// Small numbers, to check the benchmark works (CI).
    pub fn smoke() -> Self {
        Self { commands: 20_000, devices: 2_000, open: 1_000, repeats: 1, generate: None }
    }
}

fn internal(err: impl std::fmt::Display) -> Error {
    Error::Internal(err.to_string())
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

pub async fn run(params: RecoveryBench) -> Result<(), Error> {
    if params.open > params.commands || params.devices == 0 {
        return Err(Error::invalid_argument("open", "must be at most commands, with devices ≥ 1"));
    }
    if let Some(path) = &params.generate {
        let started = Instant::now();
        generate(path, &params).await?;
        println!("wrote {} in {:.1} s", path.display(), started.elapsed().as_secs_f64());
        return Ok(());
    }
    let dir = tempfile::tempdir().map_err(internal)?;
    let source = dir.path().join("source.db");
    let started = Instant::now();
    generate(&source, &params).await?;
    let generate_s = started.elapsed().as_secs_f64();
    let size_mb = std::fs::metadata(&source).map_err(internal)?.len() as f64 / 1e6;

    let (mut baseline, mut recovery, mut commands) = (Vec::new(), Vec::new(), Vec::new());
    let mut integrity = Vec::new();
    let mut report = None;
    for repeat in 0..params.repeats.max(1) {
        let copy = dir.path().join(format!("copy-{repeat}.db"));
        std::fs::copy(&source, &copy).map_err(internal)?;
        baseline.push(count_rows(&copy).await?);
        integrity.push(integrity_check(&copy).await?);
        let (seconds, found) = startup_recovery(&copy).await?;
        recovery.push(seconds);
        report.get_or_insert(found);
        std::fs::copy(&source, &copy).map_err(internal)?;
        commands.push(commands_only(&copy).await?);
        std::fs::remove_file(&copy).map_err(internal)?;
    }
    let (baseline, recovery, commands) =
        (median(&mut baseline), median(&mut recovery), median(&mut commands));
    let integrity = median(&mut integrity);
    figure("recovery_generate_s", generate_s, "s");
    figure("recovery_db_size_mb", size_mb, "MB");
    figure("recovery_baseline_open_count_s", baseline, "s");
    figure("recovery_startup_s", recovery, "s");
    figure("recovery_commands_pass_s", commands, "s");
    figure("recovery_integrity_check_s", integrity, "s");
    figure("recovery_startup_vs_baseline_ratio", recovery / baseline, "ratio");
    println!();
    println!(
        "{} commands ({} open, half of them due), {} devices, {size_mb:.0} MB; median of {}",
        params.commands,
        params.open,
        params.devices,
        params.repeats.max(1)
    );
    println!("| phase | seconds | × baseline |");
    println!("|---|---|---|");
    println!("| open + count rows (baseline) | {baseline:.3} | 1.00 |");
    println!("| start-up recovery (whole) | {recovery:.3} | {:.2} |", recovery / baseline);
    println!("| command re-evaluation alone | {commands:.3} | {:.2} |", commands / baseline);
    println!("| store integrity check alone | {integrity:.3} | {:.2} |", integrity / baseline);
    if let Some(found) = report {
        println!("\nreport: {found}");
    }
    Ok(())
}

/// Open the store and count the rows of the device tables.
async fn count_rows(path: &Path) -> Result<f64, Error> {
    let started = Instant::now();
    let store = store::open(&url(path)).await?;
    let mut conn = raw(path, SqliteSynchronous::Full).await?;
    for table in ["clients", "commands", "command_events"] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let _: i64 =
            sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut conn).await.map_err(internal)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    store.close().await;
    Ok(seconds)
}

/// What `rebound serve` does before serving: open, record the run, recover, store the report.
async fn startup_recovery(path: &Path) -> Result<(f64, String), Error> {
    let started = Instant::now();
    let store = store::open(&url(path)).await?;
    let process = ProcessInfo::current(0);
    let run = store.begin_run(process.pid, 0).await?;
    let report = crate::recovery::startup::recover(
        &run,
        &process,
        &crate::lifecycle::restart::Startup::cold(),
        &store,
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    store.close().await;
    let found: Vec<String> = report
        .categories
        .iter()
        .filter(|c| c.count > 0)
        .map(|c| format!("{} {}", c.name, c.count))
        .collect();
    Ok((seconds, found.join(", ")))
}

async fn integrity_check(path: &Path) -> Result<f64, Error> {
    let store = store::open(&url(path)).await?;
    let started = Instant::now();
    store.integrity_problems().await?;
    let seconds = started.elapsed().as_secs_f64();
    store.close().await;
    Ok(seconds)
}

async fn commands_only(path: &Path) -> Result<f64, Error> {
    let store: Arc<dyn Store> = store::open(&url(path)).await?;
    let started = Instant::now();
    crate::commands::recover_at_start(&store, crate::recovery::report::MAX_IDS).await?;
    let seconds = started.elapsed().as_secs_f64();
    store.close().await;
    Ok(seconds)
}

async fn raw(path: &Path, sync: SqliteSynchronous) -> Result<SqliteConnection, Error> {
    SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(sync)
        .connect()
        .await
        .map_err(internal)
}

/// Write the database: the schema through the store, the rows in big INSERT … SELECT
/// statements (no fsync while generating).
async fn generate(path: &Path, params: &RecoveryBench) -> Result<(), Error> {
    if path.exists() {
        return Err(Error::FailedPrecondition(format!("{} exists", path.display())));
    }
    store::open(&url(path)).await?.close().await;
    let mut conn = raw(path, SqliteSynchronous::Off).await?;
    let now = crate::clock::now_ms();
    for start in (0..params.devices).step_by(CHUNK as usize) {
        let end = (start + CHUNK).min(params.devices);
        let sql = format!(
            "WITH RECURSIVE n(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {end}) \
             INSERT INTO clients (client_uuid, group_name, first_seen_ms, last_seen_ms, online, \
                 last_online_ms, last_health_ms, process_status, updated_ms) \
             SELECT printf('00000001-0000-4000-8000-%012x', i), 'group-' || (i % 100), {now} - 86400000, \
                 {now} - 1000, 1, {now} - 60000, {now} - 1000, 'running', {now} FROM n"
        );
        execute(&mut conn, sql).await?;
    }
    for start in (0..params.commands).step_by(CHUNK as usize) {
        let end = (start + CHUNK).min(params.commands);
        execute(&mut conn, commands_sql(start, end, params, now)).await?;
        execute(&mut conn, events_sql(start, end)).await?;
    }
    execute(&mut conn, "PRAGMA wal_checkpoint(TRUNCATE)".to_owned()).await?;
    Ok(())
}

async fn execute(conn: &mut SqliteConnection, sql: String) -> Result<(), Error> {
    sqlx::query(AssertSqlSafe(sql)).execute(conn).await.map_err(internal)?;
    Ok(())
}

/// Commands `start..end`: the first `open` are non-terminal (by `i % 8`: queued, published,
/// accepted, execution_started, each with its timer run out for even `i`), the rest finished
/// long ago (1 in 50 failed, the others completed).
fn commands_sql(start: u64, end: u64, params: &RecoveryBench, now: i64) -> String {
    let (open, devices) = (params.open, params.devices);
    format!(
        "WITH RECURSIVE n(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {end}), \
         r AS (SELECT i, i < {open} AS open, i % 2 = 0 AS due, (i % 8) / 2 AS kind, \
                  CASE WHEN i < {open} THEN {now} - 60000 ELSE {now} - 3600000 - i END AS issued FROM n), \
         s AS (SELECT *, CASE WHEN open THEN (CASE kind WHEN 0 THEN 'queued' WHEN 1 THEN 'published' \
                  WHEN 2 THEN 'accepted' ELSE 'execution_started' END) \
                  WHEN i % 50 = 0 THEN 'failed' ELSE 'completed' END AS state FROM r) \
         INSERT INTO commands (command_id, client_uuid, action, state, source, params_hash, principal, \
             issued_ms, expires_ms, published_ms, accepted_ms, started_ms, finished_ms, deadline_ms, \
             error_code, completion_evidence, updated_ms) \
         SELECT printf('00000002-0000-4000-8000-%012x', i), \
             printf('00000001-0000-4000-8000-%012x', i % {devices}), 'restart_app', state, 'api', \
             'bench', 'bench', issued, \
             CASE WHEN open AND kind < 2 AND due THEN {now} - 1000 ELSE {now} + 3600000 END, \
             CASE WHEN open AND kind = 0 THEN NULL ELSE issued + 10 END, \
             CASE WHEN open AND kind < 2 THEN NULL ELSE issued + 20 END, \
             CASE WHEN open AND kind < 3 THEN NULL ELSE issued + 30 END, \
             CASE WHEN open THEN NULL ELSE issued + 5000 END, \
             CASE WHEN open AND kind >= 2 THEN (CASE WHEN due THEN {now} - 1000 ELSE {now} + 3600000 END) END, \
             CASE WHEN state = 'failed' THEN 'execution_failed' END, \
             CASE WHEN state = 'completed' THEN 'ack' END, issued FROM s"
    )
}

/// Events of commands `start..end`: the creating event, and one to the current state.
fn events_sql(start: u64, end: u64) -> String {
    format!(
        "INSERT INTO command_events (id, command_id, at_ms, from_state, to_state, source, detail) \
         SELECT 2 * rowid - 1, command_id, issued_ms, NULL, 'queued', 'api', 'issued' \
         FROM commands WHERE command_id >= printf('00000002-0000-4000-8000-%012x', {start}) \
             AND command_id < printf('00000002-0000-4000-8000-%012x', {end}) \
         UNION ALL \
         SELECT 2 * rowid, command_id, updated_ms + 5000, 'queued', state, 'mqtt', 'ack' \
         FROM commands WHERE command_id >= printf('00000002-0000-4000-8000-%012x', {start}) \
             AND command_id < printf('00000002-0000-4000-8000-%012x', {end}) AND state <> 'queued'"
    )
}
