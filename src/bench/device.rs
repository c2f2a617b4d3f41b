//! The simulated device of `bench fanout`: one TCP connection to the broker speaking
//! MQTT 3.1.1 with rumqttc's packet codec, without its client. It registers with a health
//! message and answers every command with its three acks (`accepted`, `execution_started`,
//! `completed`) written together with the command's PUBACK, as one segment.
//!
//! Why not rumqttc's client: it runs an event loop and a request channel per connection and
//! writes and flushes every packet on its own. At 1,000 devices that cost ~48 ms of CPU per
//! rollout on the two cores the broker and the server share, a fifth of all the CPU the
//! rollout took. A device in the field has its own CPU; this one costs what its packets
//! cost, so the figures measure the server and the broker, not the simulation.
//!
//! Like a real device it keeps a persistent session (subscribing again whenever the broker
//! has none) and connects again when its connection drops. It sends no keepalive (0: the
//! broker never drops it for silence) and does not resend unacknowledged acks after a
//! reconnect: a lost ack leaves the rollout unfinished and the benchmark fails, as it should.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::QoS;
use rumqttc::mqttbytes::Error as PacketError;
use rumqttc::mqttbytes::v4::{ConnectReturnCode, Packet, PubAck, Publish, Subscribe};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::clients::{PREFIX, health_payload};
use crate::agent::wire::AckOut;
use crate::mqtt::next_packet;

/// Largest packet read (the shipped broker's `max_packet_size`).
const MAX_PACKET: usize = 1 << 20;
/// Wait before connecting again after a connection failed or dropped.
const RETRY: Duration = Duration::from_millis(100);
/// The ack statuses a device sends for a command it completes, in order.
const ACKS: [&str; 3] = ["accepted", "execution_started", "completed"];

/// A running simulated device; stopped when dropped.
pub(super) struct DeviceTask(tokio::task::JoinHandle<()>);

impl Drop for DeviceTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Start device `uuid` (broker account `uuid` / `password`) on the broker at 127.0.0.1:`port`.
/// It sends its uuid on `ready` whenever the broker has confirmed its subscription (a SUBACK,
/// or a CONNACK with the session kept).
pub(super) fn spawn(
    port: u16,
    uuid: Uuid,
    password: String,
    ready: mpsc::Sender<Uuid>,
) -> DeviceTask {
    let mut device = Device {
        uuid,
        password,
        commands: format!("{PREFIX}/{uuid}/commands"),
        acks: format!("{PREFIX}/{uuid}/commands/ack"),
        last_pkid: 0,
        registered: false,
        ready,
    };
    DeviceTask(tokio::spawn(async move {
        loop {
            if let Err(err) = device.session(port).await {
                tracing::debug!(device = %device.uuid, error = %err, "simulated device reconnects");
            }
            tokio::time::sleep(RETRY).await;
        }
    }))
}

struct Device {
    uuid: Uuid,
    password: String,
    commands: String,
    acks: String,
    last_pkid: u16,
    /// Its health message was sent (once: the server registers it from that).
    registered: bool,
    ready: mpsc::Sender<Uuid>,
}

