//! Strict validation of an inbound command, in the contract's order of error codes:
//! not JSON / wrong shape → `invalid_payload`, schema → `unsupported_schema`, another device
//! → `wrong_client`, unknown or not allow-listed action → `unsupported_action`, past
//! `expires_at` → `expired`. Shape checks reuse [`crate::contract::wire::decode_command`].

use chrono::DateTime;
use uuid::Uuid;

use super::wire::ErrorCode;
use crate::contract::Action;
use crate::contract::wire::{CommandWire, SCHEMA_VERSION, decode_command};

/// A refused command: the id to ack (when the payload carried one), the code and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub command_id: Option<Uuid>,
    pub code: ErrorCode,
    pub message: String,
}

/// The `command_id` of a payload, if it has a readable one (for dedupe and for acking).
pub fn command_id(payload: &[u8]) -> Option<Uuid> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    Uuid::try_parse(value.get("command_id")?.as_str()?).ok()
}

/// Validate `payload` for device `me` at `now_ms`.
pub fn validate(payload: &[u8], me: Uuid, now_ms: i64) -> Result<(CommandWire, Action), Rejection> {
    let id = command_id(payload);
    let reject = |code, message: String| Rejection { command_id: id, code, message };
    let value: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| reject(ErrorCode::InvalidPayload, format!("not JSON: {e}")))?;
    if let Some(version) = value.get("schema_version").and_then(|v| v.as_str())
        && version != SCHEMA_VERSION
    {
        return Err(reject(ErrorCode::UnsupportedSchema, format!("schema_version {version:?}")));
    }
    let wire: CommandWire = serde_json::from_value(value)
        .map_err(|e| reject(ErrorCode::InvalidPayload, e.to_string()))?;
    if wire.client_uuid != me {
        return Err(reject(
            ErrorCode::WrongClient,
            format!("client_uuid {} is not this device", wire.client_uuid),
        ));
    }
    let action = Action::parse(&wire.action)
        .ok_or_else(|| reject(ErrorCode::UnsupportedAction, format!("action {:?}", wire.action)))?;
    decode_command(payload).map_err(|m| reject(ErrorCode::InvalidPayload, m.detail))?;
    let expires = DateTime::parse_from_rfc3339(&wire.expires_at)
        .map(|t| t.timestamp_millis())
        .map_err(|e| reject(ErrorCode::InvalidPayload, format!("expires_at: {e}")))?;
    if expires <= now_ms {
        return Err(reject(ErrorCode::Expired, format!("expired at {}", wire.expires_at)));
    }
    Ok((wire, action))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn command(me: Uuid) -> serde_json::Value {
        json!({
            "schema_version": "1.0", "command_id": Uuid::new_v4(), "client_uuid": me,
            "action": "restart_app", "issued_at": "2026-04-05T12:48:10Z",
            "expires_at": "2026-04-05T12:52:10Z", "requested_by": 1, "reason": null
        })
    }

    fn code(value: &serde_json::Value, me: Uuid, now_ms: i64) -> Option<ErrorCode> {
        validate(value.to_string().as_bytes(), me, now_ms).err().map(|r| r.code)
    }

    #[test]
    fn every_error_code() {
        let me = Uuid::new_v4();
        let before =
            DateTime::parse_from_rfc3339("2026-04-05T12:50:00Z").unwrap().timestamp_millis();
        let good = command(me);
        assert_eq!(code(&good, me, before), None);
        assert_eq!(code(&good, me, before + 3_600_000), Some(ErrorCode::Expired));
        assert_eq!(code(&good, Uuid::new_v4(), before), Some(ErrorCode::WrongClient));
        let mut extra = good.clone();
        extra["shell"] = "rm -rf /".into();
        assert_eq!(code(&extra, me, before), Some(ErrorCode::InvalidPayload));
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove("reason");
        assert_eq!(code(&missing, me, before), Some(ErrorCode::InvalidPayload));
        let mut schema = good.clone();
        schema["schema_version"] = "2.0".into();
        assert_eq!(code(&schema, me, before), Some(ErrorCode::UnsupportedSchema));
        let mut action = good.clone();
        action["action"] = "format_disk".into();
        assert_eq!(code(&action, me, before), Some(ErrorCode::UnsupportedAction));
        let rejected = validate(b"{not json", me, before).unwrap_err();
        assert_eq!((rejected.code, rejected.command_id), (ErrorCode::InvalidPayload, None));
    }
}
