//! TLS on the TCP listener, against the real server: the CLI over https:// trusting the
//! test CA, plaintext and untrusted clients refused, a certificate renewed through a config
//! reload (a broken one refused, the old one kept); and mutual TLS: listed client
//! certificates authenticate with their role (and are audited under their identity),
//! unlisted or foreign ones are refused, token-only clients still get in, and the client CA
//! bundle is re-read on reload. Certificates are made with rcgen (`support::certs`).

mod support;

use rebound::client::{ClientOptions, Transport};
use rebound::proto::v1 as pb;
use rebound::proto::v1::recovery_service_client::RecoveryServiceClient;
use std::path::Path;
use support::auth::{self, Method, TOKENS, UNDECODABLE, token};
use support::certs::{Ca, Pair};
use support::{Server, run_rebound, wait_for};
use tempfile::TempDir;
use tonic::Code;

fn health(dir: &Path, server: &Server, ca: &Path) -> std::process::Output {
    let addr = format!("https://127.0.0.1:{}", server.port);
    run_rebound(dir, &["health", "--addr", &addr, "--tls-ca", ca.to_str().unwrap()])
}

/// Install `pair` as the server's `server.pem` / `server.key`.
fn install(dir: &Path, pair: &Pair) {
    std::fs::copy(&pair.cert, dir.join("server.pem")).unwrap();
    std::fs::copy(&pair.key, dir.join("server.key")).unwrap();
}

const TLS: &str = "[server.tls]\ncert_file = \"server.pem\"\nkey_file = \"server.key\"\n";

async fn start(dir: &Path) -> (Server, Ca) {
    let ca = Ca::new(dir, "first");
    install(dir, &ca.server());
    let server = Server::spawn_in(dir, TLS, &[]).await;
    wait_for("health over tls", || async {
        health(dir, &server, &ca.pem).status.success().then_some(())
    })
    .await;
    (server, ca)
}

#[tokio::test]
async fn the_cli_talks_tls_and_plaintext_or_untrusted_clients_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (server, ca) = start(dir.path()).await;
    let out = health(dir.path(), &server, &ca.pem);
    assert!(String::from_utf8_lossy(&out.stdout).contains("SERVING"), "{out:?}");

    let plain = run_rebound(dir.path(), &["health", "--addr", &server.addr]);
    assert!(!plain.status.success(), "plaintext must not be served: {plain:?}");

    let other = Ca::new(dir.path(), "other");
    let untrusted = health(dir.path(), &server, &other.pem);
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
    let second = Ca::new(dir.path(), "second");
    install(dir.path(), &second.server());
    server.signal(libc::SIGHUP);
    wait_for("the renewed certificate", || async {
        health(dir.path(), &server, &second.pem).status.success().then_some(())
    })
    .await;
    assert!(!health(dir.path(), &server, &first.pem).status.success(), "old certificate gone");

    std::fs::write(dir.path().join("server.pem"), "not a certificate").unwrap();
    let addr = format!("https://127.0.0.1:{}", server.port);
    let ca = second.pem.to_str().unwrap();
    // The SIGHUP reload may still be finishing (recording its event) after the certificate
    // applied: wait until the server takes this reload rather than answering that another
    // one is in progress.
    let reload = wait_for("the reload RPC to be taken", || async {
        let reload =
            run_rebound(dir.path(), &["config", "reload", "--addr", &addr, "--tls-ca", ca]);
        let busy = String::from_utf8_lossy(&reload.stdout).contains("already_in_progress")
            || String::from_utf8_lossy(&reload.stderr).contains("already_in_progress");
        (!busy).then_some(reload)
    })
    .await;
    assert!(!reload.status.success(), "{reload:?}");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&reload.stdout),
        String::from_utf8_lossy(&reload.stderr)
    );
    assert!(text.contains("server.tls"), "{text}");
    assert!(
        health(dir.path(), &server, &second.pem).status.success(),
        "the loaded certificate stays"
    );
}

/// A server with mutual TLS: client certificates of the `clients` CA (bundle
/// `client-cas.pem`) and the usual tokens; `deployer.test` is listed as operator and
/// `watcher.test` as viewer.
struct Mtls {
    dir: TempDir,
    server: Server,
    server_ca: Ca,
    clients: Ca,
    addr: String,
}

