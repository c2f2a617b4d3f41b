//! What only the PostgreSQL backend does: the backup that names `pg_dump`, the consistency
//! checks that stand in for SQLite's page check, retention batches chosen by a subquery.
//! The behaviour both backends share is the conformance suite's (`store/tests.rs`).

use std::sync::Arc;

use chrono::{Duration, Utc};

use crate::store::maintenance::RetentionTable;
use crate::store::test_postgres::database;
use crate::store::{Store, StoreErrorKind, audit::AuditRow, open};

async fn store() -> Option<(String, Arc<dyn Store>)> {
    let url = database().await?;
    let store = open(&url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    Some((url, store))
}

#[tokio::test]
async fn backup_refuses_with_the_pg_dump_command_and_no_password() {
    let Some((url, _)) = store().await else { return };
    let with_password = url.replacen("postgres@", "postgres:s3cret@", 1);
    let store = open(&with_password).await.expect("open with a password in the URL");
    let dest = tempfile::tempdir().unwrap().path().join("rebound.dump");
    let err = store.backup(&dest).await.expect_err("no file backup on PostgreSQL");
    assert_eq!(err.kind(), StoreErrorKind::Unsupported, "{err}");
    let text = err.to_string();
    let database = url.rsplit('/').next().unwrap();
    assert!(
        text.starts_with("backup is not supported on PostgreSQL: ")
            && text.contains(&format!("pg_dump --format=custom --file={}", dest.display()))
            && text.contains("'postgres://postgres@127.0.0.1:")
            && text.contains(&format!("/{database}'")),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
    assert!(!dest.exists());
}

#[tokio::test]
async fn integrity_check_finds_rollout_counters_that_disagree_with_the_members() {
    let Some((url, store)) = store().await else { return };
    assert_eq!(store.integrity_problems().await.unwrap(), Vec::<String>::new());

    // A rollout whose stored counters claim two members it does not have.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO rollouts (rollout_id, action, target_json, max_per_minute, \
             abort_failure_percent, min_finished, state, created_ms, updated_ms) \
         VALUES ('r-1', 'restart_app', '{}', 10, 50, 1, 'running', 0, 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO rollout_progress (rollout_id, total, unissued) VALUES ('r-1', 2, 2)")
        .execute(&pool)
        .await
        .unwrap();
    let problems = store.integrity_problems().await.unwrap();
    assert_eq!(
        problems,
        ["rollout_progress of rollout r-1: counters differ from its members"],
        "{problems:?}"
    );

    // Members that match the counters: healthy again.
    sqlx::query(
        "INSERT INTO rollout_members (rollout_id, client_uuid, wave) \
         VALUES ('r-1', 'c-1', 0), ('r-1', 'c-2', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(store.integrity_problems().await.unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn retention_deletes_in_bounded_batches() {
    let Some((_, store)) = store().await else { return };
    let old = Utc::now() - Duration::days(30);
    for rpc in ["/a", "/b", "/c"] {
        let row = AuditRow {
            id: 0,
            at: old,
            principal: "p".into(),
            role: None,
            peer: String::new(),
            rpc: rpc.into(),
            arguments: "{}".into(),
            outcome: "succeeded".into(),
            code: "OK".into(),
            message: None,
            trace_id: None,
            duration: std::time::Duration::ZERO,
        };
        store.insert_audit_event(&row).await.unwrap();
    }
    let cutoff = Utc::now() - Duration::days(7);
    let table = RetentionTable::AuditEvents;
    assert_eq!(store.count_expired(table, cutoff).await.unwrap(), 3);
    assert_eq!(store.delete_expired(table, cutoff, 2, None).await.unwrap(), 2);
    assert_eq!(store.delete_expired(table, cutoff, 2, None).await.unwrap(), 1);
    assert_eq!(store.count_expired(table, cutoff).await.unwrap(), 0);
}
