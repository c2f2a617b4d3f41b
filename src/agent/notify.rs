//! `rebound-agent notify-failure --unit NAME`: run by systemd's `OnFailure=` (see
//! `deploy/systemd/notify-failure@.service`), it publishes the retained `service_failed`
//! message once, waits for the broker's PUBACK, and exits.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, Packet, QoS};

use super::config::AgentConfig;
use super::session::{AgentError, broker_options};
use super::wire::{now_ms, service_failed};

const DEADLINE: Duration = Duration::from_secs(30);

/// Publish the failure of `unit`; Err when the broker did not confirm within 30 s.
pub async fn notify_failure(config: &AgentConfig, unit: &str) -> Result<(), AgentError> {
    let id = format!("rebound-agent-{}-notify", config.client_uuid);
    let options = broker_options(config, id, config.password()?)?;
    let (client, mut eventloop) = AsyncClient::new(options, 4);
    client
        .publish(
            config.topic("service_failed"),
            QoS::AtLeastOnce,
            true,
            service_failed(unit, now_ms()),
        )
        .await
        .map_err(|e| AgentError::Options(e.to_string()))?;
    let confirmed = tokio::time::timeout(DEADLINE, async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(err) => return Err(AgentError::Options(err.to_string())),
            }
        }
    })
    .await
    .map_err(|_| AgentError::Options("no PUBACK from the broker within 30s".into()))?;
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), eventloop.poll()).await;
    confirmed
}
