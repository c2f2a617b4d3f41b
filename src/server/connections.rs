//! Accepted client connections: counted while open (for PrepareShutdown and a restart's
//! drain report), and closed with a lingering close.
//!
//! When the server ends a connection (after a drain's GOAWAY) while the client still has a
//! frame in flight (a PING ack, a WINDOW_UPDATE), closing the socket at once makes the
//! kernel answer with RST, and an RST makes the client's kernel discard response bytes the
//! client has not read yet: an RPC the server completed would fail. So a connection that
//! hyper is done with is shut down for writing and read until the client closes its side
//! (or [`LINGER`] passes) before the descriptor is closed, and it stays counted until then;
//! the drain waits for the count to reach zero. Transport plumbing only.

use crate::lifecycle::{ConnectionGuard, Drain};
use futures::{Stream, StreamExt};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tonic::transport::server::Connected;

/// Longest wait for a client to close its side of a finished connection.
pub const LINGER: Duration = Duration::from_secs(2);

/// An accepted connection, counted until it is fully closed.
pub struct Counted<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    inner: Option<T>,
    guard: Option<ConnectionGuard>,
}

/// Wrap every connection `incoming` yields.
pub fn counted<S, T, E>(incoming: S, drain: Drain) -> impl Stream<Item = Result<Counted<T>, E>>
where
    S: Stream<Item = Result<T, E>>,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    incoming.map(move |accepted| {
        accepted.map(|inner| Counted { inner: Some(inner), guard: Some(drain.track_connection()) })
    })
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Counted<T> {
    fn io(&mut self) -> io::Result<Pin<&mut T>> {
        self.inner
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Drop for Counted<T> {
    fn drop(&mut self) {
        let (Some(io), Some(guard)) = (self.inner.take(), self.guard.take()) else { return };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(linger(io, guard));
        }
    }
}

/// Shut down for writing, read until the client closes, then close.
async fn linger<T: AsyncRead + AsyncWrite + Unpin>(mut io: T, guard: ConnectionGuard) {
    let _ = tokio::time::timeout(LINGER, async {
        let _ = io.shutdown().await;
        let mut buf = [0u8; 4096];
        while let Ok(n) = io.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    drop(io);
    drop(guard);
}

impl<T: Connected + AsyncRead + AsyncWrite + Unpin + Send + 'static> Connected for Counted<T> {
    type ConnectInfo = T::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.as_ref().expect("connection info of a live connection").connect_info()
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.io()?.poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.io()?.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io()?.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(T::is_write_vectored)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io()?.poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io()?.poll_shutdown(cx)
    }
}
