//! The SQLite backend: a file database in WAL mode, the default that needs no set-up.
//!
//! Owns the connection settings and the SQL for SQLite. Opening checks the filesystem first
//! (`files.rs`), so an unusable path fails with the path named and nothing created; then it
//! connects, applies `migrations/` and verifies the journal mode.
//!
//! Settings, and why:
//! - `journal_mode=WAL`: readers never block the writer nor each other, so health checks and
//!   list RPCs run while commands are written.
//! - `synchronous=FULL`: every commit fsyncs the WAL before it returns. `NORMAL` would survive a
//!   killed process but can lose the last commits on power loss or a kernel crash; rebound
//!   promises that whatever it acknowledged (an RPC answer, an MQTT PUBACK) survives, and the
//!   cost is one fsync per write transaction, which batching writes in one transaction keeps
//!   small.
//! - `busy_timeout=5s`: a second writer (another pool connection, or the hot-restart successor
//!   while its predecessor drains) waits for the lock instead of failing at once.
//! - `foreign_keys=ON`: SQLite leaves them off by default; the schema relies on them.
//! - `temp_store=MEMORY` on the device area's writer connection only (`writer.rs`): see there.
//!
//! SQL here uses `?` placeholders and SQLite behaviour; the PostgreSQL backend will have its
//! own statements over the same schema.

mod audit;
pub(in crate::store) mod clients;
pub(in crate::store) mod commands;
mod files;
pub(in crate::store) mod fleet_cache;
pub(in crate::store) mod fleet_tx;
mod maintenance;
pub mod offline;
pub(in crate::store) mod progress;
mod ratelimits;
mod recovery;
mod reloads;
mod restarts;
mod rollouts;
pub(in crate::store) mod rows;
mod runs;
mod shapes;
mod writer;

