//! Online backups: a consistent copy of the database taken while the server serves, with
//! its size and SHA-256 so the copy can be verified later. `rebound recovery restore`
//! (server stopped) swaps a copy in; see `restore.rs`.
//!
//! The path is checked before anything touches the file system (absolute, no NUL byte, not
//! too long, its directory exists), then the file is created empty and exclusively (which
//! claims the name and shows that the server may write there) and the copy written into it.
//! A backup that fails removes the file it created: nothing is left behind.

use crate::error::{Error, echo};
use crate::store::Store;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest backup path accepted, in bytes (Linux's `PATH_MAX` less the terminating NUL).
pub const MAX_PATH_BYTES: usize = 4095;

/// A finished backup.
#[derive(Debug, Clone, PartialEq)]
pub struct Backup {
    /// Absolute path of the copy.
    pub path: PathBuf,
    pub size_bytes: u64,
    pub sha256: String,
    pub duration: Duration,
    pub completed_at: DateTime<Utc>,
}

/// Copy the database to `path`: an absolute path on the server's filesystem that does not
/// exist yet, in a directory that does.
#[tracing::instrument(name = "recovery.backup", skip(store), fields(backup.path = %echo(path)))]
pub async fn backup(store: &dyn Store, path: &str) -> Result<Backup, Error> {
    let started = Instant::now();
    let path = checked_path(path)?;
    claim(&path)?;
    let written = async {
        let size_bytes = store.backup(&path).await?;
        let hashed = path.clone();
        let sha256 = tokio::task::spawn_blocking(move || sha256_file(&hashed))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| Error::Internal(format!("reading the backup: {e}")))?;
        Ok::<_, Error>((size_bytes, sha256))
    }
    .await;
    let (size_bytes, sha256) = match written {
        Ok(done) => done,
        Err(err) => {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(error = %e, "cannot remove the failed backup");
            }
            return Err(err);
        }
    };
    let backup =
        Backup { path, size_bytes, sha256, duration: started.elapsed(), completed_at: Utc::now() };
    tracing::info!(size_bytes, sha256 = %backup.sha256, "backup written");
    Ok(backup)
}

/// `path` as a backup destination, checked without touching the file system.
fn checked_path(path: &str) -> Result<PathBuf, Error> {
    let invalid = |reason: String| Err(Error::invalid_argument("path", reason));
    if path.contains('\0') {
        return invalid(format!("contains a NUL byte: {}", echo(&path.replace('\0', "\\0"))));
    }
    if path.len() > MAX_PATH_BYTES {
        return invalid(format!("longer than {MAX_PATH_BYTES} bytes: {}", echo(path)));
    }
    let path = Path::new(path);
    if !path.is_absolute() {
        return invalid(format!("must be absolute: {}", echo(&path.display().to_string())));
    }
    match path.parent() {
        Some(dir) if path.file_name().is_some() => {
            if !dir.is_dir() {
                return Err(Error::FailedPrecondition(format!(
                    "path: directory {} does not exist",
                    echo(&dir.display().to_string())
                )));
            }
        }
        _ => return invalid(format!("names no file: {}", echo(&path.display().to_string()))),
    }
    Ok(path.to_owned())
}

/// Create `path` empty and exclusively: the copy is written into it.
fn claim(path: &Path) -> Result<(), Error> {
    let shown = || echo(&path.display().to_string());
    match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::AlreadyExists(format!("path: {} already exists", shown())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidFilename => {
            Err(Error::invalid_argument("path", format!("{}: {e}", shown())))
        }
        Err(e) => Err(Error::FailedPrecondition(format!("path: cannot create {}: {e}", shown()))),
    }
}

/// SHA-256 of the file at `path`, lowercase hex.
pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(crate::hex::encode(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_before_the_file_system() {
        let refused = |path: &str| checked_path(path).unwrap_err().to_string();
        assert_eq!(refused("/tmp/a.db\0.txt"), "path: contains a NUL byte: /tmp/a.db\\0.txt");
        assert_eq!(refused("backup.db"), "path: must be absolute: backup.db");
        assert_eq!(refused("/"), "path: names no file: /");
        let long = format!("/{}", "a".repeat(20_000));
        let message = refused(&long);
        assert!(message.starts_with("path: longer than 4095 bytes: /aaa"), "{message}");
        assert!(message.len() < 200, "{message}");
        assert_eq!(
            refused("/no-such-dir-for-rebound/a.db"),
            "path: directory /no-such-dir-for-rebound does not exist"
        );
        assert_eq!(checked_path("/tmp/a.db").unwrap(), Path::new("/tmp/a.db"));
    }
}
