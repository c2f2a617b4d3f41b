//! The MQTT gateway: transport between the command domain and the devices, per
//! `contracts/mqtt-v1.md`.
//!
//! It owns the broker connection (MQTT 3.1.1 over TCP or TLS with rumqttc's packet codec,
//! persistent session with a fixed client id, manual acks, reconnect with backoff, writes
//! coalesced: `connection`), the outbound QoS 1 state (`outbox`), the topic layout
//! ([`topics`]), the payload format and its validation ([`payload`]), and its health
//! ([`status`]). It holds no business rules: valid
//! inbound messages go to the domain as [`Delivery`]s, and the domain publishes through
//! [`MqttLink`], the gateway's [`DeviceLink`].
//!
//! The gateway runs as a supervised background loop: on hot-restart suspension it disconnects
//! cleanly before parking (so the successor can take the session), reconnects when resumed,
//! and disconnects cleanly when stopping.

mod connection;
mod gateway;
#[cfg(test)]
mod gateway_tests;
pub(crate) mod options;
mod outbox;
pub mod payload;
mod status;
pub mod topics;

use std::sync::Arc;

use tokio::sync::mpsc;
use uuid::Uuid;

use crate::commands::Settings;
use crate::commands::device::{Delivery, DeviceLink, OutboundCommand};
use crate::tasks::Tasks;

pub(crate) use connection::next_packet;
pub use options::PASSWORD_ENV;
pub use status::GatewayStatus;

/// What the domain asks the gateway to publish.
#[derive(Debug, Clone)]
pub(crate) enum Outbound {
    Command(OutboundCommand),
    /// Drop this command if it still waits in the backlog.
    Withdraw(Uuid),
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

    fn withdraw_command(&self, command_id: Uuid) {
        let _ = self.tx.send(Outbound::Withdraw(command_id));
    }

    fn clear_service_failed(&self, client: Uuid) {
        let _ = self.tx.send(Outbound::ClearServiceFailed(client));
    }
}

/// Start the gateway loop as the background task `mqtt.gateway`. Valid inbound messages are
/// sent to `deliveries`. `replica`: this replica's id, for a client id of its own in a
/// cluster. Returns the link for the domain and the status for health.
pub fn start(
    tasks: &Tasks,
    settings: &Settings,
    deliveries: mpsc::Sender<Delivery>,
    replica: Option<String>,
) -> (Arc<MqttLink>, Arc<GatewayStatus>) {
    let status = Arc::new(GatewayStatus::default());
    status.set_configured(settings.current().mqtt.url.as_deref());
    let (tx, outbound) = mpsc::unbounded_channel();
    let gateway = gateway::Gateway {
        status: status.clone(),
        outbound,
        deliveries,
        backlog: Default::default(),
        replica,
    };
    let updates = settings.subscribe();
    tasks.spawn("mqtt.gateway", move |control| gateway.run(control, updates));
    (Arc::new(MqttLink { tx, status: status.clone() }), status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::DeviceSettings;
    use crate::commands::device::GatewayEvent;
    use crate::config::Config;
    use crate::mosquitto::Broker;

    use crate::testing::{LIMIT, until};

    /// Hot restart: suspending releases the broker session (a clean disconnect) before the
    /// loop parks; resuming reconnects to the same session; stopping disconnects and returns.
    #[tokio::test]
    async fn suspend_disconnects_resume_reconnects_and_stop_returns() {
        let broker = Broker::start(&[("rebound-server".into(), "pw".into())]).unwrap();
        let password = broker.dir().join("server-password");
        std::fs::write(&password, "pw").unwrap();
        let mut config = Config::default();
        config.mqtt.url = Some(broker.url());
        config.mqtt.username = Some("rebound-server".into());
        config.mqtt.password_file = Some(password);
        let settings = Settings::new(DeviceSettings::from_config(&config));
        let tasks = Tasks::new();
        let (tx, mut rx) = mpsc::channel(16);
        let (_link, status) = start(&tasks, &settings, tx, None);
        let first = tokio::time::timeout(LIMIT, rx.recv()).await.unwrap().unwrap();
        assert_eq!(first.event, GatewayEvent::Connected { session_present: false });
        until("connected", || status.is_connected()).await;

        assert_eq!(tasks.suspend(LIMIT).await, 0, "the gateway parks");
        assert!(!status.is_connected(), "disconnected before parking");
        tasks.resume();
        let again = tokio::time::timeout(LIMIT, rx.recv()).await.unwrap().unwrap();
        assert_eq!(again.event, GatewayEvent::Connected { session_present: true });
        assert_eq!(status.reconnects(), 1);

        assert_eq!(tasks.stop(LIMIT).await, 0, "the gateway returns when stopping");
        assert!(!status.is_connected());
        let clean = "Client rebound-server disconnected";
        until("two clean DISCONNECTs in the broker log", || {
            broker.log().matches(clean).count() == 2
        })
        .await;
        assert!(!broker.log().contains("rebound-server closed its connection"), "{}", broker.log());
    }
}
