//! The store's bad days as `rebound serve` meets them, on a real PostgreSQL: a database that
//! cannot be reached at start, a wrong password, a schema migrated by a newer rebound (on
//! SQLite too), and a database restarted under load while serving.

mod support;

use std::sync::{Arc, Mutex};

use rebound::proto::v1 as pb;
use rebound::proto::v1::config_service_client::ConfigServiceClient;
use sqlx::Connection;
use support::postgres::Cluster;
use support::{Server, closed_port, postgres_store, wait_for};

/// `rebound serve`'s exit code for an unusable store (EX_UNAVAILABLE).
const EXIT_UNAVAILABLE: i32 = 69;
/// EX_USAGE: bad configuration, credentials included.
const EXIT_USAGE: i32 = 64;

#[tokio::test]
async fn an_unreachable_database_is_retried_then_exit_69_naming_the_host_and_the_cause() {
    let port = closed_port();
    let mut server = Server::spawn(
        &format!(
            "[store]\nurl = \"postgres://rebound:hunter2-pw@127.0.0.1:{port}/rebound\"\n\
             connect_timeout = \"2s\"\n"
        ),
        &[],
    )
    .await;
    let status = server.wait_exit().await;
    let logs = server.logs();
    assert_eq!(status.code(), Some(EXIT_UNAVAILABLE), "{logs}");
    let host = format!("cannot reach store at postgres://***@127.0.0.1:{port}/rebound");
    assert!(logs.contains(&host), "{logs}");
    assert!(logs.to_lowercase().contains("connection refused"), "the cause: {logs}");
    assert!(logs.contains("retrying"), "retried before giving up: {logs}");
    assert!(!logs.contains("hunter2-pw"), "{logs}");
}

#[tokio::test]
async fn a_wrong_password_exits_64_or_69_without_printing_it_and_the_right_one_serves() {
    let Some(cluster) = Cluster::start() else { return };
    cluster.execute("postgres", "CREATE ROLE rebound LOGIN PASSWORD 'right-pw'").await;
    cluster.execute("postgres", "CREATE DATABASE rebound OWNER rebound").await;
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("db-password");

    let in_url =
        format!("[store]\nurl = \"{}\"\n", cluster.url("rebound", Some("wrong-url-pw"), "rebound"));
    std::fs::write(&password_file, "wrong-file-pw\n").unwrap();
    let in_file = format!(
        "[store]\nurl = \"{}\"\npassword_file = \"{}\"\n",
        cluster.url("rebound", None, "rebound"),
        password_file.display()
    );
    for (config, password) in [(&in_url, "wrong-url-pw"), (&in_file, "wrong-file-pw")] {
        let mut server = Server::spawn(config, &[]).await;
        let status = server.wait_exit().await;
        let logs = server.logs();
        assert!(matches!(status.code(), Some(EXIT_USAGE | EXIT_UNAVAILABLE)), "{status:?}: {logs}");
        assert!(logs.contains("password authentication failed"), "{logs}");
        assert!(!logs.contains(password), "{logs}");
    }

    std::fs::write(&password_file, "right-pw\n").unwrap();
    let server = Server::start(&in_file).await;
    assert!(!server.logs().contains("right-pw"), "{}", server.logs());
}

/// Marks the database as migrated by a future rebound (schema version 999).
const FUTURE_MIGRATION: &str = "INSERT INTO _sqlx_migrations \
    (version, description, success, checksum, execution_time) \
    VALUES (999, 'from a newer rebound', TRUE, X'00', 0)";

/// Starts a server on `env`'s store in `dir`, stops it, runs `mark` on the database, and
/// checks that the next start refuses the newer schema naming both versions.
async fn a_newer_schema_is_refused(dir: &std::path::Path, env: &[(&str, &str)], mark: impl Future) {
    let mut first = Server::spawn_in(dir, "", env).await;
    first.wait_serving().await;
    first.signal(libc::SIGTERM);
    assert_eq!(first.wait_exit().await.code(), Some(0), "{}", first.logs());
    mark.await;
    let mut second = Server::spawn_in(dir, "", env).await;
    let status = second.wait_exit().await;
    let logs = second.logs();
    assert_eq!(status.code(), Some(EXIT_UNAVAILABLE), "{logs}");
    assert!(logs.contains("schema version 999") && logs.contains("(version 12)"), "{logs}");
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_rebound_is_refused_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rebound-data/rebound.db");
    let mark = async {
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display())).await.unwrap();
        sqlx::query(FUTURE_MIGRATION).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    };
    a_newer_schema_is_refused(dir.path(), &[], mark).await;
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_rebound_is_refused_on_postgres() {
    let Some((key, url)) = postgres_store().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let mark = async {
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let sql = FUTURE_MIGRATION.replace("X'00'", "'\\x00'::bytea");
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    };
    a_newer_schema_is_refused(dir.path(), &[(key, &url)], mark).await;
}

/// What the load saw: the ids of acknowledged reload events, and the codes of failed calls.
#[derive(Default)]
struct Seen {
    acknowledged: Vec<i64>,
    failed: Vec<tonic::Code>,
}

/// Reloads of the unchanged config (each one writes a reload event) as fast as they are
/// answered, until `stop` is set.
async fn reload_load(
    mut client: ConfigServiceClient<tonic::transport::Channel>,
    content: String,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let request =
            pb::ReloadRequest { content: Some(content.clone()), restart_if_required: false };
        match client.reload(request).await {
            Ok(reply) => {
                let event = reply.into_inner().event.expect("event");
                let id = event.reload_id.parse().expect("reload_id is a number");
                seen.lock().unwrap().acknowledged.push(id);
            }
            Err(status) => {
                seen.lock().unwrap().failed.push(status.code());
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test]
async fn a_database_restarted_under_load_gives_unavailable_then_recovers_losing_nothing() {
    let Some(cluster) = Cluster::start() else { return };
    cluster.execute("postgres", "CREATE DATABASE rebound").await;
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("db-password");
    std::fs::write(&password_file, Cluster::ADMIN_PASSWORD).unwrap();
    let server = Server::start(&format!(
        "[store]\nurl = \"{}\"\npassword_file = \"{}\"\n",
        cluster.url("postgres", None, "rebound"),
        password_file.display()
    ))
    .await;
    let content = std::fs::read_to_string(server.dir.join("rebound.toml")).unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = ConfigServiceClient::new(server.channel().await);
    let load = tokio::spawn(reload_load(client, content, seen.clone(), stop.clone()));
    let acked = || seen.lock().unwrap().acknowledged.len();
    wait_for("reloads acknowledged", || async { (acked() >= 10).then_some(()) }).await;

    cluster.stop();
    wait_for("an UNAVAILABLE while the database is down", || async {
        seen.lock().unwrap().failed.contains(&tonic::Code::Unavailable).then_some(())
    })
    .await;
    cluster.restart();
    let before = acked();
    wait_for("reloads acknowledged again, without help", || async {
        (acked() >= before + 10).then_some(())
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.await.unwrap();
    server.wait_serving().await;

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(
        seen.failed.iter().all(|code| *code == tonic::Code::Unavailable),
        "only UNAVAILABLE while the database is away: {:?}",
        seen.failed
    );
    let mut conn = sqlx::PgConnection::connect(&cluster.admin_url("rebound")).await.unwrap();
    let stored: Vec<i64> = sqlx::query_scalar("SELECT id FROM config_reload_events")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let lost: Vec<_> = seen.acknowledged.iter().filter(|id| !stored.contains(id)).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
}
