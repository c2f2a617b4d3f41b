//! Mosquitto password files: the PBKDF2-SHA512 `$7$` hash of Mosquitto 2.0
//! (`user:$7$<iterations>$<base64 salt>$<base64 hash>`, as `mosquitto_passwd` writes it) and
//! adding accounts to a file without touching its other lines.
//!
//! The file is rewritten atomically (temp file in the same directory, fsync, rename, fsync of
//! the directory) with the old file's mode and owner, so the broker never reads half a file
//! and never loses read access. It never logs or returns a password.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha512};

/// Iterations and salt length `mosquitto_passwd` 2.0 uses.
const ITERATIONS: u32 = 101;
const SALT_LEN: usize = 12;
/// Mode of a password file this module creates: the broker's group may read it.
const NEW_FILE_MODE: u32 = 0o640;

/// Why the password file was left unchanged.
#[derive(Debug, thiserror::Error)]
pub enum PasswdError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// `line` 0: the user is given twice.
    #[error("{path}: user {user} already has an account{}", line_suffix(*.line))]
    Exists { path: String, user: String, line: usize },
    #[error("user {0:?}: must not be empty or contain ':' or a line break")]
    BadUser(String),
}

fn line_suffix(line: usize) -> String {
    if line == 0 { " (given twice)".into() } else { format!(" (line {line})") }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PasswdError + '_ {
    move |source| PasswdError::Io { path: path.display().to_string(), source }
}

/// The `$7$` hash of `password` with `salt`, as Mosquitto 2.0 stores it after `user:`.
pub fn hash(password: &str, salt: &[u8]) -> String {
    let mut derived = [0u8; 64];
    pbkdf2_sha512(password.as_bytes(), salt, ITERATIONS, &mut derived);
    format!("$7${ITERATIONS}${}${}", STANDARD.encode(salt), STANDARD.encode(derived))
}

/// A `user:$7$…` line with a fresh random salt.
pub fn entry(user: &str, password: &str) -> Result<String, PasswdError> {
    if user.is_empty() || user.contains([':', '\n', '\r']) {
        return Err(PasswdError::BadUser(user.to_owned()));
    }
    let mut salt = [0u8; SALT_LEN];
    let random = Path::new("/dev/urandom");
    std::fs::File::open(random)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut salt))
        .map_err(io(random))?;
    Ok(format!("{user}:{}", hash(password, &salt)))
}

/// Add `accounts` (`(user, password)`) to the password file at `path` (created when missing),
/// all or none: every existing line is kept byte for byte, and nothing is written when one
/// of the users already has a line.
pub fn add(path: &Path, accounts: &[(String, String)]) -> Result<(), PasswdError> {
    // One provisioning run at a time per directory (flock on the directory itself, whose inode
    // the rename keeps): a second run reads the file only after the first replaced it.
    let dir = parent(path);
    let lock = std::fs::File::open(&dir).map_err(io(&dir))?;
    lock.lock().map_err(io(&dir))?;
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(io(path)(err)),
    };
    let current = existing.as_deref().unwrap_or_default();
    for (index, (user, _)) in accounts.iter().enumerate() {
        let mut users = current.lines().map(|line| line.split(':').next().unwrap_or(line));
        let repeated = accounts[..index].iter().any(|(earlier, _)| earlier == user);
        if let Some(line) = users.position(|u| u == user).map(|i| i + 1).or(repeated.then_some(0)) {
            let path = path.display().to_string();
            return Err(PasswdError::Exists { path, user: user.clone(), line });
        }
    }
    let mut text = existing.clone().unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for (user, password) in accounts {
        text.push_str(&entry(user, password)?);
        text.push('\n');
    }
    let metadata = match existing {
        Some(_) => Some(std::fs::metadata(path).map_err(io(path))?),
        None => None,
    };
    replace(path, text.as_bytes(), metadata.as_ref())
}

/// Write `bytes` over `path` atomically, with the mode and owner of `old` (or
/// [`NEW_FILE_MODE`] and the caller's ids).
/// The directory of `path` (`.` for a bare file name).
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn replace(path: &Path, bytes: &[u8], old: Option<&std::fs::Metadata>) -> Result<(), PasswdError> {
    let dir = parent(path);
    let mut temp =
        tempfile::Builder::new().prefix(".passwd-").tempfile_in(&dir).map_err(io(&dir))?;
    let mode = old.map_or(NEW_FILE_MODE, |m| m.mode() & 0o7777);
    let file = temp.as_file_mut();
    file.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(io(path))?;
    if let Some(old) = old {
        // Only root may give a file away; anyone else keeps their own ids (as before).
        let _ = std::os::unix::fs::fchown(&*file, Some(old.uid()), Some(old.gid()));
    }
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(io(path))?;
    temp.persist(path).map_err(|err| io(path)(err.error))?;
    std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(io(&dir))
}

