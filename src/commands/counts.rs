//! How many devices are online, offline, crashed and service-failed right now: the one
//! counting path of the console's fleet filters (`CountClients`) and the metrics' device
//! gauges. Read-only.
//!
//! Counts are shared: callers asking for the same scope within [`MAX_AGE`] of a count get
//! that count, and callers asking while it is being taken wait for it, so any number of
//! consoles polling the fleet page cost one grouped store query per scope and second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::Fleet;
use crate::model::clients::{ClientCounts, ClientFilter};
use crate::store::StoreError;

/// How old a shared count may be when it is answered: the most a count lags the store.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Scopes remembered at once; past this, the scopes nobody is counting right now are
/// forgotten (a search box makes a new scope per keystroke).
const MAX_SCOPES: usize = 64;

/// Counts and the wall-clock time (unix ms) they were taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub counts: ClientCounts,
    pub at_ms: i64,
}

/// The latest count of one scope, and when (monotonic) it was taken.
type Slot = tokio::sync::Mutex<Option<(Instant, Counted)>>;

/// The latest count per scope (a [`ClientFilter`]), at most [`MAX_AGE`] old when answered.
#[derive(Default)]
pub struct CountCache {
    slots: Mutex<HashMap<ClientFilter, Arc<Slot>>>,
}

impl CountCache {
    /// The count of `scope` taken less than [`MAX_AGE`] ago, or a new one from `count`;
    /// one `count` at a time per scope, the callers waiting for it sharing its result.
    pub async fn get<F, Fut>(&self, scope: &ClientFilter, count: F) -> Result<Counted, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<ClientCounts, StoreError>>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if slots.len() >= MAX_SCOPES && !slots.contains_key(scope) {
                slots.retain(|_, slot| Arc::strong_count(slot) > 1);
            }
            slots.entry(scope.clone()).or_default().clone()
        };
        let mut latest = slot.lock().await;
        if let Some((taken, counted)) = *latest
            && taken.elapsed() < MAX_AGE
        {
            return Ok(counted);
        }
        let counted = Counted { counts: count().await?, at_ms: crate::clock::now_ms() };
        *latest = Some((Instant::now(), counted));
        Ok(counted)
    }
}

impl Fleet {
    /// The devices `scope` selects, counted per state: shared between callers for up to
    /// [`MAX_AGE`] (see [`CountCache`]).
    pub async fn client_counts(&self, scope: &ClientFilter) -> Result<Counted, StoreError> {
        self.counts.get(scope, || self.store.client_counts(scope)).await
    }

    /// Every device counted per state, for the metrics' gauges.
    pub async fn device_counts(&self) -> Result<ClientCounts, StoreError> {
        Ok(self.client_counts(&ClientFilter::default()).await?.counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Counts `taken` the number of computations; each answers `total` = its number.
    async fn count(taken: &AtomicU64) -> Result<ClientCounts, StoreError> {
        let total = taken.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::task::yield_now().await; // let the other caller arrive meanwhile
        Ok(ClientCounts { total, ..Default::default() })
    }

    #[tokio::test(start_paused = true)]
    async fn two_callers_share_one_computation_until_it_is_a_second_old() {
        let (cache, taken) = (CountCache::default(), AtomicU64::new(0));
        let scope = ClientFilter::default();
        let (a, b) =
            tokio::join!(cache.get(&scope, || count(&taken)), cache.get(&scope, || count(&taken)));
        assert_eq!(taken.load(Ordering::SeqCst), 1, "one computation for two callers");
        assert_eq!((a.unwrap().counts.total, b.unwrap().counts.total), (1, 1));
        tokio::time::advance(MAX_AGE - Duration::from_millis(1)).await;
        assert_eq!(cache.get(&scope, || count(&taken)).await.unwrap().counts.total, 1);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(cache.get(&scope, || count(&taken)).await.unwrap().counts.total, 2, "aged out");
        assert_eq!(taken.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn scopes_are_counted_apart_and_a_failure_is_not_kept() {
        let (cache, taken) = (CountCache::default(), AtomicU64::new(0));
        let group = ClientFilter { group: Some("g".into()), ..Default::default() };
        cache.get(&ClientFilter::default(), || count(&taken)).await.unwrap();
        assert_eq!(cache.get(&group, || count(&taken)).await.unwrap().counts.total, 2);
        let other = ClientFilter { group: Some("h".into()), ..Default::default() };
        let failure = StoreError::Query { op: "test", source: sqlx::Error::PoolClosed };
        assert!(cache.get(&other, || async { Err(failure) }).await.is_err());
        assert_eq!(cache.get(&other, || count(&taken)).await.unwrap().counts.total, 3);
        for n in 0..2 * MAX_SCOPES {
            let scope = ClientFilter { uuid_prefix: Some(format!("{n:x}")), ..Default::default() };
            cache.get(&scope, || count(&taken)).await.unwrap();
        }
        assert!(cache.slots.lock().unwrap().len() <= MAX_SCOPES, "idle scopes are forgotten");
    }
}
