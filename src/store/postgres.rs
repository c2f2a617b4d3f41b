//! The PostgreSQL backend (`store.url = "postgres://…"`): the same [`Store`] as SQLite, on a
//! server that outlives any one rebound process and that several of them can share.
//!
//! Owns the pool, the start-up (connect with retry, refuse a newer schema, migrate under
//! PostgreSQL's migration lock) and the SQL for PostgreSQL, one file per area like `sqlite/`.
//!
//! Settings, and why:
//! - The schema is `migrations/postgres/`, the same tables and columns as `migrations/sqlite/`
//!   with identity columns for the ids the store assigns (concurrent writers never share one).
//! - sqlx's migrator holds a PostgreSQL advisory lock while it migrates, so several servers
//!   starting at once on an empty database migrate it exactly once; the others wait, then find
//!   every migration applied.
//! - Commits are durable by PostgreSQL's own settings (`synchronous_commit`); `store.durability`
//!   applies to SQLite only.
//! - A connection is waited for at most [`ACQUIRE_TIMEOUT`]: when the database is gone, calls
//!   fail with an unavailable error (gRPC UNAVAILABLE) rather than hang, and the pool connects
//!   again by itself once the database is back.
//! - The password is never in a log line: the location printed is the URL with its user and
//!   password replaced, and `store.password_file` keeps the password out of the URL and the
//!   config altogether.

mod audit;
mod clients;
mod cluster;
mod commands;
mod copies;
mod device_rows;
mod fleet_tx;
mod maintenance;
mod notify;
mod ratelimits;
mod recovery;
mod reloads;
mod restarts;
mod rollouts;
mod runs;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use tracing::{debug, info, instrument, warn};

use super::changes::ChangeFeed;
use super::error::postgres_kind;
use super::url::redact;
use super::{
    Store, StoreError, StoreErrorKind, StoreOptions, StoreStatus, WriteFailure, WriteHealth,
};

/// The schema, embedded at compile time from `migrations/postgres/`.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Version of the newest migration this build carries for PostgreSQL.
pub(crate) fn latest_schema_version() -> i64 {
    MIGRATOR.iter().map(|migration| migration.version).max().unwrap_or(0)
}

/// Connections per server. Each RPC or loop holds one for the length of one transaction.
const MAX_CONNECTIONS: u32 = 16;
/// How long a call waits for a free (or new) connection before it fails as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// First wait between connection attempts at start-up; it doubles up to [`MAX_RETRY_WAIT`].
const FIRST_RETRY_WAIT: Duration = Duration::from_millis(100);
const MAX_RETRY_WAIT: Duration = Duration::from_secs(2);

/// A [`Store`] on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The URL without user and password, for logs and the health report.
    location: String,
    /// The database as `pg_dump` takes it: user, host, port and name, never the password.
    dump_url: String,
    /// How the latest write transactions went.
    writes: Arc<WriteHealth>,
    /// This process among those sharing the database (drawn at open): the writer named in
    /// its change notices.
    process: String,
}

/// How long PostgreSQL lets a transaction of ours wait for its next statement before it ends
/// the session. Our transactions send their statements back to back (milliseconds apart); a
/// replica paused inside one (SIGSTOP, a frozen VM) would otherwise hold its locks for as
/// long as it is paused: its device locks, and a leader's share lock on the lease row,
/// which blocks the takeover by another replica (`store::postgres::cluster`, fencing).
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "5s";

/// Every execution of our prepared statements is planned for its own parameters. Most of
/// them look rows up by an array (`= ANY($1)`) of 1 to 1,000 ids, which a generic plan
/// cannot size; and a generic plan made while a table was new and small (a fresh database,
/// before autovacuum first analyzed it) stays cached on the connection as a sequential scan
/// that filters every row against the whole array, its cost growing with the table: in
/// `bench fanout --repeats 15` the device-lock statement took 2.3 s of 15 rollouts with
/// generic plans and 0.3 s with custom ones. Planning these simple statements costs less.
const PLAN_CACHE_MODE: &str = "force_custom_plan";

impl PostgresStore {
    /// Connects (retrying for `options.connect_timeout`), refuses a database migrated by a
    /// newer rebound, and applies pending migrations.
    pub(crate) async fn open(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let location = redact(url);
        let mut connect = PgConnectOptions::from_str(url).map_err(|_| StoreError::InvalidUrl {
            url: location.clone(),
            reason: "not a valid PostgreSQL URL".into(),
        })?;
        if let Some(path) = &options.password_file {
            let password = std::fs::read_to_string(path)
                .map_err(|source| StoreError::Io { path: path.clone(), source })?;
            connect = connect.password(password.trim_end_matches(['\r', '\n']));
        }
        connect = connect.application_name("rebound").options([
            ("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION_TIMEOUT),
            ("plan_cache_mode", PLAN_CACHE_MODE),
        ]);
        if let Some(replica_id) = &options.replica_id {
            connect = connect.options([("rebound.replica_id", replica_id.as_str())]);
        }
        let dump_url = format!(
            "postgres://{}@{}:{}/{}",
            connect.get_username(),
            connect.get_host(),
            connect.get_port(),
            connect.get_database().unwrap_or(connect.get_username())
        );
        let pool = connect_with_retry(&connect, &location, options.connect_timeout).await?;
        let writes = Arc::new(WriteHealth::default());
        let process = uuid::Uuid::new_v4().to_string();
        let store = Self { pool, location, dump_url, writes, process };
        if let Err(e) = store.migrate().await {
            store.pool.close().await;
            return Err(e);
        }
        let schema_version = store.schema_version().await?;
        info!(store.location = %store.location, schema_version, "store opened");
        Ok(store)
    }

    /// Refuses a schema newer than this build's, then applies the pending migrations.
    async fn migrate(&self) -> Result<(), StoreError> {
        let found = self.schema_version().await?;
        super::refuse_newer_schema(&self.location, found, latest_schema_version())?;
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|source| StoreError::Migrate { location: self.location.clone(), source })
    }

