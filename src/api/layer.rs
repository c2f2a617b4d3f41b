//! The tower layer every RPC passes through.
//!
//! It owns the cross-cutting concerns so services stay thin:
//! - a `rpc` span per call (method, peer, final gRPC status), continuing the caller's W3C
//!   trace context when one is sent;
//! - in-flight accounting through the drain coordinator, held until the response body has
//!   finished (so an open stream counts as in flight);
//! - ending open server streams with UNAVAILABLE "reconnect" when the drain closes streams;
//! - the one place authentication and authorization will be enforced.

use crate::lifecycle::{Drain, RpcGuard};
use bytes::Bytes;
use http_body::Frame;
use opentelemetry::propagation::Extractor;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;
use tonic::body::Body;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// gRPC status code of UNAVAILABLE, sent to streams that must reconnect.
const UNAVAILABLE: &str = "14";
/// Message sent with that status; clients and operators read it (printable ASCII, so it
/// needs no percent-encoding on the wire).
const RECONNECT_MESSAGE: &str = "server is shutting down or restarting; reconnect";

/// Wraps every service of the server.
#[derive(Clone, Debug)]
pub struct RpcLayer {
    drain: Drain,
}

impl RpcLayer {
    pub fn new(drain: Drain) -> Self {
        Self { drain }
    }
}

impl<S> tower::Layer<S> for RpcLayer {
    type Service = RpcService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcService { inner, drain: self.drain.clone() }
    }
}

/// The service produced by [`RpcLayer`].
#[derive(Clone, Debug)]
pub struct RpcService<S> {
    inner: S,
    drain: Drain,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S> tower::Service<http::Request<Body>> for RpcService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // Take the service that was driven to readiness; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.drain.track(super::methods::is_streaming(request.uri().path()));
        let streams_closed = self.drain.streams_closed();
        let span = tracing::info_span!(
            "rpc",
            otel.name = %request.uri().path().trim_start_matches('/'),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.method = %request.uri().path(),
            rpc.grpc.status_code = tracing::field::Empty,
        );
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(request.headers()))
        });
        let _ = span.set_parent(parent);
        let started = Instant::now();
        Box::pin(
            async move {
                tracing::debug!("rpc started");
                let response = inner.call(request).await?;
                let span = tracing::Span::current();
                let (parts, body) = response.into_parts();
                let mut tracked = TrackedBody {
                    inner: body,
                    guard: Some(guard),
                    ended: false,
                    span,
                    started,
                    streams_closed: Box::pin(streams_closed),
                };
                // A trailers-only response (an error before any message) carries its status
                // in the headers; the body is then empty.
                if let Some(code) = parts.headers.get("grpc-status") {
                    tracked.finish(code.to_str().unwrap_or("?"));
                }
                Ok(http::Response::from_parts(parts, Body::new(tracked)))
            }
            .instrument(span),
        )
    }
}

pin_project_lite::pin_project! {
    /// A response body that records the final status and releases the in-flight guard when
    /// the body ends, and ends a still-open stream when the drain closes streams.
    struct TrackedBody {
        #[pin]
        inner: Body,
        guard: Option<RpcGuard>,
        ended: bool,
        span: tracing::Span,
        started: Instant,
        streams_closed: Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
    }
}

impl TrackedBody {
    fn finish(&mut self, code: &str) {
        if self.guard.take().is_some() {
            record_finish(&self.span, code, self.started);
        }
    }
}

fn record_finish(span: &tracing::Span, code: &str, started: Instant) {
    span.record("rpc.grpc.status_code", code);
    let _enter = span.enter();
    tracing::debug!(
        grpc.status = code,
        elapsed_us = started.elapsed().as_micros() as u64,
        "rpc finished"
    );
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(|t| t.get("grpc-status"))
                    && this.guard.take().is_some()
                {
                    record_finish(this.span, code.to_str().unwrap_or("?"), *this.started);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => {
                if this.guard.take().is_some() {
                    let code = if other.is_none() { "0" } else { "error" };
                    record_finish(this.span, code, *this.started);
                }
                Poll::Ready(other)
            }
            Poll::Pending => {
                if this.guard.is_none() {
                    return Poll::Pending;
                }
                ready!(this.streams_closed.as_mut().poll(cx));
                if let Some(guard) = this.guard.take() {
                    guard.ended_for_reconnect();
                }
                *this.ended = true;
                record_finish(this.span, UNAVAILABLE, *this.started);
                let mut trailers = http::HeaderMap::new();
                trailers.insert("grpc-status", http::HeaderValue::from_static(UNAVAILABLE));
                trailers.insert("grpc-message", http::HeaderValue::from_static(RECONNECT_MESSAGE));
                Poll::Ready(Some(Ok(Frame::trailers(trailers))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || (self.guard.is_none() && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Reads W3C trace context (`traceparent`, `tracestate`) from request headers.
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}
