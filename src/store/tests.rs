//! The backend-neutral store test suite.
//!
//! Every test here goes through [`open`] and the [`Store`] trait only, and runs against each
//! backend URL from [`backends`] — today an in-memory and a file SQLite database; a PostgreSQL
//! URL joins the list when that backend exists. Backend-specific behaviour (files, pragmas) is
//! tested beside the backend.

use std::sync::Arc;

use tempfile::TempDir;

use super::{RunEnd, RunId, Store, StoreError, open};

/// Store URLs to run the suite against, with the temp dir that must outlive the store.
fn backends() -> Vec<(String, Option<TempDir>)> {
    let tmp = tempfile::tempdir().expect("temp dir");
    let file = format!("sqlite://{}", tmp.path().join("data/rebound.db").display());
    vec![("sqlite::memory:".to_owned(), None), (file, Some(tmp))]
}

async fn open_ok(url: &str) -> Arc<dyn Store> {
    match open(url).await {
        Ok(store) => store,
        Err(e) => panic!("open {url}: {e}"),
    }
}

#[tokio::test]
async fn ping_reports_backend_and_schema_version() {
    for (url, _tmp) in backends() {
        let store = open_ok(&url).await;
        let status = store.ping().await.expect("ping");
        assert_eq!(status.backend, store.backend(), "{url}");
        assert_eq!(status.schema_version, super::sqlite::latest_schema_version(), "{url}");
        assert!(!status.location.is_empty(), "{url}");
        store.close().await;
    }
}

#[tokio::test]
async fn first_run_has_no_previous_run() {
    for (url, _tmp) in backends() {
        let store = open_ok(&url).await;
        let run = store.begin_run(4242, 0).await.expect("begin_run");
        assert_eq!(run.previous, None, "{url}");
        assert_eq!((run.pid, run.generation), (4242, 0), "{url}");
        store.close().await;
    }
}

#[tokio::test]
async fn previous_run_is_clean_unclean_or_crashed() {
    for (url, _tmp) in backends() {
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
    for (url, _tmp) in backends() {
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

#[tokio::test]
async fn postgres_is_not_supported_yet() {
    let err = open("postgres://rebound:secret@localhost/rebound").await.err().expect("must fail");
    assert!(matches!(err, StoreError::Unsupported { ref scheme } if scheme == "postgres"), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("not implemented yet") && !msg.contains("secret"), "{msg}");
}
