//! Where `rebound bench recovery` keeps its databases: SQLite files (a source file and a copy
//! of it per measurement) or databases on a PostgreSQL server (a source database and a copy
//! per measurement made with `CREATE DATABASE … TEMPLATE`, all dropped at the end), and the
//! SQL that differs between the two in the generator.

use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, SqliteConnection};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

use super::recovery::internal;
use crate::error::Error;

/// The generator's SQL for one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A CTE `n(i)` of the integers `start..end` (after `WITH`).
    pub fn series(self, start: u64, end: u64) -> String {
        match self {
            Self::Sqlite => format!(
                "RECURSIVE n(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {end})"
            ),
            Self::Postgres => {
                format!("n(i) AS (SELECT generate_series({start}::BIGINT, {end}::BIGINT - 1))")
            }
        }
    }

    /// The UUID `PREFIX-0000-4000-8000-<expr as 12 hex digits>`.
    pub fn uuid(self, prefix: &str, expr: &str) -> String {
        match self {
            Self::Sqlite => format!("printf('{prefix}-0000-4000-8000-%012x', {expr})"),
            Self::Postgres => {
                format!("('{prefix}-0000-4000-8000-' || lpad(to_hex({expr}), 12, '0'))")
            }
        }
    }
}

/// The databases of one bench run.
pub enum Target {
    /// `source` and its copies beside it (in `_dir` when the bench made the directory).
    Sqlite { _dir: Option<TempDir>, source: PathBuf },
    /// Databases named `source…` on the server of the maintenance URL `admin`.
    Postgres { admin: String, source: String },
}

impl Target {
    /// SQLite with the source at `path`, which must not exist yet.
    pub fn sqlite_file(path: &Path) -> Result<Self, Error> {
        if path.exists() {
            return Err(Error::FailedPrecondition(format!("{} exists", path.display())));
        }
        Ok(Self::Sqlite { _dir: None, source: path.to_owned() })
    }

