//! Restoring a backup while no server runs (`rebound recovery restore FILE`).
//!
//! In order, stopping at the first refusal with nothing changed:
//! 1. the backup is verified: a sound SQLite file (`PRAGMA integrity_check`), a rebound
//!    database, with a schema version this build knows (an older one is migrated when the
//!    server next starts; a newer one is refused);
//! 2. no server may run on the database: a run recorded in it that never ended, whose process
//!    is alive and is rebound, refuses the restore;
//! 3. the current database and its `-wal` and `-shm` side files are renamed aside to
//!    `<database>.before-restore-<UTC time>` (and its `-wal`, `-shm`), a consistent set that
//!    SQLite (or `store.url`) opens as one database;
//! 4. the backup is copied next to the database, synced, and renamed into place; if that
//!    fails, the files set aside are renamed back.
//!
//! The store URL is read like `serve` reads it (`--config`, `REBOUND_*`); a relative path is
//! relative to the working directory, so run it where the server runs.

use crate::store::{self, DatabaseFile, StoreError};
use std::path::{Path, PathBuf};

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The database now holding the backup's content.
    pub database: PathBuf,
    /// The backup's schema version.
    pub schema_version: i64,
    pub size_bytes: u64,
    pub sha256: String,
    /// The files set aside (the old database and its side files); empty when there was none.
    pub kept_aside: Vec<PathBuf>,
}

/// Why a restore was refused or failed. Nothing was changed unless it says so.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// `store.url` names no database file.
    #[error("store.url: {0}")]
    Url(String),
    /// The backup is not a sound rebound database this build can run on.
    #[error("{}: not a usable backup: {reason}", path.display())]
    BadBackup { path: PathBuf, reason: String },
    /// A server runs on the database.
    #[error("a server (pid {pid}) is running on {}: stop it first", database.display())]
    ServerRunning { database: PathBuf, pid: u32 },
    /// A file operation failed; `what` says which and whether anything changed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The current database could not be read to find running servers.
    #[error("cannot read {}: {source}", database.display())]
    Store {
        database: PathBuf,
        #[source]
        source: StoreError,
    },
}

/// Replace the database that `store_url` names with the backup at `backup`.
pub fn restore(store_url: &str, backup: &Path) -> Result<Restored, RestoreError> {
    let database = store::sqlite_file(store_url)
        .map_err(|e| RestoreError::Url(e.to_string()))?
        .ok_or_else(|| RestoreError::Url("an in-memory store has nothing to restore".into()))?;
    let schema_version = verify(backup)?;
    refuse_if_running(&database)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let kept_aside = set_aside(&database, &format!(".before-restore-{stamp}"))?;
    if let Err(err) = swap_in(backup, &database) {
        put_back(&kept_aside, &database);
        return Err(err);
    }
    let io = |what: &str| {
        let what = format!("{what} {}", database.display());
        move |source| RestoreError::Io { what, source }
    };
    let size_bytes = std::fs::metadata(&database).map_err(io("reading"))?.len();
    let sha256 = super::backup::sha256_file(&database).map_err(io("reading"))?;
    Ok(Restored { database, schema_version, size_bytes, sha256, kept_aside })
}

/// The backup's schema version, once it proved sound.
fn verify(backup: &Path) -> Result<i64, RestoreError> {
    let bad = |reason: String| RestoreError::BadBackup { path: backup.to_owned(), reason };
    match std::fs::metadata(backup) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Err(bad("not a regular file".into())),
        Err(e) => return Err(bad(e.to_string())),
    }
    let found = store::offline::inspect(backup).map_err(|e| bad(e.to_string()))?;
    check(&found).map_err(bad)
}

/// What [`verify`] decides from the facts.
fn check(found: &DatabaseFile) -> Result<i64, String> {
    if !found.problems.is_empty() {
        let shown: Vec<_> = found.problems.iter().take(3).map(String::as_str).collect();
        return Err(format!("integrity check failed: {}", shown.join("; ")));
    }
    match found.schema_version {
        None => Err("not a rebound database (no migrations table)".into()),
        Some(version) if version > found.supported_version => Err(format!(
            "schema version {version} is newer than this build's {}",
            found.supported_version
        )),
        Some(version) => Ok(version),
    }
}

