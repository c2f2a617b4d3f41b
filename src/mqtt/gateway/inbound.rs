//! What the gateway does with each packet the broker sends: a PUBACK of one of our publishes
//! (the command is published), a SUBACK (subscribed, or refused by the ACL), a PINGRESP, and
//! inbound publishes. Inbound QoS 1 messages are acknowledged manually: a valid message is
//! handed to the ingest with a receipt that PUBACKs it once the domain stored its effect; a
//! malformed one is counted, logged with its topic and PUBACKed at once (dropped).

use rumqttc::QoS;
use rumqttc::mqttbytes::v4::{Packet, PubAck, Publish, SubAck, SubscribeReasonCode};

use super::{Gateway, Session};
use crate::commands::device::{Delivery, GatewayEvent, Receipt};
use crate::mqtt::connection::Writer;
use crate::mqtt::outbox::Tag;
use crate::mqtt::payload::{self, Reason};
use crate::mqtt::status::GatewayStatus;

impl Gateway {
    pub(super) async fn on_packet(&mut self, s: &mut Session, packet: Packet) {
        match packet {
            Packet::Publish(publish) => self.inbound(s, publish).await,
            Packet::PubAck(ack) => {
                if let Some(Tag::Command { id, primary: true }) = s.outbox.acked(ack.pkid) {
                    let event = GatewayEvent::Published { command_id: id };
                    self.deliver(Delivery { event, receipt: None }).await;
                }
            }
            Packet::SubAck(ack) => self.subscribed(s, &ack),
            Packet::PingResp => s.awaiting_pong = false,
            other => tracing::debug!(packet = ?other, "mqtt packet ignored"),
        }
    }

    fn subscribed(&self, s: &mut Session, ack: &SubAck) {
        if !s.outbox.subscribed(ack.pkid) {
            return;
        }
        s.subscribed = true;
        let refused: Vec<String> = s
            .topics
            .filters()
            .into_iter()
            .zip(&ack.return_codes)
            .filter(|(_, code)| matches!(code, SubscribeReasonCode::Failure))
            .map(|(filter, _)| filter)
            .collect();
        if !refused.is_empty() {
            let error =
                format!("subscription refused by the broker (ACL?): {}", refused.join(", "));
            tracing::error!("mqtt {error}");
            self.status.set_error(error);
        }
    }

    #[tracing::instrument(name = "mqtt.receive", skip_all, fields(mqtt.topic = %publish.topic))]
    async fn inbound(&mut self, s: &mut Session, publish: Publish) {
        let drop_with = |reason: Reason, detail: &str, status: &GatewayStatus| {
            status.count_malformed(reason);
            tracing::warn!(topic = %publish.topic, reason = reason.as_str(), detail, "malformed mqtt payload dropped");
        };
        // Only QoS 1 is acknowledged (the subscriptions ask for at most QoS 1).
        let ack = match (publish.qos, s.writer()) {
            (QoS::AtLeastOnce, Some(writer)) => Some((writer.clone(), publish.pkid)),
            _ => None,
        };
        let ack_now = |ack: Option<(Writer, u16)>| {
            if let Some((writer, pkid)) = ack {
                writer.send(Packet::PubAck(PubAck::new(pkid)));
            }
        };
        let decoded = if publish.payload.len() > s.max_payload {
            let detail = format!("{} bytes > mqtt.max_payload_bytes", publish.payload.len());
            Err((Reason::Oversized, detail))
        } else {
            match s.topics.parse(&publish.topic) {
                None => Err((Reason::BadTopic, "not an inbound contract topic".to_owned())),
                Some((client, kind)) => {
                    payload::decode(kind, client, &publish.payload, publish.retain)
                        .map(|message| message.map(|m| (client, m)))
                        .map_err(|m| (m.reason, m.detail))
                }
            }
        };
        match decoded {
            Ok(Some((client, message))) => {
                let receipt = Receipt::new(move || ack_now(ack));
                let digest = (!publish.retain).then(|| message_digest(&publish));
                let event = GatewayEvent::Device { client, topic: publish.topic, message, digest };
                self.deliver(Delivery { event, receipt: Some(receipt) }).await;
            }
            Ok(None) => ack_now(ack),
            Err((reason, detail)) => {
                drop_with(reason, &detail, &self.status);
                ack_now(ack);
            }
        }
    }

    pub(super) async fn deliver(&self, delivery: Delivery) {
        if self.deliveries.send(delivery).await.is_err() {
            tracing::debug!("ingest loop gone; delivery dropped (the broker redelivers it)");
        }
    }
}

/// Hex SHA-256 of a message's topic and payload: equal for the copies every replica's
/// session receives of one device message.
fn message_digest(publish: &Publish) -> String {
    let mut named = Vec::with_capacity(publish.topic.len() + 1 + publish.payload.len());
    named.extend_from_slice(publish.topic.as_bytes());
    named.push(0);
    named.extend_from_slice(&publish.payload);
    crate::hex::sha256(named)
}
