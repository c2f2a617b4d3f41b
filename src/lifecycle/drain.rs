//! The drain coordinator: one cloneable handle that says "we are about to shut down" (the
//! `server.shutdown_delay` before the drain, while RPCs are still served), "we are shutting
//! down", tells open streams to end, and counts in-flight RPCs (unary and streaming apart) and open client
//! connections so the process knows when it may exit and a restart can report what its
//! drain did.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Shared shutdown state. Cheap to clone; all clones observe the same state.
#[derive(Clone, Debug, Default)]
pub struct Drain {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    stopping: CancellationToken,
    started: CancellationToken,
    streams_closed: CancellationToken,
    in_flight: AtomicUsize,
    /// Of `in_flight`, the server streams.
    streams: AtomicUsize,
    connections: AtomicUsize,
    /// Unary RPCs that finished after draining began.
    completed_while_draining: AtomicU64,
    /// Streams ended with the reconnect status.
    streams_ended: AtomicU64,
    idle: Notify,
    disconnected: Notify,
}

impl Drain {
    pub fn new() -> Self {
        Self::default()
    }

    /// Announce the shutdown: health turns NOT_SERVING and no restart starts, but the
    /// listeners keep accepting until [`Drain::begin`]. Idempotent.
    pub fn announce(&self) {
        self.inner.stopping.cancel();
    }

    /// Whether the shutdown was announced or draining has begun.
    pub fn is_stopping(&self) -> bool {
        self.inner.stopping.is_cancelled() || self.is_draining()
    }

    /// Resolves once the shutdown was announced or draining has begun.
    pub async fn stopping(&self) {
        tokio::select! {
            _ = self.inner.stopping.cancelled() => {}
            _ = self.inner.started.cancelled() => {}
        }
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

    /// Count one RPC as in flight until the returned guard is dropped; `stream` for
    /// streaming RPCs.
    pub fn track(&self, stream: bool) -> RpcGuard {
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
        if stream {
            self.inner.streams.fetch_add(1, Ordering::SeqCst);
        }
        RpcGuard { drain: self.clone(), stream }
    }

    /// RPCs currently in flight (including open streams).
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// Streaming RPCs currently open.
    pub fn open_streams(&self) -> usize {
        self.inner.streams.load(Ordering::SeqCst)
    }

    /// Count one client connection as open until the returned guard is dropped.
    pub fn track_connection(&self) -> ConnectionGuard {
        self.inner.connections.fetch_add(1, Ordering::SeqCst);
        ConnectionGuard { drain: self.clone() }
    }

    /// Client connections currently open on every listener.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::SeqCst)
    }

    /// Resolves when no client connection is open.
    pub async fn disconnected(&self) {
        loop {
            let notified = self.inner.disconnected.notified();
            if self.connections() == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Record that an open stream was ended with the reconnect status.
    pub fn stream_ended(&self) {
        self.inner.streams_ended.fetch_add(1, Ordering::SeqCst);
    }

    /// (unary RPCs finished since draining began, streams ended with the reconnect status).
    pub fn drained_counts(&self) -> (u64, u64) {
        (
            self.inner.completed_while_draining.load(Ordering::SeqCst),
            self.inner.streams_ended.load(Ordering::SeqCst),
        )
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
    stream: bool,
}

impl RpcGuard {
    /// The stream was ended with the reconnect status (counted for the drain report).
    pub fn ended_for_reconnect(&self) {
        self.drain.stream_ended();
    }
}

impl Drop for RpcGuard {
    fn drop(&mut self) {
        let inner = &self.drain.inner;
        if self.stream {
            inner.streams.fetch_sub(1, Ordering::SeqCst);
        } else if self.drain.is_draining() {
            inner.completed_while_draining.fetch_add(1, Ordering::SeqCst);
        }
        if inner.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            inner.idle.notify_waiters();
        }
    }
}

/// Marks one client connection open; dropping it marks it closed.
#[derive(Debug)]
pub struct ConnectionGuard {
    drain: Drain,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if self.drain.inner.connections.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.drain.inner.disconnected.notify_waiters();
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
        let first = drain.track(false);
        let second = drain.track(true);
        assert_eq!((drain.in_flight(), drain.open_streams()), (2, 1));
        drop(first);
        let waiter = tokio::spawn({
            let drain = drain.clone();
            async move { drain.idle().await }
        });
        assert!(!waiter.is_finished());
        drop(second);
        tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        assert_eq!((drain.in_flight(), drain.open_streams()), (0, 0));
    }

    #[test]
    fn counts_connections_and_what_the_drain_did() {
        let drain = Drain::new();
        let connection = drain.track_connection();
        let before = drain.track(false);
        drop(before);
        let during = drain.track(false);
        assert_eq!(drain.connections(), 1);
        drain.begin();
        drop(during);
        drain.stream_ended();
        assert_eq!(drain.drained_counts(), (1, 1));
        drop(connection);
        assert_eq!(drain.connections(), 0);
    }

    #[tokio::test]
    async fn an_announced_stop_is_stopping_but_not_draining() {
        let drain = Drain::new();
        let clone = drain.clone();
        assert!(!clone.is_stopping());
        drain.announce();
        clone.stopping().await;
        assert!(clone.is_stopping() && !clone.is_draining());
        let other = Drain::new();
        other.begin();
        assert!(other.is_stopping(), "draining implies stopping");
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
