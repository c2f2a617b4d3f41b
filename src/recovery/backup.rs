//! Online backups: a consistent copy of the database taken while the server serves, with
//! its size and SHA-256 so the copy can be verified later. Restoring is starting a server
//! with `store.url` pointing at the copy (see README).

use crate::error::Error;
use crate::store::Store;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// Copy the database to `path` (a new file whose directory exists). The path is on the
/// server's filesystem, relative to its working directory unless absolute.
#[tracing::instrument(name = "recovery.backup", skip(store), fields(backup.path = %path.display()))]
pub async fn backup(store: &dyn Store, path: &Path) -> Result<Backup, Error> {
    let started = Instant::now();
    let path =
        std::path::absolute(path).map_err(|e| Error::invalid_argument("path", e.to_string()))?;
    if path.exists() {
        return Err(Error::AlreadyExists(format!("path: {} already exists", path.display())));
    }
    match path.parent() {
        Some(dir) if dir.is_dir() => {}
        _ => {
            return Err(Error::invalid_argument(
                "path",
                format!("directory of {} does not exist", path.display()),
            ));
        }
    }
    let size_bytes = store.backup(&path).await?;
    let hashed = path.clone();
    let sha256 = tokio::task::spawn_blocking(move || sha256_file(&hashed))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| Error::Internal(format!("reading the backup: {e}")))?;
    let backup =
        Backup { path, size_bytes, sha256, duration: started.elapsed(), completed_at: Utc::now() };
    tracing::info!(size_bytes, sha256 = %backup.sha256, "backup written");
    Ok(backup)
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
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
