//! The volatile-state snapshot a hot restart hands to the successor: what is not in the
//! database (restart generation, reconnection statistics, caches, sections other components
//! contribute through [`StateSections`]).
//!
//! File format (all integers big-endian), version [`FORMAT_VERSION`]:
//!
//! ```text
//! header   "RBSNAP\0\0" | version: u32 | cipher: u8 (0 = none, 1 = ChaCha20-Poly1305)
//! cipher 0 header | sha256(header | content) | content
//! cipher 1 header | nonce (12 bytes) | AEAD(key, nonce, aad = header,
//!                                          plaintext = sha256(header | content) | content)
//! ```
//!
//! `content` is the JSON of [`Snapshot`]. The SHA-256 covers the whole content and the header,
//! so any change is detected even without encryption; with a key (`restart.snapshot_key_file`,
//! see [`SnapshotKey`]) the AEAD tag also proves who wrote it. Files are written atomically
//! (temp file, fsync, rename, fsync of the directory) with mode 0600.
//!
//! Reading never fails the process: every problem maps to a [`SnapshotOutcome`] and the
//! successor starts from the store alone. This module does not decide what goes into the
//! sections, nor when a snapshot is taken.

mod key;
mod sections;

pub use key::{KeyError, SnapshotKey};
pub use sections::{CaptureError, SnapshotSection, StateSections};

use crate::lifecycle::restart::SnapshotOutcome;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The snapshot format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"RBSNAP\0\0";
const HEADER_LEN: usize = MAGIC.len() + 4 + 1;
const HASH_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const CIPHER_NONE: u8 = 0;
const CIPHER_CHACHA: u8 = 1;

/// What a snapshot holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The restart that wrote it.
    pub restart_id: Uuid,
    /// Generation of the process that is to restore it.
    pub generation: u64,
    pub written_ms: i64,
    /// Named sections (see [`StateSections`]).
    pub sections: BTreeMap<String, Value>,
}

/// A snapshot that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discarded {
    pub outcome: SnapshotOutcome,
    pub detail: String,
}

impl Discarded {
    fn new(outcome: SnapshotOutcome, detail: impl Into<String>) -> Self {
        Self { outcome, detail: detail.into() }
    }
}

/// Why a snapshot could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("snapshot {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("snapshot: {0}")]
    Encode(String),
}

/// Where the snapshot of restart `id` lives in `dir`.
pub fn path_for(dir: &Path, id: Uuid) -> PathBuf {
    dir.join(format!("restart-{id}.snap"))
}

/// Write `snapshot` atomically into `dir`; returns its path and a one-line description.
pub fn write(
    dir: &Path,
    snapshot: &Snapshot,
    key: Option<&SnapshotKey>,
) -> Result<(PathBuf, String), WriteError> {
    let content = serde_json::to_vec(snapshot).map_err(|e| WriteError::Encode(e.to_string()))?;
    let bytes = seal(&content, key).map_err(WriteError::Encode)?;
    let path = path_for(dir, snapshot.restart_id);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| WriteError::Io { path, source }
    };
    create_private_dir(dir).map_err(io(dir))?;
    let temp = dir.join(format!(".restart-{}.snap.tmp", snapshot.restart_id));
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create(true).truncate(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    let result = file.open(&temp).and_then(|mut file| {
        file.write_all(&bytes)?;
        file.sync_all()
    });
    if let Err(err) = result.and_then(|()| std::fs::rename(&temp, &path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(io(&path)(err));
    }
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    Ok((path, describe(bytes.len(), key.is_some())))
}

/// Read, verify and remove the snapshot at `path`. Any problem is a [`Discarded`] with the
/// outcome to report; the file is removed either way so it is never restored twice.
pub fn read(path: &Path, key: Option<&SnapshotKey>) -> Result<(Snapshot, String), Discarded> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(Discarded::new(
                SnapshotOutcome::Missing,
                format!("{}: no such file", path.display()),
            ));
        }
        Err(err) => {
            return Err(Discarded::new(
                SnapshotOutcome::Missing,
                format!("{}: {err}", path.display()),
            ));
        }
    };
    if let Err(err) = std::fs::remove_file(path) {
        tracing::warn!(path = %path.display(), error = %err, "could not remove the used snapshot");
    }
    let content = open(&bytes, key)?;
    let snapshot: Snapshot = serde_json::from_slice(&content).map_err(|err| {
        Discarded::new(SnapshotOutcome::Tampered, format!("content hash ok but unreadable: {err}"))
    })?;
    Ok((snapshot, describe(bytes.len(), bytes[HEADER_LEN - 1] == CIPHER_CHACHA)))
}

