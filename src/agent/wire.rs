//! What the agent sends, in `contracts/mqtt-v1.md` shapes: acks (plus the allowed `boot_id`),
//! health, status and service_failed. Encoding only.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::contract::wire::{SCHEMA_VERSION, rfc3339};

/// The contract's `error_code` values used by the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidPayload,
    UnsupportedSchema,
    WrongClient,
    Expired,
    UnsupportedAction,
    ExecutionFailed,
    Busy,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidPayload => "invalid_payload",
            ErrorCode::UnsupportedSchema => "unsupported_schema",
            ErrorCode::WrongClient => "wrong_client",
            ErrorCode::Expired => "expired",
            ErrorCode::UnsupportedAction => "unsupported_action",
            ErrorCode::ExecutionFailed => "execution_failed",
            ErrorCode::Busy => "busy",
        }
    }
}

/// An ack. `error_code` and `error_message` are always present (null when unused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckOut {
    pub command_id: Uuid,
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
}

impl AckOut {
    pub fn new(command_id: Uuid, status: &str) -> Self {
        Self {
            command_id,
            status: status.to_owned(),
            error_code: None,
            error_message: None,
            boot_id: None,
        }
    }

    pub fn failed(command_id: Uuid, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error_code: Some(code.as_str().to_owned()),
            error_message: Some(message.into()),
            ..Self::new(command_id, "failed")
        }
    }

    pub fn with_boot(mut self, boot_id: &str) -> Self {
        self.boot_id = Some(boot_id.to_owned());
        self
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The heartbeat's `broker_connection` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    pub reconnect_count: u32,
    pub last_disconnect_ms: Option<i64>,
}

/// One heartbeat.
pub struct Health<'a> {
    pub client_uuid: Uuid,
    pub now_ms: i64,
    pub boot_id: &'a str,
    pub uptime_s: u64,
    pub app_version: Option<&'a str>,
    pub process_status: &'a str,
    pub connection: &'a Connection,
}

impl Health<'_> {
    pub fn encode(&self) -> Vec<u8> {
        let mut body = serde_json::json!({
            "schema_version": SCHEMA_VERSION,
            "client_uuid": self.client_uuid,
            "sent_at": rfc3339(self.now_ms),
            "boot_id": self.boot_id,
            "uptime_s": self.uptime_s,
            "process_status": self.process_status,
            "broker_connection": {
                "reconnect_count": self.connection.reconnect_count,
                "last_disconnect_at": self.connection.last_disconnect_ms.map(rfc3339),
            },
        });
        if let Some(version) = self.app_version {
            body["app_version"] = version.into();
        }
        body.to_string().into_bytes()
    }
}

pub const ONLINE: &[u8] = br#"{"state":"online"}"#;
pub const OFFLINE: &[u8] = br#"{"state":"offline"}"#;

/// The retained service failure of `unit`.
pub fn service_failed(unit: &str, now_ms: i64) -> Vec<u8> {
    serde_json::json!({"unit": unit, "failed_at": rfc3339(now_ms)}).to_string().into_bytes()
}

pub use crate::clock::now_ms;
