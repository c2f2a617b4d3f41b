//! `rebound bench durability`: the cost of the store's durability setting. The same write
//! workload (one small row per transaction, as an acknowledged RPC or a PUBACKed ack is
//! stored) runs against a WAL database with `synchronous=FULL` (what rebound uses: every
//! commit fsyncs, so it survives kill -9 and power loss), `NORMAL` (survives kill -9, may
//! lose the last commits on power loss) and `OFF` (no fsync at all), in the same run.

use super::stats::{figure, percentile};
use crate::error::Error;
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use std::time::{Duration, Instant};

/// Rows written per mode.
pub struct DurabilityBench {
    pub writes: usize,
}

pub async fn run(params: DurabilityBench) -> Result<(), Error> {
    let dir = tempfile::tempdir().map_err(|e| Error::Internal(e.to_string()))?;
    let mut results = Vec::new();
    for (name, mode) in [
        ("full", SqliteSynchronous::Full),
        ("normal", SqliteSynchronous::Normal),
        ("off", SqliteSynchronous::Off),
    ] {
        let path = dir.path().join(format!("{name}.db"));
        let mut conn = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(mode)
            .connect()
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        sqlx::query("CREATE TABLE acks (id INTEGER PRIMARY KEY, command_id TEXT NOT NULL, status TEXT NOT NULL, at_ms INTEGER NOT NULL)")
            .execute(&mut conn)
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        let mut latencies = Vec::with_capacity(params.writes);
        let started = Instant::now();
        for i in 0..params.writes {
            let one = Instant::now();
            sqlx::query("INSERT INTO acks (command_id, status, at_ms) VALUES (?, 'completed', ?)")
                .bind(format!("cmd-{i}"))
                .bind(i as i64)
                .execute(&mut conn)
                .await
                .map_err(|e| Error::Internal(e.to_string()))?;
            latencies.push(one.elapsed());
        }
        let rate = params.writes as f64 / started.elapsed().as_secs_f64();
        let p50 = percentile(&mut latencies, 50);
        let p99 = percentile(&mut latencies, 99);
        results.push((name, rate, p50, p99));
    }
    let full = results[0].1;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    for (name, rate, p50, p99) in &results {
        figure(&format!("store_commits_per_s_{name}"), *rate, "commits/s");
        figure(&format!("store_commit_p50_{name}"), us(*p50), "us");
        figure(&format!("store_commit_p99_{name}"), us(*p99), "us");
    }
    figure("store_full_vs_normal_ratio", full / results[1].1, "ratio");
    println!();
    println!("| synchronous | commits/s | p50 | p99 | survives kill -9 | survives power loss |");
    println!("|---|---|---|---|---|---|");
    for (name, rate, p50, p99) in &results {
        let (kill, power) = match *name {
            "full" => ("yes", "yes"),
            "normal" => ("yes", "last commits may be lost"),
            _ => ("yes (WAL in OS cache)", "no"),
        };
        println!(
            "| {name} | {rate:.0} | {:.0} µs | {:.0} µs | {kill} | {power} |",
            us(*p50),
            us(*p99)
        );
    }
    Ok(())
}
