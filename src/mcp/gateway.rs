//! The MCP adapter's connection to the rebound server, and what keeps an assistant's session
//! alive while that server restarts or crashes.
//!
//! Every tool call goes through [`Gateway::call`]. When the server answers, the answer
//! (success or error status) is returned at once. When it cannot be reached — connection
//! refused, or UNAVAILABLE while it drains for a restart — the call is *held*: it takes one
//! of `--buffer` slots and is retried with exponential backoff on a fresh connection until
//! the server is back or `--call-deadline` (counted from the call's arrival) has passed;
//! only then does it fail, saying how long it waited and why. When every slot is taken,
//! further calls fail at once instead of queueing without bound.
//!
//! The connection is a [`Transport`], which already resends requests a draining server
//! provably never processed (refused by its GOAWAY). What is held here on top of that: calls
//! made while the server cannot be reached, calls it answered with UNAVAILABLE, and — for
//! calls marked [`Replay::Safe`] — calls whose connection broke before the answer, since
//! sending those again cannot act twice (reads, and writes with an idempotency key).
//!
//! This module knows nothing about MCP or about individual RPCs: it takes a closure that
//! makes one attempt on a transport.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::client::Transport;

/// First pause before retrying a held call; doubles up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_millis(50);
/// Longest pause between two attempts of a held call.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Whether a call may be sent again when its connection broke before the answer came, which
/// leaves open whether the server processed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Yes: a read, or a write made idempotent by a key (command_id, rollout_id).
    Safe,
    /// No (a restart): only failures that prove the request was not processed are held.
    OnlyUnprocessed,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The server answered with an error status.
    #[error("{method} failed: {}: {}", crate::proto::codes::code_name(.status.code()), .status.message())]
    Rpc { method: &'static str, status: tonic::Status },
    /// The server stayed unreachable (or unavailable) until the call deadline.
    #[error(
        "the rebound server at {addr} was unreachable for {waited:?} (call held and retried until the call deadline of {deadline:?}); last error: {last}"
    )]
    Unreachable { addr: String, waited: Duration, deadline: Duration, last: String },
    /// The server was unreachable and the buffer of held calls was full.
    #[error(
        "the rebound server at {addr} is unreachable and {capacity} calls are already held waiting for it (the buffer is full); last error: {last}"
    )]
    BufferFull { addr: String, capacity: usize, last: String },
}

/// Counters about held calls, for `orchestrator_reconnect_test` and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct BufferStatus {
    /// Buffer size (`--buffer`).
    pub capacity: usize,
    /// Calls held right now, waiting for the server.
    pub held_now: usize,
    /// Calls that were ever held.
    pub held_total: u64,
    /// Held calls that succeeded once the server was back.
    pub recovered_total: u64,
    /// Held calls that failed at the call deadline.
    pub expired_total: u64,
    /// Calls refused because the buffer was full.
    pub rejected_total: u64,
    /// Connections (re)established to the server.
    pub connections_total: u64,
    /// The call deadline in milliseconds.
    pub call_deadline_ms: u64,
}

#[derive(Default)]
struct Counters {
    held: AtomicU64,
    recovered: AtomicU64,
    expired: AtomicU64,
    rejected: AtomicU64,
    connections: AtomicU64,
}

/// A cached transport and the generation it was made in, so a failed attempt only discards
/// the transport it used (not one another task has just re-established).
struct Cached {
    generation: u64,
    transport: Option<Transport>,
}

/// The connection to one rebound server, shared by all tool calls.
pub struct Gateway {
    addr: String,
    /// Token and TLS settings of every connection.
    options: crate::client::ClientOptions,
    call_deadline: Duration,
    capacity: usize,
    buffer: Arc<Semaphore>,
    cached: Mutex<Cached>,
    counters: Counters,
}

impl Gateway {
    /// A gateway to `addr` (already validated with [`crate::client::Address::parse`]). It
    /// connects on the first call, so it starts even while the server is down.
    pub fn new(addr: String, buffer: usize, call_deadline: Duration) -> Self {
        Self {
            addr,
            options: Default::default(),
            call_deadline,
            capacity: buffer,
            buffer: Arc::new(Semaphore::new(buffer)),
            cached: Mutex::new(Cached { generation: 0, transport: None }),
            counters: Counters::default(),
        }
    }

