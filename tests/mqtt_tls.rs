//! `mqtts://` with `mqtt.ca_file`: the gateway verifies the broker's certificate against the
//! configured CA, and refuses a broker signed by another one; the agent's `notify-failure`
//! reaches a TLS broker as its main session does.

mod support;

use rebound::mosquitto::Broker;
use rebound::proto::v1 as pb;
use rebound::proto::v1::health_service_client::HealthServiceClient;
use support::certs::Ca;
use support::{Server, wait_for};

async fn mqtt_component(server: &Server) -> pb::ComponentHealth {
    let report = HealthServiceClient::new(server.channel().await)
        .get_health(pb::GetHealthRequest {})
        .await
        .unwrap()
        .into_inner();
    report.components.into_iter().find(|c| c.name == "mqtt").unwrap()
}

/// A broker on TLS with a certificate of `ca`, and these accounts.
fn tls_broker(ca: &Ca, users: &[(String, String)]) -> Broker {
    let broker_pair = ca.server();
    for file in [&broker_pair.key, &broker_pair.cert, &ca.pem] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let tls = format!(
        "cafile {}\ncertfile {}\nkeyfile {}\n",
        ca.pem.display(),
        broker_pair.cert.display(),
        broker_pair.key.display()
    );
    Broker::start_with(users, &tls).unwrap()
}

#[tokio::test]
async fn mqtts_connects_with_the_right_ca_and_refuses_another() {
    let certs = tempfile::tempdir().unwrap();
    let ca = Ca::new(certs.path(), "ca");
    let other = Ca::new(certs.path(), "other");
    let users = [("rebound-server".to_owned(), "pw".to_owned())];
    let broker = tls_broker(&ca, &users);
    std::fs::write(certs.path().join("password"), "pw").unwrap();
    let config = |ca: &std::path::Path| {
        format!(
            "[mqtt]\nurl = \"mqtts://localhost:{}\"\nusername = \"rebound-server\"\npassword_file = \"{}\"\nca_file = \"{}\"\n",
            broker.port,
            certs.path().join("password").display(),
            ca.display()
        )
    };
    let good = Server::start(&config(&ca.pem)).await;
    let component = wait_for("mqtts connected", || async {
        let c = mqtt_component(&good).await;
        c.detail.starts_with("connected").then_some(c)
    })
    .await;
    assert_eq!(component.status(), pb::ComponentStatus::Healthy);

    let bad = Server::start(&config(&other.pem)).await;
    let component = wait_for("tls failure reported", || async {
        let c = mqtt_component(&bad).await;
        c.detail.contains("last error").then_some(c)
    })
    .await;
    assert_eq!(component.status(), pb::ComponentStatus::Degraded);
    assert!(component.detail.starts_with("disconnected"), "{}", component.detail);
    assert!(
        component.detail.to_lowercase().contains("certificate") || component.detail.contains("TLS"),
        "{}",
        component.detail
    );
}

/// `rebound-agent notify-failure` (systemd's `OnFailure=`) connects over TLS with the
/// agent's `ca_file` and gets the broker's PUBACK for its retained `service_failed`.
#[test]
fn notify_failure_reaches_a_tls_broker() {
    let certs = tempfile::tempdir().unwrap();
    let ca = Ca::new(certs.path(), "ca");
    let uuid = uuid::Uuid::new_v4();
    let users = [(uuid.to_string(), "device-pw".to_owned())];
    let broker = tls_broker(&ca, &users);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("password"), "device-pw").unwrap();
    let config = format!(
        "broker_url = \"mqtts://localhost:{}\"\nclient_uuid = \"{uuid}\"\n\
         password_file = \"{}\"\nca_file = \"{}\"\nstate_dir = \"{}\"\n",
        broker.port,
        dir.path().join("password").display(),
        ca.pem.display(),
        dir.path().join("state").display(),
    );
    std::fs::write(dir.path().join("agent.toml"), config).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rebound-agent"))
        .arg("--config")
        .arg(dir.path().join("agent.toml"))
        .args(["notify-failure", "--unit", "infoscreen-app.service"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n--- broker log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        broker.log()
    );
}
