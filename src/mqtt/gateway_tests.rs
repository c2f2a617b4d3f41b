//! The gateway's connection behaviour against a scripted broker, for what a real Mosquitto
//! does not let a test arrange: publishes left unacknowledged when a connection drops, a
//! broker that kept or lost the session, a broker that stops answering PINGREQ.

use std::time::Duration;

use bytes::BytesMut;
use rumqttc::QoS;
use rumqttc::mqttbytes::v4::{
    ConnAck, ConnectReturnCode, Packet, PubAck, SubAck, SubscribeReasonCode,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{GatewayStatus, MqttLink, next_packet, start};
use crate::commands::device::{Delivery, DeviceLink, GatewayEvent, OutboundCommand};
use crate::commands::{DeviceSettings, Settings};
use crate::config::Config;
use crate::contract::Action;
use crate::tasks::Tasks;

const LIMIT: Duration = Duration::from_secs(10);

/// One connection the gateway opened to the scripted broker.
struct Conn {
    stream: TcpStream,
    input: BytesMut,
}

impl Conn {
    async fn accept(listener: &TcpListener) -> Conn {
        let (stream, _) = tokio::time::timeout(LIMIT, listener.accept())
            .await
            .expect("the gateway connects")
            .unwrap();
        Conn { stream, input: BytesMut::new() }
    }

    /// The next packet the gateway sent.
    async fn read(&mut self) -> Packet {
        tokio::time::timeout(LIMIT, async {
            loop {
                match next_packet(&mut self.input, 1 << 20) {
                    Ok(Some(packet)) => return packet,
                    Ok(None) => {}
                    Err(err) => panic!("bad packet from the gateway: {err}"),
                }
                assert!(self.stream.read_buf(&mut self.input).await.unwrap() > 0, "closed");
            }
        })
        .await
        .expect("a packet from the gateway")
    }

    async fn send(&mut self, packet: Packet) {
        let mut out = BytesMut::new();
        packet.write(&mut out, 1 << 20).unwrap();
        self.stream.write_all(&out).await.unwrap();
    }

    /// CONNECT → CONNACK with `session_present`; a SUBSCRIBE that follows is answered.
    async fn handshake(&mut self, session_present: bool) {
        self.accept_connect(session_present).await;
        if !session_present {
            self.grant_subscribe().await;
        }
    }

    /// CONNECT → CONNACK with `session_present`.
    async fn accept_connect(&mut self, session_present: bool) {
        let Packet::Connect(connect) = self.read().await else { panic!("CONNECT first") };
        assert!(!connect.clean_session, "the gateway keeps a persistent session");
        assert_eq!(connect.client_id, "rebound-server");
        self.send(Packet::ConnAck(ConnAck::new(ConnectReturnCode::Success, session_present))).await;
    }

    /// SUBSCRIBE → SUBACK granting every filter at QoS 1.
    async fn grant_subscribe(&mut self) {
        let Packet::Subscribe(subscribe) = self.read().await else { panic!("SUBSCRIBE") };
        let granted = vec![SubscribeReasonCode::Success(QoS::AtLeastOnce); subscribe.filters.len()];
        self.send(Packet::SubAck(SubAck::new(subscribe.pkid, granted))).await;
    }
}

struct Gateway {
    tasks: Tasks,
    _settings: Settings,
    link: std::sync::Arc<MqttLink>,
    status: std::sync::Arc<GatewayStatus>,
    deliveries: mpsc::Receiver<Delivery>,
}

impl Gateway {
    fn start(port: u16, keep_alive: Duration) -> Gateway {
        let mut config = Config::default();
        config.mqtt.url = Some(format!("mqtt://127.0.0.1:{port}"));
        config.mqtt.compat_topics = false;
        config.mqtt.keep_alive = keep_alive;
        let settings = Settings::new(DeviceSettings::from_config(&config));
        let tasks = Tasks::new();
        let (tx, deliveries) = mpsc::channel(64);
        let (link, status) = start(&tasks, &settings, tx, None);
        Gateway { tasks, _settings: settings, link, status, deliveries }
    }

    async fn next(&mut self) -> GatewayEvent {
        tokio::time::timeout(LIMIT, self.deliveries.recv()).await.unwrap().unwrap().event
    }
}

fn command() -> OutboundCommand {
    OutboundCommand {
        command_id: Uuid::new_v4(),
        client_uuid: Uuid::new_v4(),
        action: Action::RestartApp,
        issued_ms: 1,
        expires_ms: i64::MAX / 2,
        requested_by: None,
        reason: None,
    }
}

/// A publish left unacknowledged when its connection dropped is sent again, with its packet
/// id and the DUP flag, when the broker kept the session, and its PUBACK then marks the
/// command published; when the broker lost the session it is forgotten (the domain publishes
/// its queued commands again, and the gateway lets it).
#[tokio::test]
async fn unacknowledged_publishes_are_resent_on_a_kept_session_and_forgotten_on_a_lost_one() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut gateway = Gateway::start(listener.local_addr().unwrap().port(), LIMIT);

    let mut first = Conn::accept(&listener).await;
    first.handshake(false).await;
    assert_eq!(gateway.next().await, GatewayEvent::Connected { session_present: false });
    let a = command();
    gateway.link.publish_command(a.clone());
    let Packet::Publish(sent) = first.read().await else { panic!("PUBLISH") };
    assert!(!sent.dup && sent.qos == QoS::AtLeastOnce);
    assert_eq!(sent.topic, format!("infoscreen/{}/commands", a.client_uuid));
    drop(first);

    let mut second = Conn::accept(&listener).await;
    second.handshake(true).await;
    let Packet::Publish(again) = second.read().await else { panic!("the publish again") };
    assert!(again.dup, "sent again with DUP");
    assert_eq!((again.pkid, &again.topic, &again.payload), (sent.pkid, &sent.topic, &sent.payload));
    second.send(Packet::PubAck(PubAck::new(again.pkid))).await;
    assert_eq!(gateway.next().await, GatewayEvent::Connected { session_present: true });
    assert_eq!(gateway.next().await, GatewayEvent::Published { command_id: a.command_id });

    let b = command();
    gateway.link.publish_command(b.clone());
    let Packet::Publish(unacked) = second.read().await else { panic!("PUBLISH") };
    assert_ne!(unacked.pkid, sent.pkid, "a new id; the first is free again but not reused yet");
    drop(second);

    let mut third = Conn::accept(&listener).await;
    third.handshake(false).await;
    assert_eq!(gateway.next().await, GatewayEvent::Connected { session_present: false });
    gateway.link.publish_command(b.clone());
    let Packet::Publish(republished) = third.read().await else { panic!("PUBLISH") };
    assert!(!republished.dup, "a new publish, not a resend");
    assert_eq!(republished.topic, unacked.topic);
    third.send(Packet::PubAck(PubAck::new(republished.pkid))).await;
    assert_eq!(gateway.next().await, GatewayEvent::Published { command_id: b.command_id });
    assert_eq!(gateway.status.reconnects(), 2);
}

