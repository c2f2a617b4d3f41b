//! The backend-neutral store test suite.
//!
//! Every test here goes through [`open`] and the [`Store`] trait only, and runs against each
//! backend URL from [`backends`]: an in-memory and a file SQLite database, and a fresh database
//! on the test PostgreSQL (`tests/support/postgres.rs`; skipped where PostgreSQL is missing,
//! except under `CI=true`). Backend-specific behaviour (files, pragmas) is tested beside the
//! backend.

use std::sync::Arc;

use tempfile::TempDir;

use super::{RunEnd, RunId, Store, StoreError, open};

/// Store URLs to run the suite against, with the temp dir that must outlive the store: each
/// call gives new, empty databases.
pub(crate) async fn backends() -> Vec<(String, Option<TempDir>)> {
    let tmp = tempfile::tempdir().expect("temp dir");
    let file = format!("sqlite://{}", tmp.path().join("data/rebound.db").display());
    let mut urls = vec![("sqlite::memory:".to_owned(), None), (file, Some(tmp))];
    if let Some(postgres) = super::test_postgres::database().await {
        urls.push((postgres, None));
    }
    urls
}

pub(super) async fn open_ok(url: &str) -> Arc<dyn Store> {
    match open(url).await {
        Ok(store) => store,
        Err(e) => panic!("open {url}: {e}"),
    }
}

#[tokio::test]
async fn ping_reports_backend_and_schema_version() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        let status = store.ping().await.expect("ping");
        assert_eq!(status.backend, store.backend(), "{url}");
        assert_eq!(status.schema_version, 12, "{url}: both backends' schemas are at version 12");
        assert_eq!(
            super::sqlite::latest_schema_version(),
            super::postgres::latest_schema_version()
        );
        assert!(!status.location.is_empty(), "{url}");
        store.close().await;
    }
}

#[tokio::test]
async fn first_run_has_no_previous_run() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        let run = store.begin_run(4242, 0).await.expect("begin_run");
        assert_eq!(run.previous, None, "{url}");
        assert_eq!((run.pid, run.generation), (4242, 0), "{url}");
        store.close().await;
    }
}

#[tokio::test]
async fn previous_run_is_clean_unclean_or_crashed() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;

        let first = store.begin_run(100, 0).await.expect("begin first");
        store.end_run(first.run_id, true).await.expect("end first");

        let second = store.begin_run(101, 1).await.expect("begin second");
        let prev = second.previous.expect("previous of second");
        assert_eq!(prev.run_id, first.run_id, "{url}");
        assert_eq!((prev.pid, prev.generation), (100, 0), "{url}");
        assert!(matches!(prev.end, RunEnd::Clean { .. }), "{url}: {:?}", prev.end);
        assert_eq!(prev.server_version, env!("CARGO_PKG_VERSION"));
        assert!(second.run_id > first.run_id, "{url}");

        // No end_run: the next run sees a crash.
        let third = store.begin_run(102, 0).await.expect("begin third");
        let prev = third.previous.expect("previous of third");
        assert_eq!((prev.run_id, prev.end), (second.run_id, RunEnd::Crashed), "{url}");

        store.end_run(third.run_id, false).await.expect("end third");
        let fourth = store.begin_run(103, 0).await.expect("begin fourth");
        let prev = fourth.previous.expect("previous of fourth");
        assert_eq!(prev.run_id, third.run_id, "{url}");
        assert!(matches!(prev.end, RunEnd::Unclean { .. }), "{url}: {:?}", prev.end);
        assert_eq!(prev.end.as_str(), "unclean");

        store.close().await;
    }
}

#[tokio::test]
async fn ending_an_unknown_run_is_an_error() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        let err = store.end_run(RunId(999), true).await.unwrap_err();
        assert!(matches!(err, StoreError::Query { op: "end_run", .. }), "{url}: {err}");
        store.close().await;
    }
}

#[tokio::test]
async fn invalid_url_is_refused() {
    for url in ["", "rebound.db", "sqlite://", "sqlite://x.db?mode=ro"] {
        let err = open(url).await.err().expect("must fail");
        assert!(matches!(err, StoreError::InvalidUrl { .. }), "{url}: {err}");
    }
}

/// The location a store reports (health, logs) never carries the password of its URL.
#[tokio::test]
async fn the_reported_location_has_no_password() {
    let Some(url) = super::test_postgres::database().await else { return };
    let store = open_ok(&url.replacen("postgres@", "postgres:s3cret-pw@", 1)).await;
    let location = store.ping().await.expect("ping").location;
    assert!(!location.contains("s3cret-pw") && location.contains("127.0.0.1"), "{location}");
    store.close().await;
}

mod restarts {
    use super::*;
    use crate::model::restart::{DrainStats, Outcome, Phase, sample_record};
    use crate::store::{RestartQuery, RestartTotals};

