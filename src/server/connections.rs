//! Counting client connections: every accepted stream is wrapped with a guard from the
//! drain coordinator, so PrepareShutdown and a restart's drain report can say how many
//! connections were open. Transport plumbing only; it never touches the bytes.

use crate::lifecycle::{ConnectionGuard, Drain};
use futures::{Stream, StreamExt};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::Connected;

pin_project_lite::pin_project! {
    /// An accepted connection, counted while it is open.
    pub struct Counted<T> {
        #[pin]
        inner: T,
        _guard: ConnectionGuard,
    }
}

/// Wrap every connection `incoming` yields.
pub fn counted<S, T, E>(incoming: S, drain: Drain) -> impl Stream<Item = Result<Counted<T>, E>>
where
    S: Stream<Item = Result<T, E>>,
{
    incoming.map(move |accepted| {
        accepted.map(|inner| Counted { inner, _guard: drain.track_connection() })
    })
}

impl<T: Connected> Connected for Counted<T> {
    type ConnectInfo = T::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

impl<T: AsyncRead> AsyncRead for Counted<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().inner.poll_read(cx, buf)
    }
}

impl<T: AsyncWrite> AsyncWrite for Counted<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}
