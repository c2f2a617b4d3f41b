//! Config reload scenarios on the real process: RPC under concurrent read load, invalid
//! files, restart-only keys, SIGHUP, file watching, the watch stream, history across a
//! restart, and the CLI.

mod support;

use rebound::proto::v1 as pb;
use rebound::proto::v1::config_service_client::ConfigServiceClient;
use std::collections::HashMap;
use support::{Server, run_rebound, wait_for};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

async fn client(server: &Server) -> ConfigServiceClient<Channel> {
    ConfigServiceClient::new(server.channel().await)
}

/// The server's config file with `drain_timeout` set to `value`.
fn with_drain_timeout(server: &Server, value: &str) -> String {
    let text = std::fs::read_to_string(server.dir.join("rebound.toml")).unwrap();
    let start = text.find("drain_timeout = ").unwrap();
    let end = start + text[start..].find('\n').unwrap();
    format!("{}drain_timeout = \"{value}\"{}", &text[..start], &text[end..])
}

async fn reload_inline(
    client: &mut ConfigServiceClient<Channel>,
    content: String,
) -> pb::ReloadEvent {
    let request = pb::ReloadRequest { content: Some(content), restart_if_required: false };
    client.reload(request).await.unwrap().into_inner().event.unwrap()
}

#[tokio::test]
async fn reloads_under_concurrent_get_config_load_never_fail_or_mix() {
    let server = Server::start("").await;
    let variants = [with_drain_timeout(&server, "5s"), with_drain_timeout(&server, "6s")];
    let mut config = client(&server).await;

    let stop = tokio_util::sync::CancellationToken::new();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let mut reader = config.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                // hash → drain_timeout seen with it: one hash must always mean one value.
                let mut seen: HashMap<String, String> = HashMap::new();
                let (mut reads, mut errors) = (0u64, 0u64);
                while !stop.is_cancelled() {
                    match reader.get_config(pb::GetConfigRequest {}).await {
                        Ok(response) => {
                            let c = response.into_inner();
                            let value: toml::Table = toml::from_str(&c.toml).unwrap();
                            let drain =
                                value["server"]["drain_timeout"].as_str().unwrap().to_owned();
                            let previous =
                                seen.entry(c.content_hash).or_insert_with(|| drain.clone());
                            assert_eq!(
                                *previous, drain,
                                "a config hash was served with two contents"
                            );
                            reads += 1;
                        }
                        Err(_) => errors += 1,
                    }
                }
                (reads, errors, seen.len())
            })
        })
        .collect();

    for round in 0..40 {
        let event = reload_inline(&mut config, variants[round % 2].clone()).await;
        assert_eq!(event.result(), pb::ReloadResult::Success, "{event:?}");
    }
    stop.cancel();
    for reader in readers {
        let (reads, errors, versions) = reader.await.unwrap();
        assert_eq!(errors, 0);
        assert!(reads > 0);
        assert!(versions <= 3, "defaults, 5s and 6s at most");
    }
    let current = config.get_config(pb::GetConfigRequest {}).await.unwrap().into_inner();
    assert_eq!(current.version, 41);
}

#[tokio::test]
async fn an_invalid_file_is_rejected_with_field_paths_and_the_old_config_stays() {
    let server = Server::start("").await;
    let mut config = client(&server).await;
    let path = server.dir.join("rebound.toml");
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        good.replace("drain_timeout = \"10s\"", "drain_timeout = \"0s\"\nlisten_backlog = 5"),
    )
    .unwrap();

    let event =
        config.reload(pb::ReloadRequest::default()).await.unwrap().into_inner().event.unwrap();
    assert_eq!(event.result(), pb::ReloadResult::ValidationFailed);
    let paths: Vec<&str> = event.validation_errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["server.listen_backlog", "server.drain_timeout"], "all at once: {event:?}");

    std::fs::write(&path, good.replace("drain_timeout = \"10s\"", "drain_timeout = \"0s\""))
        .unwrap();
    let event =
        config.reload(pb::ReloadRequest::default()).await.unwrap().into_inner().event.unwrap();
    assert_eq!(event.result(), pb::ReloadResult::ValidationFailed);
    assert_eq!(event.validation_errors[0].path, "server.drain_timeout");

    let current = config.get_config(pb::GetConfigRequest {}).await.unwrap().into_inner();
    assert_eq!(current.version, 1, "old config still in force");
    assert!(current.toml.contains("drain_timeout = \"10s\""), "{}", current.toml);

    let validation = config
        .validate(pb::ValidateRequest {
            candidate: Some(pb::validate_request::Candidate::Content(
                "version = 1\n[server\n".into(),
            )),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!validation.valid);
    assert_eq!((validation.errors[0].line, validation.errors[0].column > 0), (2, true));
}

