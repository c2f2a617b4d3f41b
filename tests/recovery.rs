//! Recovery scenarios on the real process: the startup report after a clean stop and after
//! kill -9, backup → restore round trip while serving, the audit log of mutating calls, and
//! retention cleanup.

mod support;

use rebound::proto::v1 as pb;
use rebound::proto::v1::config_service_client::ConfigServiceClient;
use rebound::proto::v1::recovery_service_client::RecoveryServiceClient;
use support::{Server, latest_report, run_rebound};
use tonic::transport::Channel;

async fn recovery(server: &Server) -> RecoveryServiceClient<Channel> {
    RecoveryServiceClient::new(server.channel().await)
}

fn integrity(report: &pb::RecoveryReport) -> &pb::RecoveryCategory {
    report.categories.iter().find(|c| c.name == "store_integrity").unwrap()
}

fn integrity_action(report: &pb::RecoveryReport) -> &str {
    &integrity(report).action
}

/// The latest report once the integrity scan that runs after SERVING has updated it.
async fn scanned_report(server: &Server) -> pb::RecoveryReport {
    support::wait_for("the integrity scan to update the report", || async {
        let report = latest_report(&server.addr).await;
        (!integrity_action(&report).starts_with("pending")).then_some(report)
    })
    .await
}

async fn reload(server: &Server, drain: &str) -> pb::ReloadEvent {
    // The listeners as the server's config file has them (port 0), so only the drain changes.
    let content = format!(
        "version = 1\n[server]\nlisten = \"127.0.0.1:0\"\nhttp_listen = \"127.0.0.1:0\"\n\
         drain_timeout = \"{drain}\"\n"
    );
    ConfigServiceClient::new(server.channel().await)
        .reload(pb::ReloadRequest { content: Some(content), restart_if_required: false })
        .await
        .unwrap()
        .into_inner()
        .event
        .unwrap()
}

