//! EXEC mode: replace this process image with the successor, keeping the pid and the
//! listening sockets (whose descriptors are duplicated without FD_CLOEXEC).

use super::inherit::{HANDOVER_ENV, Handover, InheritableSockets, ListenerSockets};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

/// Everything needed to `execve` the successor. Built while the process still runs; used
/// last, after the store is closed and telemetry flushed.
#[derive(Debug)]
pub struct ExecPlan {
    binary: PathBuf,
    args: Vec<OsString>,
    description: String,
    /// Kept open (and inheritable) until the exec.
    _sockets: InheritableSockets,
}

impl ExecPlan {
    pub fn new(
        binary: PathBuf,
        args: Vec<OsString>,
        mut handover: Handover,
        sockets: &ListenerSockets,
    ) -> std::io::Result<Self> {
        let sockets = sockets.inheritable()?;
        sockets.describe(&mut handover);
        let description = serde_json::to_string(&handover).map_err(std::io::Error::other)?;
        Ok(Self { binary, args, description, _sockets: sockets })
    }

    /// Replace the process image. Returns only if `execve` failed.
    pub fn exec(self) -> std::io::Error {
        tracing::info!(binary = %self.binary.display(), "exec");
        std::process::Command::new(&self.binary)
            .args(&self.args)
            .env(HANDOVER_ENV, &self.description)
            .exec()
    }
}