#[tokio::test]
async fn restart_only_keys_are_reported_and_nothing_is_applied() {
    let server = Server::start("").await;
    let mut config = client(&server).await;
    let content =
        with_drain_timeout(&server, "5s").replace("[server]", "[server]\nreflection = false");
    let event = reload_inline(&mut config, content).await;
    assert_eq!(event.result(), pb::ReloadResult::RestartRequired);
    let restart: Vec<_> =
        event.changes.iter().filter(|c| c.restart_required).map(|c| c.path.as_str()).collect();
    assert_eq!(restart, ["server.reflection"]);
    let current = config.get_config(pb::GetConfigRequest {}).await.unwrap().into_inner();
    assert_eq!(current.version, 1);
    assert!(current.toml.contains("drain_timeout = \"10s\""), "not half-applied");

    let err = config
        .reload(pb::ReloadRequest {
            content: Some("version = 1".into()),
            restart_if_required: true,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().starts_with("restart_if_required:"), "{err:?}");
}

#[tokio::test]
async fn sighup_reloads_the_file_and_watch_config_streams_the_event() {
    let server = Server::start("").await;
    // config.watch is off by default, and the start-up log must not claim otherwise.
    server.wait_log("serving addr=").await;
    assert!(!server.logs().contains("watching the config file"), "{}", server.logs());
    let mut config = client(&server).await;
    let mut watch =
        config.watch_config(pb::WatchConfigRequest::default()).await.unwrap().into_inner();
    std::fs::write(server.dir.join("rebound.toml"), with_drain_timeout(&server, "7s")).unwrap();
    server.signal(libc::SIGHUP);

    let event = tokio::time::timeout(support::DEADLINE, watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .event
        .unwrap();
    assert_eq!(event.result(), pb::ReloadResult::Success);
    assert_eq!(event.trigger(), pb::ReloadTrigger::Signal);
    assert_eq!(event.principal, "signal:SIGHUP");
    assert_eq!(event.changes[0].path, "server.drain_timeout");
    assert_eq!(event.changes[0].new_value, "\"7s\"");
    let current = config.get_config(pb::GetConfigRequest {}).await.unwrap().into_inner();
    assert_eq!(current.version, 2);
}

#[tokio::test]
async fn file_watching_reloads_on_change() {
    let server = Server::start("[config]\nwatch = true\nwatch_debounce = \"50ms\"\n").await;
    let mut config = client(&server).await;
    assert!(config.get_config(pb::GetConfigRequest {}).await.unwrap().into_inner().watch_enabled);
    server.wait_log("watching the config file").await;
    // Editors often write a temp file and rename it over the original.
    let temp = server.dir.join(".rebound.toml.swp");
    std::fs::write(&temp, with_drain_timeout(&server, "3s")).unwrap();
    std::fs::rename(&temp, server.dir.join("rebound.toml")).unwrap();

    let event = wait_for("a reload triggered by the watcher", || {
        let mut config = config.clone();
        async move {
            let list =
                config.list_reload_events(pb::ListReloadEventsRequest::default()).await.ok()?;
            list.into_inner().events.into_iter().find(|e| e.trigger() == pb::ReloadTrigger::Watch)
        }
    })
    .await;
    assert_eq!(event.result(), pb::ReloadResult::Success, "{event:?}");
    let stats =
        config.get_reload_stats(pb::GetReloadStatsRequest::default()).await.unwrap().into_inner();
    assert_eq!((stats.total, stats.successes, stats.current_version), (1, 1, 2));
}

#[tokio::test]
async fn history_survives_a_restart_and_pages_newest_first() {
    history_survives_a_restart(&[]).await;
}

#[tokio::test]
async fn history_survives_a_restart_and_pages_newest_first_on_postgres() {
    let Some((key, url)) = support::postgres_store().await else { return };
    history_survives_a_restart(&[(key, &url)]).await;
}

/// The history scenario with the store `store` names (empty: the default SQLite).
async fn history_survives_a_restart(store: &[(&str, &str)]) {
    let mut server = Server::start_with("", store).await;
    let mut config = client(&server).await;
    for value in ["1s", "2s", "3s"] {
        reload_inline(&mut config, with_drain_timeout(&server, value)).await;
    }
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit().await.code(), Some(0));

    let again = Server::spawn_in(&server.dir, "", store).await;
    again.wait_serving().await;
    let mut config = client(&again).await;
    let first = config
        .list_reload_events(pb::ListReloadEventsRequest { page_size: 2, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let values: Vec<_> = first.events.iter().map(|e| e.changes[0].new_value.as_str()).collect();
    assert_eq!(values, ["\"3s\"", "\"2s\""]);
    let second = config
        .list_reload_events(pb::ListReloadEventsRequest {
            page_size: 2,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.events.len(), 1);
    assert_eq!(second.events[0].changes[0].new_value, "\"1s\"");
    assert!(second.next_page_token.is_empty());

    let bad = config
        .list_reload_events(pb::ListReloadEventsRequest {
            page_token: "nonsense".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().starts_with("page_token:"));
}

#[tokio::test]
async fn cli_validate_and_reload() {
    let server = Server::start("").await;
    let addr = format!("127.0.0.1:{}", server.port);
    let good = server.dir.join("candidate.toml");
    std::fs::write(&good, with_drain_timeout(&server, "4s")).unwrap();
    let bad = server.dir.join("bad.toml");
    std::fs::write(&bad, "version = 1\n[store]\nurl = \"mysql://x\"\n").unwrap();

    let out =
        run_rebound(&server.dir, &["config", "validate", bad.to_str().unwrap(), "--addr", &addr]);
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stdout).contains("store.url"));

    let out =
        run_rebound(&server.dir, &["config", "validate", good.to_str().unwrap(), "--addr", &addr]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("server.drain_timeout"));

    let out = run_rebound(
        &server.dir,
        &["config", "reload", "--file", good.to_str().unwrap(), "--addr", &addr],
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("success"));

    let out = run_rebound(&server.dir, &["config", "show", "--addr", &addr]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("drain_timeout = \"4s\""));
    let out = run_rebound(&server.dir, &["config", "history", "--addr", &addr]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("success"));
    let out = run_rebound(&server.dir, &["config", "stats", "--addr", &addr]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("successes    1"));
}
