//! The tower layer every RPC passes through.
//!
//! It owns the cross-cutting concerns so services stay thin:
//! - a `rpc` span per call (method, final gRPC status), continuing the caller's W3C trace
//!   context when one is sent;
//! - in-flight accounting through the drain coordinator, held until the response body has
//!   finished (so an open stream counts as in flight);
//! - ending open server streams with UNAVAILABLE "reconnect" when the drain closes streams;
//! - authentication, authorization and rate limits: the [`Gate`] admits or refuses each call
//!   against the policy table; a refused call is answered here (its request unread) and the
//!   admitted [`crate::auth::Principal`] is stored in the request for [`super::identity`];
//! - refusing, with UNAVAILABLE, the calls the policy table keeps from a draining server
//!   (audited like any mutating call);
//! - the gRPC server metrics (started, handled by code, handling seconds);
//! - the audit trail of mutating calls and of every refused call (see [`super::audit`]);
//! - the contract's status for a request tonic could not decode (see [`super::decode`]).

use super::audit::Auditor;
use super::{identity, policy};
use crate::audit::AuditSlot;
use crate::auth::{Call, Gate, Refusal, Role};
use crate::lifecycle::{Drain, RpcGuard};
use crate::metrics::GrpcLabels;
use bytes::Bytes;
use http_body::Frame;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;
use tonic::body::Body;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// gRPC status code of UNAVAILABLE, sent to streams that must reconnect.
const UNAVAILABLE: &str = "14";
/// gRPC status code of CANCELLED, recorded when the client goes away mid-call.
const CANCELLED: &str = "1";
/// Message sent with that status; clients and operators read it (printable ASCII, so it
/// needs no percent-encoding on the wire).
const RECONNECT_MESSAGE: &str = "server is shutting down or restarting; reconnect";
/// Message of the UNAVAILABLE answered to a call refused while draining.
const DRAINING_MESSAGE: &str = "server is draining; retry against its successor";

/// Wraps every service of the server.
#[derive(Clone)]
pub struct RpcLayer {
    drain: Drain,
    auditor: Auditor,
    gate: Arc<Gate>,
}

impl RpcLayer {
    pub fn new(drain: Drain, auditor: Auditor, gate: Arc<Gate>) -> Self {
        Self { drain, auditor, gate }
    }
}

impl<S> tower::Layer<S> for RpcLayer {
    type Service = RpcService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcService {
            inner,
            drain: self.drain.clone(),
            auditor: self.auditor.clone(),
            gate: self.gate.clone(),
        }
    }
}

