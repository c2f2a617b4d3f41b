//! A real PostgreSQL 15 for tests: a fresh, empty database per call to [`database`].
//!
//! Where the server comes from:
//! - `REBOUND_TEST_POSTGRES` set (the README's test command sets it): a URL of the maintenance
//!   database (`postgres://postgres@127.0.0.1:PORT/postgres`) of a server started once for the
//!   whole run (`scripts/test-postgres.sh`);
//! - otherwise a private cluster, started on first use by this test process: `initdb` into a
//!   temp dir and `postgres` on a free port, run as the `postgres` user when the tests run as
//!   root (PostgreSQL refuses to run as root). It is ready when its own log says so (a port
//!   that answers may be another server's, which took it first; then another port is tried).
//!   A watchdog stops it and removes the directory when this process exits.
//!
//! Without PostgreSQL binaries (`/usr/lib/postgresql/15/bin`, or `REBOUND_TEST_PG_BIN`) the
//! tests that need it are skipped with a message, except under `CI=true`, where a skipped
//! PostgreSQL test fails the run.
//!
//! This file is also compiled into the library's own tests (the store conformance suite), so
//! it uses nothing from the crate or from the other support modules.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection;

/// How long a private cluster may take to start.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// The maintenance URL of the server tests use, or why there is none.
static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
static NEXT_DATABASE: AtomicU32 = AtomicU32::new(0);

/// A URL of a new, empty database on the test server, or `None` when PostgreSQL is not
/// available here (the caller skips; under `CI=true` this panics instead).
pub async fn database() -> Option<String> {
    let admin = match SERVER.get_or_init(server) {
        Ok(url) => url.clone(),
        Err(why) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL is required under CI=true: {why}"
            );
            eprintln!("skipping: PostgreSQL is not available ({why})");
            return None;
        }
    };
    let name = format!(
        "rebound_test_{}_{}_{}",
        std::process::id(),
        NEXT_DATABASE.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
    );
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("connect to test PostgreSQL {admin}: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    conn.close().await.ok();
    Some(with_database(&admin, &name))
}

/// Waits (up to 30 s) until no session but the caller's is connected to `url`'s database. A
/// server killed with SIGKILL leaves its backends running until PostgreSQL notices the client
/// is gone: a statement or a COMMIT already sent still completes, so a test that reads what
/// the killed server stored waits for them first.
pub async fn wait_until_only_session(url: &str) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let others: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if others == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{others} other sessions still on the database after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    conn.close().await.ok();
}

/// Waits (up to 30 s) until `count` sessions of `url`'s database wait for an advisory lock
/// (the device area's or a device's, `store::postgres::fleet_tx`).
pub async fn wait_for_lock_waiters(url: &str, count: i64) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
        < count
    {
        assert!(Instant::now() < deadline, "{count} never waited for a lock");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    conn.close().await.ok();
}

/// `admin` with its database name replaced by `name`.
pub fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = admin.split_once('?').map_or((admin, None), |(b, q)| (b, Some(q)));
    let host_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[host_end..].find('/') {
        Some(slash) => &base[..host_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// The maintenance URL of a running server: the shared one, or a private cluster.
fn server() -> Result<String, String> {
    if let Ok(url) = std::env::var("REBOUND_TEST_POSTGRES") {
        return Ok(url);
    }
    let bin = pg_bin().ok_or("no PostgreSQL 15 binaries in /usr/lib/postgresql/15/bin")?;
    start_private(&bin)
}

fn pg_bin() -> Option<PathBuf> {
    let dir = std::env::var_os("REBOUND_TEST_PG_BIN")
        .map_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"), PathBuf::from);
    dir.join("initdb").is_file().then_some(dir)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// `program` with `args`, as the `postgres` user when we are root.
fn as_postgres(program: &Path, args: &[&str]) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program).args(args);
        cmd
    } else {
        let mut cmd = Command::new(program);
        cmd.args(args);
        cmd
    }
}