/// Commands queued while the broker is away and then withdrawn (canceled, rollout aborted)
/// or expired are dropped when the connection comes, not sent; the rest go out in order.
#[tokio::test]
async fn withdrawn_and_expired_commands_are_not_sent_when_the_broker_is_back() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut gateway = Gateway::start(port, LIMIT);
    let (canceled, kept) = (command(), command());
    let expired = OutboundCommand { expires_ms: 1, ..command() };
    for queued in [&canceled, &expired, &kept] {
        gateway.link.publish_command(queued.clone());
    }
    gateway.link.withdraw_command(canceled.command_id);
    // Queued and withdrawn while nothing listens; the gateway keeps trying to connect.
    wait_for_error(&gateway).await;
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let mut conn = Conn::accept(&listener).await;
    conn.handshake(false).await;
    assert_eq!(gateway.next().await, GatewayEvent::Connected { session_present: false });
    let Packet::Publish(sent) = conn.read().await else { panic!("PUBLISH") };
    assert_eq!(sent.topic, format!("infoscreen/{}/commands", kept.client_uuid));
    conn.send(Packet::PubAck(PubAck::new(sent.pkid))).await;
    assert_eq!(gateway.next().await, GatewayEvent::Published { command_id: kept.command_id });
    // Nothing else was sent: the next publish is a clear queued after them.
    gateway.link.clear_service_failed(kept.client_uuid);
    let Packet::Publish(clear) = conn.read().await else { panic!("PUBLISH") };
    assert_eq!(clear.topic, format!("infoscreen/{}/service_failed", kept.client_uuid));
}

