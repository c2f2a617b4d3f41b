//! Retention: delete terminal commands (and their events), reload, restart and audit events
//! older than `retention.days`, in small batches so RPCs never wait behind a long delete.
//! Runs as a background loop every `retention.interval` on the replica that leads
//! (`crate::cluster`; on SQLite the one process), and on demand (`RunCleanup`, on whichever
//! replica serves the call). The loop's deletes are fenced by the leader's lease epoch: each
//! batch's transaction checks it first, so a leader that lost the lease (paused past it, cut
//! off) deletes nothing more and steps down. An on-demand cleanup is an operator's call, which
//! any replica serves, and is not fenced.

use crate::cluster::Leadership;
use crate::commands::step_down_if_fenced;
use crate::config::ConfigHandle;
use crate::error::Error;
use crate::store::maintenance::RetentionTable;
use crate::store::{Fence, Store};
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

/// Delete (or count, when `dry_run`) every row older than `retention`: an operator's cleanup.
pub async fn run_cleanup(
    store: &dyn Store,
    retention: Duration,
    batch_size: u32,
    dry_run: bool,
) -> Result<CleanupReport, Error> {
    cleanup(store, None, retention, batch_size, dry_run).await
}

/// The loop's cleanup, while `leadership` leads (`None` when it does not): every delete is
/// fenced by its lease epoch, and a fenced one makes it step down.
pub async fn run_leader_cleanup(
    store: &dyn Store,
    leadership: &Leadership,
    retention: Duration,
    batch_size: u32,
) -> Result<Option<CleanupReport>, Error> {
    let Some(fence) = leadership.fence() else { return Ok(None) };
    let leader = Some((leadership, &fence));
    cleanup(store, leader, retention, batch_size, false).await.map(Some)
}

/// Delete (or count) every row older than `retention`, each batch fenced by `leader`'s fence
/// when given.
#[tracing::instrument(name = "retention.cleanup", skip(store, leader), fields(retention.deleted))]
async fn cleanup(
    store: &dyn Store,
    leader: Option<(&Leadership, &Fence)>,
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
            let fence = leader.map(|(_, fence)| fence);
            loop {
                let batch = store
                    .delete_expired(table, cutoff, batch_size.max(1), fence)
                    .await
                    .inspect_err(|err| {
                        if let Some((leadership, fence)) = leader {
                            step_down_if_fenced(leadership, fence, err);
                        }
                    })?;
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
                    if !settings.enabled() {
                        continue;
                    }
                    let (age, batch) = (settings.max_age(), settings.batch_size);
                    match run_leader_cleanup(store.as_ref(), &leadership, age, batch).await {
                        Ok(Some(report)) if report.total() > 0 => {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::audit::AuditRow;
    use crate::store::fleet_tests::audit_row;
    use crate::store::test_postgres::database;
    use crate::store::{StoreError, StoreOptions, open_with};

    const TTL: Duration = Duration::from_secs(30);
    const WEEK: Duration = Duration::from_secs(7 * 86_400);

    async fn replica(url: &str, id: &str) -> Arc<dyn Store> {
        let options = StoreOptions { replica_id: Some(id.into()), ..StoreOptions::default() };
        open_with(url, &options).await.unwrap()
    }

    /// An old leader (paused past its lease, say) still takes itself for the leader: its
    /// retention run deletes nothing and it steps down; the leader's run deletes the rows.
    #[tokio::test]
    async fn an_old_leader_deletes_nothing_and_steps_down() {
        let Some(url) = database().await else { return };
        let (a, b) = (replica(&url, "a").await, replica(&url, "b").await);
        for rpc in ["/a", "/b", "/c"] {
            let at = Utc::now() - chrono::Duration::days(30);
            let row = AuditRow { at, ..audit_row(rpc) };
            a.insert_audit_event(&row).await.unwrap();
        }
        let (lease_a, lease_b) = (a.cluster().unwrap(), b.cluster().unwrap());
        let epoch = lease_a.try_acquire("a", TTL).await.unwrap().unwrap();
        let old = Leadership::leading("a", epoch);
        // The lease moves on to `b` (epoch + 1); `a` does not notice.
        lease_a.release(&Fence { holder: "a".into(), epoch }).await.unwrap();
        let taken = lease_b.try_acquire("b", TTL).await.unwrap();
        assert_eq!(taken, Some(epoch + 1));

        let err = run_leader_cleanup(a.as_ref(), &old, WEEK, 2).await.unwrap_err();
        assert!(matches!(err, Error::Store(StoreError::Fenced { .. })), "{err}");
        assert!(!old.is_leader(), "a fenced leader steps down");
        let cutoff = Utc::now() - chrono::Duration::days(7);
        let left = a.count_expired(RetentionTable::AuditEvents, cutoff).await.unwrap();
        assert_eq!(left, 3, "the old leader deleted rows");
        assert_eq!(run_leader_cleanup(a.as_ref(), &old, WEEK, 2).await.unwrap(), None);

        let leader = Leadership::leading("b", epoch + 1);
        let report = run_leader_cleanup(b.as_ref(), &leader, WEEK, 2).await.unwrap().unwrap();
        assert_eq!(report.total(), 3);
        assert!(leader.is_leader());
    }
}
