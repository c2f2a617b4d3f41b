//! Reading a SQLite database file while no store has it open, for `rebound recovery restore`:
//! whether a backup is sound and which schema it has, and which server runs of the live
//! database never finished. Facts only; what to do with them is the caller's decision.
//!
//! A backup is opened `immutable` and read-only: SQLite takes no lock and creates no `-wal`
//! or `-shm` file next to it. The live database is opened read-only (its committed WAL, if a
//! crashed server left one, is read too).

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::store::StoreError;

/// What [`inspect`] found in a database file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseFile {
    /// `PRAGMA integrity_check`'s findings; empty when the file is sound.
    pub problems: Vec<String>,
    /// Latest applied migration, or `None` when the file has no migrations table (not a
    /// rebound database).
    pub schema_version: Option<i64>,
    /// Latest migration this build carries.
    pub supported_version: i64,
}

/// Check `path` without changing it: integrity and schema version.
pub fn inspect(path: &Path) -> Result<DatabaseFile, StoreError> {
    const OP: &str = "inspect";
    let url = format!("file:{}?immutable=1", uri_path(path));
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(url, flags).map_err(StoreError::statement(OP))?;
    let mut check = conn.prepare("PRAGMA integrity_check").map_err(StoreError::statement(OP))?;
    let problems = check
        .query_map([], |row| row.get::<_, String>(0))
        .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
        .map_err(StoreError::statement(OP))?
        .into_iter()
        .filter(|line| line != "ok")
        .collect();
    let has_migrations: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
            [],
            |row| row.get(0),
        )
        .map_err(StoreError::statement(OP))?;
    let schema_version = if has_migrations {
        let version: Option<i64> = conn
            .query_row("SELECT MAX(version) FROM _sqlx_migrations WHERE success", [], |row| {
                row.get(0)
            })
            .map_err(StoreError::statement(OP))?;
        Some(version.unwrap_or(0))
    } else {
        None
    };
    Ok(DatabaseFile { problems, schema_version, supported_version: super::latest_schema_version() })
}

/// Process ids of the server runs recorded in `path` that never ended: servers running on
/// it now, or that crashed.
pub fn unfinished_runs(path: &Path) -> Result<Vec<u32>, StoreError> {
    const OP: &str = "unfinished_runs";
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(StoreError::statement(OP))?;
    let mut query = conn
        .prepare("SELECT pid FROM server_runs WHERE stopped_ms IS NULL")
        .map_err(StoreError::statement(OP))?;
    query
        .query_map([], |row| row.get::<_, u32>(0))
        .and_then(Iterator::collect)
        .map_err(StoreError::statement(OP))
}

/// `path` for an SQLite `file:` URI: `%`, `?`, `#` and non-ASCII bytes percent-encoded.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'%' | b'?' | b'#' => out.push_str(&format!("%{byte:02X}")),
            byte if byte.is_ascii() => out.push(char::from(*byte)),
            byte => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
