//! How the store's writes are going: whether the latest write transactions failed, and how,
//! for the health report.
//!
//! A backend records the outcome of every write transaction it commits (and of its write
//! probe, [`super::Store::probe_write`]). Failures that say something about the database
//! rather than about one request count: unavailable (busy, locked, connection lost), full,
//! corrupt, internal (read-only file, I/O error). A constraint conflict or a value over the
//! limits is the request's problem and leaves the state as it was. The first write that
//! succeeds clears the failure. Nothing here retries or probes; it only remembers.

use std::sync::Mutex;
use std::time::Instant;

use super::{StoreError, StoreErrorKind};

/// The write probe of [`super::Store::probe_write`] on either backend: rewrites one column of
/// the newest `server_runs` row with its own value, a real write and commit that changes
/// nothing anyone reads.
pub(crate) const PROBE_WRITE: &str =
    "UPDATE server_runs SET pid = pid WHERE run_id = (SELECT MAX(run_id) FROM server_runs)";

/// Writes are failing: since when, how often, and the latest failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteFailure {
    /// The first failure since the last success.
    pub since: Instant,
    /// Failures since the last success.
    pub count: u64,
    /// Kind of the latest failure.
    pub kind: StoreErrorKind,
    /// Operation of the latest failure.
    pub op: &'static str,
}

/// The outcome of the latest write transactions. Cheap to read; never blocks on the store.
#[derive(Debug, Default)]
pub struct WriteHealth {
    failure: Mutex<Option<WriteFailure>>,
}

impl WriteHealth {
    /// A write transaction committed.
    pub fn succeeded(&self) {
        *self.lock() = None;
    }

    /// A write transaction failed with `err`.
    pub fn failed(&self, err: &StoreError) {
        let kind = err.kind();
        if matches!(
            kind,
            StoreErrorKind::Conflict | StoreErrorKind::InvalidInput | StoreErrorKind::Fenced
        ) {
            return;
        }
        let mut failure = self.lock();
        let (since, count) = failure.as_ref().map_or((Instant::now(), 0), |f| (f.since, f.count));
        *failure = Some(WriteFailure { since, count: count + 1, kind, op: err.op() });
    }

    /// Records the outcome of a write and passes it on.
    pub fn record<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        match &result {
            Ok(_) => self.succeeded(),
            Err(err) => self.failed(err),
        }
        result
    }

    /// The current failure, if the latest write failed.
    pub fn failure(&self) -> Option<WriteFailure> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<WriteFailure>> {
        self.failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Write-protects `path` against this process, or lifts the protection: read-only
/// permissions, and where they do not hold (root ignores them) `chattr +i`. SQLite then opens
/// the file read-only, as it would a database an operator made read-only.
#[cfg(test)]
pub(crate) fn write_protect(path: &std::path::Path, on: bool) {
    let set_readonly = |readonly: bool| {
        let mut permissions = std::fs::metadata(path)?.permissions();
        permissions.set_readonly(readonly);
        std::fs::set_permissions(path, permissions)
    };
    let chattr = |flag: &str| {
        let status = std::process::Command::new("chattr").arg(flag).arg(path).status().unwrap();
        assert!(status.success(), "chattr {flag} {} failed", path.display());
    };
    let writable = || std::fs::OpenOptions::new().append(true).open(path).is_ok();
    if on {
        set_readonly(true).unwrap();
        if writable() {
            chattr("+i");
        }
    } else if set_readonly(false).is_err() {
        chattr("-i");
        set_readonly(false).unwrap();
    }
    assert_eq!(writable(), !on, "write protection of {} is not {on}", path.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32) -> StoreError {
        crate::store::sqlite_failure("tx.commit", code)
    }

    #[test]
    fn failures_count_until_a_write_succeeds() {
        let health = WriteHealth::default();
        assert_eq!(health.failure(), None);
        let _ = health.record::<()>(Err(failure(rusqlite::ffi::SQLITE_READONLY)));
        let _ = health.record::<()>(Err(failure(rusqlite::ffi::SQLITE_FULL)));
        let now = health.failure().unwrap();
        assert_eq!(
            (now.count, now.kind, now.op),
            (2, StoreErrorKind::ResourceExhausted, "tx.commit")
        );
        health.record(Ok(())).unwrap();
        assert_eq!(health.failure(), None);
    }

    #[test]
    fn a_request_level_failure_does_not_count() {
        let health = WriteHealth::default();
        health.failed(&failure(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE));
        health.failed(&StoreError::encode("insert", "too long"));
        assert_eq!(health.failure(), None);
    }
}
