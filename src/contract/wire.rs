//! The payload rules both ends of `contracts/mqtt-v1.md` (schema 1.0) share: the schema
//! version, timestamps, the strict command shape, and why a payload is refused.
//!
//! The server encodes commands and decodes device messages into its domain types
//! (`crate::mqtt::payload`); the agent decodes commands with [`decode_command`]. Nothing here
//! knows either side's state.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Action;
use super::limits::check_reason;

/// The schema version of the contract.
pub const SCHEMA_VERSION: &str = "1.0";

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

pub(crate) fn malformed(reason: Reason, detail: impl Into<String>) -> Malformed {
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

pub(crate) fn parse_time(text: &str, field: &str) -> Result<i64, Malformed> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| malformed(Reason::WrongSchema, format!("{field}: {e}")))
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
    if let Some(reason) = &wire.reason {
        check_reason(reason)
            .map_err(|why| malformed(Reason::WrongSchema, format!("reason: {why}")))?;
    }
    Ok(wire)
}

/// JSON first (invalid_json), then the shape (wrong_schema). A JSON object is read straight
/// into `T`; only a payload that is not one of `T` is read again, as any JSON, to tell the
/// two reasons apart (the object's shape may fail before its syntax does).
pub(crate) fn parse<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, Malformed> {
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
