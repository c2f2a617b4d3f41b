//! The readiness report (PrepareShutdown) and the checks a Restart must pass first.
//!
//! In-flight work is measured, not blocking: it says how much a drain would have to do.
//! Blocking are the conditions under which a restart would fail for sure.

use super::Mode;
use crate::error::echo;
use crate::lifecycle::ServerContext;
use crate::lifecycle::snapshot;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

/// How long the store may take to answer the health ping.
const STORE_PING_TIMEOUT: Duration = Duration::from_secs(2);

/// What blocks a restart (proto `BlockingIssueCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueCode {
    RestartInProgress,
    ShuttingDown,
    SuccessorBinaryMissing,
    SuccessorBinaryNotExecutable,
    StoreUnhealthy,
    SnapshotUnwritable,
    ListenersNotInheritable,
}

impl IssueCode {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueCode::RestartInProgress => "restart_in_progress",
            IssueCode::ShuttingDown => "shutting_down",
            IssueCode::SuccessorBinaryMissing => "successor_binary_missing",
            IssueCode::SuccessorBinaryNotExecutable => "successor_binary_not_executable",
            IssueCode::StoreUnhealthy => "store_unhealthy",
            IssueCode::SnapshotUnwritable => "snapshot_unwritable",
            IssueCode::ListenersNotInheritable => "listeners_not_inheritable",
        }
    }
}

/// One blocking condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub code: IssueCode,
    pub message: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// The measurements behind the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checks {
    pub in_flight_rpcs: usize,
    pub open_streams: usize,
    pub scheduler_tasks: usize,
    /// Store writes are committed before an RPC answers; there is no write queue, so this
    /// counts store operations running right now ([`crate::store::Store::busy`]).
    pub pending_store_writes: usize,
    pub open_connections: usize,
    pub successor_binary: PathBuf,
    pub successor_binary_present: bool,
    pub successor_binary_executable: bool,
    pub restart_in_progress: Option<Uuid>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub issues: Vec<Issue>,
    pub checks: Checks,
    pub mode: Mode,
    pub checked_ms: i64,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.issues.is_empty()
    }
}

/// Inputs that are not in the server context.
pub struct Subject<'a> {
    pub mode: Mode,
    pub binary: &'a Path,
    pub preserve_state: bool,
    pub running: Option<Uuid>,
    /// `Err` when the listening sockets cannot be duplicated for a successor.
    pub sockets: Result<(), String>,
    /// The caller's own RPC, excluded from the in-flight count.
    pub exclude_self: bool,
}

/// Take the report now.
pub async fn check(ctx: &ServerContext, subject: Subject<'_>) -> Readiness {
    let mut issues = Vec::new();
    let mut issue = |code, message: String| issues.push(Issue { code, message });
    if let Some(id) = subject.running {
        issue(IssueCode::RestartInProgress, format!("restart {id} is running"));
    }
    if ctx.drain.is_stopping() {
        issue(IssueCode::ShuttingDown, "the server is shutting down".into());
    }
    let (present, executable) = binary_state(subject.binary);
    if !present {
        issue(
            IssueCode::SuccessorBinaryMissing,
            format!("binary: {}: no such file", echo(&subject.binary.to_string_lossy())),
        );
    } else if !executable {
        issue(
            IssueCode::SuccessorBinaryNotExecutable,
            format!(
                "binary: {}: not an executable regular file",
                echo(&subject.binary.to_string_lossy())
            ),
        );
    }
    match tokio::time::timeout(STORE_PING_TIMEOUT, ctx.store.ping()).await {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => issue(IssueCode::StoreUnhealthy, err.to_string()),
        Err(_) => issue(IssueCode::StoreUnhealthy, "store did not answer within 2s".into()),
    }
    if subject.preserve_state {
        let config = ctx.config.config();
        let dir = config.restart.snapshot_dir(&config.store.url);
        if let Err(reason) = snapshot::check_writable(&dir) {
            issue(IssueCode::SnapshotUnwritable, reason);
        }
        if let Some(key) = &config.restart.snapshot_key(&config.store.url)
            && let Err(err) = snapshot::SnapshotKey::load(key)
        {
            issue(IssueCode::SnapshotUnwritable, err.to_string());
        }
    }
    if let Err(reason) = subject.sockets {
        issue(IssueCode::ListenersNotInheritable, reason);
    }
    let in_flight = ctx.drain.in_flight();
    let streams = ctx.drain.open_streams();
    let unary = in_flight.saturating_sub(streams).saturating_sub(usize::from(subject.exclude_self));
    Readiness {
        issues,
        checks: Checks {
            in_flight_rpcs: unary,
            open_streams: streams,
            scheduler_tasks: ctx.tasks.running(),
            pending_store_writes: ctx.store.busy(),
            open_connections: ctx.drain.connections(),
            successor_binary: subject.binary.to_owned(),
            successor_binary_present: present,
            successor_binary_executable: executable,
            restart_in_progress: subject.running,
        },
        mode: subject.mode,
        checked_ms: crate::clock::now_ms(),
    }
}

/// (exists, is an executable regular file).
fn binary_state(path: &Path) -> (bool, bool) {
    match std::fs::metadata(path) {
        Ok(meta) => (true, meta.is_file() && meta.permissions().mode() & 0o111 != 0),
        Err(_) => (false, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_checks_tell_missing_from_not_executable() {
        assert_eq!(binary_state(Path::new("/bin/sh")), (true, true));
        assert_eq!(binary_state(Path::new("/nonexistent/rebound")), (false, false));
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        assert_eq!(binary_state(&plain), (true, false));
        assert_eq!(binary_state(dir.path()), (true, false));
    }
}