const CLIENTS: &str = "[[clients]]\nname = \"deployer.test\"\nrole = \"operator\"\n\
                       [[clients]]\nname = \"watcher.test\"\nrole = \"viewer\"\n";

impl Mtls {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server_ca = Ca::new(dir.path(), "server");
        install(dir.path(), &server_ca.server());
        let clients = Ca::new(dir.path(), "clients");
        std::fs::copy(&clients.pem, dir.path().join("client-cas.pem")).unwrap();
        let tokens = dir.path().join("tokens.toml");
        auth::write_tokens(&tokens, &TOKENS);
        let text = std::fs::read_to_string(&tokens).unwrap() + CLIENTS;
        std::fs::write(&tokens, text).unwrap();
        let config = format!(
            "{TLS}client_ca_file = \"client-cas.pem\"\n[auth]\ntokens_file = \"tokens.toml\"\n"
        );
        let server = Server::spawn_in(dir.path(), &config, &[]).await;
        let addr = format!("https://127.0.0.1:{}", server.port);
        let mtls = Self { dir, server, server_ca, clients, addr };
        wait_for("health over mutual tls", || async {
            let admin = mtls.options(None, Some(token("admin")));
            admitted(&mtls.call(&admin, GET_HEALTH).await).then_some(())
        })
        .await;
        mtls
    }

    fn options(&self, cert: Option<&Pair>, token: Option<&str>) -> ClientOptions {
        ClientOptions {
            token: token.map(str::to_owned),
            tls_ca: Some(self.server_ca.pem.clone()),
            tls_cert: cert.map(|pair| pair.cert.clone()),
            tls_key: cert.map(|pair| pair.key.clone()),
        }
    }

    /// Call `path` (an undecodable body: the call is admitted or refused, never acts) on a
    /// new connection made with `options`; a connection that fails counts as UNAVAILABLE.
    async fn call(&self, options: &ClientOptions, path: &str) -> tonic::Status {
        let transport = match Transport::connect_with(&self.addr, options).await {
            Ok(transport) => transport,
            Err(err) => return tonic::Status::unavailable(err.to_string()),
        };
        let method = Method {
            path: path.into(),
            server_streaming: false,
            client_streaming: false,
            role: String::new(),
        };
        auth::call(transport, &method, None, UNDECODABLE).await
    }
}

const GET_HEALTH: &str = "/rebound.v1.HealthService/GetHealth";
const RELOAD: &str = "/rebound.v1.ConfigService/Reload";

/// Admitted: the gate let the call through to the service, which then failed to decode the
/// undecodable body, answered INVALID_ARGUMENT naming `request` as the contract says
/// (anything else — refused, or a broken connection — is not admitted).
fn admitted(status: &tonic::Status) -> bool {
    status.code() == Code::InvalidArgument
        && status.message().starts_with("request: not a valid protobuf message")
}

#[tokio::test]
async fn mutual_tls_admits_listed_certificates_with_their_role() {
    let m = Mtls::start().await;
    let deployer = m.clients.client("deployer.test");
    let watcher = m.clients.client("watcher.test");

    let reload = m.call(&m.options(Some(&deployer), None), RELOAD).await;
    assert!(admitted(&reload), "operator certificate may reload: {reload:?}");
    let health = m.call(&m.options(Some(&watcher), None), GET_HEALTH).await;
    assert!(admitted(&health), "{health:?}");
    let denied = m.call(&m.options(Some(&watcher), None), RELOAD).await;
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert!(denied.message().contains("cert:watcher.test has role viewer"), "{denied:?}");

    let stranger = m.clients.client("stranger.test");
    let unlisted = m.call(&m.options(Some(&stranger), None), GET_HEALTH).await;
    assert_eq!(unlisted.code(), Code::Unauthenticated, "{unlisted:?}");
    assert!(unlisted.message().contains("\"stranger.test\""), "{unlisted:?}");
    let nothing = m.call(&m.options(None, None), GET_HEALTH).await;
    assert_eq!(nothing.code(), Code::Unauthenticated, "{nothing:?}");
    let token_only = m.call(&m.options(None, Some(token("operator"))), RELOAD).await;
    assert!(admitted(&token_only), "a token-only client still gets in: {token_only:?}");

    // The audit log names the certificate identity, admitted and refused alike.
    let admin = format!("Bearer {}", token("admin"));
    let transport =
        Transport::connect_with(&m.addr, &m.options(None, Some(token("admin")))).await.unwrap();
    let events = wait_for("the certificate principals in the audit log", || {
        let mut recovery = RecoveryServiceClient::new(transport.clone());
        let mut request = tonic::Request::new(pb::ListAuditEventsRequest::default());
        request.metadata_mut().insert("authorization", admin.parse().unwrap());
        async move {
            let events = recovery.list_audit_events(request).await.ok()?.into_inner().events;
            let principals = ["cert:deployer.test", "cert:watcher.test", "cert:stranger.test"];
            principals.iter().all(|p| events.iter().any(|e| e.principal == *p)).then_some(events)
        }
    })
    .await;
    let find = |principal: &str| events.iter().find(|e| e.principal == principal).unwrap();
    let deployer = find("cert:deployer.test");
    assert_eq!((deployer.rpc.as_str(), deployer.role.as_str()), (RELOAD, "operator"));
    assert_eq!(find("cert:watcher.test").code, "PERMISSION_DENIED");
    let stranger = find("cert:stranger.test");
    assert_eq!((stranger.code.as_str(), stranger.role.as_str()), ("UNAUTHENTICATED", ""));
}