/// initdb a temp dir and start `postgres` on a free port, with a watchdog that stops it when
/// this process exits.
fn start_private(bin: &Path) -> Result<String, String> {
    let dir = tempfile::Builder::new()
        .prefix("rebound-pg-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?
        .keep();
    let data = dir.join("data");
    if is_root() {
        let chowned = Command::new("chown").arg("postgres").arg(&dir).status();
        if !chowned.is_ok_and(|s| s.success()) {
            return Err(format!("cannot chown {} to postgres", dir.display()));
        }
    }
    let data_arg = data.to_str().ok_or("temp dir path is not UTF-8")?;
    let out = as_postgres(
        &bin.join("initdb"),
        &["-D", data_arg, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
    )
    .output()
    .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let mut last_error = String::new();
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("free port: {e}"))?
            .port();
        match start_postgres(bin, &dir, data_arg, port) {
            Ok(url) => return Ok(url),
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

fn start_postgres(bin: &Path, dir: &Path, data: &str, port: u16) -> Result<String, String> {
    let postgres = bin.join("postgres");
    let log = dir.join(format!("postgres-{port}.log"));
    // The watchdog: runs postgres in the background and stops it (fast shutdown) once this
    // test process is gone, then removes the cluster's directory.
    let script = format!(
        "'{postgres}' -D '{data}' -p {port} -k '{dir}' -c listen_addresses=127.0.0.1 \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
         -c max_connections=300 >'{log}' 2>&1 & pg=$!; \
         while [ -d /proc/{parent} ] && kill -0 $pg 2>/dev/null; do sleep 1; done; \
         kill -INT $pg 2>/dev/null; wait $pg; rm -rf '{dir}'",
        postgres = postgres.display(),
        dir = dir.display(),
        log = log.display(),
        parent = std::process::id(),
    );
    let sh = Path::new("/bin/sh");
    as_postgres(sh, &["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start postgres: {e}"))?;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    // Ready when this postgres says so in its own log: a port that answers may be someone
    // else's server that took it first (this one then fails to bind and says that instead).
    let deadline = Instant::now() + START_DEADLINE;
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("database system is ready to accept connections") {
            return Ok(url);
        }
        if text.contains("could not bind") || text.contains("FATAL") {
            return Err(format!("postgres on port {port} failed: {text}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("postgres on port {port} not ready after {START_DEADLINE:?}"))
}

/// A private PostgreSQL 15 that a test may stop and start again on the same port (a database
/// going away under a running server), with password (SCRAM) authentication over TCP. The
/// superuser is `postgres` with password [`Cluster::ADMIN_PASSWORD`]. Stopped (immediately)
/// and removed on drop.
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
}

impl Cluster {
    pub const ADMIN_PASSWORD: &str = "cluster-admin-pw";

    /// initdb and start, or `None` where PostgreSQL is missing (under `CI=true`: panics).
    pub fn start() -> Option<Cluster> {
        let Some(bin) = pg_bin() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL is required under CI=true: no binaries in /usr/lib/postgresql/15/bin"
            );
            eprintln!("skipping: no PostgreSQL 15 binaries");
            return None;
        };
        let dir = tempfile::Builder::new().prefix("rebound-pgc-").tempdir().unwrap().keep();
        if is_root() {
            assert!(Command::new("chown").arg("postgres").arg(&dir).status().unwrap().success());
        }
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, Self::ADMIN_PASSWORD).unwrap();
        if is_root() {
            assert!(Command::new("chown").arg("postgres").arg(&pwfile).status().unwrap().success());
        }
        let data = dir.join("data");
        let out = as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                &format!("--pwfile={}", pwfile.display()),
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        )
        .output()
        .unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let mut cluster = Cluster { bin, dir, port: 0 };
        for _ in 0..5 {
            cluster.port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            if cluster.pg_ctl_start() {
                return Some(cluster);
            }
        }
        panic!("private PostgreSQL did not start: {}", cluster.log());
    }

    /// The URL of `database` as `user` with `password` (none: no password in the URL).
    pub fn url(&self, user: &str, password: Option<&str>, database: &str) -> String {
        let auth = password.map_or_else(|| user.to_owned(), |p| format!("{user}:{p}"));
        format!("postgres://{auth}@127.0.0.1:{}/{database}", self.port)
    }

    /// The superuser's URL of `database`.
    pub fn admin_url(&self, database: &str) -> String {
        self.url("postgres", Some(Self::ADMIN_PASSWORD), database)
    }

    /// Runs `sql` as the superuser on `database`.
    pub async fn execute(&self, database: &str, sql: &str) {
        let mut conn = sqlx::PgConnection::connect(&self.admin_url(database))
            .await
            .unwrap_or_else(|e| panic!("connect to the private PostgreSQL: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        conn.close().await.ok();
    }

    /// Stops the server (fast shutdown: every connection is cut).
    pub fn stop(&self) {
        let data = self.dir.join("data");
        let out = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"],
        )
        .output()
        .unwrap();
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Starts it again on the same port.
    pub fn restart(&self) {
        assert!(self.pg_ctl_start(), "PostgreSQL did not start again: {}", self.log());
    }

    fn pg_ctl_start(&self) -> bool {
        let data = self.dir.join("data");
        let log = self.dir.join("postgres.log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "-o",
                &options,
                "start",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
