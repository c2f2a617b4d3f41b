//! What devices say and what the domain asks the gateway to send, in transport-neutral
//! types (the MQTT wire format lives in `crate::mqtt::payload`).
//!
//! The gateway decodes and validates inbound payloads into [`GatewayEvent`]s and hands them
//! over as [`Delivery`]s; the domain stores their effect and then settles each delivery's
//! [`Receipt`] (for MQTT: the PUBACK), so a message is acknowledged to the broker only once
//! its effect is durable. Outbound, the domain talks to the gateway through [`DeviceLink`].

use uuid::Uuid;

use crate::contract::Action;
use crate::model::clients::ProcessStatus;
use crate::model::commands::AckTopic;

/// `status` of a device ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckStatus {
    Accepted,
    ExecutionStarted,
    Completed,
    Failed,
}

impl AckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AckStatus::Accepted => "accepted",
            AckStatus::ExecutionStarted => "execution_started",
            AckStatus::Completed => "completed",
            AckStatus::Failed => "failed",
        }
    }
}

/// A device's ack of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAck {
    pub command_id: Uuid,
    pub status: AckStatus,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub boot_id: Option<String>,
}

/// A device's heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceHealth {
    pub boot_id: Option<String>,
    pub uptime_s: Option<i64>,
    pub app_version: Option<String>,
    pub process_status: ProcessStatus,
    pub reconnect_count: Option<i64>,
    pub last_disconnect_ms: Option<i64>,
}

/// What one inbound message from a device says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceMessage {
    Ack {
        topic: AckTopic,
        ack: DeviceAck,
    },
    Health(DeviceHealth),
    /// `true`: online; `false`: offline (Last Will or clean disconnect). `retained`: a replay
    /// of the broker's retained message (sent on subscribing), not a live change.
    Status {
        online: bool,
        retained: bool,
    },
    ServiceFailed {
        unit: String,
        failed_ms: i64,
    },
}

/// Everything the gateway reports to the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayEvent {
    /// A valid message from device `client`, received on `topic`. `digest` (hex SHA-256 of
    /// the topic and the payload) names the message across replicas, which all receive it;
    /// `None` for a retained replay, which the broker sends to each subscriber anew.
    Device { client: Uuid, topic: String, message: DeviceMessage, digest: Option<String> },
    /// The broker acknowledged (PUBACK) the publish of a command.
    Published { command_id: Uuid },
    /// The gateway (re)connected. Without `session_present` every publish that was not
    /// acknowledged is lost and must be sent again.
    Connected { session_present: bool },
}

/// Settles a delivery once its effect is stored (the MQTT PUBACK). Dropping it unsettled
/// leaves the message with the broker, which redelivers it.
pub struct Receipt(Box<dyn FnOnce() + Send + Sync>);

impl Receipt {
    pub fn new(settle: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self(Box::new(settle))
    }

    pub fn settle(self) {
        (self.0)();
    }
}

impl std::fmt::Debug for Receipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Receipt")
    }
}

/// One event handed to the domain, with its receipt when the transport needs one.
#[derive(Debug)]
pub struct Delivery {
    pub event: GatewayEvent,
    pub receipt: Option<Receipt>,
}

/// A command as it is sent to a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundCommand {
    pub command_id: Uuid,
    pub client_uuid: Uuid,
    pub action: Action,
    pub issued_ms: i64,
    pub expires_ms: i64,
    pub requested_by: Option<i64>,
    pub reason: Option<String>,
}

/// The domain's way to reach devices (implemented by the MQTT gateway).
pub trait DeviceLink: Send + Sync + 'static {
    /// Whether a gateway is configured at all (`mqtt.url`).
    fn is_configured(&self) -> bool;
    /// Whether the gateway is connected to its broker now.
    fn is_connected(&self) -> bool;
    /// Queue a command for publishing (QoS 1); sent as soon as the gateway is connected. A
    /// command already waiting for its PUBACK is not queued twice.
    fn publish_command(&self, command: OutboundCommand);
    /// The command is not to be sent any more (canceled, expired, or its rollout aborted
    /// before it was accepted): a copy still waiting for the broker is dropped. A publish the
    /// broker already has cannot be taken back.
    fn withdraw_command(&self, command_id: Uuid);
    /// Clear the retained `service_failed` message of a device.
    fn clear_service_failed(&self, client: Uuid);
}