    /// The target `--store-url` names: a PostgreSQL server, a SQLite source file, or (`None`)
    /// SQLite files in a new temp dir.
    pub async fn new(url: Option<&str>) -> Result<Self, Error> {
        match url {
            None => {
                let dir = tempfile::tempdir().map_err(internal)?;
                let source = dir.path().join("source.db");
                Ok(Self::Sqlite { _dir: Some(dir), source })
            }
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let target = Self::Postgres {
                    admin: url.to_owned(),
                    source: format!("rebound_bench_{}", std::process::id()),
                };
                target.admin_execute(&format!("CREATE DATABASE {}", target.name())).await?;
                Ok(target)
            }
            Some(url) => match url.strip_prefix("sqlite://") {
                Some(path) => Self::sqlite_file(Path::new(path)),
                None => Err(Error::invalid_argument(
                    "store-url",
                    format!(
                        "not a sqlite:// or postgres:// URL: {}",
                        crate::store::redact_url(url)
                    ),
                )),
            },
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "sqlite",
            Self::Postgres { .. } => "postgres",
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite { .. } => Dialect::Sqlite,
            Self::Postgres { .. } => Dialect::Postgres,
        }
    }

    fn name(&self) -> &str {
        match self {
            Self::Sqlite { .. } => "source",
            Self::Postgres { source, .. } => source,
        }
    }

    /// The URL of database `name` on the PostgreSQL server, or of SQLite file `path`.
    fn url_of(&self, name: &str) -> String {
        match self {
            Self::Sqlite { .. } => format!("sqlite://{name}"),
            Self::Postgres { admin, .. } => {
                let base = admin.split('?').next().unwrap_or(admin);
                let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
                format!("{server}/{name}")
            }
        }
    }

    pub fn source_url(&self) -> String {
        match self {
            Self::Sqlite { source, .. } => self.url_of(&source.display().to_string()),
            Self::Postgres { source, .. } => self.url_of(source),
        }
    }

    /// Size of the source database in bytes.
    pub async fn size_bytes(&self) -> Result<u64, Error> {
        match self {
            Self::Sqlite { source, .. } => Ok(std::fs::metadata(source).map_err(internal)?.len()),
            Self::Postgres { admin, source } => {
                let mut conn = PgConnection::connect(admin).await.map_err(internal)?;
                let size: i64 = sqlx::query_scalar("SELECT pg_database_size($1)")
                    .bind(source)
                    .fetch_one(&mut conn)
                    .await
                    .map_err(internal)?;
                Ok(u64::try_from(size).unwrap_or(0))
            }
        }
    }

    /// A fresh copy of the source for measurement `repeat`; returns its URL.
    pub async fn copy(&self, repeat: usize) -> Result<String, Error> {
        match self {
            Self::Sqlite { source, .. } => {
                let copy = source.with_extension(format!("copy-{repeat}.db"));
                std::fs::copy(source, &copy).map_err(internal)?;
                Ok(self.url_of(&copy.display().to_string()))
            }
            Self::Postgres { source, .. } => {
                let copy = format!("{source}_copy_{repeat}");
                self.admin_execute(&format!("CREATE DATABASE {copy} TEMPLATE {source}")).await?;
                Ok(self.url_of(&copy))
            }
        }
    }

    /// Remove the copy at `url`.
    pub async fn drop_copy(&self, url: &str) -> Result<(), Error> {
        match self {
            Self::Sqlite { .. } => {
                let path = url.trim_start_matches("sqlite://");
                std::fs::remove_file(path).map_err(internal)
            }
            Self::Postgres { .. } => {
                let name = url.rsplit('/').next().unwrap_or(url);
                self.admin_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).await
            }
        }
    }

    /// Remove the source database (PostgreSQL; a SQLite source stays where it was asked for,
    /// or goes with the temp dir).
    pub async fn drop_source(&self) -> Result<(), Error> {
        match self {
            Self::Sqlite { .. } => Ok(()),
            Self::Postgres { source, .. } => {
                self.admin_execute(&format!("DROP DATABASE {source} WITH (FORCE)")).await
            }
        }
    }

    /// `SELECT COUNT(*)` of each table of the database at `url`.
    pub async fn count_rows(&self, url: &str, tables: &[&str]) -> Result<(), Error> {
        let mut conn = self.connect(url, false).await?;
        for table in tables {
            conn.execute(format!("SELECT COUNT(*) FROM {table}")).await?;
        }
        Ok(())
    }

    /// A connection to the source for the generator (commits without waiting for the disk).
    pub async fn generator(&self) -> Result<Generator, Error> {
        self.connect(&self.source_url(), true).await
    }

    async fn connect(&self, url: &str, unsynced: bool) -> Result<Generator, Error> {
        match self {
            Self::Sqlite { .. } => {
                let sync = if unsynced { SqliteSynchronous::Off } else { SqliteSynchronous::Full };
                let conn = SqliteConnectOptions::new()
                    .filename(url.trim_start_matches("sqlite://"))
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(sync)
                    .connect()
                    .await
                    .map_err(internal)?;
                Ok(Generator::Sqlite(conn))
            }
            Self::Postgres { .. } => {
                let mut conn =
                    Generator::Postgres(PgConnection::connect(url).await.map_err(internal)?);
                if unsynced {
                    conn.execute("SET synchronous_commit = off".to_owned()).await?;
                }
                Ok(conn)
            }
        }
    }

    async fn admin_execute(&self, sql: &str) -> Result<(), Error> {
        if let Self::Postgres { admin, .. } = self {
            let mut conn = PgConnection::connect(admin).await.map_err(internal)?;
            sqlx::query(AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .map_err(internal)?;
        }
        Ok(())
    }
}

/// A plain connection to a bench database.
pub enum Generator {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Generator {
    /// Run `sql` (built by the bench from numbers and fixed text only).
    pub async fn execute(&mut self, sql: String) -> Result<(), Error> {
        let sql = AssertSqlSafe(sql);
        match self {
            Self::Sqlite(conn) => sqlx::query(sql).execute(conn).await.map(drop),
            Self::Postgres(conn) => sqlx::query(sql).execute(conn).await.map(drop),
        }
        .map_err(internal)
    }

    /// Leave the database as a server would find it: SQLite's WAL checkpointed; PostgreSQL's
    /// planner statistics gathered (as autovacuum would after such inserts).
    pub async fn finish(mut self) -> Result<(), Error> {
        match self {
            Self::Sqlite(_) => self.execute("PRAGMA wal_checkpoint(TRUNCATE)".to_owned()).await,
            Self::Postgres(_) => self.execute("ANALYZE".to_owned()).await,
        }
    }
}
