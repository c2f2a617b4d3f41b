//! The drain coordinator: one cloneable handle that says "we are shutting down", tells open
//! streams to end, and counts in-flight RPCs so the process knows when it may exit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Shared shutdown state. Cheap to clone; all clones observe the same state.
#[derive(Clone, Debug, Default)]
pub struct Drain {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    started: CancellationToken,
    streams_closed: CancellationToken,
    in_flight: AtomicUsize,
    idle: Notify,
}

impl Drain {
    pub fn new() -> Self {
        Self::default()
    }

    /// Start draining: listeners stop accepting. Idempotent.
    pub fn begin(&self) {
        self.inner.started.cancel();
    }

    pub fn is_draining(&self) -> bool {
        self.inner.started.is_cancelled()
    }

    /// Resolves once draining has begun (the listeners' shutdown signal).
    pub fn started(&self) -> WaitForCancellationFutureOwned {
        self.inner.started.clone().cancelled_owned()
    }

    /// Tell every open server stream to end with a reconnect status. Idempotent.
    pub fn close_streams(&self) {
        self.inner.streams_closed.cancel();
    }

    /// Resolves once open streams have been told to end.
    pub fn streams_closed(&self) -> WaitForCancellationFutureOwned {
        self.inner.streams_closed.clone().cancelled_owned()
    }

    /// Count one RPC as in flight until the returned guard is dropped.
    pub fn track(&self) -> RpcGuard {
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
        RpcGuard { drain: self.clone() }
    }

    /// RPCs currently in flight (including open streams).
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// Resolves when no RPC is in flight.
    pub async fn idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            if self.in_flight() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Marks one RPC in flight; dropping it marks the RPC finished.
#[derive(Debug)]
pub struct RpcGuard {
    drain: Drain,
}

impl Drop for RpcGuard {
    fn drop(&mut self) {
        if self.drain.inner.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.drain.inner.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn idle_waits_for_every_guard() {
        let drain = Drain::new();
        let first = drain.track();
        let second = drain.track();
        assert_eq!(drain.in_flight(), 2);
        drop(first);
        let waiter = tokio::spawn({
            let drain = drain.clone();
            async move { drain.idle().await }
        });
        assert!(!waiter.is_finished());
        drop(second);
        tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        assert_eq!(drain.in_flight(), 0);
    }

    #[tokio::test]
    async fn begin_and_close_streams_are_observable_from_clones() {
        let drain = Drain::new();
        let clone = drain.clone();
        assert!(!clone.is_draining());
        drain.begin();
        clone.started().await;
        assert!(clone.is_draining());
        drain.close_streams();
        clone.streams_closed().await;
    }
}
