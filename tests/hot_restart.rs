//! Hot restart of the real `rebound serve` process under load: handover and exec with zero
//! failed RPCs, rollback of a successor that dies, a tampered snapshot, streams told to
//! reconnect, one restart at a time, history that survives, SIGUSR2.

mod support;

use rebound::proto::v1 as pb;
use support::restart::{
    KillOnDrop, Load, request, restart_client, running, serving, stop_serving, wait_terminal,
};
use support::{Server, latest_report, wait_for};

/// Unary callers of the load.
const CLIENTS: usize = 4;

/// The successor's report: a handover (not a crash) of restart `id`, and its snapshot check.
async fn check_successor_report(addr: &str, id: &str, snapshot: pb::SnapshotOutcome) {
    let report = latest_report(addr).await;
    assert_eq!(report.previous_run(), pb::PreviousRun::CleanShutdown, "{report:?}");
    assert_eq!(report.restart_id, id, "{report:?}");
    let check = report.snapshot.clone().unwrap();
    assert_eq!((check.snapshot(), check.checked), (snapshot, true), "{report:?}");
    let restored = snapshot == pb::SnapshotOutcome::Restored;
    assert_eq!(check.consistent, restored, "{report:?}");
    let mismatch = report.categories.iter().find(|c| c.name == "snapshot_mismatch").unwrap();
    assert_eq!(mismatch.count, u64::from(!restored), "{report:?}");
}