#[tokio::test]
async fn foreign_certificates_are_refused_until_their_ca_is_added_by_a_reload() {
    let m = Mtls::start().await;
    let partner = Ca::new(m.dir.path(), "partner");
    let outsider = partner.client("deployer.test");
    // TLS 1.3: the client may finish its half of the handshake before the server refuses
    // the certificate, so the refusal shows as a failed connection, a broken first call or
    // a connection closed under the call (Cancelled) — never as an answer from the server.
    let refused = m.call(&m.options(Some(&outsider), None), GET_HEALTH).await;
    assert!(
        matches!(refused.code(), Code::Unavailable | Code::Unknown | Code::Cancelled),
        "the handshake fails, the gate never sees the call: {refused:?}"
    );

    let bundle = std::fs::read_to_string(&m.clients.pem).unwrap()
        + &std::fs::read_to_string(&partner.pem).unwrap();
    std::fs::write(m.dir.path().join("client-cas.pem"), bundle).unwrap();
    m.server.signal(libc::SIGHUP);
    wait_for("the partner CA after the reload (the operator may reload)", || async {
        admitted(&m.call(&m.options(Some(&outsider), None), RELOAD).await).then_some(())
    })
    .await;
    let insider = m.clients.client("watcher.test");
    let still = m.call(&m.options(Some(&insider), None), GET_HEALTH).await;
    assert!(admitted(&still), "the first CA stays in the bundle: {still:?}");
}

#[tokio::test]
async fn the_cli_presents_a_client_certificate() {
    let m = Mtls::start().await;
    let watcher = m.clients.client("watcher.test");
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let (ca, cert, key) = (path(&m.server_ca.pem), path(&watcher.cert), path(&watcher.key));
    let args =
        ["health", "--addr", &m.addr, "--tls-ca", &ca, "--tls-cert", &cert, "--tls-key", &key];
    let out = run_rebound(m.dir.path(), &args);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("SERVING"), "{out:?}");

    let without = run_rebound(m.dir.path(), &["health", "--addr", &m.addr, "--tls-ca", &ca]);
    assert!(!without.status.success(), "no certificate, no token: {without:?}");
    let half = run_rebound(m.dir.path(), &["health", "--addr", &m.addr, "--tls-cert", &cert]);
    assert_eq!(half.status.code(), Some(64), "--tls-cert needs --tls-key: {half:?}");
}

/// The HTTP listener uses the gRPC listener's certificate: /metrics over TLS (HTTP/1.1 by
/// ALPN), logged with its https URL; a plaintext request gets no answer.
#[tokio::test]
async fn the_http_listener_serves_metrics_over_tls_with_the_same_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (server, ca) = start(dir.path()).await;
    let (alpn, status, body) =
        support::http::get_tls(server.http_port, "/metrics", &ca.pem).await.unwrap();
    assert_eq!((alpn.as_str(), status), ("http/1.1", 200), "{body}");
    assert!(body.contains("rebound_grpc_server_started_total"), "{body}");
    let plain = support::http::get(server.http_port, "/metrics").await;
    assert!(plain.is_err(), "plaintext must not be served: {plain:?}");
    server.wait_log(&format!("metrics at https://127.0.0.1:{}/metrics", server.http_port)).await;
}
