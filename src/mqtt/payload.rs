//! The JSON payloads of `contracts/mqtt-v1.md` (schema 1.0): encoding commands, decoding and
//! validating acks, health, status and service_failed into the domain's device types.
//!
//! Commands are strict (`deny_unknown_fields`, every field required). Acks and health are
//! read liberally: unknown extra fields are ignored. A payload that cannot be used is a
//! [`Malformed`] with the reason it is counted under; nothing here changes any state.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::topics::Inbound;
use crate::commands::device::{AckStatus, DeviceAck, DeviceHealth, DeviceMessage, OutboundCommand};
use crate::store::clients::ProcessStatus;
use crate::store::commands::Action;

/// The schema version this server speaks.
pub const SCHEMA_VERSION: &str = "1.0";
/// Longest free-text field accepted from a device.
const MAX_TEXT: usize = 2000;
/// Longest identifier-like field accepted from a device (error code, boot id, unit, version).
const MAX_TOKEN: usize = 256;

/// Why an inbound payload was dropped (the counter's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The topic is not one of the contract's inbound topics.
    BadTopic,
    /// Larger than `mqtt.max_payload_bytes`.
    Oversized,
    /// Not JSON (or not UTF-8).
    InvalidJson,
    /// JSON, but not the contract's shape (missing or mistyped fields, bad values).
    WrongSchema,
    /// `schema_version` is not 1.0.
    UnsupportedSchema,
    /// `client_uuid` in the payload is not the device of the topic.
    WrongClient,
}

impl Reason {
    pub const ALL: [Reason; 6] = [
        Reason::BadTopic,
        Reason::Oversized,
        Reason::InvalidJson,
        Reason::WrongSchema,
        Reason::UnsupportedSchema,
        Reason::WrongClient,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadTopic => "bad_topic",
            Reason::Oversized => "oversized",
            Reason::InvalidJson => "invalid_json",
            Reason::WrongSchema => "wrong_schema",
            Reason::UnsupportedSchema => "unsupported_schema",
            Reason::WrongClient => "wrong_client",
        }
    }
}

/// A dropped payload: the counted reason and a detail for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub reason: Reason,
    pub detail: String,
}

fn malformed(reason: Reason, detail: impl Into<String>) -> Malformed {
    Malformed { reason, detail: detail.into() }
}

/// A command on the wire. Strict both ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandWire {
    pub schema_version: String,
    pub command_id: Uuid,
    pub client_uuid: Uuid,
    pub action: String,
    pub issued_at: String,
    pub expires_at: String,
    #[serde(deserialize_with = "present")]
    pub requested_by: Option<i64>,
    #[serde(deserialize_with = "present")]
    pub reason: Option<String>,
}

/// A nullable field that must be present (`null` is a value; absence is an error): serde
/// treats a missing `Option` as `None` unless a deserializer is named.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

/// RFC 3339 UTC with a `Z`, as the contract writes timestamps.
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_time(text: &str, field: &str) -> Result<i64, Malformed> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| malformed(Reason::WrongSchema, format!("{field}: {e}")))
}

/// The JSON of a command for the device.
pub fn encode_command(command: &OutboundCommand) -> Vec<u8> {
    let wire = CommandWire {
        schema_version: SCHEMA_VERSION.to_owned(),
        command_id: command.command_id,
        client_uuid: command.client_uuid,
        action: command.action.as_str().to_owned(),
        issued_at: rfc3339(command.issued_ms),
        expires_at: rfc3339(command.expires_ms),
        requested_by: command.requested_by,
        reason: command.reason.clone(),
    };
    serde_json::to_vec(&wire).unwrap_or_default()
}

/// Decode a command as a device does (every field required, none other, valid values).
pub fn decode_command(payload: &[u8]) -> Result<CommandWire, Malformed> {
    let wire: CommandWire = parse(payload)?;
    if wire.schema_version != SCHEMA_VERSION {
        return Err(malformed(Reason::UnsupportedSchema, wire.schema_version));
    }
    if Action::parse(&wire.action).is_none() {
        return Err(malformed(Reason::WrongSchema, format!("action: {:?}", wire.action)));
    }
    parse_time(&wire.issued_at, "issued_at")?;
    parse_time(&wire.expires_at, "expires_at")?;
    if wire.requested_by.is_some_and(|id| id < 1) {
        return Err(malformed(Reason::WrongSchema, "requested_by: must be >= 1"));
    }
    if wire.reason.as_ref().is_some_and(|r| r.chars().count() > MAX_TEXT) {
        return Err(malformed(Reason::WrongSchema, "reason: longer than 2000 characters"));
    }
    Ok(wire)
}

/// JSON first (invalid_json), then the shape (wrong_schema). A JSON object is read straight
/// into `T`; only a payload that is not one of `T` is read again, as any JSON, to tell the
/// two reasons apart (the object's shape may fail before its syntax does).
fn parse<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, Malformed> {
    let object = payload.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let shape_error = match object.then(|| serde_json::from_slice::<T>(payload)) {
        Some(Ok(value)) => return Ok(value),
        Some(Err(e)) => e.to_string(),
        None => "not a JSON object".to_owned(),
    };
    match serde_json::from_slice::<serde::de::IgnoredAny>(payload) {
        Err(e) => Err(malformed(Reason::InvalidJson, e.to_string())),
        Ok(_) => Err(malformed(Reason::WrongSchema, shape_error)),
    }
}