/// `count` restarts in `mode` under load, with the store `store` names (empty: the default
/// SQLite; or [`support::postgres_store`]: the successor connects to the same database).
async fn restarts_under_load(mode: pb::RestartMode, count: usize, store: &[(&str, &str)]) {
    let mut server = Server::start_with("", store).await;
    let addr = server.addr.clone();
    let load = Load::start(&addr, CLIENTS).await;
    let mut last_pid = server.pid();
    let mut guard = None;
    for round in 1..=count as u64 {
        let before = load.ok();
        let id = request(&addr, mode, "").await;
        let event = wait_terminal(&addr, &id).await;
        assert_eq!(event.phase(), pb::RestartPhase::Complete, "round {round}: {event:?}");
        assert_eq!(event.generation_after, round, "round {round}");
        assert_eq!(event.snapshot(), pb::SnapshotOutcome::Restored, "round {round}: {event:?}");
        let (pid, generation) = serving(&addr).await;
        assert_eq!(generation, round);
        match mode {
            pb::RestartMode::Exec => assert_eq!(pid, server.pid(), "exec keeps the pid"),
            _ => assert_ne!(pid, last_pid, "handover changes the pid"),
        }
        if pid != server.pid() {
            guard = Some(KillOnDrop(pid));
        }
        last_pid = pid;
        // The load kept going through the restart.
        let target = before + 10;
        wait_for("load progress", || async { (load.ok() >= target).then_some(()) }).await;
    }
    let report = load.stop().await;
    assert!(report.errors.is_empty(), "{} failed RPCs: {:?}", report.errors.len(), report.errors);
    assert!(report.ok > 100, "load ran: {report:?}");
    eprintln!("{mode:?}: {count} restarts, {} RPCs, 0 failed", report.ok);
    if mode == pb::RestartMode::Handover {
        assert_eq!(server.wait_exit().await.code(), Some(0), "the first process exits cleanly");
    }
    stop_serving(&addr).await;
    drop(guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_handover_and_five_exec_restarts_on_postgres_fail_no_rpc() {
    let Some((key, url)) = support::postgres_store().await else { return };
    restarts_under_load(pb::RestartMode::Handover, 5, &[(key, &url)]).await;
    let Some((key, url)) = support::postgres_store().await else { return };
    restarts_under_load(pb::RestartMode::Exec, 5, &[(key, &url)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_handover_restarts_under_load_fail_no_rpc() {
    restarts_under_load(pb::RestartMode::Handover, 20, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_exec_restarts_under_load_fail_no_rpc() {
    restarts_under_load(pb::RestartMode::Exec, 20, &[]).await;
}

/// Scrapers of `/metrics` on the HTTP listener go on through handover and exec restarts
/// without one failed request: the successor serves on the inherited HTTP socket, and its
/// metrics count the restart it completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_scrapes_fail_none_through_handover_and_exec_restarts() {
    use pb::RestartMode::{Exec, Handover};
    use support::http::{ScrapeLoad, get, parse_with_prometheus, sample};
    let server = Server::start("").await;
    let (addr, http_port) = (server.addr.clone(), server.http_port);
    let load = ScrapeLoad::start(http_port, CLIENTS);
    wait_for("first scrapes", || async { (load.ok() >= 10).then_some(()) }).await;
    let mut guard = None;
    for (round, mode) in [Handover, Exec, Handover, Exec, Handover].into_iter().enumerate() {
        let before = load.ok();
        let id = request(&addr, mode, "").await;
        let event = wait_terminal(&addr, &id).await;
        assert_eq!(event.phase(), pb::RestartPhase::Complete, "round {round}: {event:?}");
        let (pid, _) = serving(&addr).await;
        // Replacing a guard kills the pid it held: only for a new pid (exec keeps it).
        if pid != server.pid() && guard.as_ref().is_none_or(|g: &KillOnDrop| g.0 != pid) {
            guard = Some(KillOnDrop(pid));
        }
        let target = before + 20;
        wait_for("scrapes after the restart", || async { (load.ok() >= target).then_some(()) })
            .await;
    }
    let (ok, errors) = load.stop().await;
    assert!(
        errors.is_empty(),
        "{} failed scrapes of {}: {errors:?}",
        errors.len(),
        ok + errors.len() as u64
    );
    let (pid, generation) = serving(&addr).await;
    assert_eq!(generation, 5);
    wait_for("the serving process alone holding the http socket", || async {
        (support::restart::listener_holders(http_port) == [pid]).then_some(())
    })
    .await;
    let (status, body) = get(http_port, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    let samples = parse_with_prometheus(&body);
    let succeeded = sample(&samples, "rebound_restarts_total", &["outcome=succeeded"]);
    assert!(succeeded >= Some(1.0), "{body}");
    eprintln!("5 restarts, {ok} scrapes, 0 failed");
    stop_serving(&addr).await;
    drop(guard);
}

#[tokio::test]
async fn a_successor_that_exits_at_once_is_rolled_back_and_the_old_process_keeps_serving() {
    let server = Server::start("").await;
    let load = Load::start(&server.addr, 2).await;
    let id = request(&server.addr, pb::RestartMode::Handover, "/bin/false").await;
    let event = wait_terminal(&server.addr, &id).await;
    assert_eq!(event.phase(), pb::RestartPhase::RolledBack, "{event:?}");
    assert_eq!(event.outcome(), pb::RestartOutcome::RolledBack);
    assert_eq!(event.failed_phase(), pb::RestartPhase::StartingSuccessor);
    assert!(event.error.contains("exited with status 1"), "{}", event.error);
    assert_eq!(event.generation_after, 0);
    let (pid, generation) = serving(&server.addr).await;
    assert_eq!((pid, generation), (server.pid(), 0), "same process, same generation");
    let report = load.stop().await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    // A good restart works afterwards: the loops were resumed, nothing is left in progress.
    let id = request(&server.addr, pb::RestartMode::Handover, "").await;
    assert_eq!(wait_terminal(&server.addr, &id).await.phase(), pb::RestartPhase::Complete);
    let (pid, _) = serving(&server.addr).await;
    let _successor = KillOnDrop(pid);
}

#[tokio::test]
async fn a_successor_that_is_never_ready_is_killed_after_ready_timeout() {
    let server = Server::start("[restart]\nready_timeout = \"500ms\"").await;
    let slow = support::restart::script(&server.dir, "slow.sh", "exec sleep 60");
    let id = request(&server.addr, pb::RestartMode::Handover, &slow).await;
    let event = wait_terminal(&server.addr, &id).await;
    assert_eq!(event.phase(), pb::RestartPhase::RolledBack, "{event:?}");
    assert!(event.error.contains("not ready within 500ms"), "{}", event.error);
    assert_eq!(serving(&server.addr).await.0, server.pid());
}

#[tokio::test]
async fn a_tampered_snapshot_is_discarded_and_the_successor_serves_from_the_store() {
    let server = Server::start("").await;
    // The successor binary flips a byte in every snapshot before starting the real server.
    let tamper = support::restart::wrapper(
        &server.dir,
        "tamper.sh",
        "for f in rebound-data/snapshots/*.snap; do printf 'X' | dd of=\"$f\" bs=1 seek=60 conv=notrunc 2>/dev/null; done",
    );
    let id = request(&server.addr, pb::RestartMode::Handover, &tamper).await;
    let event = wait_terminal(&server.addr, &id).await;
    assert_eq!(event.phase(), pb::RestartPhase::Complete, "{event:?}");
    assert_eq!(event.snapshot(), pb::SnapshotOutcome::Tampered, "{event:?}");
    assert!(event.snapshot_detail.contains("sha256"), "{}", event.snapshot_detail);
    let (pid, generation) = serving(&server.addr).await;
    let _successor = KillOnDrop(pid);
    assert_eq!(generation, 1);
    check_successor_report(&server.addr, &id, pb::SnapshotOutcome::Tampered).await;
    // Statistics were rebuilt from the store: the restart is counted.
    let stats = restart_client(&server.addr)
        .await
        .test_reconnect(pb::TestReconnectRequest::default())
        .await
        .unwrap()
        .into_inner()
        .stats
        .unwrap();
    assert_eq!((stats.restarts_total, stats.restarts_succeeded), (1, 1), "{stats:?}");
}

#[tokio::test]
async fn an_encrypted_snapshot_is_restored_and_a_wrong_key_makes_it_undecryptable() {
    let key_config = "[restart]\nsnapshot_key_file = \"snapshot.key\"";
    let server = Server::spawn(key_config, &[]).await;
    std::fs::write(server.dir.join("snapshot.key"), format!("{}\n", "5a".repeat(32))).unwrap();
    server.wait_serving().await;
    let id = request(&server.addr, pb::RestartMode::Handover, "").await;
    let event = wait_terminal(&server.addr, &id).await;
    assert_eq!(event.snapshot(), pb::SnapshotOutcome::Restored, "{event:?}");
    assert!(event.snapshot_detail.contains("chacha20poly1305"), "{}", event.snapshot_detail);
    let first = KillOnDrop(serving(&server.addr).await.0);
    check_successor_report(&server.addr, &id, pb::SnapshotOutcome::Restored).await;

    let rekey = support::restart::wrapper(
        &server.dir,
        "rekey.sh",
        &format!("printf '{}' > snapshot.key", "a5".repeat(32)),
    );
    let id = request(&server.addr, pb::RestartMode::Handover, &rekey).await;
    let event = wait_terminal(&server.addr, &id).await;
    assert_eq!(event.phase(), pb::RestartPhase::Complete, "{event:?}");
    assert_eq!(event.snapshot(), pb::SnapshotOutcome::Undecryptable, "{event:?}");
    let _second = KillOnDrop(serving(&server.addr).await.0);
    drop(first);
}

#[tokio::test]
async fn open_streams_end_with_unavailable_and_a_reconnect_message() {
    use tokio_stream::StreamExt;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let server = Server::start("").await;
    let mut health = HealthClient::new(server.channel().await)
        .watch(HealthCheckRequest { service: String::new() })
        .await
        .unwrap()
        .into_inner();
    health.next().await.unwrap().unwrap();
    let mut phases = restart_client(&server.addr)
        .await
        .watch_restart(pb::WatchRestartRequest::default())
        .await
        .unwrap()
        .into_inner();
    let id = request(&server.addr, pb::RestartMode::Handover, "").await;
    let mut seen = Vec::new();
    let ended = loop {
        match phases.next().await {
            Some(Ok(message)) => seen.push(message.restart.unwrap().phase()),
            Some(Err(status)) => break status,
            None => panic!("stream ended without a status after {seen:?}"),
        }
    };
    assert_eq!(ended.code(), tonic::Code::Unavailable, "{ended:?}");
    assert!(ended.message().contains("reconnect"), "{ended:?}");
    assert_eq!(seen.first(), Some(&pb::RestartPhase::Preparing), "{seen:?}");
    assert!(seen.contains(&pb::RestartPhase::StartingSuccessor), "{seen:?}");
    let health_end = loop {
        match health.next().await {
            Some(Ok(_)) => continue,
            Some(Err(status)) => break status,
            None => panic!("health watch ended without a status"),
        }
    };
    assert_eq!(health_end.code(), tonic::Code::Unavailable);
    assert!(health_end.message().contains("reconnect"), "{health_end:?}");
    // Calling again reaches the successor, which reports the end of the same restart.
    let mut again = restart_client(&server.addr)
        .await
        .watch_restart(pb::WatchRestartRequest { restart_id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(message) = again.next().await {
        last = Some(message.unwrap().restart.unwrap());
    }
    let last = last.expect("at least the current state");
    assert_eq!(last.phase(), pb::RestartPhase::Complete);
    assert!(last.drain.unwrap().streams_told_to_reconnect >= 2, "{last:?}");
    let _successor = KillOnDrop(last.new_pid);
}

#[tokio::test]
async fn a_second_restart_while_one_runs_is_failed_precondition() {
    let server = Server::start("").await;
    let slow = support::restart::wrapper(&server.dir, "slow.sh", "sleep 1");
    let id = request(&server.addr, pb::RestartMode::Handover, &slow).await;
    let mut client = restart_client(&server.addr).await;
    let refused = client.restart(pb::RestartRequest::default()).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("restart_in_progress") && refused.message().contains(&id),
        "{refused:?}"
    );
    let report =
        client.prepare_shutdown(pb::PrepareShutdownRequest::default()).await.unwrap().into_inner();
    assert!(!report.ready);
    assert_eq!(report.checks.unwrap().restart_in_progress_id, id);
    assert_eq!(report.blocking_issues[0].code(), pb::BlockingIssueCode::RestartInProgress);
    assert_eq!(wait_terminal(&server.addr, &id).await.phase(), pb::RestartPhase::Complete);
    let _successor = KillOnDrop(serving(&server.addr).await.0);
}

#[tokio::test]
async fn bad_requests_name_the_field_and_a_missing_binary_blocks() {
    let server = Server::start("").await;
    let mut client = restart_client(&server.addr).await;
    let relative = pb::RestartRequest { binary: "bin/rebound".into(), ..Default::default() };
    let status = client.restart(relative).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().starts_with("binary:"), "{status:?}");
    let zero = pb::RestartRequest {
        drain_timeout: Some(prost_types::Duration { seconds: 0, nanos: 0 }),
        ..Default::default()
    };
    let status = client.restart(zero).await.unwrap_err();
    assert!(status.message().starts_with("drain_timeout:"), "{status:?}");
    let missing = pb::PrepareShutdownRequest { binary: "/nonexistent/rebound".into(), mode: 0 };
    let report = client.prepare_shutdown(missing).await.unwrap().into_inner();
    assert!(!report.ready);
    assert_eq!(report.blocking_issues[0].code(), pb::BlockingIssueCode::SuccessorBinaryMissing);
    let checks = report.checks.clone().unwrap();
    assert!(!checks.successor_binary_present && checks.in_flight_rpcs == 0, "{checks:?}");
    assert_eq!(report.resolved_mode(), pb::RestartMode::Handover, "AUTO is handover unless pid 1");
    let status = client
        .restart(pb::RestartRequest { binary: "/nonexistent/rebound".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert!(status.message().contains("successor_binary_missing"), "{status:?}");
    let ready = client.prepare_shutdown(pb::PrepareShutdownRequest::default()).await.unwrap();
    assert!(ready.into_inner().ready);
}

#[tokio::test]
async fn sigusr2_restarts_and_the_history_and_sessions_survive() {
    let mut server = Server::start("").await;
    let mut client = restart_client(&server.addr).await;
    let session = pb::TestReconnectRequest { session_id: "cli-1".into(), timeout: None };
    let first = client.test_reconnect(session.clone()).await.unwrap().into_inner();
    assert!(first.success, "{first:?}");
    assert!(!first.session.unwrap().seen_before);

    server.signal(libc::SIGUSR2);
    let addr = server.addr.clone();
    let pid = wait_for("generation 1 after SIGUSR2", || {
        let addr = addr.clone();
        async move {
            let (pid, generation) = support::restart::try_serving(&addr).await?;
            (generation == 1).then_some(pid)
        }
    })
    .await;
    let successor = KillOnDrop(pid);
    assert_eq!(server.wait_exit().await.code(), Some(0));
    let again = restart_client(&addr).await.test_reconnect(session).await.unwrap().into_inner();
    let session = again.session.unwrap();
    assert!(session.seen_before && session.reconnected_across_restart, "{session:?}");
    assert_eq!((session.calls, session.previous_generation, again.generation), (2, 0, 1));
    assert!(again.stats.unwrap().connections_drained >= 1);

    // A rollback, then a cold restart of the whole thing: the history is still there.
    let id = request(&addr, pb::RestartMode::Handover, "/bin/false").await;
    wait_terminal(&addr, &id).await;
    stop_serving(&addr).await;
    drop(successor);
    let cold = Server::spawn_in(&server.dir, "", &[]).await;
    cold.wait_serving().await;
    let mut client = restart_client(&cold.addr).await;
    let page = client
        .list_restart_events(pb::ListRestartEventsRequest { page_size: 1, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.events[0].outcome(), pb::RestartOutcome::RolledBack);
    assert!(!page.next_page_token.is_empty());
    let rest = client
        .list_restart_events(pb::ListRestartEventsRequest {
            page_size: 10,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.events.len(), 1);
    assert_eq!(rest.events[0].principal, "system", "SIGUSR2 restarts are the system's");
    assert_eq!(rest.events[0].outcome(), pb::RestartOutcome::Succeeded);
    assert!(rest.next_page_token.is_empty());
    let filtered = client
        .list_restart_events(pb::ListRestartEventsRequest {
            outcomes: vec![pb::RestartOutcome::Succeeded as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(filtered.events.len(), 1);
    let status = client.get_restart_status(pb::GetRestartStatusRequest::default()).await.unwrap();
    assert_eq!(status.into_inner().restart.unwrap().outcome(), pb::RestartOutcome::RolledBack);
}

#[tokio::test]
async fn cli_restart_follows_the_phases_and_exits_non_zero_on_rollback() {
    let server = Server::start("").await;
    let addr = format!("127.0.0.1:{}", server.port);
    let cli = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--addr", addr.as_str()]);
        support::run_rebound(&server.dir, &all)
    };
    let prepare = cli(&["restart", "prepare"]);
    assert_eq!(prepare.status.code(), Some(0), "{}", String::from_utf8_lossy(&prepare.stderr));
    assert!(String::from_utf8_lossy(&prepare.stdout).contains("ready              yes"));

    let out = cli(&["restart", "--mode", "handover", "--wait"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for phase in ["preparing", "starting_successor", "closing_connections", "finalizing"] {
        assert!(text.contains(phase), "{phase} missing from:\n{text}");
    }
    assert!(text.contains("phase       complete (100%)"), "{text}");
    let (pid, generation) = serving(&server.addr).await;
    let _successor = KillOnDrop(pid);
    assert_eq!(generation, 1);

    let out = cli(&["restart", "--binary", "/bin/false", "--wait"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("rolled_back") && text.contains("exited with status 1"), "{text}");

    let out = cli(&["restart", "history"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 3, "header and two restarts:\n{text}");
    assert!(text.lines().nth(1).unwrap().contains("rolled_back"), "newest first:\n{text}");
    let out = cli(&["restart", "status"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("generation 1"));
    let out = cli(&["restart", "--binary", "relative/path"]);
    assert_eq!(out.status.code(), Some(64), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn bench_restart_smoke_counts_zero_failed_rpcs() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::run_rebound(dir.path(), &["bench", "restart", "--smoke"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("handover.failed_rpcs=0 count"), "{text}");
    assert!(text.contains("handover.restarts=3 count"), "{text}");
    assert!(text.contains("stop_start.failed_rpcs="), "{text}");
}

#[tokio::test]
async fn a_reload_with_restart_if_required_restarts_into_the_new_config() {
    use rebound::proto::v1::config_service_client::ConfigServiceClient;
    let server = Server::start("").await;
    let file = server.dir.join("rebound.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("[server]", "[server]\nreflection = false")).unwrap();
    let connect = || async { ConfigServiceClient::new(server.channel().await) };

    let reload = pb::ReloadRequest { content: None, restart_if_required: true };
    let event = connect().await.reload(reload).await.unwrap().into_inner().event.unwrap();
    assert_eq!(event.result(), pb::ReloadResult::RestartRequired, "{event:?}");
    assert!(!event.restart_id.is_empty(), "{event:?}");
    assert!(event.error.contains("hot restart"), "{}", event.error);
    let restart = wait_terminal(&server.addr, &event.restart_id).await;
    assert_eq!(restart.outcome(), pb::RestartOutcome::Succeeded, "{restart:?}");
    assert_eq!(restart.reason(), pb::RestartReason::ConfigurationUpdate);

    let (pid, generation) = serving(&server.addr).await;
    let _successor = KillOnDrop(pid);
    assert_eq!(generation, 1);
    assert_ne!(pid, server.pid());
    let mut config = connect().await;
    let current = config.get_config(pb::GetConfigRequest {}).await.unwrap().into_inner();
    assert!(current.toml.contains("reflection = false"), "{}", current.toml);
    let history = config
        .list_reload_events(pb::ListReloadEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.events[0].restart_id, event.restart_id, "the stored event names it");
}

#[tokio::test]
async fn a_key_beside_the_data_turns_snapshot_encryption_on_without_config() {
    let server = Server::start("").await;
    let key = server.dir.join("rebound-data/snapshot.key");
    std::fs::write(&key, format!("{}\n", "3c".repeat(32))).unwrap();
    let id = request(&server.addr, pb::RestartMode::Handover, "").await;
    let event = wait_terminal(&server.addr, &id).await;
    let _successor = KillOnDrop(serving(&server.addr).await.0);
    assert_eq!(event.snapshot(), pb::SnapshotOutcome::Restored, "{event:?}");
    assert!(event.snapshot_detail.contains("chacha20poly1305"), "{}", event.snapshot_detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_server_stops_its_hot_restart_successor() {
    // The successor leads a process group of its own and is not the test's child: the
    // test support must find it, or it outlives the test.
    let server = Server::start("").await;
    let addr = server.addr.clone();
    let id = request(&addr, pb::RestartMode::Handover, "").await;
    assert_eq!(wait_terminal(&addr, &id).await.phase(), pb::RestartPhase::Complete);
    let (successor, _) = serving(&addr).await;
    assert_ne!(successor, server.pid());
    assert!(running(successor));
    drop(server);
    wait_for("the successor to exit", || async { (!running(successor)).then_some(()) }).await;
}
