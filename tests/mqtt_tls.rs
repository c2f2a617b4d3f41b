//! `mqtts://` with `mqtt.ca_file`: the gateway verifies the broker's certificate against the
//! configured CA, and refuses a broker signed by another one.

mod support;

use std::path::Path;
use std::process::Command;

use rebound::bench::broker::Broker;
use rebound::proto::v1 as pb;
use rebound::proto::v1::health_service_client::HealthServiceClient;
use support::{Server, wait_for};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA (`{name}.pem`) and, when `server` is set, a localhost certificate signed by it.
fn ca(dir: &Path, name: &str, server: bool) {
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    if server {
        std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                &pem,
                "-CAkey",
                &key,
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "san.ext",
            ],
        );
    }
}

async fn mqtt_component(server: &Server) -> pb::ComponentHealth {
    let report = HealthServiceClient::new(server.channel().await)
        .get_health(pb::GetHealthRequest {})
        .await
        .unwrap()
        .into_inner();
    report.components.into_iter().find(|c| c.name == "mqtt").unwrap()
}

#[tokio::test]
async fn mqtts_connects_with_the_right_ca_and_refuses_another() {
    let certs = tempfile::tempdir().unwrap();
    ca(certs.path(), "ca", true);
    ca(certs.path(), "other", false);
    for file in ["server.key", "server.pem", "ca.pem"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(certs.path().join(file), std::fs::Permissions::from_mode(0o644))
            .unwrap();
    }
    let tls = format!(
        "cafile {0}/ca.pem\ncertfile {0}/server.pem\nkeyfile {0}/server.key\n",
        certs.path().display()
    );
    let users = [("rebound-server".to_owned(), "pw".to_owned())];
    let broker = Broker::start_with(&users, &tls).unwrap();
    std::fs::write(certs.path().join("password"), "pw").unwrap();
    let config = |ca: &str| {
        format!(
            "[mqtt]\nurl = \"mqtts://localhost:{}\"\nusername = \"rebound-server\"\npassword_file = \"{}\"\nca_file = \"{}\"\n",
            broker.port,
            certs.path().join("password").display(),
            certs.path().join(ca).display()
        )
    };
    let good = Server::start(&config("ca.pem")).await;
    let component = wait_for("mqtts connected", || async {
        let c = mqtt_component(&good).await;
        c.detail.starts_with("connected").then_some(c)
    })
    .await;
    assert_eq!(component.status(), pb::ComponentStatus::Healthy);

    let bad = Server::start(&config("other.pem")).await;
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