fn describe(len: usize, encrypted: bool) -> String {
    let cipher = if encrypted { "chacha20poly1305" } else { "not encrypted" };
    format!("{:.1} KiB, sha256 ok, {cipher}", len as f64 / 1024.0)
}

fn header(cipher: u8) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..MAGIC.len()].copy_from_slice(MAGIC);
    header[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&FORMAT_VERSION.to_be_bytes());
    header[HEADER_LEN - 1] = cipher;
    header
}

fn digest(header: &[u8], content: &[u8]) -> [u8; HASH_LEN] {
    let mut hasher = Sha256::new();
    hasher.update(header);
    hasher.update(content);
    hasher.finalize().into()
}

/// The bytes of a snapshot file holding `content`.
fn seal(content: &[u8], key: Option<&SnapshotKey>) -> Result<Vec<u8>, String> {
    let cipher = if key.is_some() { CIPHER_CHACHA } else { CIPHER_NONE };
    let header = header(cipher);
    let mut body = Vec::with_capacity(HASH_LEN + content.len());
    body.extend_from_slice(&digest(&header, content));
    body.extend_from_slice(content);
    let mut out = header.to_vec();
    match key {
        None => out.extend_from_slice(&body),
        Some(key) => {
            let (nonce, sealed) = key.encrypt(&header, &body)?;
            out.extend_from_slice(&nonce);
            out.extend_from_slice(&sealed);
        }
    }
    Ok(out)
}

/// Verify a snapshot file's bytes and return its content.
fn open(bytes: &[u8], key: Option<&SnapshotKey>) -> Result<Vec<u8>, Discarded> {
    use SnapshotOutcome::{Tampered, Undecryptable, UnsupportedVersion};
    if bytes.len() < HEADER_LEN || &bytes[..MAGIC.len()] != MAGIC {
        return Err(Discarded::new(Tampered, "not a rebound snapshot (bad magic)"));
    }
    let (header, rest) = bytes.split_at(HEADER_LEN);
    let version =
        u32::from_be_bytes(header[MAGIC.len()..MAGIC.len() + 4].try_into().unwrap_or([0; 4]));
    if version != FORMAT_VERSION {
        return Err(Discarded::new(
            UnsupportedVersion,
            format!("format version {version}; this build reads {FORMAT_VERSION}"),
        ));
    }
    let body = match (header[HEADER_LEN - 1], key) {
        (CIPHER_NONE, _) => rest.to_vec(),
        (CIPHER_CHACHA, None) => {
            return Err(Discarded::new(
                Undecryptable,
                "encrypted, but restart.snapshot_key_file is not set",
            ));
        }
        (CIPHER_CHACHA, Some(key)) => {
            if rest.len() < NONCE_LEN {
                return Err(Discarded::new(Undecryptable, "truncated before the nonce"));
            }
            let (nonce, sealed) = rest.split_at(NONCE_LEN);
            key.decrypt(header, nonce, sealed).map_err(|reason| {
                Discarded::new(Undecryptable, format!("AEAD verification failed: {reason}"))
            })?
        }
        (other, _) => {
            return Err(Discarded::new(Tampered, format!("unknown cipher {other}")));
        }
    };
    if body.len() < HASH_LEN {
        return Err(Discarded::new(Tampered, "truncated before the content hash"));
    }
    let (hash, content) = body.split_at(HASH_LEN);
    if hash != digest(header, content) {
        return Err(Discarded::new(Tampered, "sha256 content hash mismatch"));
    }
    Ok(content.to_vec())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Whether a snapshot could be written into `dir` now (PrepareShutdown's check).
pub fn check_writable(dir: &Path) -> Result<(), String> {
    create_private_dir(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let probe = dir.join(format!(".probe-{}", Uuid::new_v4()));
    std::fs::write(&probe, b"").map_err(|err| format!("{}: {err}", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

#[cfg(test)]
mod tests;
