//! The audit trail of mutating RPCs, captured in the RPC layer so no service can forget it.
//!
//! For a call the policy table marks as mutating, the layer buffers the (unary, small)
//! request, decodes it against the API's own descriptors into a JSON summary with secrets
//! redacted, and once the final status is known stores who did what, from where, with which
//! outcome, under which trace. The prepared row travels with the request as an
//! [`AuditSlot`]: operations that change stored state write it in their own transaction
//! (see `crate::audit`); for the others the layer writes it once the call has ended. Nothing
//! here decides what is allowed.

use crate::audit::AuditSlot;
use crate::auth::Principal;
use crate::error::Error;
use crate::proto::{codes, descriptors};
use crate::store::Store;
use crate::store::audit::AuditRow;
use bytes::Bytes;
use chrono::Utc;
use http_body_util::BodyExt;
use prost_reflect::{DescriptorPool, DynamicMessage};
use std::sync::Arc;
use std::time::Instant;
use tonic::body::Body;

/// Longest argument summary stored; longer ones are cut with a marker.
const MAX_ARGUMENTS: usize = 2000;
/// Most request bytes buffered: one message at the decoding limit and its 5-byte frame header.
const MAX_BODY: usize = super::decode::MAX_MESSAGE + 5;
/// Placeholder for redacted values.
const REDACTED: &str = "<redacted>";

/// Writes audit events. Cheap to clone.
#[derive(Clone)]
pub struct Auditor {
    store: Arc<dyn Store>,
}

impl Auditor {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Buffer the request body, summarise it, and hand back an equivalent request carrying
    /// the call's [`AuditSlot`] in its extensions. A body over one message at the decoding
    /// limit is not buffered further: the error to answer, with the call's slot.
    pub async fn capture(
        &self,
        request: http::Request<Body>,
        principal: Principal,
        trace_id: Option<String>,
    ) -> Result<(http::Request<Body>, AuditSlot), (Error, AuditSlot)> {
        let rpc = request.uri().path().to_owned();
        let (parts, body) = request.into_parts();
        let limited = http_body_util::Limited::new(body, MAX_BODY);
        let (body, arguments) = match limited.collect().await {
            Ok(collected) => {
                let bytes = collected.to_bytes();
                let summary = self.summarise(&rpc, &bytes);
                (Body::new(http_body_util::Full::new(bytes)), summary)
            }
            Err(err) if err.is::<http_body_util::LengthLimitError>() => {
                let arguments = format!("{{\"unread\": \"over {MAX_BODY} bytes\"}}");
                let slot = slot(principal, rpc, arguments, trace_id);
                return Err((super::decode::too_large(), slot));
            }
            // The client went away mid-request: the call fails anyway; record what we know.
            Err(err) => (Body::empty(), format!("{{\"unreadable\": {:?}}}", err.to_string())),
        };
        let slot = slot(principal, rpc, arguments, trace_id);
        let mut request = http::Request::from_parts(parts, body);
        request.extensions_mut().insert(slot.clone());
        Ok((request, slot))
    }

    /// A call refused before its request was read (authentication, role, rate limit): the
    /// body of an unauthenticated caller is never buffered.
    pub fn refused(&self, rpc: &str, principal: Principal, trace_id: Option<String>) -> AuditSlot {
        let unread = "{\"unread\": \"refused before the request was read\"}".to_owned();
        slot(principal, rpc.to_owned(), unread, trace_id)
    }

    /// Store the event for a finished call (in the background: the response is not held),
    /// unless the call already stored it with its change.
    pub fn record(&self, slot: AuditSlot, code: &str, message: Option<String>) {
        if slot.is_committed() {
            return;
        }
        let message = message.filter(|m| !m.is_empty());
        let Some(row) = slot.finished(code_name(code), message) else { return };
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(err) = store.insert_audit_event(&row).await {
                tracing::error!(error = %err, rpc = %row.rpc, "could not write the audit event");
            }
        });
    }

    /// JSON of the request message, secrets redacted, cut to [`MAX_ARGUMENTS`].
    fn summarise(&self, path: &str, body: &Bytes) -> String {
        let Some(message) = decode(descriptors::pool(), path, body) else {
            return format!("{{\"undecodable\": {} }}", body.len());
        };
        let mut json = serde_json::to_value(&message).unwrap_or_default();
        redact(&mut json);
        crate::error::capped(&json.to_string(), MAX_ARGUMENTS)
    }
}

/// The slot of a call about to run: everything but its outcome.
fn slot(
    principal: Principal,
    rpc: String,
    arguments: String,
    trace_id: Option<String>,
) -> AuditSlot {
    let template = AuditRow {
        id: 0,
        at: Utc::now(),
        role: principal.role.map(|role| role.as_str().to_owned()),
        principal: principal.name,
        peer: principal.peer,
        rpc,
        arguments,
        outcome: String::new(),
        code: String::new(),
        message: None,
        trace_id,
        duration: std::time::Duration::ZERO,
    };
    AuditSlot::new(template, Instant::now(), |error| codes::code_name(super::status::code(error)))
}

/// Decode one uncompressed gRPC frame of the method's input type.
fn decode(pool: &DescriptorPool, path: &str, body: &[u8]) -> Option<DynamicMessage> {
    let (service, method) = path.trim_start_matches('/').split_once('/')?;
    let input = pool.get_service_by_name(service)?.methods().find(|m| m.name() == method)?.input();
    let (header, payload) = body.split_at_checked(5)?;
    let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if header[0] != 0 || payload.len() < length {
        return None;
    }
    DynamicMessage::decode(input, &payload[..length]).ok()
}

/// Replace secret values and inline config content (which may hold secrets) in place.
fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "content" {
                    let size = child.as_str().map_or(0, str::len);
                    *child = serde_json::Value::String(format!("<{size} bytes>"));
                } else if crate::config::is_secret(key) {
                    *child = serde_json::Value::String(REDACTED.to_owned());
                } else {
                    redact(child);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// `"3"` → `INVALID_ARGUMENT`.
fn code_name(code: &str) -> String {
    match code.parse::<i32>() {
        Ok(n) => codes::code_name(tonic::Code::from_i32(n)),
        Err(_) => code.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_summarised_with_secrets_and_content_redacted() {
        let pool = descriptors::pool();
        let request = crate::proto::v1::ReloadRequest {
            content: Some("password = \"hunter2\"".into()),
            restart_if_required: true,
        };
        let mut frame = vec![0u8];
        let payload = prost::Message::encode_to_vec(&request);
        frame.extend((payload.len() as u32).to_be_bytes());
        frame.extend(payload);
        let message = decode(pool, "/rebound.v1.ConfigService/Reload", &frame).unwrap();
        let mut json = serde_json::to_value(&message).unwrap();
        redact(&mut json);
        let text = json.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("<20 bytes>") && text.contains("restartIfRequired"), "{text}");
        assert!(decode(pool, "/rebound.v1.ConfigService/Reload", &frame[..3]).is_none());
    }

    #[test]
    fn status_codes_are_named() {
        assert_eq!(code_name("0"), "OK");
        assert_eq!(code_name("3"), "INVALID_ARGUMENT");
        assert_eq!(code_name("7"), "PERMISSION_DENIED");
    }
}
