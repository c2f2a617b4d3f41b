//! TLS on the TCP listener, against the real server: the CLI over https:// trusting the
//! test CA, plaintext and untrusted clients refused, and a certificate renewed through a
//! config reload (a broken one refused, the old one kept).

mod support;

use std::path::Path;
use support::{Server, run_rebound, tls, wait_for};

fn health(dir: &Path, server: &Server, ca: &Path) -> std::process::Output {
    let addr = format!("https://127.0.0.1:{}", server.port);
    run_rebound(dir, &["health", "--addr", &addr, "--tls-ca", ca.to_str().unwrap()])
}

async fn start(dir: &Path) -> (Server, tls::Certs) {
    let certs = tls::make(dir, "first");
    std::fs::copy(&certs.cert, dir.join("server.pem")).unwrap();
    std::fs::copy(&certs.key, dir.join("server.key")).unwrap();
    let config = "[server.tls]\ncert_file = \"server.pem\"\nkey_file = \"server.key\"\n";
    let server = Server::spawn_in(dir, config, &[]);
    wait_for("health over tls", || async {
        health(dir, &server, &certs.ca).status.success().then_some(())
    })
    .await;
    (server, certs)
}

#[tokio::test]
async fn the_cli_talks_tls_and_plaintext_or_untrusted_clients_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (server, certs) = start(dir.path()).await;
    let out = health(dir.path(), &server, &certs.ca);
    assert!(String::from_utf8_lossy(&out.stdout).contains("SERVING"), "{out:?}");

    let plain = run_rebound(dir.path(), &["health", "--addr", &server.addr]);
    assert!(!plain.status.success(), "plaintext must not be served: {plain:?}");

    let other = tls::make(dir.path(), "other");
    let untrusted = health(dir.path(), &server, &other.ca);
    assert!(!untrusted.status.success());
    assert!(String::from_utf8_lossy(&untrusted.stderr).contains("cannot reach"), "{untrusted:?}");

    let addr = format!("https://127.0.0.1:{}", server.port);
    let no_ca = run_rebound(dir.path(), &["health", "--addr", &addr]);
    assert_eq!(no_ca.status.code(), Some(64), "{no_ca:?}");
    assert!(String::from_utf8_lossy(&no_ca.stderr).contains("--tls-ca"), "{no_ca:?}");
}

#[tokio::test]
async fn a_renewed_certificate_applies_on_reload_and_a_broken_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (server, first) = start(dir.path()).await;
    let second = tls::make(dir.path(), "second");
    std::fs::copy(&second.cert, dir.path().join("server.pem")).unwrap();
    std::fs::copy(&second.key, dir.path().join("server.key")).unwrap();
    server.signal(libc::SIGHUP);
    wait_for("the renewed certificate", || async {
        health(dir.path(), &server, &second.ca).status.success().then_some(())
    })
    .await;
    assert!(!health(dir.path(), &server, &first.ca).status.success(), "old certificate gone");

    std::fs::write(dir.path().join("server.pem"), "not a certificate").unwrap();
    let addr = format!("https://127.0.0.1:{}", server.port);
    let ca = second.ca.to_str().unwrap();
    let reload = run_rebound(dir.path(), &["config", "reload", "--addr", &addr, "--tls-ca", ca]);
    assert!(!reload.status.success(), "{reload:?}");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&reload.stdout),
        String::from_utf8_lossy(&reload.stderr)
    );
    assert!(text.contains("server.tls"), "{text}");
    assert!(
        health(dir.path(), &server, &second.ca).status.success(),
        "the loaded certificate stays"
    );
}
