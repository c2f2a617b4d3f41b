//! Filesystem checks done before SQLite touches anything, and their undo.
//!
//! [`prepare`] makes sure a database file can live at the configured path: it creates the
//! missing directories one by one (remembering which), refuses a path under a regular file or
//! one that names a directory, and proves the directory is writable (SQLite in WAL mode needs to
//! create `-wal` and `-shm` files beside the database). Every failure is a
//! [`StoreError::Io`] naming the exact path, and leaves the filesystem as it found it.
//! If opening or migrating fails later, [`Prepared::rollback`] removes the database file (only
//! when this call created it) and the directories this call created. This module must never
//! remove anything that existed before.

use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

use tracing::warn;

use crate::store::StoreError;

/// What [`prepare`] created, so that a failed open can undo it.
#[derive(Debug)]
#[must_use = "call keep() or rollback()"]
pub(super) struct Prepared {
    db_path: PathBuf,
    db_existed: bool,
    /// Outermost first.
    created_dirs: Vec<PathBuf>,
}

/// Checks and prepares the location of the database file `db_path`.
pub(super) fn prepare(db_path: &Path) -> Result<Prepared, StoreError> {
    let db_existed = match fs::metadata(db_path) {
        Ok(meta) if meta.is_dir() => {
            return Err(io_error(
                db_path,
                ErrorKind::IsADirectory,
                "is a directory, expected a database file",
            ));
        }
        Ok(_) => true,
        // NotADirectory: some ancestor is a file; create_dirs reports which one.
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => false,
        Err(e) => return Err(io_context(db_path, "cannot inspect", e)),
    };
    let dir = parent_dir(db_path);
    let created_dirs = create_dirs(dir)?;
    let prepared = Prepared { db_path: db_path.to_owned(), db_existed, created_dirs };
    if let Err(e) = check_writable(dir, db_path, db_existed) {
        prepared.rollback();
        return Err(e);
    }
    Ok(prepared)
}

impl Prepared {
    /// The database opened: keep everything.
    pub(super) fn keep(self) {}

    /// Opening failed: remove what [`prepare`] created and, if the database file is new, the
    /// files SQLite created for it.
    pub(super) fn rollback(self) {
        if !self.db_existed {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut path = self.db_path.clone().into_os_string();
                path.push(suffix);
                remove_file(Path::new(&path));
            }
        }
        for dir in self.created_dirs.iter().rev() {
            remove_dir(dir);
        }
    }
}

/// Best-effort removals for rollback: a leftover is logged, never fatal.
fn remove_file(path: &Path) {
    log_leftover(path, fs::remove_file(path));
}

fn remove_dir(path: &Path) {
    log_leftover(path, fs::remove_dir(path));
}

fn log_leftover(path: &Path, result: io::Result<()>) {
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            warn!(path = %path.display(), error = %e, "store: cannot remove after failed open");
        }
    }
}

/// The directory holding `db_path` (`.` for a bare file name).
fn parent_dir(db_path: &Path) -> &Path {
    match db_path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Creates `dir` and its missing ancestors; returns the ones created, outermost first.
fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut missing = Vec::new();
    for ancestor in dir.ancestors().filter(|a| !a.as_os_str().is_empty()) {
        match fs::metadata(ancestor) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => return Err(io_error(ancestor, ErrorKind::NotADirectory, "not a directory")),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                missing.push(ancestor.to_owned());
            }
            Err(e) => return Err(io_context(ancestor, "cannot inspect", e)),
        }
    }
    let mut created = Vec::with_capacity(missing.len());
    for path in missing.into_iter().rev() {
        match create_dir(&path) {
            Ok(()) => created.push(path),
            // Created concurrently (another process starting): fine if it is a directory now.
            Err(e) if e.kind() == ErrorKind::AlreadyExists && path.is_dir() => {}
            Err(e) => {
                for dir in created.iter().rev() {
                    remove_dir(dir);
                }
                return Err(io_context(&path, "cannot create directory", e));
            }
        }
    }
    Ok(created)
}

/// Data directories are private to the service user and its group.
fn create_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o750);
    builder.create(path)
}

/// Proves that SQLite will be able to write: the database file (if it exists) opens for
/// writing, and a new file can be created in its directory (for `-wal` and `-shm`).
fn check_writable(dir: &Path, db_path: &Path, db_existed: bool) -> Result<(), StoreError> {
    if db_existed {
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(db_path)
            .map_err(|e| io_context(db_path, "database file is not writable", e))?;
    }
    let probe =
        dir.join(format!(".rebound-write-probe-{}-{}", std::process::id(), uuid::Uuid::new_v4()));
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| io_context(dir, "directory is not writable", e))?;
    remove_file(&probe);
    Ok(())
}

fn io_error(path: &Path, kind: ErrorKind, msg: &str) -> StoreError {
    StoreError::Io { path: path.to_owned(), source: io::Error::new(kind, msg.to_owned()) }
}

/// `err` with what was being attempted in front, keeping its kind (`directory is not
/// writable: Permission denied (os error 13)`).
fn io_context(path: &Path, what: &str, err: io::Error) -> StoreError {
    io_error(path, err.kind(), &format!("{what}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn creates_missing_directories_and_rolls_them_back() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("a/b/rebound.db");
        let prepared = prepare(&db).unwrap();
        assert!(tmp.path().join("a/b").is_dir());
        assert_eq!(entries(&tmp.path().join("a/b")), Vec::<String>::new(), "probe removed");
        fs::write(&db, b"x").unwrap();
        fs::write(tmp.path().join("a/b/rebound.db-wal"), b"x").unwrap();
        prepared.rollback();
        assert_eq!(entries(tmp.path()), Vec::<String>::new());
    }

    #[test]
    fn rollback_keeps_what_existed() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("rebound.db");
        fs::write(&db, b"x").unwrap();
        prepare(&db).unwrap().rollback();
        assert_eq!(entries(tmp.path()), vec!["rebound.db".to_owned()]);
    }

    #[test]
    fn path_under_a_regular_file_names_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plain");
        fs::write(&file, b"").unwrap();
        let err = prepare(&file.join("sub/rebound.db")).unwrap_err();
        let StoreError::Io { path, source } = &err else { panic!("{err}") };
        assert_eq!(path, &file);
        assert_eq!(source.kind(), ErrorKind::NotADirectory);
        assert_eq!(entries(tmp.path()), vec!["plain".to_owned()]);
    }

    #[test]
    fn directory_as_database_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let err = prepare(tmp.path()).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
    }

    #[test]
    fn bare_file_name_uses_the_working_directory() {
        assert_eq!(parent_dir(Path::new("rebound.db")), Path::new("."));
        assert_eq!(parent_dir(Path::new("d/rebound.db")), Path::new("d"));
    }
}
