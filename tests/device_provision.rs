//! `rebound device provision` against a real Mosquitto started from the shipped config and
//! ACL: the accounts it adds work after a SIGHUP (the real agent connects with the generated
//! agent.toml and password file), the accounts already in the file keep working, and the
//! shipped ACL confines the new devices to their own topics.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use support::certs::Ca;
use support::device::{PREFIX, observe, try_connect};
use support::mosquitto::{Broker, SERVER_PASSWORD, SERVER_USER, device_password};
use support::{DEADLINE, run_rebound, wait_for};
use tokio::sync::mpsc;
use uuid::Uuid;

/// A `rebound-agent` process on a generated config, killed on drop.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run the real agent on `dir/agent.toml` as provisioned, with only what cannot work in a
/// test changed: the password file's location, the state dir and the simulated executor.
fn start_agent(dir: &Path) -> Agent {
    let text = std::fs::read_to_string(dir.join("agent.toml")).unwrap();
    let mut config: toml::Table = toml::from_str(&text).unwrap();
    let local = |name: &str| toml::Value::from(dir.join(name).display().to_string());
    config.insert("password_file".into(), local("agent.password"));
    config.insert("state_dir".into(), local("state"));
    config.insert("executor".into(), "simulate".into());
    std::fs::write(dir.join("test-agent.toml"), toml::to_string(&config).unwrap()).unwrap();
    let log = std::fs::File::create(dir.join("agent.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_rebound-agent"))
        .arg("--config")
        .arg(dir.join("test-agent.toml"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    Agent(child)
}

/// An MQTT session of `user` subscribed to `topics` (SUBACK received): every message
/// (topic, payload) the broker lets through. (Mosquitto 2.0 grants a subscription the ACL
/// denies, MQTT 3.1.1, and checks the ACL on delivery.)
async fn subscriber(
    broker: &Broker,
    (user, password): (&str, &str),
    topics: &[String],
) -> mpsc::UnboundedReceiver<(String, String)> {
    let mut options = MqttOptions::new(format!("sub-{}", Uuid::new_v4()), "127.0.0.1", broker.port);
    options.set_credentials(user, password);
    let (client, mut eventloop) = AsyncClient::new(options, 10);
    let filters = topics.iter().map(|t| rumqttc::SubscribeFilter::new(t.clone(), QoS::AtLeastOnce));
    client.subscribe_many(filters).await.unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let (subscribed_tx, mut subscribed) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _client = client;
        while let Ok(event) = eventloop.poll().await {
            match event {
                Event::Incoming(Packet::SubAck(_)) => {
                    let _ = subscribed_tx.send(());
                }
                Event::Incoming(Packet::Publish(p)) => {
                    let payload = String::from_utf8_lossy(&p.payload).into_owned();
                    if tx.send((p.topic, payload)).is_err() {
                        return;
                    }
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(DEADLINE, subscribed.recv()).await.expect("suback");
    rx
}

/// Receive until a message with `payload` arrives; everything received before it too.
async fn received_until(
    rx: &mut mpsc::UnboundedReceiver<(String, String)>,
    payload: &str,
) -> Vec<String> {
    let mut topics = Vec::new();
    support::until(DEADLINE, async || {
        let Some((topic, body)) = rx.recv().await else { return Some(()) };
        topics.push(format!("{topic} {body}"));
        (body == payload).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("no {payload:?} within {DEADLINE:?}; got {topics:?}"));
    topics
}

/// A connected client of `user`, for publishing.
async fn publisher(broker: &Broker, user: &str, password: &str) -> AsyncClient {
    let mut options = MqttOptions::new(format!("pub-{}", Uuid::new_v4()), "127.0.0.1", broker.port);
    options.set_credentials(user, password);
    let (client, mut eventloop) = AsyncClient::new(options, 10);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    client
}

/// `rebound device provision --passwd-file PASSWD --broker-url URL ARGS` in `dir`.
fn provision(dir: &Path, broker: &Broker, args: &[&str]) -> std::process::Output {
    let passwd = broker.passwd_file();
    let url = broker.url();
    let base = ["device", "provision", "--passwd-file", passwd.to_str().unwrap()];
    run_rebound(dir, &[&base[..], &["--broker-url", &url], args].concat())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn provisioned_devices_connect_after_a_reload_and_existing_accounts_and_acl_hold() {
    let existing = Uuid::new_v4();
    let broker = Broker::start(&[existing]);
    let passwd = broker.passwd_file();
    let before = read(&passwd);
    let work = tempfile::tempdir().unwrap();

    // One device by UUID: agent.toml on stdout, the password to a file of its own.
    let single = Uuid::new_v4();
    let single_dir = work.path().join("single");
    std::fs::create_dir(&single_dir).unwrap();
    let pw_out = single_dir.join("agent.password");
    let single_id = single.to_string();
    let args = ["--uuid", &single_id, "--password-out", pw_out.to_str().unwrap()];
    let out = provision(work.path(), &broker, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(single_dir.join("agent.toml"), &out.stdout).unwrap();

    // Bulk: three new devices in one go.
    let fleet = work.path().join("fleet");
    let out =
        provision(work.path(), &broker, &["--count", "3", "--out-dir", fleet.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let bulk: Vec<Uuid> =
        stdout.lines().map(|line| line.split(' ').next().unwrap().parse().unwrap()).collect();
    assert_eq!(bulk.len(), 3, "{stdout}");

    // The old lines are kept byte for byte (not hashed again) and only hashes were added.
    let after = read(&passwd);
    assert!(after.starts_with(&before), "existing lines changed:\n{before}\n---\n{after}");
    let added: Vec<&str> = after[before.len()..].lines().collect();
    assert_eq!(added.len(), 4, "{after}");
    let mut devices = vec![(single, read(&pw_out))];
    devices.extend(
        bulk.iter().map(|uuid| (*uuid, read(&fleet.join(uuid.to_string()).join("agent.password")))),
    );
    for ((uuid, password), line) in devices.iter().zip(&added) {
        assert!(line.starts_with(&format!("{uuid}:$7$101$")), "{line}");
        assert!(!after.contains(password.trim()), "a password in the broker's file");
        let toml = read(
            &work
                .path()
                .join(if *uuid == single { "single".into() } else { format!("fleet/{uuid}") })
                .join("agent.toml"),
        );
        assert!(!toml.contains(password.trim()), "a password in agent.toml");
    }

    // A refused run (a UUID that already has an account) leaves the file alone.
    let taken = existing.to_string();
    let again = work.path().join("again");
    let out =
        provision(work.path(), &broker, &["--uuid", &taken, "--out-dir", again.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("user {existing} already has an account (line 2)")),
        "{stderr}"
    );
    assert_eq!(read(&passwd), after);
    assert!(!again.join(&taken).exists(), "the refused run's files are removed");

    // Before the reload the broker does not know the new accounts; after it, it does.
    let login =
        |(uuid, password): &(Uuid, String)| Some((uuid.to_string(), password.trim().to_owned()));
    assert!(try_connect(&broker, login(&devices[0])).await.is_err(), "known before the reload");
    broker.reload();
    for device in &devices {
        wait_for("the provisioned device connects", || async {
            try_connect(&broker, login(device)).await.ok()
        })
        .await;
    }
    assert!(try_connect(&broker, Some((single.to_string(), "wrong".into()))).await.is_err());
    // The accounts that were there before still work.
    try_connect(&broker, Some((existing.to_string(), device_password(&existing)))).await.unwrap();
    try_connect(&broker, Some((SERVER_USER.into(), SERVER_PASSWORD.into()))).await.unwrap();

    // The real agent runs on the generated agent.toml and password file: it announces itself.
    let _agent = start_agent(&single_dir);
    let status = format!("{PREFIX}/{single}/status");
    let seen = observe(&broker, &[status], 1).await;
    assert!(String::from_utf8_lossy(&seen[0].1).contains("online"), "{seen:?}");

    // ACL, reading: a new device may not read another device's commands, only its own.
    let (user, password) = (bulk[0].to_string(), devices[1].1.trim().to_owned());
    let foreign = format!("{PREFIX}/{existing}/commands");
    let own = format!("{PREFIX}/{user}/commands");
    let mut rx = subscriber(&broker, (&user, &password), &[foreign.clone(), own.clone()]).await;
    let server = publisher(&broker, SERVER_USER, SERVER_PASSWORD).await;
    server.publish(&foreign, QoS::AtLeastOnce, false, "not for you").await.unwrap();
    server.publish(&own, QoS::AtLeastOnce, false, "yours").await.unwrap();
    assert_eq!(received_until(&mut rx, "yours").await, [format!("{own} yours")]);

    // ACL, writing: it may publish only under its own prefix.
    let health = format!("{PREFIX}/+/health");
    let mut rx = subscriber(&broker, (SERVER_USER, SERVER_PASSWORD), &[health]).await;
    let device = publisher(&broker, &user, &password).await;
    let forged = format!("{PREFIX}/{existing}/health");
    device.publish(&forged, QoS::AtLeastOnce, false, "forged").await.unwrap();
    device
        .publish(format!("{PREFIX}/{user}/health"), QoS::AtLeastOnce, false, "mine")
        .await
        .unwrap();
    let seen = received_until(&mut rx, "mine").await;
    assert!(seen.iter().all(|m| !m.contains("forged")), "{seen:?}");
}

/// The TLS listener of the shipped mosquitto.conf, uncommented, on `port` with these files.
fn shipped_tls_listener(port: u16, cert: &Path, key: &Path) -> String {
    let conf = rebound::mosquitto::SHIPPED_CONF;
    let start = conf.find("#listener 8883").expect("a TLS listener example in mosquitto.conf");
    let mut out = String::new();
    for line in conf[start..].lines().take_while(|line| line.starts_with('#')) {
        let line = &line[1..];
        out.push_str(&match line.split_once(' ') {
            Some(("listener", _)) => format!("listener {port} 127.0.0.1"),
            Some(("certfile", _)) => format!("certfile {}", cert.display()),
            Some(("keyfile", _)) => format!("keyfile {}", key.display()),
            _ => line.to_owned(),
        });
        out.push('\n');
    }
    assert!(out.contains("tls_version"), "{out}");
    out
}

#[tokio::test]
async fn a_provisioned_agent_connects_over_the_shipped_tls_listener() {
    let certs = tempfile::tempdir().unwrap();
    let ca = Ca::new(certs.path(), "broker");
    let pair = ca.server();
    for file in [&pair.key, &pair.cert, &ca.pem] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let (broker, tls_port) =
        Broker::start_with_listener(&[], |port| shipped_tls_listener(port, &pair.cert, &pair.key));
    let work = tempfile::tempdir().unwrap();
    let uuid = Uuid::new_v4();
    let (id, url, out) =
        (uuid.to_string(), format!("mqtts://localhost:{tls_port}"), work.path().join("out"));
    let passwd = broker.passwd_file();
    let args =
        ["device", "provision", "--passwd-file", passwd.to_str().unwrap(), "--broker-url", &url];
    let extra =
        ["--uuid", &id, "--ca-file", ca.pem.to_str().unwrap(), "--out-dir", out.to_str().unwrap()];
    let output = run_rebound(work.path(), &[&args[..], &extra[..]].concat());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    broker.reload();

    // The agent keeps retrying until the broker has re-read its password file.
    let _agent = start_agent(&out.join(&id));
    let seen = observe(&broker, &[format!("{PREFIX}/{uuid}/status")], 1).await;
    assert!(String::from_utf8_lossy(&seen[0].1).contains("online"), "{seen:?}");
}
