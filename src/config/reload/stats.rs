//! Reload statistics derived from the stored history: totals per outcome class and the
//! latency percentiles of recent reloads.

use super::ReloadResult;
use crate::error::Error;
use crate::store::Store;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Totals and latencies over the stored reload events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReloadStats {
    pub total: u64,
    pub successes: u64,
    pub unchanged: u64,
    /// Validation failures, missing or unreadable files, and rollbacks.
    pub failures: u64,
    /// Refused without trying: already in progress, or restart required.
    pub refused: u64,
    pub by_result: Vec<(ReloadResult, u64)>,
    pub last_result: Option<ReloadResult>,
    pub last_reload_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub oldest_event_at: Option<DateTime<Utc>>,
    pub latency_p50: Option<Duration>,
    pub latency_p99: Option<Duration>,
}

/// Compute the statistics over events at or after `since`.
pub async fn reload_stats(
    store: &dyn Store,
    since: Option<DateTime<Utc>>,
) -> Result<ReloadStats, Error> {
    let row = store.reload_stats(since).await?;
    let mut stats = ReloadStats {
        last_result: row.last.as_ref().and_then(|(result, _)| ReloadResult::parse(result)),
        last_reload_at: row.last.map(|(_, at)| at),
        last_success_at: row.last_success_at,
        oldest_event_at: row.oldest_at,
        ..ReloadStats::default()
    };
    for (name, count) in row.by_result {
        let Some(result) = ReloadResult::parse(&name) else { continue };
        stats.total += count;
        match result {
            ReloadResult::Success => stats.successes += count,
            ReloadResult::Unchanged => stats.unchanged += count,
            ReloadResult::AlreadyInProgress | ReloadResult::RestartRequired => {
                stats.refused += count
            }
            ReloadResult::ValidationFailed
            | ReloadResult::FileNotFound
            | ReloadResult::IoError
            | ReloadResult::RolledBack => stats.failures += count,
        }
        stats.by_result.push((result, count));
    }
    let mut durations = row.recent_durations;
    durations.sort();
    stats.latency_p50 = percentile(&durations, 50);
    stats.latency_p99 = percentile(&durations, 99);
    Ok(stats)
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[Duration], pct: usize) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (pct * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&values, 50), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&values, 99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&values[..1], 99), Some(Duration::from_millis(1)));
        assert_eq!(percentile(&[], 50), None);
    }
}
