//! SQLite-specific tests: files on disk, pragmas, migrations, and failures that must leave
//! nothing behind. The backend-neutral behaviour is in `store/tests.rs`.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::model::durability::Durability;
use crate::store::commands::CommandStore;
use crate::store::{RunEnd, RunStore};

const TABLES: [&str; 13] = [
    "audit_events",
    "clients",
    "command_events",
    "commands",
    "config_reload_events",
    "device_message_copies",
    "rate_limit_admissions",
    "recovery_reports",
    "restart_events",
    "rollout_members",
    "rollout_progress",
    "rollouts",
    "server_runs",
];

async fn open_path(path: &Path) -> Result<SqliteStore, StoreError> {
    SqliteStore::open(SqliteTarget::File(path.to_owned()), Durability::Full).await
}

/// Names in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn tables(store: &SqliteStore) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_sqlx%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(&store.pool)
    .await
    .expect("list tables")
}

#[tokio::test]
async fn open_creates_directories_database_and_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("rebound-data/nested/rebound.db");
    let store = open_path(&db).await.expect("open");
    assert!(db.is_file());
    assert_eq!(tables(&store).await, TABLES);
    let status = store.ping().await.unwrap();
    assert_eq!((status.backend, status.schema_version), ("sqlite", latest_schema_version()));
    assert_eq!(status.location, db.display().to_string());
    store.close().await;
}

#[tokio::test]
async fn connections_use_wal_full_sync_and_foreign_keys_and_the_writer_memory_temp_store() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_path(&tmp.path().join("rebound.db")).await.unwrap();
    // Check several pooled connections, not just the first one.
    let mut conns = Vec::new();
    for _ in 0..3 {
        let mut conn = store.pool.acquire().await.unwrap();
        let mode: String =
            sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut *conn).await.unwrap();
        let sync: i64 =
            sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut *conn).await.unwrap();
        let fk: i64 =
            sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&mut *conn).await.unwrap();
        let temp: i64 =
            sqlx::query_scalar("PRAGMA temp_store").fetch_one(&mut *conn).await.unwrap();
        assert_eq!((mode.as_str(), sync, fk, temp), ("wal", 2, 1, 0), "2 = FULL, 0 = DEFAULT");
        conns.push(conn);
    }
    drop(conns);
    let err = sqlx::query(
        "INSERT INTO command_events (id, command_id, at_ms, to_state, source) \
                           VALUES (1, 'no-such-command', 0, 'queued', 'api')",
    )
    .execute(&store.pool)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    // The writer connection, opened by the first fleet transaction, has the same settings
    // and keeps its statement journals in memory.
    store.fleet_tx().await.unwrap().commit().await.unwrap();
    let session = store.writer.lock().await;
    let conn = session.conn().unwrap();
    let pragma = |name: &str| -> i64 { conn.pragma_query_value(None, name, |r| r.get(0)).unwrap() };
    assert_eq!(
        (pragma("synchronous"), pragma("temp_store"), pragma("foreign_keys")),
        (2, 2, 1),
        "2 = FULL, 2 = MEMORY, 1 = on"
    );
    assert_eq!(pragma("cache_size"), -32 * 1024, "the writer's page cache, KiB");
    drop(session);
    store.close().await;
}

#[tokio::test]
async fn event_ids_are_the_row_id_and_events_have_one_index() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_path(&tmp.path().join("rebound.db")).await.unwrap();
    // `INTEGER PRIMARY KEY` (migration 0008): no unique index of its own beside the table.
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_index_list('command_events') ORDER BY name")
            .fetch_all(&store.pool)
            .await
            .unwrap();
    assert_eq!(indexes, ["command_events_command"]);
    let rowid_is_id: i64 =
        sqlx::query_scalar("SELECT pk FROM pragma_table_info('command_events') WHERE name = 'id'")
            .fetch_one(&store.pool)
            .await
            .unwrap();
    assert_eq!(rowid_is_id, 1);
    store.close().await;
}

#[tokio::test]
async fn reopen_is_idempotent_and_keeps_data() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("rebound.db");
    let store = open_path(&db).await.unwrap();
    let first = store.begin_run(1, 0).await.unwrap();
    store.end_run(first.run_id, true).await.unwrap();
    store.close().await;

    for pid in [2, 3] {
        let store = open_path(&db).await.expect("reopen");
        assert_eq!(tables(&store).await, TABLES);
        assert_eq!(store.ping().await.unwrap().schema_version, latest_schema_version());
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(applied as usize, MIGRATOR.iter().count(), "each migration applied once");
        let run = store.begin_run(pid, 0).await.unwrap();
        let prev = run.previous.expect("previous run survives reopen");
        assert!(matches!(prev.end, RunEnd::Clean { .. }));
        store.end_run(run.run_id, true).await.unwrap();
        store.close().await;
    }
}

#[tokio::test]
async fn path_under_a_regular_file_is_io_error_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    fs::write(&file, b"plain file").unwrap();
    let db = file.join("rebound-data/rebound.db");

    let err =
        crate::store::open(&format!("sqlite://{}", db.display())).await.err().expect("must fail");
    let StoreError::Io { path, .. } = &err else { panic!("expected Io, got {err}") };
    assert_eq!(path, &file);
    assert!(err.to_string().contains(&file.display().to_string()), "{err}");
    assert_eq!(entries(tmp.path()), ["not-a-dir"]);
    assert_eq!(fs::read(&file).unwrap(), b"plain file");
}

