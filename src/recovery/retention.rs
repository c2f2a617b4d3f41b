//! Retention: delete terminal commands (and their events), reload, restart and audit events
//! older than `retention.days`, in small batches so RPCs never wait behind a long delete.
//! Runs as a background loop every `retention.interval` on the replica that leads
//! (`crate::cluster`; on SQLite the one process), and on demand (`RunCleanup`). Its deletes
//! are not fenced: deleting rows past the cutoff twice deletes nothing more.

use crate::cluster::Leadership;
use crate::config::ConfigHandle;
use crate::error::Error;
use crate::store::Store;
use crate::store::maintenance::RetentionTable;
use crate::tasks::Tasks;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one cleanup did (or, for a dry run, would do).
#[derive(Debug, Clone, PartialEq)]
pub struct CleanupReport {
    pub dry_run: bool,
    pub cutoff: DateTime<Utc>,
    /// Rows deleted (or that would be) per table, in [`RetentionTable::ALL`] order.
    pub tables: Vec<(RetentionTable, u64)>,
    pub batches: u32,
    pub duration: Duration,
}

impl CleanupReport {
    pub fn total(&self) -> u64 {
        self.tables.iter().map(|(_, rows)| rows).sum()
    }
}

/// Delete (or count, when `dry_run`) every row older than `retention`.
#[tracing::instrument(name = "retention.cleanup", skip(store), fields(retention.deleted))]
pub async fn run_cleanup(
    store: &dyn Store,
    retention: Duration,
    batch_size: u32,
    dry_run: bool,
) -> Result<CleanupReport, Error> {
    let started = Instant::now();
    let age = chrono::Duration::from_std(retention)
        .map_err(|_| Error::invalid_argument("retention", "too long"))?;
    let cutoff = Utc::now() - age;
    let mut report =
        CleanupReport { dry_run, cutoff, tables: Vec::new(), batches: 0, duration: Duration::ZERO };
    for table in RetentionTable::ALL {
        let rows = if dry_run {
            store.count_expired(table, cutoff).await?
        } else {
            let mut deleted = 0;
            loop {
                let batch = store.delete_expired(table, cutoff, batch_size.max(1)).await?;
                report.batches += 1;
                deleted += batch;
                if batch < u64::from(batch_size.max(1)) {
                    break;
                }
                // Let queued RPCs take the write lock between batches.
                tokio::task::yield_now().await;
            }
            deleted
        };
        report.tables.push((table, rows));
    }
    report.duration = started.elapsed();
    tracing::Span::current().record("retention.deleted", report.total());
    Ok(report)
}

/// Run the cleanup every `retention.interval` as a background loop, while `leadership` leads.
/// The interval, age and batch size are read from the live config each time, so reloads apply.
pub fn spawn(tasks: &Tasks, config: ConfigHandle, store: Arc<dyn Store>, leadership: Leadership) {
    tasks.spawn("retention", move |mut control| async move {
        loop {
            let settings = config.config().retention;
            tokio::select! {
                _ = control.changed() => {}
                _ = tokio::time::sleep(settings.interval) => {
                    if !settings.enabled() || !leadership.is_leader() {
                        continue;
                    }
                    match run_cleanup(store.as_ref(), settings.max_age(), settings.batch_size, false).await {
                        Ok(report) if report.total() > 0 => {
                            tracing::info!(deleted = report.total(), batches = report.batches, "retention cleanup")
                        }
                        Ok(_) => {}
                        Err(err) => tracing::warn!(error = %err, "retention cleanup failed"),
                    }
                }
            }
            if !control.checkpoint().await {
                return;
            }
        }
    });
}
