//! The JSON payloads of `contracts/mqtt-v1.md` (schema 1.0): encoding commands, decoding and
//! validating acks, health, status and service_failed into the domain's device types.
//!
//! Commands are strict (`deny_unknown_fields`, every field required). Acks and health are
//! read liberally: unknown extra fields are ignored. A payload that cannot be used is a
//! [`Malformed`] with the reason it is counted under; nothing here changes any state.

use serde::Deserialize;
use uuid::Uuid;

use super::topics::Inbound;
use crate::commands::device::{AckStatus, DeviceAck, DeviceHealth, DeviceMessage, OutboundCommand};
use crate::contract::limits::MAX_DEVICE_TEXT_CHARS;
pub use crate::contract::wire::{
    CommandWire, Malformed, Reason, SCHEMA_VERSION, decode_command, rfc3339,
};
use crate::contract::wire::{malformed, parse, parse_time};
use crate::model::clients::ProcessStatus;

/// Longest identifier-like field accepted from a device (error code, boot id, unit, version).
const MAX_TOKEN: usize = 256;

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
        error_message: bounded(wire.error_message, "error_message", MAX_DEVICE_TEXT_CHARS)?,
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
