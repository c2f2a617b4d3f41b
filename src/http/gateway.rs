//! The console's JSON gateway: `POST /api/<package.Service>/<Method>` with a JSON body runs
//! that rebound.v1 method in process through the server's own gRPC stack (the same
//! `RpcLayer`: authentication, the policy table, audit, drain, rate limits), so the console
//! can do exactly what its bearer token can do over gRPC and nothing more. Server-streaming
//! methods are served as server-sent events ([`super::sse`]). `GET /api/whoami` asks the
//! auth gate who a token is, so the console can disable what the server would refuse.
//!
//! Only `rebound.v1.*` methods are reachable (not reflection, not `grpc.health`). Errors are
//! `{"code":"RESOURCE_EXHAUSTED","message":"…"}` with the HTTP status of
//! [`crate::proto::codes::http_status`]. No cookies are read or set: credentials come only
//! with each request, so there is no ambient authority to forge (no CSRF).

use super::grpc::{self, GrpcService};
use super::{json, sse};
use crate::auth::peer;
use crate::auth::{Call, Gate, Role};
use crate::proto::codes::{code_name, http_status};
use crate::proto::descriptors::pool;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prost_reflect::MethodDescriptor;
use serde_json::{Value, json};
use std::sync::Arc;
use tonic::Status;

/// The largest JSON body accepted (the gRPC listener's default message limit).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The package whose services the gateway reaches.
const PACKAGE: &str = "rebound.v1";

/// What the gateway calls: the server's gRPC stack, and the auth gate for `whoami`.
#[derive(Clone)]
pub struct Gateway {
    grpc: GrpcService,
    gate: Arc<Gate>,
}

impl Gateway {
    pub fn new(grpc: GrpcService, gate: Arc<Gate>) -> Self {
        Self { grpc, gate }
    }

    /// The server's gRPC stack.
    pub(super) fn grpc(&self) -> &GrpcService {
        &self.grpc
    }
}

/// The `/api` routes.
pub fn routes(gateway: Gateway) -> Router {
    Router::new()
        .route("/api/whoami", get(whoami))
        .route("/api/{service}/{method}", post(unary).get(sse::stream))
        .with_state(gateway)
}

/// A rebound.v1 method by service and method name; NOT_FOUND for anything else.
pub(super) fn method(service: &str, method: &str) -> Result<MethodDescriptor, Status> {
    service
        .strip_prefix(PACKAGE)
        .filter(|rest| rest.starts_with('.'))
        .and_then(|_| pool().get_service_by_name(service))
        .and_then(|found| found.methods().find(|m| m.name() == method))
        .ok_or_else(|| Status::not_found(format!("{service}/{method}: no such rebound.v1 method")))
}

/// Run a unary method: the JSON body in, the answer as JSON out.
async fn unary(
    State(gateway): State<Gateway>,
    Path((service, name)): Path<(String, String)>,
    request: Request,
) -> Response {
    let run = async {
        let method = method(&service, &name)?;
        if method.is_server_streaming() || method.is_client_streaming() {
            return Err(Status::invalid_argument(format!(
                "{service}/{name} streams: open it with GET as server-sent events"
            )));
        }
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|err| Status::invalid_argument(format!("body: {err}")))?;
        let message = json::request(method.input(), &body)?;
        let path = format!("/{service}/{name}");
        let answer =
            grpc::call(&gateway.grpc, &path, message, &parts.headers, parts.extensions).await?;
        json::response(method.output(), &grpc::unary(answer).await?)
    };
    match run.await {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(status) => error(&status),
    }
}

/// Who the request's credentials are, as the auth gate sees them: `{"principal": "ops",
/// "role": "operator", "auth": true}`; `role` is null when authentication is off. A request
/// without credentials to a server that checks them is told so (`principal` null) rather
/// than refused: that is how the console knows to ask for a token.
async fn whoami(State(gateway): State<Gateway>, request: Request) -> Response {
    let headers = request.headers();
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let certificate = peer::certificate(request.extensions());
    let auth = gateway.gate.enabled();
    if auth && authorization.is_none() && certificate.is_none() {
        return json_response(
            StatusCode::OK,
            &json!({ "principal": null, "role": null, "auth": auth }),
        );
    }
    let admitted = gateway.gate.admit(Call {
        method: "console/whoami",
        authorization,
        certificate,
        peer: peer::tcp_name(request.extensions()),
        required: Some(Role::Viewer),
        limit: None,
    });
    match admitted {
        Ok(principal) => json_response(
            StatusCode::OK,
            &json!({
                "principal": principal.name,
                "role": principal.role.map(Role::as_str),
                "auth": auth,
            }),
        ),
        Err(refusal) => error(&Status::from(refusal.error)),
    }
}

/// The error body of `status`, with its HTTP status.
pub(super) fn error(status: &Status) -> Response {
    let http = StatusCode::from_u16(http_status(status.code()))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(http, &error_json(status))
}

/// `{"code": "NOT_FOUND", "message": "…"}`.
pub(super) fn error_json(status: &Status) -> Value {
    json!({ "code": code_name(status.code()), "message": status.message() })
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaches_rebound_methods_only() {
        assert!(method("rebound.v1.ClientCommandService", "IssueCommand").is_ok());
        for (service, name) in [
            ("grpc.health.v1.Health", "Check"),
            ("grpc.reflection.v1.ServerReflection", "ServerReflectionInfo"),
            ("rebound.v1.ClientCommandService", "Nope"),
            ("rebound.v1", "IssueCommand"),
            ("rebound.v1x.ClientCommandService", "IssueCommand"),
        ] {
            let err = method(service, name).unwrap_err();
            assert_eq!(err.code(), tonic::Code::NotFound, "{service}/{name}");
        }
    }
}
