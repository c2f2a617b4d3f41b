//! Authentication and authorization against the real server: every RPC of the contract ×
//! {no token, wrong token, viewer, operator, admin}; denied calls in the audit log; rate
//! limits; token rotation through a config reload; the CLI with a token.

mod support;

use rebound::proto::v1 as pb;
use rebound::proto::v1::recovery_service_client::RecoveryServiceClient;
use support::auth::{self, Method, TOKENS, UNDECODABLE, token};
use support::{Server, run_rebound, wait_for};
use tonic::Code;

const ROLES: [&str; 3] = ["viewer", "operator", "admin"];

fn rank(role: &str) -> usize {
    ROLES.iter().position(|r| *r == role).unwrap_or_else(|| panic!("unknown role {role}"))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn denied(code: Code) -> bool {
    matches!(code, Code::Unauthenticated | Code::PermissionDenied)
}

/// Every method × every kind of caller, against the role its proto comment documents.
#[tokio::test]
async fn every_rpc_checks_credentials_and_role() {
    let (_dir, server) = auth::server("", &[]).await;
    let channel = server.channel().await;
    let methods = auth::methods();
    assert!(methods.len() >= 30, "the whole contract: {}", methods.len());
    let mut failures = Vec::new();
    for method in &methods {
        let mut cases: Vec<(String, Option<String>, Option<Code>)> = vec![
            ("no token".into(), None, Some(Code::Unauthenticated)),
            ("wrong token".into(), Some(bearer("not-a-token")), Some(Code::Unauthenticated)),
            (
                "not bearer".into(),
                Some(format!("Basic {}", token("admin"))),
                Some(Code::Unauthenticated),
            ),
        ];
        for role in ROLES {
            let expected =
                if rank(role) >= rank(&method.role) { None } else { Some(Code::PermissionDenied) };
            cases.push((role.into(), Some(bearer(token(role))), expected));
        }
        for (caller, authorization, expected) in cases {
            let status =
                auth::call(channel.clone(), method, authorization.as_deref(), UNDECODABLE).await;
            let ok = match expected {
                Some(code) => status.code() == code,
                None => !denied(status.code()),
            };
            if !ok {
                failures.push(format!(
                    "{} as {caller}: expected {}, got {:?} {}",
                    method.path,
                    expected.map_or("not denied".into(), |c| format!("{c:?}")),
                    status.code(),
                    status.message()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} wrong answers:\n{}", failures.len(), failures.join("\n"));
}

/// Probes stay open; reflection is open unless protected.
#[tokio::test]
async fn health_and_reflection_stay_open_unless_reflection_is_protected() {
    let reflection = Method {
        path: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo".into(),
        server_streaming: true,
        client_streaming: false,
        role: "viewer".into(),
    };
    let health = Method {
        path: "/grpc.health.v1.Health/Check".into(),
        server_streaming: false,
        client_streaming: false,
        role: "viewer".into(),
    };
    // An empty HealthCheckRequest ("" = the whole server) is zero bytes.
    let (_dir, open) = auth::server("", &[]).await;
    assert_eq!(auth::call(open.channel().await, &health, None, &[]).await.code(), Code::Ok);
    assert!(!denied(auth::call(open.channel().await, &reflection, None, &[]).await.code()));

    let (_dir, protected) = auth::server("protect_reflection = true\n", &[]).await;
    let channel = protected.channel().await;
    assert_eq!(auth::call(channel.clone(), &health, None, &[]).await.code(), Code::Ok);
    assert_eq!(
        auth::call(channel.clone(), &reflection, None, &[]).await.code(),
        Code::Unauthenticated
    );
    let viewer = bearer(token("viewer"));
    assert!(!denied(auth::call(channel, &reflection, Some(&viewer), &[]).await.code()));
}

/// Refused calls are audited with who was refused; restarts are rate limited with a hint.
#[tokio::test]
async fn denied_calls_are_audited_and_restarts_are_rate_limited() {
    let (_dir, server) = auth::server(
        "[rate_limit]\ncommands_per_minute = 1\n",
        &[("REBOUND_RATE_LIMIT__RESTARTS_PER_MINUTE", "1")],
    )
    .await;
    let channel = server.channel().await;
    let method = |path: &str| Method {
        path: path.into(),
        server_streaming: false,
        client_streaming: false,
        role: String::new(),
    };
    let restart = method("/rebound.v1.RestartService/Restart");
    let viewer = bearer(token("viewer"));
    let admin = bearer(token("admin"));
    let denied_read = method("/rebound.v1.ConfigService/Validate");
    assert_eq!(
        auth::call(channel.clone(), &restart, Some(&viewer), UNDECODABLE).await.code(),
        Code::PermissionDenied
    );
    assert_eq!(
        auth::call(channel.clone(), &denied_read, None, UNDECODABLE).await.code(),
        Code::Unauthenticated
    );

    // The first admitted restart counts (and fails to decode); the second is over the limit.
    let first = auth::call(channel.clone(), &restart, Some(&admin), UNDECODABLE).await;
    assert!(!denied(first.code()) && first.code() != Code::ResourceExhausted, "{first:?}");
    let limited = auth::call(channel.clone(), &restart, Some(&admin), UNDECODABLE).await;
    assert_eq!(limited.code(), Code::ResourceExhausted, "{limited:?}");
    assert!(limited.message().contains("retry after"), "{}", limited.message());
    let retry: u64 =
        limited.metadata().get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Device commands: IssueCommand and StartRollout share the configured budget.
    let operator = bearer(token("operator"));
    let issue = method("/rebound.v1.ClientCommandService/IssueCommand");
    let rollout = method("/rebound.v1.ClientCommandService/StartRollout");
    let first = auth::call(channel.clone(), &issue, Some(&operator), UNDECODABLE).await;
    assert!(!denied(first.code()) && first.code() != Code::ResourceExhausted, "{first:?}");
    let second = auth::call(channel.clone(), &rollout, Some(&operator), UNDECODABLE).await;
    assert_eq!(second.code(), Code::ResourceExhausted, "{second:?}");
    let admin_issue = auth::call(channel.clone(), &issue, Some(&admin), UNDECODABLE).await;
    assert_ne!(admin_issue.code(), Code::ResourceExhausted, "per principal: {admin_issue:?}");
    // A refused role is refused before the limit is looked at.
    let operator_restart =
        auth::call(channel.clone(), &restart, Some(&bearer(token("operator"))), UNDECODABLE).await;
    assert_eq!(operator_restart.code(), Code::PermissionDenied);

    let recovery = RecoveryServiceClient::new(channel.clone());
    let list = |request: pb::ListAuditEventsRequest| {
        let mut request = tonic::Request::new(request);
        request.metadata_mut().insert("authorization", admin.parse().unwrap());
        request
    };
    let events = wait_for("the denied calls in the audit log", || {
        let request = list(pb::ListAuditEventsRequest {
            outcome: pb::AuditOutcome::Denied as i32,
            ..Default::default()
        });
        let mut recovery = recovery.clone();
        async move {
            let events = recovery.list_audit_events(request).await.ok()?.into_inner().events;
            (events.len() >= 3).then_some(events)
        }
    })
    .await;
    let watcher = events.iter().find(|e| e.principal == "watcher").expect("viewer's denial");
    assert_eq!((watcher.rpc.as_str(), watcher.role.as_str()), (restart.path.as_str(), "viewer"));
    assert_eq!(watcher.code, "PERMISSION_DENIED");
    let anonymous = events.iter().find(|e| e.rpc == denied_read.path).expect("read denial");
    assert!(anonymous.principal.starts_with("peer:127.0.0.1:"), "{}", anonymous.principal);
    assert_eq!(anonymous.code, "UNAUTHENTICATED");
    assert!(events.iter().any(|e| e.principal == "deployer"));

    // The refused call's row is written after its answer: wait for it.
    wait_for("the rate-limited restart in the audit log", || {
        let request = list(pb::ListAuditEventsRequest {
            rpc: restart.path.clone(),
            principal: "root".into(),
            ..Default::default()
        });
        let mut recovery = recovery.clone();
        async move {
            let all = recovery.list_audit_events(request).await.ok()?.into_inner().events;
            all.iter().any(|e| e.code == "RESOURCE_EXHAUSTED" && e.role == "admin").then_some(())
        }
    })
    .await;
}

/// Rotating the tokens file and reloading swaps the tokens; a broken file is refused and the
/// old tokens keep working.
#[tokio::test]
async fn tokens_rotate_through_a_config_reload() {
    let (dir, server) = auth::server("", &[]).await;
    let channel = server.channel().await;
    let get_health = Method {
        path: "/rebound.v1.HealthService/GetHealth".into(),
        server_streaming: false,
        client_streaming: false,
        role: "viewer".into(),
    };
    let code = |token: &'static str| {
        let channel = channel.clone();
        let get_health = get_health.clone();
        async move { auth::call(channel, &get_health, Some(&bearer(token)), &[]).await.code() }
    };
    assert_eq!(code(token("viewer")).await, Code::Ok);

    let tokens = dir.path().join("tokens.toml");
    auth::write_tokens(&tokens, &[("rotated", "admin", "fresh-token"), TOKENS[2]]);
    let reload = run_rebound(
        dir.path(),
        &["config", "reload", "--addr", &server.addr, "--token", token("operator")],
    );
    // The operator's own token is gone after the rotation, but it was valid for this call.
    assert!(reload.status.success(), "{}", String::from_utf8_lossy(&reload.stderr));
    assert_eq!(code("fresh-token").await, Code::Ok);
    assert_eq!(code(token("viewer")).await, Code::Unauthenticated, "rotated out");

    std::fs::write(&tokens, "[[tokens]]\nname = \"broken\"\n").unwrap();
    let reload = run_rebound(
        dir.path(),
        &["config", "reload", "--addr", &server.addr, "--token", "fresh-token"],
    );
    assert!(!reload.status.success(), "a broken tokens file must refuse the reload");
    assert!(
        String::from_utf8_lossy(&reload.stdout).contains("tokens.toml")
            || String::from_utf8_lossy(&reload.stderr).contains("tokens.toml"),
        "{reload:?}"
    );
    assert_eq!(code("fresh-token").await, Code::Ok, "old tokens kept");
}

/// An empty tokens file would lock everyone out: a start refuses it (exit 64, naming the
/// file and the switch), a reload refuses it with the reason in the event and keeps the old
/// tokens, and `auth.allow_empty_tokens = true` accepts it.
#[tokio::test]
async fn an_empty_tokens_file_is_refused_unless_allowed() {
    use rebound::proto::v1::config_service_client::ConfigServiceClient;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tokens.toml"), "").unwrap();
    let auth = "[auth]\ntokens_file = \"tokens.toml\"\n";
    let mut refused = Server::spawn_in(dir.path(), auth, &[]).await;
    assert_eq!(refused.wait_exit().await.code(), Some(64), "{}", refused.logs());
    let said = refused.logs();
    assert!(said.contains("tokens.toml") && said.contains("allow_empty_tokens"), "{said}");

    let allowed =
        Server::spawn_in(dir.path(), &format!("{auth}allow_empty_tokens = true\n"), &[]).await;
    allowed.wait_serving().await;
    drop(allowed);

    let (dir, server) = auth::server("", &[]).await;
    std::fs::write(dir.path().join("tokens.toml"), "# emptied by mistake\n").unwrap();
    let mut config = ConfigServiceClient::new(server.channel().await);
    let mut request = tonic::Request::new(pb::ReloadRequest::default());
    request.metadata_mut().insert("authorization", bearer(token("admin")).parse().unwrap());
    let event = config.reload(request).await.unwrap().into_inner().event.unwrap();
    assert_eq!(event.result(), pb::ReloadResult::RolledBack, "{event:?}");
    assert!(event.error.contains("no [[tokens]] or [[clients]]"), "{event:?}");
    let mut request = tonic::Request::new(pb::GetReloadStatsRequest::default());
    request.metadata_mut().insert("authorization", bearer(token("viewer")).parse().unwrap());
    assert!(config.get_reload_stats(request).await.is_ok(), "the old tokens stay");
}

/// The CLI sends --token or REBOUND_TOKEN, and says what to do without one.
#[tokio::test]
async fn the_cli_authenticates_with_a_flag_or_the_environment() {
    let (dir, server) = auth::server("", &[]).await;
    let health = |extra: &[&str], env: Option<&str>| {
        let mut command = std::process::Command::new(support::rebound_bin());
        command.args(["health", "--addr", &server.addr]).args(extra).current_dir(dir.path());
        command.env_remove("REBOUND_TOKEN");
        if let Some(token) = env {
            command.env("REBOUND_TOKEN", token);
        }
        command.output().unwrap()
    };
    let without = health(&[], None);
    assert!(!without.status.success());
    let stderr = String::from_utf8_lossy(&without.stderr);
    assert!(stderr.contains("UNAUTHENTICATED") && stderr.contains("REBOUND_TOKEN"), "{stderr}");
    assert!(health(&["--token", token("viewer")], None).status.success());
    assert!(health(&[], Some(token("viewer"))).status.success());
    let wrong = health(&["--token", "nope"], None);
    assert!(!wrong.status.success());
    let audit = || {
        let args = ["recovery", "audit", "--outcome", "denied", "--addr", &server.addr];
        let output = run_rebound(dir.path(), &[&args[..], &["--token", token("admin")]].concat());
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let listed = wait_for("the refused GetHealth calls in `recovery audit`", || async {
        let text = audit();
        (text.matches("/rebound.v1.HealthService/GetHealth").count() >= 2).then_some(text)
    })
    .await;
    assert!(listed.contains("UNAUTHENTICATED"), "{listed}");
}

/// Serving without authentication beyond loopback is warned about loudly.
#[tokio::test]
async fn serving_without_auth_off_loopback_warns() {
    let server = Server::spawn("", &[("REBOUND_SERVER__LISTEN", "0.0.0.0:0")]).await;
    server.wait_log("AUTHENTICATION IS OFF").await;
    let (_dir, with_auth) = auth::server("", &[]).await;
    assert!(!with_auth.logs().contains("AUTHENTICATION IS OFF"));
}

/// `rebound auth new-token` prints a token and its entry; `hash-token` agrees with it; the
/// entry, appended to the tokens file and reloaded, lets the token in.
#[tokio::test]
async fn new_tokens_from_the_cli_work_after_a_reload() {
    let (dir, server) = auth::server("", &[]).await;
    let made =
        run_rebound(dir.path(), &["auth", "new-token", "--name", "robot", "--role", "operator"]);
    assert!(made.status.success(), "{made:?}");
    let stdout = String::from_utf8(made.stdout).unwrap();
    let (new_token, entry) = stdout.split_once('\n').unwrap();
    assert_eq!(new_token.len(), 64, "{stdout}");
    let mut hash = std::process::Command::new(support::rebound_bin())
        .args(["auth", "hash-token"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    hash.stdin.take().unwrap().write_all(new_token.as_bytes()).unwrap();
    let digest = String::from_utf8(hash.wait_with_output().unwrap().stdout).unwrap();
    assert!(entry.contains(&format!("sha256 = {:?}", digest.trim())), "{entry}");

    let tokens = dir.path().join("tokens.toml");
    let mut file = std::fs::read_to_string(&tokens).unwrap();
    file.push_str(entry);
    std::fs::write(&tokens, file).unwrap();
    let validate = |token: &str| {
        run_rebound(dir.path(), &["config", "validate", "--addr", &server.addr, "--token", token])
    };
    assert!(!validate(new_token).status.success(), "not loaded yet");
    server.signal(libc::SIGHUP);
    wait_for("the new token after SIGHUP", || async {
        validate(new_token).status.success().then_some(())
    })
    .await;
}

/// The unix socket is private to the server's user unless configured otherwise.
#[tokio::test]
async fn the_unix_socket_gets_its_configured_mode() {
    use std::os::unix::fs::PermissionsExt;
    let sockets = tempfile::tempdir().unwrap();
    for (mode, expected) in [(None, 0o600), (Some("0660"), 0o660)] {
        let path = sockets.path().join(format!("{expected:o}.sock"));
        let mut env = vec![("REBOUND_SERVER__UNIX_SOCKET", path.to_str().unwrap())];
        if let Some(mode) = mode {
            env.push(("REBOUND_SERVER__UNIX_SOCKET_MODE", mode));
        }
        let server = Server::spawn("", &env).await;
        server.wait_serving().await;
        let actual = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(actual, expected, "{}", path.display());
        let leftovers = std::fs::read_dir(sockets.path()).unwrap().count();
        assert_eq!(leftovers, if mode.is_some() { 2 } else { 1 }, "no staging file left");
    }
}

/// A reload that may restart the server needs the role that may restart it.
#[tokio::test]
async fn reload_with_restart_needs_admin() {
    use rebound::proto::v1::config_service_client::ConfigServiceClient;
    let (_dir, server) = auth::server("", &[]).await;
    let mut config = ConfigServiceClient::new(server.channel().await);
    let reload = |role: &str| {
        let mut request =
            tonic::Request::new(pb::ReloadRequest { content: None, restart_if_required: true });
        request.metadata_mut().insert("authorization", bearer(token(role)).parse().unwrap());
        request
    };
    let refused = config.reload(reload("operator")).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains("restart_if_required"), "{}", refused.message());
    let event = config.reload(reload("admin")).await.unwrap().into_inner().event.unwrap();
    assert_eq!(event.result(), pb::ReloadResult::Unchanged);
}