/// The service produced by [`RpcLayer`].
#[derive(Clone)]
pub struct RpcService<S> {
    inner: S,
    drain: Drain,
    auditor: Auditor,
    gate: Arc<Gate>,
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
        let guard = self.drain.track(crate::proto::descriptors::is_streaming(request.uri().path()));
        let streams_closed = self.drain.streams_closed();
        let path = request.uri().path().to_owned();
        let span = tracing::info_span!(
            "rpc",
            otel.name = %path.trim_start_matches('/'),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.method = %path,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(request.headers()))
        });
        let caller_trace = parent.span().span_context().clone();
        let _ = span.set_parent(parent);
        let trace_id = [span.context().span().span_context().clone(), caller_trace]
            .into_iter()
            .find(|context| context.is_valid())
            .map(|context| context.trace_id().to_string());
        let verdict = self.admit(&request, &path);
        let policy = policy::lookup(&path);
        let mutating = policy.is_some_and(|p| p.mutating);
        let refuses_draining = policy.is_some_and(|p| p.refused_while_draining);
        let drain = refuses_draining.then(|| self.drain.clone());
        let auditor = self.auditor.clone();
        let started = Instant::now();
        let labels = super::methods::metric_labels(&path);
        crate::metrics::metrics().grpc_started(&labels);
        Box::pin(
            async move {
                tracing::debug!("rpc started");
                let (response, audit) = match verdict {
                    Ok(principal) => {
                        let mut request = request;
                        request.extensions_mut().insert(principal.clone());
                        if !mutating {
                            match refusal_while_draining(drain.as_ref()) {
                                Some(status) => (status.into_http(), None),
                                None => (inner.call(request).await?, None),
                            }
                        } else {
                            match auditor.capture(request, principal, trace_id).await {
                                Ok((request, slot)) => {
                                    let response = match refusal_while_draining(drain.as_ref()) {
                                        Some(status) => status.into_http(),
                                        None => inner.call(request).await?,
                                    };
                                    (response, Some((auditor, slot)))
                                }
                                // Too large to buffer: answered here, as tonic would have.
                                Err((error, slot)) => {
                                    (tonic::Status::from(error).into_http(), Some((auditor, slot)))
                                }
                            }
                        }
                    }
                    Err(refusal) => {
                        let Refusal { principal, error } = *refusal;
                        tracing::info!(principal = %principal.name, peer = %principal.peer, reason = %error, "rpc refused");
                        let slot = auditor.refused(&path, principal, trace_id);
                        (tonic::Status::from(error).into_http(), Some((auditor, slot)))
                    }
                };
                let span = tracing::Span::current();
                let (mut parts, body) = response.into_parts();
                let mut tracked = TrackedBody {
                    inner: body,
                    finish: Some(Finish { guard, span, started, labels, audit }),
                    ended: false,
                    streams_closed: Box::pin(streams_closed),
                };
                // A trailers-only response (an error before any message) carries its status
                // in the headers; the body is then empty.
                if parts.headers.contains_key("grpc-status") {
                    super::decode::rewrite(&mut parts.headers);
                    tracked.finish(&parts.headers);
                }
                Ok(http::Response::from_parts(parts, Body::new(tracked)))
            }
            .instrument(span),
        )
    }
}

/// UNAVAILABLE when `drain` (the drain of a call the policy refuses while draining) has
/// begun; the caller retries against the successor.
fn refusal_while_draining(drain: Option<&Drain>) -> Option<tonic::Status> {
    drain
        .filter(|drain| drain.is_draining())
        .map(|_| crate::error::Error::Unavailable(DRAINING_MESSAGE.into()).into())
}

impl<S> RpcService<S> {
    /// Ask the gate whether this call may run, and as whom.
    fn admit<B>(
        &self,
        request: &http::Request<B>,
        path: &str,
    ) -> Result<crate::auth::Principal, Box<Refusal>> {
        let required = match policy::lookup(path) {
            Some(policy) => Some(policy.role),
            None if policy::is_reflection(path) && self.gate.protect_reflection() => {
                Some(Role::Viewer)
            }
            None => None,
        };
        self.gate.admit(Call {
            method: path.trim_start_matches('/'),
            authorization: request.headers().get("authorization").and_then(|v| v.to_str().ok()),
            certificate: identity::certificate(request.extensions()),
            peer: identity::peer(request.extensions()),
            required,
            limit: policy::limit(path),
        })
    }
}

/// Everything to do once a call's final status is known.
struct Finish {
    guard: RpcGuard,
    span: tracing::Span,
    started: Instant,
    labels: GrpcLabels,
    audit: Option<(Auditor, AuditSlot)>,
}

impl Finish {
    fn complete(self, code: &str, message: Option<String>) {
        self.span.record("rpc.grpc.status_code", code);
        let elapsed = self.started.elapsed();
        crate::metrics::metrics().grpc_handled(&self.labels, code_name(code), elapsed);
        {
            let _enter = self.span.enter();
            let elapsed_us = elapsed.as_micros() as u64;
            tracing::debug!(grpc.status = code, elapsed_us, "rpc finished");
        }
        if let Some((auditor, slot)) = self.audit {
            auditor.record(slot, code, message);
        }
        // Dropping the guard marks the RPC finished for the drain.
    }
}