impl Device {
    /// One connection, until it fails.
    async fn session(&mut self, port: u16) -> io::Result<()> {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        let mut out = BytesMut::with_capacity(1024);
        let mut connect = rumqttc::mqttbytes::v4::Connect::new(format!("dev-{}", self.uuid));
        connect.keep_alive = 0;
        connect.clean_session = false;
        connect.set_login(self.uuid.to_string(), self.password.as_str());
        connect.write(&mut out).map_err(invalid)?;
        stream.write_all(&out).await?;
        let mut input = BytesMut::with_capacity(4096);
        loop {
            out.clear();
            while let Some(packet) = next_packet(&mut input, MAX_PACKET).map_err(invalid)? {
                self.answer(packet, &mut out)?;
            }
            if !out.is_empty() {
                stream.write_all(&out).await?;
            }
            if stream.read_buf(&mut input).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// What the device writes in answer to `packet`, appended to `out`.
    fn answer(&mut self, packet: Packet, out: &mut BytesMut) -> io::Result<()> {
        match packet {
            Packet::ConnAck(ack) if ack.code != ConnectReturnCode::Success => {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("connection refused: {:?}", ack.code),
                ));
            }
            Packet::ConnAck(ack) => {
                if ack.session_present {
                    let _ = self.ready.try_send(self.uuid);
                } else {
                    let mut subscribe = Subscribe::new(self.commands.as_str(), QoS::AtLeastOnce);
                    subscribe.pkid = self.pkid();
                    subscribe.write(out).map_err(invalid)?;
                }
                if !self.registered {
                    self.publish(self.health_topic(), health_payload(self.uuid), out)?;
                    self.registered = true;
                }
            }
            Packet::SubAck(_) => {
                let _ = self.ready.try_send(self.uuid);
            }
            Packet::Publish(command) if command.topic == self.commands => {
                if command.qos != QoS::AtMostOnce {
                    PubAck::new(command.pkid).write(out).map_err(invalid)?;
                }
                let Ok(command) = crate::mqtt::payload::decode_command(&command.payload) else {
                    return Ok(());
                };
                for status in ACKS {
                    let ack = AckOut::new(command.command_id, status).encode();
                    self.publish(self.acks.clone(), ack, out)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn health_topic(&self) -> String {
        format!("{PREFIX}/{}/health", self.uuid)
    }

    /// Append a QoS 1 publish.
    fn publish(
        &mut self,
        topic: String,
        payload: impl Into<Vec<u8>>,
        out: &mut BytesMut,
    ) -> io::Result<()> {
        let mut publish = Publish::new(topic, QoS::AtLeastOnce, payload);
        publish.pkid = self.pkid();
        publish.write(out).map(drop).map_err(invalid)
    }

    /// The next packet id (1 to 65535, then 1 again).
    fn pkid(&mut self) -> u16 {
        self.last_pkid = self.last_pkid % u16::MAX + 1;
        self.last_pkid
    }
}

fn invalid(err: PacketError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::server::{SERVER_PASSWORD, SERVER_USER};
    use crate::mosquitto::Broker;
    use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions};

    const LIMIT: Duration = Duration::from_secs(10);

    /// The payload of the next publish on `topic`.
    async fn next_on(events: &mut EventLoop, topic: &str) -> String {
        let wait = async {
            loop {
                if let Event::Incoming(Packet::Publish(p)) = events.poll().await.unwrap()
                    && p.topic == topic
                {
                    return String::from_utf8_lossy(&p.payload).into_owned();
                }
            }
        };
        tokio::time::timeout(LIMIT, wait).await.unwrap_or_else(|_| panic!("nothing on {topic}"))
    }

    /// Against the shipped broker config and ACL: the device registers, answers a command
    /// with its three acks in order, and once started again comes back on its kept session
    /// (ready without a new subscription) and answers again.
    #[tokio::test]
    async fn registers_answers_with_three_acks_and_keeps_its_session() {
        let device = Uuid::new_v4();
        let broker = Broker::start(&[
            (SERVER_USER.to_owned(), SERVER_PASSWORD.to_owned()),
            (device.to_string(), "pw".to_owned()),
        ])
        .unwrap();
        let mut options = MqttOptions::new("bench-device-test", "127.0.0.1", broker.port);
        options.set_credentials(SERVER_USER, SERVER_PASSWORD);
        let (server, mut events) = AsyncClient::new(options, 16);
        server.subscribe(format!("{PREFIX}/+/health"), QoS::AtLeastOnce).await.unwrap();
        server.subscribe(format!("{PREFIX}/+/commands/ack"), QoS::AtLeastOnce).await.unwrap();
        let mut subacks = 0;
        while subacks < 2 {
            if let Event::Incoming(Packet::SubAck(_)) = events.poll().await.unwrap() {
                subacks += 1;
            }
        }

        let (ready_tx, mut ready) = mpsc::channel(4);
        let mut running = spawn(broker.port, device, "pw".into(), ready_tx.clone());
        tokio::time::timeout(LIMIT, ready.recv()).await.unwrap().unwrap();
        let health = next_on(&mut events, &format!("{PREFIX}/{device}/health")).await;
        assert!(health.contains(&device.to_string()), "{health}");

        for round in 0..2 {
            let command = crate::commands::device::OutboundCommand {
                command_id: Uuid::new_v4(),
                client_uuid: device,
                action: crate::contract::Action::RestartApp,
                issued_ms: 1,
                expires_ms: i64::MAX / 2,
                requested_by: None,
                reason: None,
            };
            let payload = crate::mqtt::payload::encode_command(&command);
            let topic = format!("{PREFIX}/{device}/commands");
            server.publish(topic, QoS::AtLeastOnce, false, payload).await.unwrap();
            for status in ACKS {
                let ack = next_on(&mut events, &format!("{PREFIX}/{device}/commands/ack")).await;
                assert!(ack.contains(&command.command_id.to_string()), "round {round}: {ack}");
                assert!(ack.contains(&format!(r#""status":"{status}""#)), "round {round}: {ack}");
            }
            if round == 0 {
                drop(running);
                running = spawn(broker.port, device, "pw".into(), ready_tx.clone());
                tokio::time::timeout(LIMIT, ready.recv()).await.unwrap().unwrap();
            }
        }
        drop(running);
    }
}