#[tokio::test]
async fn the_startup_report_tells_a_clean_stop_from_a_crash() {
    let mut server = Server::start("").await;
    let report = latest_report(&server.addr).await;
    assert_eq!(report.previous_run(), pb::PreviousRun::FirstStart);
    assert_eq!(report.pid, server.pid());
    let integrity = report.categories.iter().find(|c| c.name == "store_integrity").unwrap();
    assert_eq!(integrity.count, 0);
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit().await.code(), Some(0));

    let mut clean = Server::spawn_in(&server.dir, "", &[]).await;
    clean.wait_serving().await;
    let report = latest_report(&clean.addr).await;
    assert_eq!(report.previous_run(), pb::PreviousRun::CleanShutdown);
    // The full integrity scan runs after a crash, not after a clean stop.
    assert!(integrity_action(&report).starts_with("skipped"), "{report:?}");
    clean.signal(libc::SIGKILL);
    clean.wait_exit().await;

    let after_crash = Server::spawn_in(&server.dir, "", &[]).await;
    after_crash.wait_serving().await;
    let report = scanned_report(&after_crash).await;
    assert_eq!(report.previous_run(), pb::PreviousRun::Crashed);
    assert_eq!(integrity_action(&report), "integrity check passed");
    let out = run_rebound(&server.dir, &["recovery", "report", "--addr", &after_crash.addr]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("previous run: crashed"), "{out:?}");
    // The README's `rebound recovery report --detail`: the categories with their ids.
    let out =
        run_rebound(&server.dir, &["recovery", "report", "--detail", "--addr", &after_crash.addr]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("store_integrity") && stdout.contains("integrity check passed"),
        "{stdout}"
    );

    let crashed = recovery(&after_crash)
        .await
        .list_recovery_reports(pb::ListRecoveryReportsRequest {
            previous_run: pb::PreviousRun::Crashed as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(crashed.reports.len(), 1);
    let missing = recovery(&after_crash)
        .await
        .get_recovery_report(pb::GetRecoveryReportRequest { report_id: "999".into() })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
}

/// After a crash the integrity scan runs once the server serves, and what it finds lands in
/// the stored report: here a table whose rows break a NOT NULL its schema now declares.
#[tokio::test]
async fn the_integrity_scan_after_serving_puts_its_findings_in_the_report() {
    let mut first = Server::start("").await;
    first.signal(libc::SIGKILL);
    first.wait_exit().await;
    // The first report has no previous run: declare that column NOT NULL behind SQLite's
    // back, which only an integrity scan notices.
    let db = first.dir.join("rebound-data/rebound.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "PRAGMA writable_schema = ON; \
         UPDATE sqlite_schema SET sql = replace(sql, 'previous_run_id BIGINT,', \
             'previous_run_id BIGINT NOT NULL,') WHERE name = 'recovery_reports'; \
         PRAGMA writable_schema = OFF;",
    )
    .unwrap();
    drop(conn);

    let after_crash = Server::spawn_in(&first.dir, "", &[]).await;
    after_crash.wait_serving().await;
    let report = scanned_report(&after_crash).await;
    assert_eq!(report.previous_run(), pb::PreviousRun::Crashed);
    let found = integrity(&report);
    assert_eq!(found.count, 1, "{report:?}");
    assert!(found.ids[0].contains("recovery_reports.previous_run_id"), "{report:?}");
    assert!(found.action.starts_with("the database reports damage"), "{report:?}");
    assert!(
        report.warnings.iter().any(|w| w == "store integrity check found 1 problem(s)"),
        "{report:?}"
    );
}

#[tokio::test]
async fn backup_while_serving_restores_the_same_state() {
    let server = Server::start("").await;
    for drain in ["1s", "2s", "3s"] {
        assert_eq!(reload(&server, drain).await.result(), pb::ReloadResult::Success);
    }
    let copy = server.dir.join("backup.db");
    let backup = recovery(&server)
        .await
        .backup(pb::BackupRequest { path: copy.display().to_string() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(backup.size_bytes, std::fs::metadata(&copy).unwrap().len());
    assert_eq!(backup.sha256.len(), 64);
    let again = recovery(&server)
        .await
        .backup(pb::BackupRequest { path: copy.display().to_string() })
        .await;
    assert_eq!(again.unwrap_err().code(), tonic::Code::AlreadyExists);
    let empty =
        recovery(&server).await.backup(pb::BackupRequest { path: " ".into() }).await.unwrap_err();
    assert_eq!(
        (empty.code(), empty.message()),
        (tonic::Code::InvalidArgument, "path: must not be empty")
    );

    // Restore = start a server on the copy.
    let restored_dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", copy.display());
    let restored =
        Server::spawn_in(restored_dir.path(), "", &[("REBOUND_STORE__URL", url.as_str())]).await;
    restored.wait_serving().await;
    assert_eq!(drain_values(&restored).await, ["\"3s\"", "\"2s\"", "\"1s\""]);
}

#[tokio::test]
async fn mutating_calls_are_audited_with_redacted_arguments() {
    let server = Server::start("").await;
    assert_eq!(reload(&server, "4s").await.result(), pb::ReloadResult::Success);
    let mut config = ConfigServiceClient::new(server.channel().await);
    let refused = config
        .reload(pb::ReloadRequest { content: Some("x".into()), restart_if_required: true })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    config.get_config(pb::GetConfigRequest {}).await.unwrap();

    let mut client = recovery(&server).await;
    let events = support::wait_for("both reloads in the audit log", || {
        let mut client = client.clone();
        async move {
            let events = client
                .list_audit_events(pb::ListAuditEventsRequest {
                    rpc: "/rebound.v1.ConfigService/".into(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .events;
            (events.len() >= 2).then_some(events)
        }
    })
    .await;
    assert_eq!(events.len(), 2, "GetConfig is not audited: {events:?}");
    let (failed, succeeded) = (&events[0], &events[1]);
    assert_eq!(failed.outcome(), pb::AuditOutcome::Failed);
    assert_eq!(failed.code, "INVALID_ARGUMENT");
    assert!(failed.message.starts_with("restart_if_required:"), "{failed:?}");
    assert_eq!(succeeded.outcome(), pb::AuditOutcome::Succeeded);
    assert_eq!(succeeded.rpc, "/rebound.v1.ConfigService/Reload");
    assert!(succeeded.principal.starts_with("peer:127.0.0.1:"), "{succeeded:?}");
    assert!(
        succeeded.arguments.contains("bytes>") && !succeeded.arguments.contains("drain_timeout"),
        "{}",
        succeeded.arguments
    );

    let failed_only = client
        .list_audit_events(pb::ListAuditEventsRequest {
            outcome: pb::AuditOutcome::Failed as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(failed_only.len(), 1);
}

#[tokio::test]
async fn cleanup_counts_then_deletes_old_history() {
    let server = Server::start("").await;
    reload(&server, "5s").await;
    reload(&server, "6s").await;
    let mut client = recovery(&server).await;
    let retention = Some(prost_types::Duration { seconds: 0, nanos: 1_000_000 });
    let dry = client
        .run_cleanup(pb::RunCleanupRequest { dry_run: true, retention })
        .await
        .unwrap()
        .into_inner();
    let reloads = dry.tables.iter().find(|t| t.table == "config_reload_events").unwrap();
    assert_eq!(reloads.rows, 2);
    let done = client
        .run_cleanup(pb::RunCleanupRequest { dry_run: false, retention })
        .await
        .unwrap()
        .into_inner();
    assert!(done.total_rows >= 2);
    assert!(drain_values(&server).await.is_empty());
    let zero = client
        .run_cleanup(pb::RunCleanupRequest {
            dry_run: true,
            retention: Some(prost_types::Duration::default()),
        })
        .await
        .unwrap_err();
    assert_eq!(zero.code(), tonic::Code::InvalidArgument);
    // The default retention (7 days) keeps everything this young.
    let default = client
        .run_cleanup(pb::RunCleanupRequest { dry_run: true, retention: None })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(default.total_rows, 0);
}

#[tokio::test]
async fn a_restart_left_half_done_by_a_dead_process_is_marked_interrupted_and_reported() {
    use rebound::lifecycle::restart::{Mode, Outcome, Phase, Reason, RequestedMode, RestartRecord};
    let mut server = Server::start("").await;
    server.signal(libc::SIGKILL);
    server.wait_exit().await;
    // What a process killed while starting its successor leaves behind.
    let url = format!("sqlite://{}", server.dir.join("rebound-data/rebound.db").display());
    let store = rebound::store::open(&url).await.unwrap();
    let id = uuid::Uuid::new_v4();
    let now = chrono::Utc::now().timestamp_millis();
    let mut record =
        RestartRecord::new(id, RequestedMode::Handover, Mode::Handover, Reason::ManualRequest, now);
    record.phase = Phase::StartingSuccessor;
    store.save_restart(&record, None).await.unwrap();
    store.close().await;

    let restarted = Server::spawn_in(&server.dir, "", &[]).await;
    restarted.wait_serving().await;
    let report = latest_report(&restarted.addr).await;
    assert_eq!(report.previous_run(), pb::PreviousRun::Crashed);
    let interrupted = report.categories.iter().find(|c| c.name == "restart_interrupted").unwrap();
    assert_eq!((interrupted.count, interrupted.ids.clone()), (1, vec![id.to_string()]));
    let open = report.categories.iter().find(|c| c.name == "commands_open").unwrap();
    assert_eq!(open.count, 0);

    let store = rebound::store::open(&url).await.unwrap();
    let stored = store.restart(id).await.unwrap().unwrap();
    assert_eq!(
        (stored.phase, stored.outcome, stored.failed_phase),
        (Phase::Failed, Some(Outcome::Interrupted), Some(Phase::StartingSuccessor))
    );
    assert!(stored.error.unwrap().contains("exited before it finished"));
    store.close().await;
}

#[tokio::test]
async fn a_refused_backup_path_writes_nothing_anywhere() {
    let server = Server::start("").await;
    let before = std::fs::read_dir(&server.dir).unwrap().count();
    let target = server.dir.join("copy.db");
    let backup = |path: String| async {
        recovery(&server).await.backup(pb::BackupRequest { path }).await.unwrap_err()
    };

    let nul = backup(format!("{}\0.txt", target.display())).await;
    assert_eq!(nul.code(), tonic::Code::InvalidArgument, "{nul:?}");
    assert!(nul.message().starts_with("path: contains a NUL byte"), "{nul:?}");
    assert!(!target.exists(), "nothing written at the path cut at the NUL");

    let relative = backup("copy.db".into()).await;
    assert_eq!(
        (relative.code(), relative.message()),
        (tonic::Code::InvalidArgument, "path: must be absolute: copy.db")
    );
    assert_eq!(std::fs::read_dir(&server.dir).unwrap().count(), before, "nothing in the cwd");

    // A huge path is refused with a short message, not a header-size error.
    let huge = backup(format!("/{}", "a".repeat(17 * 1024))).await;
    assert_eq!(huge.code(), tonic::Code::InvalidArgument, "{huge:?}");
    assert!(huge.message().len() < 200, "{}", huge.message().len());

    // A directory the server cannot create files in: refused by what it is, not UNAVAILABLE.
    let proc = backup("/proc/1/x.db".into()).await;
    assert_eq!(proc.code(), tonic::Code::FailedPrecondition, "{proc:?}");
    assert!(proc.message().starts_with("path: cannot create /proc/1/x.db"), "{proc:?}");
    assert!(!std::path::Path::new("/proc/1/x.db").exists());

    let missing = backup(server.dir.join("no-such-dir/copy.db").display().to_string()).await;
    assert_eq!(missing.code(), tonic::Code::FailedPrecondition, "{missing:?}");
    assert_eq!(std::fs::read_dir(&server.dir).unwrap().count(), before);
}

/// Names in `dir`, sorted.
fn names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The new `server.drain_timeout` of each stored reload event, newest first.
async fn drain_values(server: &Server) -> Vec<String> {
    let events = ConfigServiceClient::new(server.channel().await)
        .list_reload_events(pb::ListReloadEventsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .events;
    events.iter().map(|e| e.changes[0].new_value.clone()).collect()
}

#[tokio::test]
async fn restore_swaps_in_a_verified_backup_and_keeps_the_old_database_aside() {
    let mut server = Server::start("").await;
    assert_eq!(reload(&server, "1s").await.result(), pb::ReloadResult::Success);
    let backups = tempfile::tempdir().unwrap();
    let copy = backups.path().join("backup.db");
    recovery(&server)
        .await
        .backup(pb::BackupRequest { path: copy.display().to_string() })
        .await
        .unwrap();
    assert_eq!(reload(&server, "2s").await.result(), pb::ReloadResult::Success);
    let dir = server.dir.clone();
    let restore = |file: &std::path::Path| {
        let file = file.display().to_string();
        run_rebound(&dir, &["recovery", "restore", "--config", "rebound.toml", &file])
    };

    let running = restore(&copy);
    assert_eq!(running.status.code(), Some(69), "{running:?}");
    let stderr = String::from_utf8_lossy(&running.stderr);
    assert!(stderr.contains(&format!("a server (pid {}) is running", server.pid())), "{stderr}");
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit().await.code(), Some(0));

    // A damaged backup is refused and nothing changes.
    let data = server.dir.join("rebound-data");
    let before = (names(&data), std::fs::read(data.join("rebound.db")).unwrap());
    let mut bytes = std::fs::read(&copy).unwrap();
    let page = 4096;
    bytes[page..3 * page].fill(0xA5);
    let damaged = backups.path().join("damaged.db");
    std::fs::write(&damaged, &bytes).unwrap();
    let refused = restore(&damaged);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("damaged.db: not a usable backup"), "{stderr}");
    assert_eq!((names(&data), std::fs::read(data.join("rebound.db")).unwrap()), before);
    assert_eq!(names(backups.path()), ["backup.db", "damaged.db"], "no side files by the backups");

    let done = restore(&copy);
    assert!(done.status.success(), "{done:?}");
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(stdout.contains("integrity ok, schema version"), "{stdout}");
    assert!(stdout.contains("kept aside: rebound-data/rebound.db.before-restore-"), "{stdout}");
    let aside: Vec<_> =
        names(&data).into_iter().filter(|n| n.contains(".before-restore-")).collect();
    let kept = aside.iter().find(|n| n.ends_with('Z')).expect("the database set aside");
    assert!(aside.iter().all(|n| n.starts_with(kept.as_str())), "side files go with it: {aside:?}");

    // The server starts on the backup's state; the old database is intact aside.
    let restored = Server::spawn_in(&server.dir, "", &[]).await;
    restored.wait_serving().await;
    assert_eq!(drain_values(&restored).await, ["\"1s\""]);
    let kept = data.join(kept);
    let kept_url = format!("sqlite://{}", kept.display());
    let old_dir = tempfile::tempdir().unwrap();
    let old =
        Server::spawn_in(old_dir.path(), "", &[("REBOUND_STORE__URL", kept_url.as_str())]).await;
    old.wait_serving().await;
    assert_eq!(drain_values(&old).await, ["\"2s\"", "\"1s\""]);
}
