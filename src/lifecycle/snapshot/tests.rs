//! Snapshot file round trips and every way a snapshot is discarded.

use super::*;
use serde_json::json;

fn sample() -> Snapshot {
    let mut sections = BTreeMap::new();
    sections.insert("restart.stats".to_owned(), json!({"restarts_total": 3}));
    sections.insert("mqtt.sessions".to_owned(), json!(["a", "b"]));
    Snapshot { restart_id: Uuid::new_v4(), generation: 4, written_ms: 1_700_000_000_000, sections }
}

fn key(byte: u8) -> SnapshotKey {
    SnapshotKey::from_file_bytes(&[byte; 32]).unwrap()
}

#[test]
fn plain_and_encrypted_snapshots_round_trip_and_are_removed_after_reading() {
    let dir = tempfile::tempdir().unwrap();
    for key in [None, Some(key(9))] {
        let snapshot = sample();
        let (path, detail) = write(dir.path(), &snapshot, key.as_ref()).unwrap();
        assert_eq!(path, path_for(dir.path(), snapshot.restart_id));
        let expected = if key.is_some() { "chacha20poly1305" } else { "not encrypted" };
        assert!(detail.contains(expected), "{detail}");
        let mode = std::os::unix::fs::PermissionsExt::mode(&path.metadata().unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        let (restored, detail) = read(&path, key.as_ref()).unwrap();
        assert_eq!(restored, snapshot);
        assert!(detail.contains("sha256 ok"), "{detail}");
        assert!(!path.exists(), "a used snapshot is removed");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "no temp files left: {left:?}");
}

#[test]
fn encrypted_content_is_not_readable_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write(dir.path(), &sample(), Some(&key(1))).unwrap();
    let bytes = std::fs::read(path).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("mqtt.sessions"));
}

fn discarded(bytes: &[u8], key: Option<&SnapshotKey>) -> Discarded {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.snap");
    std::fs::write(&path, bytes).unwrap();
    read(&path, key).unwrap_err()
}

#[test]
fn any_flipped_byte_is_detected() {
    let plain = seal(&serde_json::to_vec(&sample()).unwrap(), None).unwrap();
    for index in [HEADER_LEN + 3, plain.len() - 2] {
        let mut bytes = plain.clone();
        bytes[index] ^= 0x20;
        assert_eq!(discarded(&bytes, None).outcome, SnapshotOutcome::Tampered, "byte {index}");
    }
    let sealed = seal(&serde_json::to_vec(&sample()).unwrap(), Some(&key(3))).unwrap();
    let mut bytes = sealed.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert_eq!(discarded(&bytes, Some(&key(3))).outcome, SnapshotOutcome::Undecryptable);
}

#[test]
fn wrong_or_missing_key_version_and_absence_have_their_own_outcomes() {
    let sealed = seal(b"{}", Some(&key(3))).unwrap();
    assert_eq!(discarded(&sealed, Some(&key(4))).outcome, SnapshotOutcome::Undecryptable);
    let no_key = discarded(&sealed, None);
    assert_eq!(no_key.outcome, SnapshotOutcome::Undecryptable);
    assert!(no_key.detail.contains("snapshot_key_file"), "{}", no_key.detail);

    let mut future = seal(b"{}", None).unwrap();
    future[MAGIC.len() + 3] = 9;
    let unsupported = discarded(&future, None);
    assert_eq!(unsupported.outcome, SnapshotOutcome::UnsupportedVersion);
    assert!(unsupported.detail.contains("version 9"), "{}", unsupported.detail);

    assert_eq!(discarded(b"garbage", None).outcome, SnapshotOutcome::Tampered);
    let dir = tempfile::tempdir().unwrap();
    let missing = read(&dir.path().join("none.snap"), None).unwrap_err();
    assert_eq!(missing.outcome, SnapshotOutcome::Missing);
}

#[test]
fn a_hash_valid_file_with_foreign_content_is_tampered() {
    let bytes = seal(b"not json", None).unwrap();
    let found = discarded(&bytes, None);
    assert_eq!(found.outcome, SnapshotOutcome::Tampered);
    assert!(found.detail.contains("unreadable"), "{}", found.detail);
}