    /// Connect with a bearer token and TLS settings.
    pub fn with_options(mut self, options: crate::client::ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// The server address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Make one RPC through `attempt`, holding and retrying it while the server is away.
    pub async fn call<T, F, Fut>(
        &self,
        method: &'static str,
        replay: Replay,
        attempt: F,
    ) -> Result<T, CallError>
    where
        F: Fn(Transport) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let started = Instant::now();
        let deadline = started + self.call_deadline;
        let mut held: Option<OwnedSemaphorePermit> = None;
        let mut backoff = INITIAL_BACKOFF;
        loop {
            let last = match tokio::time::timeout_at(deadline, self.try_once(replay, &attempt))
                .await
            {
                Ok(Ok(response)) => {
                    if held.is_some() {
                        self.counters.recovered.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(rpc = method, waited = ?started.elapsed(), "held call succeeded");
                    }
                    return Ok(response);
                }
                Ok(Err(Attempt::Answered(status))) => {
                    return Err(CallError::Rpc { method, status });
                }
                Ok(Err(Attempt::Away(reason))) => reason,
                Err(_) => "no answer before the call deadline".to_owned(),
            };
            if held.is_none() {
                match self.buffer.clone().try_acquire_owned() {
                    Ok(permit) => {
                        held = Some(permit);
                        self.counters.held.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(rpc = method, error = %last, "server away: holding the call");
                    }
                    Err(_) => {
                        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                        return Err(CallError::BufferFull {
                            addr: self.addr.clone(),
                            capacity: self.capacity,
                            last,
                        });
                    }
                }
            }
            let now = Instant::now();
            if now >= deadline {
                self.counters.expired.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(rpc = method, error = %last, "held call reached its deadline");
                return Err(CallError::Unreachable {
                    addr: self.addr.clone(),
                    waited: now - started,
                    deadline: self.call_deadline,
                    last,
                });
            }
            tokio::time::sleep(backoff.min(deadline - now)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn try_once<T, F, Fut>(&self, replay: Replay, attempt: &F) -> Result<T, Attempt>
    where
        F: Fn(Transport) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let (generation, transport) = self.transport().await.map_err(Attempt::Away)?;
        match attempt(transport).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) if server_away(&status, replay) => {
                self.forget(generation).await;
                Err(Attempt::Away(format!("{}: {}", status.code(), status.message())))
            }
            Err(status) => Err(Attempt::Answered(status)),
        }
    }

    async fn transport(&self) -> Result<(u64, Transport), String> {
        let mut cached = self.cached.lock().await;
        if let Some(transport) = &cached.transport {
            return Ok((cached.generation, transport.clone()));
        }
        let transport = Transport::connect_with(&self.addr, &self.options)
            .await
            .map_err(|err| err.to_string())?;
        cached.generation += 1;
        cached.transport = Some(transport.clone());
        self.counters.connections.fetch_add(1, Ordering::Relaxed);
        tracing::info!(addr = %self.addr, "connected to the rebound server");
        Ok((cached.generation, transport))
    }

    async fn forget(&self, generation: u64) {
        let mut cached = self.cached.lock().await;
        if cached.generation == generation {
            cached.transport = None;
        }
    }