fn bounded(value: Option<String>, field: &str, max: usize) -> Result<Option<String>, Malformed> {
    match value {
        Some(text) if text.chars().count() > max => {
            Err(malformed(Reason::WrongSchema, format!("{field}: longer than {max} characters")))
        }
        other => Ok(other),
    }
}

#[derive(Deserialize)]
struct AckWire {
    command_id: Uuid,
    status: String,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
    #[serde(default)]
    boot_id: Option<String>,
}

#[derive(Deserialize)]
struct BrokerConnectionWire {
    #[serde(default)]
    reconnect_count: Option<u32>,
    #[serde(default)]
    last_disconnect_at: Option<String>,
}

#[derive(Deserialize)]
struct HealthWire {
    schema_version: String,
    client_uuid: Uuid,
    #[serde(default)]
    sent_at: Option<String>,
    #[serde(default)]
    boot_id: Option<String>,
    #[serde(default)]
    uptime_s: Option<u64>,
    #[serde(default)]
    app_version: Option<String>,
    process_status: String,
    #[serde(default)]
    broker_connection: Option<BrokerConnectionWire>,
}

#[derive(Deserialize)]
struct StatusWire {
    state: String,
}

#[derive(Deserialize)]
struct ServiceFailedWire {
    unit: String,
    failed_at: String,
}

/// Decode an inbound payload of `kind` from device `client`. `Ok(None)`: an empty payload
/// (a cleared retained message), which carries nothing.
pub fn decode(
    kind: Inbound,
    client: Uuid,
    payload: &[u8],
    retained: bool,
) -> Result<Option<DeviceMessage>, Malformed> {
    if payload.is_empty() && matches!(kind, Inbound::Status | Inbound::ServiceFailed) {
        return Ok(None);
    }
    let message = match kind {
        Inbound::Ack(topic) => DeviceMessage::Ack { topic, ack: decode_ack(payload)? },
        Inbound::Health => DeviceMessage::Health(decode_health(client, payload)?),
        Inbound::Status => {
            let wire: StatusWire = parse(payload)?;
            let online = match wire.state.as_str() {
                "online" => true,
                "offline" => false,
                other => return Err(malformed(Reason::WrongSchema, format!("state: {other:?}"))),
            };
            DeviceMessage::Status { online, retained }
        }
        Inbound::ServiceFailed => {
            let wire: ServiceFailedWire = parse(payload)?;
            let unit = bounded(Some(wire.unit), "unit", MAX_TOKEN)?.unwrap_or_default();
            if unit.is_empty() {
                return Err(malformed(Reason::WrongSchema, "unit: empty"));
            }
            DeviceMessage::ServiceFailed {
                unit,
                failed_ms: parse_time(&wire.failed_at, "failed_at")?,
            }
        }
    };
    Ok(Some(message))
}

fn decode_ack(payload: &[u8]) -> Result<DeviceAck, Malformed> {
    let wire: AckWire = parse(payload)?;
    let status = match wire.status.as_str() {
        "accepted" => AckStatus::Accepted,
        "execution_started" => AckStatus::ExecutionStarted,
        "completed" => AckStatus::Completed,
        "failed" => AckStatus::Failed,
        other => return Err(malformed(Reason::WrongSchema, format!("status: {other:?}"))),
    };
    Ok(DeviceAck {
        command_id: wire.command_id,
        status,
        error_code: bounded(wire.error_code, "error_code", MAX_TOKEN)?,
        error_message: bounded(wire.error_message, "error_message", MAX_TEXT)?,
        boot_id: bounded(wire.boot_id, "boot_id", MAX_TOKEN)?,
    })
}

fn decode_health(client: Uuid, payload: &[u8]) -> Result<DeviceHealth, Malformed> {
    let wire: HealthWire = parse(payload)?;
    if wire.schema_version != SCHEMA_VERSION {
        return Err(malformed(
            Reason::UnsupportedSchema,
            format!("schema_version {:?}", wire.schema_version),
        ));
    }
    if wire.client_uuid != client {
        return Err(malformed(Reason::WrongClient, format!("client_uuid {}", wire.client_uuid)));
    }
    if let Some(sent_at) = &wire.sent_at {
        parse_time(sent_at, "sent_at")?;
    }
    let process_status = ProcessStatus::parse(&wire.process_status).ok_or_else(|| {
        malformed(Reason::WrongSchema, format!("process_status: {:?}", wire.process_status))
    })?;
    let (reconnect_count, last_disconnect_ms) = match wire.broker_connection {
        Some(b) => (
            b.reconnect_count.map(i64::from),
            b.last_disconnect_at
                .as_deref()
                .map(|t| parse_time(t, "last_disconnect_at"))
                .transpose()?,
        ),
        None => (None, None),
    };
    Ok(DeviceHealth {
        boot_id: bounded(wire.boot_id, "boot_id", MAX_TOKEN)?,
        uptime_s: wire.uptime_s.map(|u| i64::try_from(u).unwrap_or(i64::MAX)),
        app_version: bounded(wire.app_version, "app_version", MAX_TOKEN)?,
        process_status,
        reconnect_count,
        last_disconnect_ms,
    })
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
