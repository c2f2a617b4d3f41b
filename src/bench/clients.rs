//! What the benchmarks share to drive a server and a broker: MQTT logins and clients (with
//! the gateway's socket options), waiting for packets, a device's health message, and the
//! rollout calls of the fan-out and memory benchmarks. Every wait has a deadline
//! ([`PHASE_TIMEOUT`]).

use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet};
use uuid::Uuid;

use super::fail;
use super::server::{Rpc, SERVER_PASSWORD, SERVER_USER};
use crate::error::{Error, Result};
use crate::mosquitto::Broker;
use crate::proto::v1 as pb;

/// Topic prefix of the shipped broker ACL.
pub(super) const PREFIX: &str = "infoscreen";
/// Longest a phase may take before a benchmark gives up.
pub(super) const PHASE_TIMEOUT: Duration = Duration::from_secs(600);

/// The health message a device registers with.
pub(super) fn health_payload(uuid: Uuid) -> String {
    serde_json::json!({
        "schema_version": "1.0", "client_uuid": uuid, "boot_id": "bench",
        "process_status": "running"
    })
    .to_string()
}

/// Login `id` as `user` on the broker.
pub(super) fn options(broker: &Broker, id: String, user: String, password: String) -> MqttOptions {
    let mut options = MqttOptions::new(id, "127.0.0.1", broker.port);
    options.set_credentials(user, password).set_keep_alive(Duration::from_secs(30));
    options
}

/// A client on the broker with the socket options of the server's gateway (no Nagle).
pub(super) fn connect_client(options: MqttOptions, capacity: usize) -> (AsyncClient, EventLoop) {
    let (client, mut eventloop) = AsyncClient::new(options, capacity);
    eventloop.set_network_options(crate::contract::broker::network());
    (client, eventloop)
}

/// A login with the server's broker account and a fresh client id starting with `id`.
pub(super) fn server_login(broker: &Broker, id: &str) -> MqttOptions {
    options(broker, format!("{id}-{}", Uuid::new_v4()), SERVER_USER.into(), SERVER_PASSWORD.into())
}

/// Poll `eventloop` until `count` incoming packets have satisfied `wanted`; fails naming
/// `phase` after [`PHASE_TIMEOUT`].
pub(super) async fn await_incoming(
    eventloop: &mut EventLoop,
    count: usize,
    wanted: fn(&Packet) -> bool,
    phase: &str,
) -> Result<()> {
    tokio::time::timeout(PHASE_TIMEOUT, async {
        let mut seen = 0;
        while seen < count {
            if let Event::Incoming(packet) = eventloop.poll().await.map_err(fail)?
                && wanted(&packet)
            {
                seen += 1;
            }
        }
        Ok::<_, Error>(())
    })
    .await
    .map_err(|_| fail(format!("{phase} timed out")))?
}

/// Start a rollout of `restart_app` to every registered device without canary, waves of
/// `max_per_minute`, commands valid for `expires_s` seconds; returns its id.
pub(super) async fn start_rollout_to_all(
    rpc: &Rpc,
    max_per_minute: u32,
    expires_s: i64,
) -> Result<String> {
    let request = pb::StartRolloutRequest {
        action: pb::Action::RestartApp as i32,
        target: Some(pb::RolloutTarget {
            target: Some(pb::rollout_target::Target::AllClients(true)),
        }),
        canary: Some(pb::start_rollout_request::Canary::CanaryCount(0)),
        max_per_minute,
        expires_in: Some(prost_types::Duration { seconds: expires_s, nanos: 0 }),
        ..Default::default()
    };
    let response = rpc.clone().start_rollout(request).await.map_err(fail)?.into_inner();
    Ok(response.rollout.unwrap_or_default().rollout_id)
}

/// The rollout `id` as the server has it now.
pub(super) async fn get_rollout(rpc: &Rpc, id: &str) -> Result<pb::Rollout> {
    let request = pb::GetRolloutRequest { rollout_id: id.to_owned() };
    let response = rpc.clone().get_rollout(request).await.map_err(fail)?.into_inner();
    Ok(response.rollout.unwrap_or_default())
}

/// Every command `request` lists, all pages of it.
pub(super) async fn list_commands(
    rpc: &Rpc,
    mut request: pb::ListCommandsRequest,
) -> Result<Vec<pb::Command>> {
    request.page_size = 500;
    let mut commands = Vec::new();
    loop {
        let page = rpc.clone().list_commands(request.clone()).await.map_err(fail)?.into_inner();
        commands.extend(page.commands);
        if page.next_page_token.is_empty() {
            return Ok(commands);
        }
        request.page_token = page.next_page_token;
    }
}

/// A command's issue → accepted time by the server's timestamps; `None` before `accepted`.
pub(super) fn issue_to_accepted(command: &pb::Command) -> Option<Duration> {
    let (issued, accepted) = (command.issued_at.as_ref()?, command.accepted_at.as_ref()?);
    let ms = (accepted.seconds - issued.seconds) * 1000
        + i64::from((accepted.nanos - issued.nanos) / 1_000_000);
    Some(Duration::from_millis(ms.max(0) as u64))
}

/// Wait until `n` devices have reported health (listed with `last_health_at`).
pub(super) async fn wait_registered(rpc: &Rpc, n: usize) -> Result<()> {
    let deadline = Instant::now() + PHASE_TIMEOUT;
    loop {
        let (_, count) = count_registered(rpc).await?;
        if count >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(fail(format!("only {count} of {n} devices registered")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The devices the server knows, and how many of them sent a health message.
pub(super) async fn count_registered(rpc: &Rpc) -> Result<(usize, usize)> {
    let (mut known, mut healthy) = (0, 0);
    let mut request = pb::ListClientsRequest { page_size: 500, ..Default::default() };
    loop {
        let page = rpc.clone().list_clients(request.clone()).await.map_err(fail)?.into_inner();
        known += page.clients.len();
        healthy += page.clients.iter().filter(|c| c.last_health_at.is_some()).count();
        if page.next_page_token.is_empty() {
            return Ok((known, healthy));
        }
        request.page_token = page.next_page_token;
    }
}