#[tokio::test]
async fn directory_in_place_of_the_database_is_io_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = open_path(tmp.path()).await.expect_err("must fail");
    assert!(matches!(err, StoreError::Io { .. }), "{err}");
    assert!(entries(tmp.path()).is_empty());
}

#[tokio::test]
async fn foreign_file_is_open_error_and_left_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("rebound.db");
    let junk = vec![b'x'; 8192];
    fs::write(&db, &junk).unwrap();
    let err = open_path(&db).await.expect_err("must fail");
    assert!(matches!(err, StoreError::Open { .. } | StoreError::Migrate { .. }), "{err}");
    assert_eq!(fs::read(&db).unwrap(), junk, "existing file untouched");
}

#[tokio::test]
async fn changed_migration_history_is_refused_and_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let db: PathBuf = tmp.path().join("rebound.db");
    let store = open_path(&db).await.unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET checksum = X'00'").execute(&store.pool).await.unwrap();
    store.close().await;

    let err = open_path(&db).await.expect_err("must fail");
    assert!(matches!(err, StoreError::Migrate { .. }), "{err}");
    assert!(err.to_string().contains("modified"), "{err}");
    assert!(db.is_file(), "an existing database is never removed");
}

#[tokio::test]
async fn memory_store_is_private_per_open() {
    let a = SqliteStore::open(SqliteTarget::Memory, Durability::Full).await.unwrap();
    let b = SqliteStore::open(SqliteTarget::Memory, Durability::Full).await.unwrap();
    a.begin_run(1, 0).await.unwrap();
    let run = b.begin_run(2, 0).await.unwrap();
    assert_eq!(run.previous, None);
    assert_eq!(a.ping().await.unwrap().location, ":memory:");
}

#[tokio::test]
async fn backup_is_a_consistent_openable_copy_and_never_overwrites() {
    use crate::store::MaintenanceStore;
    let tmp = tempfile::TempDir::new().unwrap();
    let store = open_path(&tmp.path().join("live.db")).await.unwrap();
    store.begin_run(1, 0).await.unwrap();
    let copy = tmp.path().join("copy.db");
    let size = store.backup(&copy).await.unwrap();
    assert_eq!(size, std::fs::metadata(&copy).unwrap().len());
    assert!(store.backup(&copy).await.is_err(), "an existing file is never overwritten");
    let restored = open_path(&copy).await.unwrap();
    let previous = restored.begin_run(2, 0).await.unwrap().previous.expect("the copy has the run");
    assert_eq!(previous.pid, 1);
}

#[tokio::test]
async fn normal_durability_is_applied_to_every_connection() {
    let tmp = tempfile::TempDir::new().unwrap();
    let target = SqliteTarget::File(tmp.path().join("normal.db"));
    let store = SqliteStore::open(target, Durability::Normal).await.unwrap();
    let mut conn = store.pool.acquire().await.unwrap();
    let synchronous: i64 =
        sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut *conn).await.unwrap();
    assert_eq!(synchronous, 1, "NORMAL");
}

/// Waits (with a deadline) until no connection is checked out: connections go back to the
/// pool, and the pool's minimum ones are opened, in the background.
async fn settled(store: &SqliteStore) {
    let idle = async {
        while store.busy() != 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), idle).await.expect("busy back to 0");
}

#[tokio::test]
async fn busy_counts_the_operations_holding_a_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_path(&tmp.path().join("rebound.db")).await.unwrap();
    settled(&store).await;
    let tx = store.pool.begin().await.unwrap();
    let read = store.pool.acquire().await.unwrap();
    assert_eq!(store.busy(), 2);
    drop(read);
    tx.rollback().await.unwrap();
    settled(&store).await;
}

/// A rollout without a counter row (started before migration 0006, or its row lost) is
/// counted from its members, by the joined reads (one rollout, a listed page) as by the
/// counters alone.
#[tokio::test]
async fn a_rollout_without_a_counter_row_is_counted_from_its_members() {
    use crate::model::rollouts::RolloutMember;
    use crate::store::rollouts::RolloutStore;
    let tmp = tempfile::tempdir().unwrap();
    let store = open_path(&tmp.path().join("rebound.db")).await.unwrap();
    let id = uuid::Uuid::new_v4();
    let rollout = crate::store::progress_tests::rollout_record(id);
    let members: Vec<RolloutMember> =
        (0..3).map(|wave| RolloutMember { client_uuid: uuid::Uuid::new_v4(), wave }).collect();
    let mut tx = store.fleet_tx().await.unwrap();
    tx.put_rollout(&rollout).await.unwrap();
    tx.insert_members(id, &members).await.unwrap();
    tx.commit().await.unwrap();
    sqlx::query("DELETE FROM rollout_progress").execute(&store.pool).await.unwrap();
    let (read, counters) = store.rollout_with_counters(id).await.unwrap().expect("rollout");
    assert_eq!(read, rollout);
    assert_eq!((counters.total, counters.unissued), (3, 3));
    assert_eq!(store.rollout_counters(id, None).await.unwrap(), counters);
    let listed = store.list_rollouts(&[], None, None, 10).await.unwrap();
    assert_eq!(listed, vec![(rollout, counters)]);
    store.close().await;
}
