//! The real `rebound-agent` binary as a device in the tests (simulated executor, its own
//! state dir), plus a broker client with the server's account to inject raw commands and
//! watch a device's acks.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tempfile::TempDir;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::DEADLINE;
use super::device::PREFIX;
use super::mosquitto::{Broker, SERVER_PASSWORD, SERVER_USER, device_password};

/// A `rebound-agent` process and its files.
pub struct AgentProc {
    pub uuid: Uuid,
    /// The program and its leading arguments (an emulator runs a foreign build).
    launcher: Vec<OsString>,
    child: Option<Child>,
    dir: TempDir,
}

impl AgentProc {
    /// Start the agent for `uuid` with the simulated executor; `simulate` holds extra keys of
    /// its `[simulate]` table.
    pub fn start(broker: &Broker, uuid: Uuid, simulate: &str) -> AgentProc {
        AgentProc::start_with(
            vec![env!("CARGO_BIN_EXE_rebound-agent").into()],
            broker,
            uuid,
            simulate,
        )
    }

    /// [`AgentProc::start`] with the agent run as `launcher` (the program, then its leading
    /// arguments: `qemu-aarch64-static -L <sysroot> <agent>` for the arm64 package).
    pub fn start_with(
        launcher: Vec<OsString>,
        broker: &Broker,
        uuid: Uuid,
        simulate: &str,
    ) -> AgentProc {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("password"), device_password(&uuid)).unwrap();
        let config = format!(
            "broker_url = \"{}\"\nclient_uuid = \"{uuid}\"\npassword_file = \"{}\"\n\
             state_dir = \"{}\"\nexecutor = \"simulate\"\nheartbeat_interval = \"1s\"\n\
             app_version = \"2.3.1\"\n[simulate]\nreboot_delay = \"300ms\"\n{simulate}\n",
            broker.url(),
            dir.path().join("password").display(),
            dir.path().join("state").display(),
        );
        std::fs::write(dir.path().join("agent.toml"), config).unwrap();
        let mut agent = AgentProc { uuid, launcher, child: None, dir };
        agent.spawn();
        agent
    }

    /// (Re)start the process on the same config and state.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("agent.log"))
            .unwrap();
        let child = Command::new(&self.launcher[0])
            .args(&self.launcher[1..])
            .arg("--config")
            .arg(self.dir.path().join("agent.toml"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// SIGKILL, no goodbye.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The simulated executions so far (`command_id action` lines).
    pub fn executions(&self) -> Vec<String> {
        std::fs::read_to_string(self.state_dir().join("sim_executions.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The simulated boot id (empty before the first start wrote it).
    pub fn boot_id(&self) -> String {
        std::fs::read_to_string(self.state_dir().join("sim_boot_id")).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!("--- agent {} log ---\n{}--- end ---", self.uuid, self.log());
        }
    }
}

/// A broker client with the server's account: publishes raw commands, watches acks.
pub struct Operator {
    client: AsyncClient,
    messages: mpsc::UnboundedReceiver<serde_json::Value>,
    /// Acks received but not asked for yet.
    stash: Vec<serde_json::Value>,
    task: tokio::task::JoinHandle<()>,
}

impl Operator {
    /// Connect and subscribe to `{p}/{device}/commands/ack`.
    pub async fn watch_acks(broker: &Broker, device: Uuid) -> Operator {
        let mut options =
            MqttOptions::new(format!("operator-{}", Uuid::new_v4()), "127.0.0.1", broker.port);
        options.set_credentials(SERVER_USER, SERVER_PASSWORD);
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        client
            .subscribe(format!("{PREFIX}/{device}/commands/ack"), QoS::AtLeastOnce)
            .await
            .unwrap();
        let (tx, messages) = mpsc::unbounded_channel();
        let (ready_tx, mut ready) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send(serde_json::from_slice(&p.payload).unwrap());
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                }
            }
        });
        tokio::time::timeout(DEADLINE, ready.recv()).await.expect("suback");
        Operator { client, messages, stash: Vec::new(), task }
    }

    /// Publish `command` (JSON) on `{p}/{device}/commands`.
    pub async fn send(&self, device: Uuid, command: &serde_json::Value) {
        let topic = format!("{PREFIX}/{device}/commands");
        self.client.publish(topic, QoS::AtLeastOnce, false, command.to_string()).await.unwrap();
    }

    /// The next ack of the watched device.
    pub async fn next_ack(&mut self) -> serde_json::Value {
        tokio::time::timeout(DEADLINE, self.messages.recv()).await.expect("an ack").unwrap()
    }

    /// The next ack for `command_id` (acks of other commands are kept for later).
    pub async fn ack_for(&mut self, command_id: &str) -> serde_json::Value {
        if let Some(i) = self.stash.iter().position(|a| a["command_id"] == command_id) {
            return self.stash.remove(i);
        }
        loop {
            let ack = self.next_ack().await;
            if ack["command_id"] == command_id {
                return ack;
            }
            self.stash.push(ack);
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