/// Until the gateway has failed to connect at least once.
async fn wait_for_error(gateway: &Gateway) {
    crate::testing::until("a failed connection attempt", || gateway.status.last_error().is_some())
        .await;
}

/// A broker that stops answering PINGREQ is given up after one keep-alive interval more,
/// and the gateway connects again.
#[tokio::test]
async fn a_broker_that_stops_answering_pings_is_left_and_connected_again() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut gateway = Gateway::start(listener.local_addr().unwrap().port(), Duration::from_secs(1));
    let mut first = Conn::accept(&listener).await;
    first.handshake(false).await;
    assert_eq!(gateway.next().await, GatewayEvent::Connected { session_present: false });
    assert_eq!(first.read().await, Packet::PingReq);
    first.send(Packet::PingResp).await;
    assert_eq!(first.read().await, Packet::PingReq, "pings go on while answered");

    let mut second = Conn::accept(&listener).await;
    let error = gateway.status.last_error().unwrap_or_default();
    assert!(error.contains("PINGRESP"), "{error}");
    second.handshake(true).await;
    assert_eq!(gateway.next().await, GatewayEvent::Connected { session_present: true });
    drop(first);
}

/// A connection lost before the SUBACK may come back to a kept session without the
/// subscription: the gateway subscribes again until the broker has confirmed it.
#[tokio::test]
async fn a_subscription_lost_before_its_suback_is_made_again() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut gateway = Gateway::start(listener.local_addr().unwrap().port(), LIMIT);
    let mut first = Conn::accept(&listener).await;
    first.accept_connect(false).await;
    let Packet::Subscribe(_) = first.read().await else { panic!("SUBSCRIBE") };
    drop(first);
    assert_eq!(gateway.next().await, GatewayEvent::Connected { session_present: false });

    let mut second = Conn::accept(&listener).await;
    second.accept_connect(true).await;
    second.grant_subscribe().await;
    assert_eq!(gateway.next().await, GatewayEvent::Connected { session_present: true });
    drop(second);

    let mut third = Conn::accept(&listener).await;
    third.handshake(true).await;
    let a = command();
    gateway.link.publish_command(a.clone());
    let Packet::Publish(publish) = third.read().await else {
        panic!("no SUBSCRIBE once confirmed")
    };
    assert!(publish.topic.contains(&a.client_uuid.to_string()));
}

/// Stopping sends DISCONNECT after what is queued, and PUBACKs that arrive until the broker
/// closes the connection still mark their commands published.
#[tokio::test]
async fn pubacks_that_arrive_while_disconnecting_mark_their_commands_published() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut gateway = Gateway::start(listener.local_addr().unwrap().port(), LIMIT);
    let mut conn = Conn::accept(&listener).await;
    conn.handshake(false).await;
    assert_eq!(gateway.next().await, GatewayEvent::Connected { session_present: false });
    let a = command();
    gateway.link.publish_command(a.clone());
    let Packet::Publish(publish) = conn.read().await else { panic!("PUBLISH") };

    let tasks = std::mem::take(&mut gateway.tasks);
    let stopping = tokio::spawn(async move { tasks.stop(LIMIT).await });
    assert_eq!(conn.read().await, Packet::Disconnect);
    conn.send(Packet::PubAck(PubAck::new(publish.pkid))).await;
    drop(conn);
    assert_eq!(gateway.next().await, GatewayEvent::Published { command_id: a.command_id });
    assert_eq!(stopping.await.unwrap(), 0, "the gateway stopped");
    assert!(!gateway.status.is_connected());
}