    /// Version of the latest applied migration (0 on an empty database).
    async fn schema_version(&self) -> Result<i64, StoreError> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("schema_version"))?;
        if !exists {
            return Ok(0);
        }
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("schema_version"))
    }

    /// This process's name in change notices.
    pub(super) fn process(&self) -> &str {
        &self.process
    }

    /// The pool, for the area implementations.
    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The database as `pg_dump` and `psql` take it (no password), for hints to operators.
    pub(super) fn dump_url(&self) -> &str {
        &self.dump_url
    }

    /// How the latest write transactions went, for the area implementations to record into.
    pub(super) fn writes(&self) -> &WriteHealth {
        &self.writes
    }
}

/// Opens the pool, trying again while the server cannot be reached, for at most `timeout`.
/// Errors that another attempt will not fix (authentication, a missing database, a bad
/// parameter) end the wait at once.
async fn connect_with_retry(
    connect: &PgConnectOptions,
    location: &str,
    timeout: Duration,
) -> Result<PgPool, StoreError> {
    let start = Instant::now();
    let mut wait = FIRST_RETRY_WAIT;
    loop {
        // One plain connection per attempt: its error is the cause (refused, unknown host,
        // authentication), where a pool would only time out waiting for one.
        let left = timeout.saturating_sub(start.elapsed()).max(FIRST_RETRY_WAIT);
        let attempt = match tokio::time::timeout(left, PgConnection::connect_with(connect)).await {
            Ok(attempt) => attempt,
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        };
        let source = match attempt {
            Ok(conn) => {
                conn.close().await.ok();
                return PgPoolOptions::new()
                    .max_connections(MAX_CONNECTIONS)
                    .min_connections(1)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(connect.clone())
                    .await
                    .map_err(|source| StoreError::Open { location: location.to_owned(), source });
            }
            Err(source) => source,
        };
        let retryable = is_unreachable(&source);
        let waited = start.elapsed();
        if !retryable {
            return Err(StoreError::Open { location: location.to_owned(), source });
        }
        if waited + wait > timeout {
            return Err(StoreError::Unreachable { location: location.to_owned(), waited, source });
        }
        warn!(store.location = %location, error = %source, retry_in = ?wait,
            "store: database not reachable yet, retrying");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_RETRY_WAIT);
    }
}

/// Whether a failed connection attempt may succeed later: the server is not there (yet), is
/// starting up or shutting down, or has no connection slot free.
fn is_unreachable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|code| postgres_kind(&code) == StoreErrorKind::Unavailable)
        }
        _ => false,
    }
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn busy(&self) -> usize {
        super::pool_busy(&self.pool)
    }

    fn change_feed(&self) -> Option<Box<dyn ChangeFeed>> {
        Some(Box::new(notify::PgChangeFeed::new(self.pool.clone(), self.process.clone())))
    }

    #[instrument(skip_all, name = "store.ping")]
    async fn ping(&self) -> Result<StoreStatus, StoreError> {
        let start = Instant::now();
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(StoreError::query("ping"))?;
        let latency = start.elapsed();
        Ok(StoreStatus {
            backend: self.backend(),
            location: self.location.clone(),
            schema_version: self.schema_version().await?,
            latency,
        })
    }

    fn write_failure(&self) -> Option<WriteFailure> {
        self.writes.failure()
    }

    /// Rewrites one column of the newest `server_runs` row with its own value: a real write
    /// and commit that readers cannot see.
    #[instrument(skip_all, name = "store.probe_write")]
    async fn probe_write(&self) -> Result<(), StoreError> {
        let written = sqlx::query(super::writes::PROBE_WRITE)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(StoreError::query("probe_write"));
        self.writes.record(written)
    }

    fn cluster(&self) -> Option<&dyn super::ClusterStore> {
        Some(self)
    }

    #[instrument(skip_all, name = "store.close")]
    async fn close(&self) {
        self.pool.close().await;
        debug!(store.location = %self.location, "store closed");
    }
}

#[cfg(test)]
mod cluster_tests;
#[cfg(test)]
mod lock_tests;
#[cfg(test)]
mod tests;