use self::writer::{WriterSession, WriterTarget};

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::migrate::{Migrate, MigrateError, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tracing::{Span, debug, info, instrument, warn};

use super::url::SqliteTarget;
use super::{Store, StoreError, StoreStatus, WriteFailure, WriteHealth};
use crate::model::durability::Durability;

/// The schema, embedded at compile time from `migrations/sqlite/`.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Version of the newest migration this build carries (what a fully migrated store reports).
pub(crate) fn latest_schema_version() -> i64 {
    MIGRATOR.iter().map(|migration| migration.version).max().unwrap_or(0)
}

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// SQLite has one writer at a time; extra connections serve concurrent readers.
const MAX_CONNECTIONS: u32 = 8;
/// Rows a connection's SQLite thread may hand over before it waits for the reader. sqlx's
/// default (50) parks the thread every 50 rows of a large read (a rollout's 1,000 targets, a
/// 500-command page) until the async side catches up: a context switch each way.
const ROW_BUFFER: usize = 1024;
const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A [`Store`] on SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    location: String,
    /// The device area's writer connection: every write transaction of the device area.
    writer: Arc<tokio::sync::Mutex<WriterSession>>,
    /// How the writer connection's latest transaction went (shared with it).
    writes: Arc<WriteHealth>,
    /// The temporary directory of an in-memory store's database file.
    scratch: Option<Arc<tempfile::TempDir>>,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database. Use [`crate::store::open`] with a
    /// URL rather than this directly; it provides the `store.open` span whose `store.location`
    /// field this records.
    pub(crate) async fn open(
        target: SqliteTarget,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        let store = match target {
            SqliteTarget::File(path) => Self::open_file(&path, durability).await?,
            SqliteTarget::Memory => Self::open_memory().await?,
        };
        let schema_version = store.schema_version().await?;
        info!(store.location = %store.location, schema_version, "store opened");
        Ok(store)
    }

    async fn open_file(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        let location = path.display().to_string();
        Span::current().record("store.location", location.as_str());
        let prepared = files::prepare(path)?;
        match Self::connect(path, durability, location).await {
            Ok(store) => {
                prepared.keep();
                store.check_journal_mode().await;
                Ok(store)
            }
            Err(e) => {
                prepared.rollback();
                Err(e)
            }
        }
    }

    /// A private database that lives as long as this store: a file in a temporary directory
    /// of its own, removed with the store's last clone. A file rather than SQLite's
    /// `:memory:`, so that the pool and the device area's writer connection (`writer.rs`, not
    /// sqlx's) reach the same database; nothing in it outlives the process, so its commits
    /// need no fsync (`synchronous=NORMAL`).
    async fn open_memory() -> Result<Self, StoreError> {
        let location = ":memory:".to_owned();
        Span::current().record("store.location", location.as_str());
        let scratch = tempfile::Builder::new()
            .prefix("rebound-memory-")
            .tempdir()
            .map_err(|source| StoreError::Io { path: std::env::temp_dir(), source })?;
        let path = scratch.path().join("rebound.db");
        let mut store = Self::connect(&path, Durability::Normal, location).await?;
        store.scratch = Some(Arc::new(scratch));
        Ok(store)
    }

    /// Open the pool on `path` (creating the file), migrate, and set up the writer connection.
    async fn connect(
        path: &Path,
        durability: Durability,
        location: String,
    ) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .row_buffer_size(ROW_BUFFER);
        let pool = SqlitePoolOptions::new().max_connections(MAX_CONNECTIONS).min_connections(1);
        let pool = match pool.connect_with(options).await {
            Ok(pool) => pool,
            Err(source) => return Err(StoreError::Open { location, source }),
        };
        if let Err(e) = check_schema_version(&pool, &location).await {
            pool.close().await;
            return Err(e);
        }
        if let Err(source) = MIGRATOR.run(&pool).await {
            pool.close().await;
            return Err(StoreError::Migrate { location, source });
        }
        let writes = Arc::new(WriteHealth::default());
        let target = WriterTarget {
            path: path.to_owned(),
            durability,
            busy_timeout: BUSY_TIMEOUT,
            writes: writes.clone(),
        };
        let writer = Arc::new(tokio::sync::Mutex::new(WriterSession::new(target)));
        Ok(Self { pool, location, writer, writes, scratch: None })
    }

    /// WAL cannot be enabled on some filesystems (e.g. network mounts); SQLite then silently
    /// keeps the old mode. Say so, since concurrency and durability assumptions change.
    async fn check_journal_mode(&self) {
        match sqlx::query_scalar::<_, String>("PRAGMA journal_mode").fetch_one(&self.pool).await {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => {}
            Ok(mode) => warn!(store.location = %self.location, journal_mode = %mode,
                "store: WAL journal mode not available on this filesystem"),
            Err(e) => warn!(store.location = %self.location, error = %e,
                "store: cannot read journal mode"),
        }
    }

    /// Version of the latest applied migration (0 if none).
    async fn schema_version(&self) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(StoreError::query("schema_version"))?;
        let applied =
            conn.list_applied_migrations(&MIGRATOR.table_name).await.map_err(|e| match e {
                MigrateError::Execute(source) => StoreError::query("schema_version")(source),
                other => StoreError::query("schema_version")(sqlx::Error::Migrate(Box::new(other))),
            })?;
        Ok(applied.iter().map(|m| m.version).max().unwrap_or(0))
    }
}

/// Fails with [`StoreError::SchemaTooNew`] when a newer rebound migrated the file.
async fn check_schema_version(pool: &SqlitePool, location: &str) -> Result<(), StoreError> {
    const OP: &str = "schema_version";
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' \
         AND name = '_sqlx_migrations')",
    )
    .fetch_one(pool)
    .await
    .map_err(StoreError::query(OP))?;
    if !exists {
        return Ok(());
    }
    let found: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await
            .map_err(StoreError::query(OP))?;
    super::refuse_newer_schema(location, found, latest_schema_version())
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn busy(&self) -> usize {
        super::pool_busy(&self.pool)
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

    /// Rewrites one column of the newest `server_runs` row with its own value: a real page
    /// write and commit (a full disk or a read-only file fail it), invisible to readers.
    #[instrument(skip_all, name = "store.probe_write")]
    async fn probe_write(&self) -> Result<(), StoreError> {
        let mut tx = writer::WriterTx::begin(self.writer.clone()).await?;
        writer::blocking(|| {
            let written = tx
                .conn()
                .and_then(|conn| {
                    conn.execute(super::writes::PROBE_WRITE, [])
                        .map_err(StoreError::statement("probe_write"))
                })
                .and_then(|_| tx.commit());
            tx.finish(written)
        })
    }

    #[instrument(skip_all, name = "store.close")]
    async fn close(&self) {
        self.writer.lock().await.close();
        self.pool.close().await;
        debug!(store.location = %self.location, "store closed");
    }
}

#[cfg(test)]
mod tests;
