//! The MQTT gateway: transport between the command domain and the devices, per
//! `contracts/mqtt-v1.md`.
//!
//! It owns the broker connection (rumqttc, persistent session with a fixed client id, manual
//! acks, reconnect with backoff), the topic layout ([`topics`]), the payload format and its
//! validation ([`payload`]), and its health ([`status`]). It holds no business rules: valid
//! inbound messages go to the domain as [`Delivery`]s, and the domain publishes through
//! [`MqttLink`], the gateway's [`DeviceLink`].
//!
//! The gateway runs as a supervised background loop: on hot-restart suspension it disconnects
//! cleanly before parking (so the successor can take the session), reconnects when resumed,
//! and disconnects cleanly when stopping.

mod gateway;
pub(crate) mod options;
pub mod payload;
mod status;
pub mod topics;
mod tracker;

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::mpsc;
use uuid::Uuid;

use crate::commands::Settings;
use crate::commands::device::{Delivery, DeviceLink, OutboundCommand};
use crate::lifecycle::Tasks;

pub use options::PASSWORD_ENV;
pub use status::GatewayStatus;

/// What the domain asks the gateway to publish.
#[derive(Debug, Clone)]
pub(crate) enum Outbound {
    Command(OutboundCommand),
    ClearServiceFailed(Uuid),
}

/// The domain's handle on the gateway.
pub struct MqttLink {
    tx: mpsc::UnboundedSender<Outbound>,
    status: Arc<GatewayStatus>,
}

impl DeviceLink for MqttLink {
    fn is_configured(&self) -> bool {
        self.status.is_configured()
    }

    fn is_connected(&self) -> bool {
        self.status.is_connected()
    }

    fn publish_command(&self, command: OutboundCommand) {
        let _ = self.tx.send(Outbound::Command(command));
    }

    fn clear_service_failed(&self, client: Uuid) {
        let _ = self.tx.send(Outbound::ClearServiceFailed(client));
    }
}

/// Start the gateway loop as the background task `mqtt.gateway`. Valid inbound messages are
/// sent to `deliveries`. Returns the link for the domain and the status for health.
pub fn start(
    tasks: &Tasks,
    settings: &Settings,
    deliveries: mpsc::Sender<Delivery>,
) -> (Arc<MqttLink>, Arc<GatewayStatus>) {
    let status = Arc::new(GatewayStatus::default());
    status.set_configured(settings.current().mqtt.url.as_deref());
    let (tx, outbound) = mpsc::unbounded_channel();
    let gateway =
        gateway::Gateway { status: status.clone(), outbound, deliveries, backlog: VecDeque::new() };
    let updates = settings.subscribe();
    tasks.spawn("mqtt.gateway", move |control| gateway.run(control, updates));
    (Arc::new(MqttLink { tx, status: status.clone() }), status)
}