/// PBKDF2 (RFC 8018) with HMAC-SHA512, filling `out` (at most one 64-byte block is needed
/// here, but any length works).
fn pbkdf2_sha512(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    let key = HmacKey::new(password);
    for (index, chunk) in out.chunks_mut(64).enumerate() {
        let block = u32::try_from(index + 1).expect("fewer than 2^32 blocks");
        let mut u = key.mac(&[salt, &block.to_be_bytes()]);
        let mut t = u;
        for _ in 1..iterations {
            u = key.mac(&[&u]);
            t.iter_mut().zip(u).for_each(|(t, u)| *t ^= u);
        }
        chunk.copy_from_slice(&t[..chunk.len()]);
    }
}

/// An HMAC-SHA512 key (RFC 2104), padded once for many MACs.
struct HmacKey {
    inner: [u8; 128],
    outer: [u8; 128],
}

impl HmacKey {
    fn new(key: &[u8]) -> Self {
        let mut block = [0u8; 128];
        if key.len() > block.len() {
            block[..64].copy_from_slice(&Sha512::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        Self { inner: block.map(|b| b ^ 0x36), outer: block.map(|b| b ^ 0x5c) }
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 64] {
        let mut inner = Sha512::new_with_prefix(self.inner);
        parts.iter().for_each(|part| inner.update(part));
        let mut outer = Sha512::new_with_prefix(self.outer);
        outer.update(inner.finalize());
        outer.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_mosquitto_passwd() {
        // Written by mosquitto_passwd 2.0.11 for user "a", password "pa".
        let line = "$7$101$WQyc/KeSSwnCJwfS$mhRL/ukpMYeYRrdMCobGfBDSyMp9lt6tEKYLyK9F4L5V+HA3y9bHhrVp4MGfmpyhvG2InpGWsLfqlxbOhzsJ0g==";
        let salt = STANDARD.decode("WQyc/KeSSwnCJwfS").unwrap();
        assert_eq!(hash("pa", &salt), line);
    }

    #[test]
    fn pbkdf2_matches_rfc_test_vector() {
        // The published PBKDF2-HMAC-SHA512 vector "password" / "salt", 2 iterations (also
        // what Python's hashlib.pbkdf2_hmac gives).
        let mut out = [0u8; 64];
        pbkdf2_sha512(b"password", b"salt", 2, &mut out);
        assert_eq!(
            crate::hex::encode(&out),
            "e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53c\
             f76cab2868a39b9f7840edce4fef5a82be67335c77a6068e04112754f27ccf4e"
        );
    }

    #[test]
    fn add_keeps_other_lines_and_refuses_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        let before = "# accounts\nold:$7$101$abc$def\nlast:$7$101$x$y";
        std::fs::write(&path, before).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o604)).unwrap();
        add(&path, &[("new".into(), "secret".into())]).unwrap();
        let after = std::fs::read_to_string(&path).unwrap();
        assert!(after.starts_with(&format!("{before}\nnew:$7$101$")), "{after}");
        assert!(!after.contains("secret"));
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o604);

        let err = add(&path, &[("x".into(), "p".into()), ("old".into(), "p".into())]);
        assert_eq!(
            err.unwrap_err().to_string(),
            format!("{}: user old already has an account (line 2)", path.display())
        );
        let twice = add(&path, &[("y".into(), "p".into()), ("y".into(), "q".into())]);
        assert!(matches!(twice, Err(PasswdError::Exists { .. })), "{twice:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), after, "nothing written on error");
        assert!(matches!(entry("a:b", "p"), Err(PasswdError::BadUser(_))));
    }

    #[test]
    fn concurrent_runs_lose_no_account() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        std::fs::write(&path, "").unwrap();
        std::thread::scope(|scope| {
            for n in 0..16 {
                let path = &path;
                scope.spawn(move || add(path, &[(format!("user{n}"), "pw".into())]).unwrap());
            }
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 16, "{text}");
    }

    #[test]
    fn add_creates_a_missing_file_readable_by_the_group_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        add(&path, &[("dev".into(), "pw".into())]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("dev:$7$101$") && text.ends_with('\n'), "{text}");
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, NEW_FILE_MODE);
    }
}
