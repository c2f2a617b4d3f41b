//! A fake device speaking `contracts/mqtt-v1.md` over a real broker (rumqttc), plus helpers
//! to drive the command API against a running server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rebound::mqtt::payload::{CommandWire, decode_command};
use rebound::proto::v1 as pb;
use rebound::proto::v1::client_command_service_client::ClientCommandServiceClient;
use rumqttc::{AsyncClient, ConnectionError, Event, LastWill, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tonic::transport::Channel;
use uuid::Uuid;

use super::mosquitto::{Broker, device_password};
use super::{DEADLINE, until, wait_for};

pub const PREFIX: &str = "infoscreen";

/// A connected device.
pub struct Device {
    pub uuid: Uuid,
    client: AsyncClient,
    commands: mpsc::UnboundedReceiver<CommandWire>,
    /// Messages on the alias topic `{p}/{uuid}/command`.
    pub alias_received: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

fn options(broker: &Broker, id: &str, login: Option<(String, String)>) -> MqttOptions {
    let mut options = MqttOptions::new(id, "127.0.0.1", broker.port);
    options.set_keep_alive(Duration::from_secs(5));
    if let Some((user, password)) = login {
        options.set_credentials(user, password);
    }
    options
}

/// Subscribe to `topic` as device `uuid` (another connection than its own); the returned
/// counter grows with every message the broker lets through.
pub async fn eavesdrop(
    broker: &Broker,
    uuid: Uuid,
    topic: &str,
) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let login = Some((uuid.to_string(), device_password(&uuid)));
    let (client, mut eventloop) =
        AsyncClient::new(options(broker, &format!("sub-{}", Uuid::new_v4()), login), 10);
    client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    until(DEADLINE, async || {
        let event = eventloop.poll().await;
        matches!(event, Ok(Event::Incoming(Packet::SubAck(_)))).then_some(())
    })
    .await
    .expect("suback");
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let task = tokio::spawn(async move {
        let _client = client;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(_))) => {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    (received, task)
}

/// Connect as the server user with another client id, subscribe to `topics` in one
/// SUBSCRIBE and return the first `count` messages (topic, payload) received.
pub async fn observe(broker: &Broker, topics: &[String], count: usize) -> Vec<(String, Vec<u8>)> {
    use super::mosquitto::{SERVER_PASSWORD, SERVER_USER};
    let login = Some((SERVER_USER.to_owned(), SERVER_PASSWORD.to_owned()));
    let (client, mut eventloop) =
        AsyncClient::new(options(broker, &format!("observer-{}", Uuid::new_v4()), login), 10);
    let filters = topics.iter().map(|t| rumqttc::SubscribeFilter::new(t.clone(), QoS::AtLeastOnce));
    client.subscribe_many(filters).await.unwrap();
    let mut seen = Vec::new();
    until(DEADLINE, async || {
        if seen.len() < count
            && let Ok(Event::Incoming(Packet::Publish(p))) = eventloop.poll().await
        {
            seen.push((p.topic.clone(), p.payload.to_vec()));
        }
        (seen.len() >= count).then_some(())
    })
    .await
    .expect("observed messages");
    seen
}

/// Try to connect with `login`; `Err` carries the broker's refusal.
pub async fn try_connect(broker: &Broker, login: Option<(String, String)>) -> Result<(), String> {
    let (_client, mut eventloop) = AsyncClient::new(options(broker, "probe", login), 10);
    match tokio::time::timeout(DEADLINE, eventloop.poll()).await.expect("broker answers") {
        Ok(Event::Incoming(Packet::ConnAck(_))) => Ok(()),
        Ok(other) => Err(format!("unexpected {other:?}")),
        Err(ConnectionError::ConnectionRefused(code)) => Err(format!("refused: {code:?}")),
        Err(other) => Err(other.to_string()),
    }
}

impl Device {
    /// Connect as `uuid` with its password, Last Will `offline` (retained), subscribe to its
    /// command topics and announce `online` (retained).
    pub async fn connect(broker: &Broker, uuid: Uuid) -> Device {
        let mut opts = options(
            broker,
            &format!("device-{uuid}"),
            Some((uuid.to_string(), device_password(&uuid))),
        );
        let status = format!("{PREFIX}/{uuid}/status");
        opts.set_last_will(LastWill::new(
            &status,
            r#"{"state":"offline"}"#,
            QoS::AtLeastOnce,
            true,
        ));
        let (client, mut eventloop) = AsyncClient::new(opts, 1000);
        let (tx, commands) = mpsc::unbounded_channel();
        let alias_received = Arc::new(AtomicUsize::new(0));
        let alias = alias_received.clone();
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
        let canonical = format!("{PREFIX}/{uuid}/commands");
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {}
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic == canonical => {
                        let command =
                            decode_command(&p.payload).expect("server sends contract commands");
                        let _ = tx.send(command);
                    }
                    Ok(Event::Incoming(Packet::Publish(_))) => {
                        alias.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        client.subscribe(format!("{PREFIX}/{uuid}/commands"), QoS::AtLeastOnce).await.unwrap();
        client.subscribe(format!("{PREFIX}/{uuid}/command"), QoS::AtLeastOnce).await.unwrap();
        for _ in 0..2 {
            tokio::time::timeout(DEADLINE, ready_rx.recv()).await.expect("suback").unwrap();
        }
        let device = Device { uuid, client, commands, alias_received, task };
        device.publish("status", r#"{"state":"online"}"#, true).await;
        device
    }

    /// Publish `payload` on `{p}/{uuid}/{suffix}` (QoS 1).
    pub async fn publish(&self, suffix: &str, payload: impl Into<Vec<u8>>, retain: bool) {
        let topic = format!("{PREFIX}/{}/{suffix}", self.uuid);
        self.client.publish(topic, QoS::AtLeastOnce, retain, payload.into()).await.unwrap();
    }

    /// Publish on any topic (for ACL tests).
    pub async fn publish_to(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client.publish(topic, QoS::AtLeastOnce, false, payload.into()).await.unwrap();
    }

    pub async fn health(&self, process_status: &str, boot_id: Option<&str>) {
        let mut body = serde_json::json!({
            "schema_version": "1.0",
            "client_uuid": self.uuid,
            "sent_at": "2026-04-05T12:48:10Z",
            "uptime_s": 42,
            "app_version": "2.3.1",
            "process_status": process_status,
            "broker_connection": {"reconnect_count": 2, "last_disconnect_at": "2026-04-05T12:00:00Z"},
        });
        if let Some(boot_id) = boot_id {
            body["boot_id"] = boot_id.into();
        }
        self.publish("health", body.to_string(), false).await;
    }

    /// Ack on the canonical topic.
    pub async fn ack(&self, command_id: &str, status: &str, boot_id: Option<&str>) {
        self.ack_on("commands/ack", command_id, status, boot_id, None).await;
    }

    pub async fn ack_on(
        &self,
        suffix: &str,
        command_id: &str,
        status: &str,
        boot_id: Option<&str>,
        error: Option<(&str, &str)>,
    ) {
        let mut body = serde_json::json!({
            "command_id": command_id,
            "status": status,
            "error_code": error.map(|e| e.0),
            "error_message": error.map(|e| e.1),
        });
        if let Some(boot_id) = boot_id {
            body["boot_id"] = boot_id.into();
        }
        self.publish(suffix, body.to_string(), false).await;
    }

    pub async fn status(&self, online: bool) {
        let state = if online { "online" } else { "offline" };
        self.publish("status", format!(r#"{{"state":"{state}"}}"#), true).await;
    }

    /// The next command on the canonical topic.
    pub async fn next_command(&mut self) -> CommandWire {
        tokio::time::timeout(DEADLINE, self.commands.recv())
            .await
            .unwrap_or_else(|_| panic!("device {} got no command within {DEADLINE:?}", self.uuid))
            .unwrap()
    }

    /// The next command, waiting as long as it takes; `None` once the connection task ended.
    pub async fn recv_command(&mut self) -> Option<CommandWire> {
        self.commands.recv().await
    }

    /// A command that has already arrived, if any.
    pub fn try_next_command(&mut self) -> Option<CommandWire> {
        self.commands.try_recv().ok()
    }

    /// Answer every command from now on: accepted, execution_started, then completed (or
    /// failed when `fail` says so for this device), in a background task.
    pub fn respond_forever(mut self, fail: bool) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Some(command) = self.commands.recv().await {
                let id = command.command_id.to_string();
                self.ack(&id, "accepted", None).await;
                self.ack(&id, "execution_started", None).await;
                if fail {
                    self.ack_on(
                        "commands/ack",
                        &id,
                        "failed",
                        None,
                        Some(("execution_failed", "exit 1")),
                    )
                    .await;
                } else {
                    self.ack(&id, "completed", None).await;
                }
            }
        })
    }

    /// Drop the connection without DISCONNECT (the broker then publishes the Last Will).
    pub fn kill(self) {
        self.task.abort();
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub type Rpc = ClientCommandServiceClient<Channel>;

pub async fn rpc(server: &super::Server) -> Rpc {
    ClientCommandServiceClient::new(server.channel().await)
}

pub async fn get(rpc: &mut Rpc, command_id: &str) -> pb::Command {
    rpc.get_command(pb::GetCommandRequest { command_id: command_id.into() })
        .await
        .unwrap()
        .into_inner()
        .command
        .unwrap()
}

/// Wait until the command is in `state`.
pub async fn wait_state(rpc: &Rpc, command_id: &str, state: pb::CommandState) -> pb::Command {
    wait_for(&format!("command {command_id} in {state:?}"), || {
        let mut rpc = rpc.clone();
        async move {
            let command = get(&mut rpc, command_id).await;
            (command.state() == state).then_some(command)
        }
    })
    .await
}

/// Wait until the device is registered.
pub async fn wait_registered(rpc: &Rpc, uuid: Uuid) -> pb::Client {
    wait_client(rpc, uuid, "registered", |_| true).await
}

/// Wait until the device is registered and `check` holds for it.
pub async fn wait_client(
    rpc: &Rpc,
    uuid: Uuid,
    what: &str,
    check: impl Fn(&pb::Client) -> bool,
) -> pb::Client {
    let check = &check;
    wait_for(&format!("client {uuid}: {what}"), || {
        let mut rpc = rpc.clone();
        async move {
            let request = pb::GetClientRequest { client_uuid: uuid.to_string() };
            let client = rpc.get_client(request).await.ok()?.into_inner().client?;
            check(&client).then_some(client)
        }
    })
    .await
}

pub async fn issue(
    rpc: &mut Rpc,
    uuid: Uuid,
    action: pb::Action,
) -> Result<pb::IssueCommandResponse, tonic::Status> {
    let request = pb::IssueCommandRequest {
        client_uuid: uuid.to_string(),
        action: action as i32,
        ..Default::default()
    };
    rpc.issue_command(request).await.map(|r| r.into_inner())
}

/// Issue a command that must be accepted; its id.
pub async fn issue_id(rpc: &mut Rpc, uuid: Uuid, action: pb::Action) -> String {
    issue(rpc, uuid, action).await.unwrap().command.unwrap().command_id
}

/// A rollout of `restart_app` to every registered device with a canary of `canary`; the
/// tests set the pace and the abort rule on top (`..restart_app_to_all(n)`).
pub fn restart_app_to_all(canary: u32) -> pb::StartRolloutRequest {
    pb::StartRolloutRequest {
        action: pb::Action::RestartApp as i32,
        target: Some(pb::RolloutTarget {
            target: Some(pb::rollout_target::Target::AllClients(true)),
        }),
        canary: Some(pb::start_rollout_request::Canary::CanaryCount(canary)),
        ..Default::default()
    }
}

/// The states of a command's events, in order.
pub fn event_states(command: &pb::Command) -> Vec<pb::CommandState> {
    command.events.iter().map(|e| e.to_state()).collect()
}
