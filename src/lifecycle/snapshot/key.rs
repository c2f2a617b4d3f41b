//! The snapshot encryption key (`restart.snapshot_key_file`) and the AEAD around it.
//!
//! Key file format: exactly 32 bytes, either raw or written as 64 hexadecimal digits
//! (surrounding whitespace, e.g. a trailing newline, is ignored), such as the output of
//! `openssl rand -hex 32`. The cipher is ChaCha20-Poly1305 with a random 96-bit nonce per
//! snapshot. This module does not know the snapshot layout.

use chacha20poly1305::aead::{Aead, AeadCore, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use std::path::{Path, PathBuf};

const KEY_LEN: usize = 32;

/// A loaded key. Its bytes never appear in `Debug` output.
#[derive(Clone)]
pub struct SnapshotKey {
    cipher: ChaCha20Poly1305,
}

/// Why the key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("restart.snapshot_key_file {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "restart.snapshot_key_file {}: expected 32 raw bytes or 64 hex digits, found {found}",
        path.display()
    )]
    Format { path: PathBuf, found: String },
}

impl SnapshotKey {
    /// Load the key from `path`.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let bytes =
            std::fs::read(path).map_err(|source| KeyError::Io { path: path.to_owned(), source })?;
        Self::from_file_bytes(&bytes)
            .map_err(|found| KeyError::Format { path: path.to_owned(), found })
    }

    /// Load the key named by the config, if any.
    pub fn load_optional(path: Option<&Path>) -> Result<Option<Self>, KeyError> {
        path.map(Self::load).transpose()
    }

    pub(super) fn from_file_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() == KEY_LEN {
            return Self::from_bytes(bytes);
        }
        let text = std::str::from_utf8(bytes).map(str::trim).unwrap_or_default();
        if text.len() == 2 * KEY_LEN && text.chars().all(|c| c.is_ascii_hexdigit()) {
            let key: Vec<u8> = (0..KEY_LEN)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or(0))
                .collect();
            return Self::from_bytes(&key);
        }
        Err(format!("{} bytes", bytes.len()))
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let cipher = ChaCha20Poly1305::new_from_slice(bytes)
            .map_err(|_| format!("{} bytes", bytes.len()))?;
        Ok(Self { cipher })
    }

    /// Encrypt `plaintext` bound to `aad`; returns the nonce and the ciphertext with its tag.
    pub(super) fn encrypt(
        &self,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), String> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: plaintext, aad })
            .map_err(|_| "encryption failed".to_owned())?;
        Ok((nonce.to_vec(), sealed))
    }

    /// Decrypt and authenticate; fails on a wrong key or any modified byte.
    pub(super) fn decrypt(
        &self,
        aad: &[u8],
        nonce: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, String> {
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| "bad nonce length".to_owned())?;
        self.cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad })
            .map_err(|_| "wrong key or modified ciphertext".to_owned())
    }
}

impl std::fmt::Debug for SnapshotKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnapshotKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_raw_and_hex_keys_and_names_the_file_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw.key");
        std::fs::write(&raw, [7u8; 32]).unwrap();
        SnapshotKey::load(&raw).unwrap();
        let hex = dir.path().join("hex.key");
        std::fs::write(&hex, format!("{}\n", "ab".repeat(32))).unwrap();
        SnapshotKey::load(&hex).unwrap();
        let bad = dir.path().join("bad.key");
        std::fs::write(&bad, "short").unwrap();
        let err = SnapshotKey::load(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.key") && err.contains("64 hex digits"), "{err}");
        let err = SnapshotKey::load(&dir.path().join("none")).unwrap_err().to_string();
        assert!(err.starts_with("restart.snapshot_key_file"), "{err}");
    }

    #[test]
    fn round_trips_and_rejects_another_key_or_other_aad() {
        let key = SnapshotKey::from_bytes(&[1u8; 32]).unwrap();
        let (nonce, sealed) = key.encrypt(b"aad", b"secret").unwrap();
        assert_eq!(key.decrypt(b"aad", &nonce, &sealed).unwrap(), b"secret");
        assert!(key.decrypt(b"other", &nonce, &sealed).is_err());
        let other = SnapshotKey::from_bytes(&[2u8; 32]).unwrap();
        assert!(other.decrypt(b"aad", &nonce, &sealed).is_err());
    }
}
