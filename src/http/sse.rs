//! Server-streaming methods for the browser, as server-sent events:
//! `GET /api/<package.Service>/<Method>?request=<url-encoded JSON>`. Each message of the
//! stream is one `data:` event (its JSON); the end of the stream is an `end` event, or an
//! `error` event carrying `{"code": …, "message": …}` (a refused call, a malformed request,
//! or UNAVAILABLE when the server drains and the client should reconnect).
//!
//! `EventSource` cannot send headers, so here, and only here, the bearer token may come as
//! the `access_token` query parameter; an `authorization` header, when sent, wins. The
//! stream always answers 200 so that a browser can read why it ended.

use super::gateway::{Gateway, error_json, method};
use super::{grpc, json};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures::Stream;
use serde_json::Value;
use tonic::Status;

/// Open the stream of a server-streaming method.
pub async fn stream(
    State(gateway): State<Gateway>,
    Path((service, name)): Path<(String, String)>,
    request: Request,
) -> Response {
    let (mut parts, _) = request.into_parts();
    let events = async_stream::stream! {
        let opened = open(&gateway, &service, &name, &mut parts).await;
        let (mut frames, output) = match opened {
            Ok(opened) => opened,
            Err(status) => {
                yield Ok(event(Some("error"), &error_json(&status)));
                return;
            }
        };
        loop {
            match frames.next().await {
                Ok(Some(message)) => match json::response(output.clone(), &message) {
                    Ok(answer) => yield Ok(event(None, &answer)),
                    Err(status) => {
                        yield Ok(event(Some("error"), &error_json(&status)));
                        return;
                    }
                },
                Ok(None) => {
                    yield Ok(event(Some("end"), &Value::Object(Default::default())));
                    return;
                }
                Err(status) => {
                    yield Ok(event(Some("error"), &error_json(&status)));
                    return;
                }
            }
        }
    };
    sse_response(events)
}

/// Check the method, read the request and the token from the query, and start the call.
async fn open(
    gateway: &Gateway,
    service: &str,
    name: &str,
    parts: &mut http::request::Parts,
) -> Result<(grpc::Frames, prost_reflect::MessageDescriptor), Status> {
    let method = method(service, name)?;
    if !method.is_server_streaming() || method.is_client_streaming() {
        return Err(Status::invalid_argument(format!(
            "{service}/{name} does not stream from the server: call it with POST"
        )));
    }
    let mut body = String::new();
    let mut token = None;
    for (key, value) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
        match &*key {
            "request" => body = value.into_owned(),
            "access_token" => token = Some(value.into_owned()),
            other => {
                return Err(Status::invalid_argument(format!("{other}: unknown query parameter")));
            }
        }
    }
    if let Some(token) = token
        && !parts.headers.contains_key(header::AUTHORIZATION)
    {
        let value = HeaderValue::try_from(format!("Bearer {token}"))
            .map_err(|_| Status::unauthenticated("access_token: not a valid token"))?;
        parts.headers.insert(header::AUTHORIZATION, value);
    }
    let message = json::request(method.input(), body.as_bytes())?;
    let path = format!("/{service}/{name}");
    let extensions = std::mem::take(&mut parts.extensions);
    let answer = grpc::call(gateway.grpc(), &path, message, &parts.headers, extensions).await?;
    Ok((grpc::Frames::new(answer), method.output()))
}

/// One event: `event: <name>` when named, then its JSON as `data:` (JSON has no raw
/// newlines, so one line).
fn event(name: Option<&str>, data: &Value) -> axum::body::Bytes {
    let mut text = String::new();
    if let Some(name) = name {
        text.push_str("event: ");
        text.push_str(name);
        text.push('\n');
    }
    text.push_str("data: ");
    text.push_str(&data.to_string());
    text.push_str("\n\n");
    text.into()
}

fn sse_response<S>(events: S) -> Response
where
    S: Stream<Item = Result<axum::body::Bytes, std::convert::Infallible>> + Send + 'static,
{
    let mut response = Response::new(Body::from_stream(events));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_one_line_of_json() {
        let data = serde_json::json!({"message": "a\nb"});
        let text = event(Some("error"), &data);
        assert_eq!(&text[..], b"event: error\ndata: {\"message\":\"a\\nb\"}\n\n");
    }
}
