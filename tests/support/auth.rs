//! Harness for servers with authentication: a tokens file with one token per role, a server
//! started on it, and raw calls of any method by its path (so tests can call every RPC the
//! descriptor lists without a generated client per method).

use super::Server;
use bytes::{Buf, BufMut, Bytes};
use std::path::Path;
use tempfile::TempDir;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// (name, role, token) of the tokens every auth server starts with.
pub const TOKENS: [(&str, &str, &str); 3] = [
    ("watcher", "viewer", "viewer-token-1"),
    ("deployer", "operator", "operator-token-1"),
    ("root", "admin", "admin-token-1"),
];

/// The token of `role` in [`TOKENS`].
pub fn token(role: &str) -> &'static str {
    TOKENS.iter().find(|(_, r, _)| *r == role).map(|(_, _, t)| *t).unwrap()
}

/// `message` with the bearer token of `role`.
pub fn authed<T>(role: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {}", token(role)).parse().unwrap();
    request.metadata_mut().insert("authorization", value);
    request
}

/// Write a tokens file of `(name, role, token)` entries at `path`.
pub fn write_tokens(path: &Path, entries: &[(&str, &str, &str)]) {
    let text: String = entries
        .iter()
        .map(|(name, role, token)| {
            format!(
                "[[tokens]]\nname = {name:?}\nrole = {role:?}\nsha256 = {:?}\n",
                rebound::auth::hash_token(token)
            )
        })
        .collect();
    std::fs::write(path, text).unwrap();
}

/// A server whose `auth.tokens_file` holds [`TOKENS`]; `extra` adds TOML after `[auth]`.
pub async fn server(extra: &str, env: &[(&str, &str)]) -> (TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    write_tokens(&dir.path().join("tokens.toml"), &TOKENS);
    let config = format!("[auth]\ntokens_file = \"tokens.toml\"\n{extra}");
    let server = Server::spawn_in(dir.path(), &config, env).await;
    server.wait_serving().await;
    (dir, server)
}

pub use rebound::api::methods::ContractMethod as Method;

/// Every rebound.v1 method, from the descriptor set compiled into the binary, each with the
/// role its proto comment documents.
pub fn methods() -> Vec<Method> {
    let methods = rebound::api::methods::contract();
    for method in &methods {
        assert!(!method.role.is_empty(), "{} has no Role: comment", method.path);
        assert!(!method.client_streaming, "{}: client streaming is not covered", method.path);
    }
    methods
}

/// A request body no method can decode (field 1 with the invalid wire type 7): an admitted
/// call fails to decode in the service and so never does anything.
pub const UNDECODABLE: &[u8] = &[0x0f];

/// Call `method` with `body` over `channel` (a tonic `Channel` or a rebound `Transport`),
/// sending `authorization` when given; the status it ends with (OK for a stream that
/// opened).
pub async fn call<T>(
    channel: T,
    method: &Method,
    authorization: Option<&str>,
    body: &[u8],
) -> tonic::Status
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    if let Err(err) = grpc.ready().await {
        return tonic::Status::unavailable(format!("not ready: {}", err.into()));
    }
    let mut request = tonic::Request::new(Bytes::copy_from_slice(body));
    if let Some(value) = authorization {
        request.metadata_mut().insert("authorization", value.parse().unwrap());
    }
    let path = method.path.parse().unwrap();
    let result = if method.server_streaming {
        grpc.server_streaming(request, path, RawCodec).await.map(|_| ())
    } else {
        grpc.unary(request, path, RawCodec).await.map(|_| ())
    };
    result.err().unwrap_or_else(|| tonic::Status::ok(""))
}

/// Sends bytes as they are; ignores what comes back.
#[derive(Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ();
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = ();
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Self::Error> {
        src.advance(src.remaining());
        Ok(Some(()))
    }
}