    /// Counters about held calls.
    pub fn buffer_status(&self) -> BufferStatus {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        BufferStatus {
            capacity: self.capacity,
            held_now: self.capacity - self.buffer.available_permits(),
            held_total: load(&self.counters.held),
            recovered_total: load(&self.counters.recovered),
            expired_total: load(&self.counters.expired),
            rejected_total: load(&self.counters.rejected),
            connections_total: load(&self.counters.connections),
            call_deadline_ms: u64::try_from(self.call_deadline.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// One attempt's failure: the server answered, or it is away (retry).
enum Attempt {
    Answered(tonic::Status),
    Away(String),
}

/// Whether the server is away, so the call is worth holding. UNAVAILABLE (the server is
/// draining or restarting, or could not be dialled) and a refused connection never mean
/// the request was processed. Any other transport failure — the connection reset or
/// closed before the answer — is held only for calls that are [`Replay::Safe`]. Every
/// status the server sent is its answer and is returned as is.
fn server_away(status: &tonic::Status, replay: Replay) -> bool {
    if status.code() == tonic::Code::Unavailable {
        return true;
    }
    match transport_failure(status) {
        Some(Failure::NotConnected) => true,
        Some(Failure::Broken) => replay == Replay::Safe,
        None => false,
    }
}

/// How a call failed in the transport.
enum Failure {
    /// The connection could not be made: the request was never sent.
    NotConnected,
    /// The connection broke while the call was under way.
    Broken,
}

/// How the call failed in the transport, if it did: a status made from a transport error
/// carries that error as its source; a status sent by the server carries none.
fn transport_failure(status: &tonic::Status) -> Option<Failure> {
    use std::io::ErrorKind::{AddrNotAvailable, ConnectionRefused, NotFound};
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && matches!(io.kind(), ConnectionRefused | NotFound | AddrNotAvailable)
        {
            return Some(Failure::NotConnected);
        }
        if error.is::<h2::Error>() || error.is::<hyper::Error>() || error.is::<std::io::Error>() {
            return Some(Failure::Broken);
        }
        source = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_are_told_from_server_answers() {
        use std::io::{Error, ErrorKind};
        let reset = || tonic::Status::from_error(Box::new(Error::from(ErrorKind::ConnectionReset)));
        let refused =
            || tonic::Status::from_error(Box::new(Error::from(ErrorKind::ConnectionRefused)));
        let h2_reset = || tonic::Status::from(h2::Error::from(h2::Reason::INTERNAL_ERROR));
        for replay in [Replay::Safe, Replay::OnlyUnprocessed] {
            assert!(server_away(&tonic::Status::unavailable("draining"), replay));
            assert!(server_away(&refused(), replay));
            assert!(!server_away(&tonic::Status::internal("sent by the server"), replay));
            assert!(!server_away(&tonic::Status::unimplemented(""), replay));
        }
        // A broken connection leaves open whether the request was processed.
        assert!(server_away(&reset(), Replay::Safe));
        assert!(server_away(&h2_reset(), Replay::Safe));
        assert!(!server_away(&reset(), Replay::OnlyUnprocessed));
        assert!(!server_away(&h2_reset(), Replay::OnlyUnprocessed));
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_clearly_at_the_deadline() {
        // A port nothing listens on: bind, take the port, release it.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let gateway = Gateway::new(format!("127.0.0.1:{port}"), 1, Duration::from_millis(300));
        let started = std::time::Instant::now();
        let result: Result<(), _> = gateway
            .call("/test/Call", Replay::Safe, |_t| async { Ok(tonic::Response::new(())) })
            .await;
        let err = result.unwrap_err();
        assert!(matches!(err, CallError::Unreachable { .. }), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(err.to_string().contains("unreachable for"), "{err}");
        let status = gateway.buffer_status();
        assert_eq!((status.held_now, status.held_total, status.expired_total), (0, 1, 1));
    }

    #[tokio::test]
    async fn a_full_buffer_refuses_at_once() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let gateway =
            Arc::new(Gateway::new(format!("127.0.0.1:{port}"), 1, Duration::from_secs(30)));
        let first = tokio::spawn({
            let gateway = gateway.clone();
            async move {
                gateway
                    .call("/test/A", Replay::Safe, |_transport| async {
                        Ok(tonic::Response::new(()))
                    })
                    .await
            }
        });
        // Wait until the first call is held (a condition with a deadline).
        crate::testing::until("the first call is held", || gateway.buffer_status().held_now > 0)
            .await;
        let second: Result<(), _> = gateway
            .call("/test/B", Replay::Safe, |_t| async { Ok(tonic::Response::new(())) })
            .await;
        assert!(matches!(second, Err(CallError::BufferFull { capacity: 1, .. })), "{second:?}");
        assert_eq!(gateway.buffer_status().rejected_total, 1);
        first.abort();
    }
}