/// The name of gRPC status `code` (`"5"` → `NotFound`, `"0"` → `OK`), as grpc-go's metrics
/// name them; anything that is not a status code is `Unknown`.
fn code_name(code: &str) -> &'static str {
    use tonic::Code;
    match code.parse::<i32>().map(Code::from_i32) {
        Ok(Code::Ok) => "OK",
        Ok(Code::Cancelled) => "Canceled",
        Ok(Code::InvalidArgument) => "InvalidArgument",
        Ok(Code::DeadlineExceeded) => "DeadlineExceeded",
        Ok(Code::NotFound) => "NotFound",
        Ok(Code::AlreadyExists) => "AlreadyExists",
        Ok(Code::PermissionDenied) => "PermissionDenied",
        Ok(Code::ResourceExhausted) => "ResourceExhausted",
        Ok(Code::FailedPrecondition) => "FailedPrecondition",
        Ok(Code::Aborted) => "Aborted",
        Ok(Code::OutOfRange) => "OutOfRange",
        Ok(Code::Unimplemented) => "Unimplemented",
        Ok(Code::Internal) => "Internal",
        Ok(Code::Unavailable) => "Unavailable",
        Ok(Code::DataLoss) => "DataLoss",
        Ok(Code::Unauthenticated) => "Unauthenticated",
        Ok(Code::Unknown) | Err(_) => "Unknown",
    }
}

pin_project_lite::pin_project! {
    /// A response body that records the final status and releases the in-flight guard when
    /// the body ends, and ends a still-open stream when the drain closes streams.
    struct TrackedBody {
        #[pin]
        inner: Body,
        finish: Option<Finish>,
        ended: bool,
        streams_closed: Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
    }

    impl PinnedDrop for TrackedBody {
        fn drop(this: Pin<&mut Self>) {
            // The client went away (or the connection died) before the call finished.
            if let Some(finish) = this.project().finish.take() {
                finish.complete(CANCELLED, Some("the call ended before its status was sent".into()));
            }
        }
    }
}

impl TrackedBody {
    fn finish(&mut self, headers: &http::HeaderMap) {
        complete(&mut self.finish, headers);
    }
}

/// Complete `finish` (once) with the status carried by `headers` (trailers or headers).
fn complete(finish: &mut Option<Finish>, headers: &http::HeaderMap) {
    if let Some(finish) = finish.take() {
        let code =
            headers.get("grpc-status").and_then(|v| v.to_str().ok()).unwrap_or("?").to_owned();
        let message = tonic::Status::from_header_map(headers).map(|s| s.message().to_owned());
        finish.complete(&code, message);
    }
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
                if let Some(trailers) = frame.trailers_ref() {
                    complete(this.finish, trailers);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                if let Some(finish) = this.finish.take() {
                    finish.complete("0", None);
                }
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(status))) => {
                if let Some(finish) = this.finish.take() {
                    finish.complete(
                        &(status.code() as i32).to_string(),
                        Some(status.message().to_owned()),
                    );
                }
                Poll::Ready(Some(Err(status)))
            }
            Poll::Pending => {
                if this.finish.is_none() {
                    return Poll::Pending;
                }
                ready!(this.streams_closed.as_mut().poll(cx));
                *this.ended = true;
                if let Some(finish) = this.finish.take() {
                    finish.guard.ended_for_reconnect();
                    finish.complete(UNAVAILABLE, Some(RECONNECT_MESSAGE.to_owned()));
                }
                let mut trailers = http::HeaderMap::new();
                trailers.insert("grpc-status", http::HeaderValue::from_static(UNAVAILABLE));
                trailers.insert("grpc-message", http::HeaderValue::from_static(RECONNECT_MESSAGE));
                Poll::Ready(Some(Ok(Frame::trailers(trailers))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || (self.finish.is_none() && self.inner.is_end_stream())
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

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
