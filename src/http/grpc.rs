//! In-process gRPC calls for the JSON gateway: a request framed as gRPC-over-HTTP/2 would
//! frame it, handed to the server's own service stack (the [`crate::api::layer::RpcLayer`]
//! over the rebound.v1 services), and the answer read back as messages and a final status.
//!
//! Transport only: which methods may be called and how JSON maps to messages is
//! [`super::gateway`]'s and [`super::json`]'s.

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, header};
use http_body_util::{BodyExt, Full};
use std::convert::Infallible;
use tonic::body::Body;
use tonic::{Code, Status};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

/// The server's gRPC stack, called in process.
pub type GrpcService = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// Headers copied from the browser's request to the gRPC request: the credentials and the
/// trace context. Nothing else crosses.
const FORWARDED: [&str; 3] = ["authorization", "traceparent", "tracestate"];

/// Start the call at `path` (`/package.Service/Method`) with one encoded `message`, as the
/// caller described by `headers` and `extensions` (the connection's peer). Returns the
/// response head's status when the call ended there (trailers-only), else the body.
pub async fn call(
    grpc: &GrpcService,
    path: &str,
    message: Vec<u8>,
    headers: &HeaderMap,
    extensions: http::Extensions,
) -> Result<Body, Status> {
    let mut request = http::Request::new(Body::new(Full::new(frame(message))));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() =
        path.parse().map_err(|_| Status::not_found(format!("{path}: no such method")))?;
    *request.extensions_mut() = extensions;
    let forwarded = request.headers_mut();
    forwarded.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    forwarded.insert(header::TE, HeaderValue::from_static("trailers"));
    for name in FORWARDED {
        if let Some(value) = headers.get(name) {
            forwarded.insert(name, value.clone());
        }
    }
    let Ok(response) = grpc.clone().oneshot(request).await;
    let (parts, body) = response.into_parts();
    match Status::from_header_map(&parts.headers) {
        Some(status) if status.code() != Code::Ok => Err(status),
        Some(_) => Ok(Body::empty()),
        None => Ok(body),
    }
}

/// Read every message of a unary answer and its final status.
pub async fn unary(body: Body) -> Result<Bytes, Status> {
    let mut frames = Frames::new(body);
    let message = frames.next().await?;
    match (message, frames.next().await?) {
        (Some(message), None) => Ok(message),
        (None, _) => Err(Status::internal("the call answered without a message")),
        (Some(_), Some(_)) => Err(Status::internal("a unary call answered with two messages")),
    }
}

/// The messages of a response body, one at a time, then its final status.
pub struct Frames {
    body: Body,
    buffer: BytesMut,
    done: bool,
}

impl Frames {
    pub fn new(body: Body) -> Self {
        Self { body, buffer: BytesMut::new(), done: false }
    }

    /// The next message; `Ok(None)` when the call ended with OK, `Err` with its status
    /// otherwise.
    pub async fn next(&mut self) -> Result<Option<Bytes>, Status> {
        loop {
            if let Some(message) = self.split()? {
                return Ok(Some(message));
            }
            if self.done {
                return Ok(None);
            }
            match self.body.frame().await {
                None => {
                    self.done = true;
                    if !self.buffer.is_empty() {
                        return Err(Status::internal("the answer ended inside a message"));
                    }
                }
                Some(Err(status)) => return Err(status),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.buffer.extend_from_slice(&data),
                    Err(frame) => {
                        self.done = true;
                        let trailers = frame.into_trailers().unwrap_or_default();
                        match Status::from_header_map(&trailers) {
                            Some(status) if status.code() != Code::Ok => return Err(status),
                            _ => {}
                        }
                    }
                },
            }
        }
    }

    /// Take one whole message off the buffer, if it holds one.
    fn split(&mut self) -> Result<Option<Bytes>, Status> {
        if self.buffer.len() < 5 {
            return Ok(None);
        }
        if self.buffer[0] != 0 {
            return Err(Status::internal("the answer is compressed; the gateway asked for none"));
        }
        let len =
            u32::from_be_bytes([self.buffer[1], self.buffer[2], self.buffer[3], self.buffer[4]]);
        let len = len as usize;
        if self.buffer.len() < 5 + len {
            return Ok(None);
        }
        self.buffer.advance(5);
        Ok(Some(self.buffer.split_to(len).freeze()))
    }
}

/// One uncompressed gRPC message frame.
fn frame(message: Vec<u8>) -> Bytes {
    let mut framed = Vec::with_capacity(message.len() + 5);
    framed.push(0);
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(&message);
    framed.into()
}

/// Box `service` as the gateway's [`GrpcService`].
pub fn boxed<S>(service: S) -> GrpcService
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    BoxCloneSyncService::new(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn splits_messages_across_data_frames_and_reads_the_status() {
        let mut wire = frame(b"one".to_vec()).to_vec();
        wire.extend_from_slice(&frame(Vec::new()));
        let (first, second) = wire.split_at(4);
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("8"));
        trailers.insert("grpc-message", HeaderValue::from_static("locked%20out"));
        let frames = vec![
            Ok::<_, Status>(http_body::Frame::data(Bytes::copy_from_slice(first))),
            Ok(http_body::Frame::data(Bytes::copy_from_slice(second))),
            Ok(http_body::Frame::trailers(trailers)),
        ];
        let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
        let mut messages = Frames::new(Body::new(body));
        assert_eq!(messages.next().await.unwrap().as_deref(), Some(&b"one"[..]));
        assert_eq!(messages.next().await.unwrap().as_deref(), Some(&b""[..]));
        let status = messages.next().await.unwrap_err();
        assert_eq!((status.code(), status.message()), (Code::ResourceExhausted, "locked out"));
    }
}
