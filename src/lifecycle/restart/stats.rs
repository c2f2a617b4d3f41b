//! Reconnection statistics and TestReconnect sessions, kept across restarts.
//!
//! Both travel in the snapshot as the section `restart.reconnects`. When no snapshot could be
//! restored, the statistics are rebuilt from the restart history in the store (which holds
//! every restart's drain figures), and the sessions start empty: they are a volatile cache.

use super::{DrainStats, Outcome, RestartRecord};
use crate::lifecycle::snapshot::SnapshotSection;
use crate::store::RestartTotals;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use uuid::Uuid;

/// Name of the snapshot section.
pub const SECTION: &str = "restart.reconnects";
/// Sessions remembered at most; the least recently seen is forgotten first.
const MAX_SESSIONS: usize = 10_000;

/// Counters over the whole restart lineage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconnectStats {
    pub drain: DrainStats,
    pub restarts_total: u64,
    pub restarts_succeeded: u64,
    pub restarts_rolled_back: u64,
    pub restarts_failed: u64,
    pub last_restart_ms: Option<i64>,
    pub last_restart_id: Option<Uuid>,
    pub counting_since_ms: i64,
}

impl ReconnectStats {
    /// Rebuild from the store's history.
    pub fn from_totals(totals: &RestartTotals, now_ms: i64) -> Self {
        Self {
            drain: totals.drain,
            restarts_total: totals.total,
            restarts_succeeded: totals.succeeded,
            restarts_rolled_back: totals.rolled_back,
            restarts_failed: totals.failed,
            last_restart_ms: totals.last_finished.map(|(_, ms)| ms),
            last_restart_id: totals.last_finished.map(|(id, _)| id),
            counting_since_ms: totals.first_start_ms.unwrap_or(now_ms),
        }
    }
}

/// One TestReconnect session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Session {
    calls: u64,
    first_seen_ms: i64,
    last_call_ms: i64,
    last_generation: u64,
}

/// What TestReconnect reports about a session after recording a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub session_id: String,
    pub seen_before: bool,
    pub calls: u64,
    pub first_seen_ms: i64,
    pub previous_call_ms: Option<i64>,
    pub previous_generation: u64,
    pub reconnected_across_restart: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    stats: ReconnectStats,
    sessions: HashMap<String, Session>,
}

/// The live statistics and sessions of this process.
#[derive(Debug, Default)]
pub struct Reconnects {
    state: Mutex<State>,
}

impl Reconnects {
    /// From a restored snapshot section, or else from the store's totals.
    pub fn restore(
        section: Option<serde_json::Value>,
        totals: impl FnOnce() -> ReconnectStats,
    ) -> Self {
        let state = section
            .and_then(|value| match serde_json::from_value::<State>(value) {
                Ok(state) => Some(state),
                Err(err) => {
                    tracing::warn!(error = %err, "snapshot section {SECTION} unreadable; rebuilding from the store");
                    None
                }
            })
            .unwrap_or_else(|| State { stats: totals(), sessions: HashMap::new() });
        Self { state: Mutex::new(state) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn stats(&self) -> ReconnectStats {
        self.lock().stats.clone()
    }

    pub fn restart_requested(&self) {
        self.lock().stats.restarts_total += 1;
    }

    pub fn drained(&self, drain: &DrainStats) {
        let stats = &mut self.lock().stats;
        stats.drain.connections_drained += drain.connections_drained;
        stats.drain.streams_told_to_reconnect += drain.streams_told_to_reconnect;
        stats.drain.rpcs_completed += drain.rpcs_completed;
        stats.drain.rpcs_canceled += drain.rpcs_canceled;
    }

    /// Count a restart that reached its outcome.
    pub fn finished(&self, record: &RestartRecord) {
        let stats = &mut self.lock().stats;
        match record.outcome {
            Some(Outcome::Succeeded) => stats.restarts_succeeded += 1,
            Some(Outcome::RolledBack) => stats.restarts_rolled_back += 1,
            Some(Outcome::Failed | Outcome::Interrupted) => stats.restarts_failed += 1,
            None => return,
        }
        stats.last_restart_ms = record.finished_ms;
        stats.last_restart_id = Some(record.id);
    }

    /// Record a TestReconnect call of `session_id` served by `generation`.
    pub fn touch(&self, session_id: &str, generation: u64, now_ms: i64) -> SessionView {
        let mut state = self.lock();
        if !state.sessions.contains_key(session_id) && state.sessions.len() >= MAX_SESSIONS {
            let oldest =
                state.sessions.iter().min_by_key(|(_, s)| s.last_call_ms).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                state.sessions.remove(&oldest);
            }
        }
        let previous = state.sessions.get(session_id).copied();
        let session = Session {
            calls: previous.map_or(0, |p| p.calls) + 1,
            first_seen_ms: previous.map_or(now_ms, |p| p.first_seen_ms),
            last_call_ms: now_ms,
            last_generation: generation,
        };
        state.sessions.insert(session_id.to_owned(), session);
        SessionView {
            session_id: session_id.to_owned(),
            seen_before: previous.is_some(),
            calls: session.calls,
            first_seen_ms: session.first_seen_ms,
            previous_call_ms: previous.map(|p| p.last_call_ms),
            previous_generation: previous.map_or(0, |p| p.last_generation),
            reconnected_across_restart: previous.is_some_and(|p| p.last_generation != generation),
        }
    }
}

impl SnapshotSection for Reconnects {
    fn name(&self) -> &'static str {
        SECTION
    }

    fn capture(&self) -> Result<serde_json::Value, String> {
        serde_json::to_value(&*self.lock()).map_err(|err| err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_and_counters_survive_a_capture_and_restore() {
        let live = Reconnects::restore(None, ReconnectStats::default);
        live.restart_requested();
        live.drained(&DrainStats { connections_drained: 3, ..DrainStats::default() });
        let first = live.touch("s1", 0, 100);
        assert!(!first.seen_before && first.calls == 1);
        let section = live.capture().unwrap();

        let restored = Reconnects::restore(Some(section), || panic!("no store fallback needed"));
        assert_eq!(restored.stats().restarts_total, 1);
        assert_eq!(restored.stats().drain.connections_drained, 3);
        let again = restored.touch("s1", 1, 200);
        assert!(again.seen_before && again.reconnected_across_restart);
        assert_eq!(
            (again.calls, again.previous_call_ms, again.previous_generation),
            (2, Some(100), 0)
        );
        assert_eq!(again.first_seen_ms, 100);
    }

    #[test]
    fn without_a_section_the_store_totals_are_used() {
        let totals =
            RestartTotals { total: 5, succeeded: 4, failed: 1, ..RestartTotals::default() };
        let restored = Reconnects::restore(None, || ReconnectStats::from_totals(&totals, 9));
        let stats = restored.stats();
        assert_eq!(
            (stats.restarts_total, stats.restarts_succeeded, stats.restarts_failed),
            (5, 4, 1)
        );
        assert_eq!(stats.counting_since_ms, 9);
    }
}