    #[tokio::test]
    async fn a_saved_restart_reads_back_whole_and_is_replaced_by_later_saves() {
        for (url, _tmp) in backends().await {
            let store = open_ok(&url).await;
            let mut record = sample_record(1_000);
            store.save_restart(&record, None).await.expect("insert");
            assert_eq!(store.restart(record.id).await.unwrap().as_ref(), Some(&record), "{url}");
            record.enter(Phase::SuspendingTasks, 1_002, 2_000);
            record.new_pid = Some(77);
            record.drain = DrainStats {
                connections_drained: 3,
                streams_told_to_reconnect: 1,
                rpcs_completed: 9,
                rpcs_canceled: 0,
            };
            record.finish(Outcome::Succeeded, None, 1_010, 8_000);
            store.save_restart(&record, None).await.expect("replace");
            assert_eq!(store.restart(record.id).await.unwrap(), Some(record.clone()), "{url}");
            assert_eq!(store.latest_restart().await.unwrap(), Some(record), "{url}");
            assert_eq!(store.restart(uuid::Uuid::new_v4()).await.unwrap(), None);
            store.close().await;
        }
    }

    #[tokio::test]
    async fn history_pages_newest_first_and_filters_by_outcome() {
        for (url, _tmp) in backends().await {
            let store = open_ok(&url).await;
            let mut ids = Vec::new();
            for (ms, outcome) in [
                (1_000, Some(Outcome::Succeeded)),
                (2_000, Some(Outcome::RolledBack)),
                (3_000, None),
            ] {
                let mut record = sample_record(ms);
                if let Some(outcome) = outcome {
                    record.finish(outcome, None, ms + 5, 5_000);
                }
                store.save_restart(&record, None).await.unwrap();
                ids.push(record.id);
            }
            let first = store
                .list_restarts(&RestartQuery { limit: 2, ..Default::default() })
                .await
                .unwrap();
            assert_eq!(
                first.records.iter().map(|r| r.id).collect::<Vec<_>>(),
                [ids[2], ids[1]],
                "{url}"
            );
            let next = first.next.expect("a second page");
            let second = store
                .list_restarts(&RestartQuery { limit: 2, after: Some(next), ..Default::default() })
                .await
                .unwrap();
            assert_eq!(second.records.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[0]], "{url}");
            assert_eq!(second.next, None);
            let running = store
                .list_restarts(&RestartQuery {
                    limit: 10,
                    outcomes: vec![None, Some(Outcome::Succeeded)],
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(
                running.records.iter().map(|r| r.id).collect::<Vec<_>>(),
                [ids[2], ids[0]],
                "{url}"
            );
            store.close().await;
        }
    }

    #[tokio::test]
    async fn unfinished_restarts_are_interrupted_except_the_one_kept_and_totals_add_up() {
        for (url, _tmp) in backends().await {
            let store = open_ok(&url).await;
            let run = store.begin_run(1, 0).await.unwrap();
            let dead = sample_record(1_000);
            let kept = sample_record(2_000);
            let mut done = sample_record(500);
            done.drain.connections_drained = 4;
            done.finish(Outcome::Succeeded, None, 600, 1);
            for record in [&dead, &kept, &done] {
                store.save_restart(record, None).await.unwrap();
            }
            let interrupted = store.interrupt_restarts(Some(kept.id), 5_000).await.unwrap();
            assert_eq!(interrupted, [dead.id], "{url}");
            let dead = store.restart(dead.id).await.unwrap().unwrap();
            assert_eq!((dead.phase, dead.outcome), (Phase::Failed, Some(Outcome::Interrupted)));
            assert_eq!(dead.failed_phase, Some(Phase::Preparing));
            assert!(dead.error.unwrap().contains("exited before it finished"));
            let totals = store.restart_totals().await.unwrap();
            let expected = RestartTotals {
                total: 3,
                succeeded: 1,
                rolled_back: 0,
                failed: 1,
                drain: DrainStats { connections_drained: 4, ..DrainStats::default() },
                last_finished: Some((dead.id, 5_000)),
                first_start_ms: Some(run.started_at.timestamp_millis()),
            };
            assert_eq!(totals, expected, "{url}");
            store.close().await;
        }
    }
}

#[tokio::test]
async fn rate_limit_admissions_are_replaced_by_each_save_and_loaded_from_a_time() {
    use super::Admission;
    let admission = |principal: &str, class: &str, admitted_ms| Admission {
        principal: principal.into(),
        class: class.into(),
        admitted_ms,
    };
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        assert_eq!(store.load_admissions(0).await.unwrap(), [], "{url}");
        let first = [admission("ops", "restart", 1_000), admission("ops", "command", 2_000)];
        store.save_admissions(&first).await.unwrap();
        let second = [admission("ops", "restart", 5_000), admission("ci", "restart", 3_000)];
        store.save_admissions(&second).await.unwrap();
        assert_eq!(
            store.load_admissions(0).await.unwrap(),
            [admission("ci", "restart", 3_000), admission("ops", "restart", 5_000)],
            "a save replaces everything; oldest first: {url}"
        );
        assert_eq!(
            store.load_admissions(4_000).await.unwrap(),
            [admission("ops", "restart", 5_000)],
            "{url}"
        );
        store.close().await;
    }
}