fn refuse_if_running(database: &Path) -> Result<(), RestoreError> {
    if !database.exists() {
        return Ok(());
    }
    let pids = store::offline::unfinished_runs(database)
        .map_err(|source| RestoreError::Store { database: database.to_owned(), source })?;
    match pids.into_iter().find(|pid| is_rebound(*pid)) {
        Some(pid) => Err(RestoreError::ServerRunning { database: database.to_owned(), pid }),
        None => Ok(()),
    }
}

/// Whether process `pid` is alive and is a rebound binary (a crashed server's pid may have
/// been reused by something else).
fn is_rebound(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|name| name.trim_end().starts_with("rebound"))
}

/// SQLite's side files of a database, by the suffix of their name.
const SIDE_FILES: [&str; 3] = ["", "-wal", "-shm"];

/// The database and its side files, renamed to the database's name plus `suffix` (and the
/// side file's own suffix), so that SQLite opens the set aside as one database.
fn set_aside(database: &Path, suffix: &str) -> Result<Vec<PathBuf>, RestoreError> {
    let aside = side_file(database, suffix);
    let mut moved: Vec<PathBuf> = Vec::new();
    for side in SIDE_FILES {
        let (from, to) = (side_file(database, side), side_file(&aside, side));
        if !from.exists() {
            continue;
        }
        if let Err(source) = std::fs::rename(&from, &to) {
            put_back(&moved, database);
            let what = format!("setting {} aside (nothing changed)", from.display());
            return Err(RestoreError::Io { what, source });
        }
        moved.push(to);
    }
    Ok(moved)
}

/// Undo [`set_aside`]: rename each file back to the name it had.
fn put_back(kept_aside: &[PathBuf], database: &Path) {
    let Some(aside) = kept_aside.first() else { return };
    for side in SIDE_FILES {
        let from = side_file(aside, side);
        if !kept_aside.contains(&from) {
            continue;
        }
        if let Err(e) = std::fs::rename(&from, side_file(database, side)) {
            tracing::error!(error = %e, aside = %from.display(), "cannot put the database back");
        }
    }
}

/// Copy `backup` beside `database`, sync it, and rename it into place.
fn swap_in(backup: &Path, database: &Path) -> Result<(), RestoreError> {
    let partial = side_file(database, ".restoring");
    let io = |what: String| move |source| RestoreError::Io { what, source };
    let copied = std::fs::copy(backup, &partial)
        .and_then(|_| std::fs::File::open(&partial)?.sync_all())
        .map_err(io(format!("copying {} to {}", backup.display(), partial.display())));
    if let Err(err) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(err);
    }
    std::fs::rename(&partial, database).map_err(io(format!("renaming {}", partial.display())))?;
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io(format!("syncing {}", dir.display())))?;
    }
    Ok(())
}

/// `path` with `suffix` appended to its file name.
fn side_file(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(problems: &[&str], version: Option<i64>) -> DatabaseFile {
        DatabaseFile {
            problems: problems.iter().map(|p| p.to_string()).collect(),
            schema_version: version,
            supported_version: 8,
        }
    }

    #[test]
    fn a_backup_must_be_sound_and_not_newer_than_this_build() {
        assert_eq!(check(&found(&[], Some(8))), Ok(8));
        assert_eq!(check(&found(&[], Some(3))), Ok(3));
        assert_eq!(
            check(&found(&[], Some(9))),
            Err("schema version 9 is newer than this build's 8".into())
        );
        assert_eq!(
            check(&found(&[], None)),
            Err("not a rebound database (no migrations table)".into())
        );
        let broken = check(&found(&["page 7: btree damaged"], Some(8))).unwrap_err();
        assert_eq!(broken, "integrity check failed: page 7: btree damaged");
    }

    #[test]
    fn side_files_are_put_back_under_their_own_names() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("rebound.db");
        for name in ["rebound.db", "rebound.db-wal", "rebound.db-shm"] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        let aside = set_aside(&db, ".before-restore-x").unwrap();
        assert_eq!(aside.len(), 3);
        let wal = dir.path().join("rebound.db.before-restore-x-wal");
        assert_eq!(std::fs::read_to_string(wal).unwrap(), "rebound.db-wal");
        assert!(!db.exists());
        put_back(&aside, &db);
        for name in ["rebound.db", "rebound.db-wal", "rebound.db-shm"] {
            assert_eq!(std::fs::read_to_string(dir.path().join(name)).unwrap(), name);
        }
    }
}
