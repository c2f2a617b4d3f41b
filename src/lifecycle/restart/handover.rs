//! HANDOVER mode, old-process side: spawn the successor with the listening sockets and one
//! end of the control socket inherited, wait until it is ready (or dead, or late), and hand
//! it the restart record after the drain.
//!
//! The successor leads a process group of its own, so a rollback kills everything it started
//! (a wrapper script's children inherit the listening sockets and the control socket too; a
//! survivor would keep the port bound after this server stops).

use super::control::{Control, Message};
use super::inherit::{HANDOVER_ENV, Handover, ListenerSockets};
use super::{RestartRecord, SnapshotOutcome};
use crate::lifecycle::fds;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a successor that closed its control socket gets to finish exiting before it is
/// killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// A spawned successor process.
#[derive(Debug)]
pub struct Successor {
    child: tokio::process::Child,
    control: Control,
    pub pid: u32,
}

/// What the successor reported with `ready`.
#[derive(Debug, Clone)]
pub struct Ready {
    pub pid: u32,
    pub snapshot: SnapshotOutcome,
    pub snapshot_detail: String,
}

/// Spawn `binary` with `args` as the successor described by `handover` (its descriptor
/// fields are filled in here).
pub fn spawn(
    binary: &Path,
    args: &[OsString],
    mut handover: Handover,
    sockets: &ListenerSockets,
) -> std::io::Result<Successor> {
    let inheritable = sockets.inheritable()?;
    inheritable.describe(&mut handover);
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    let theirs = fds::inheritable(theirs.as_fd())?;
    handover.control_fd = Some(theirs.as_raw_fd());
    let description = serde_json::to_string(&handover).map_err(std::io::Error::other)?;
    let child = tokio::process::Command::new(binary)
        .args(args)
        .env(HANDOVER_ENV, description)
        .process_group(0)
        .spawn()?;
    // The child has its copies now; ours must not keep the sockets alive in other children.
    drop((inheritable, theirs));
    ours.set_nonblocking(true)?;
    let control = Control::new(tokio::net::UnixStream::from_std(ours)?);
    let pid = child.id().unwrap_or_default();
    Ok(Successor { child, control, pid })
}

/// Why a successor that exited before it was ready is gone.
fn describe_exit(status: std::io::Result<std::process::ExitStatus>) -> String {
    match status {
        Ok(status) => match status.code() {
            Some(code) => format!("successor exited with status {code} before it was ready"),
            None => format!("successor was killed ({status}) before it was ready"),
        },
        Err(err) => format!("successor state unknown: {err}"),
    }
}

impl Successor {
    /// Wait for `ready`. `Err` carries the rollback reason. The successor exiting counts as
    /// failing even when processes it started still hold the control socket open.
    pub async fn wait_ready(
        &mut self,
        timeout: Duration,
        stop: &CancellationToken,
    ) -> Result<Ready, String> {
        tokio::select! {
            message = self.control.recv() => match message {
                Ok(Some(Message::Ready { pid, snapshot, snapshot_detail })) => {
                    Ok(Ready { pid, snapshot, snapshot_detail })
                }
                Ok(Some(other)) => Err(format!("successor sent {other:?} instead of ready")),
                Ok(None) => Err(self.exit_reason().await),
                Err(err) => Err(format!("successor control socket: {err}")),
            },
            status = self.child.wait() => Err(describe_exit(status)),
            _ = tokio::time::sleep(timeout) => Err(format!(
                "successor (pid {}) not ready within {} (restart.ready_timeout)",
                self.pid,
                humantime::format_duration(timeout)
            )),
            _ = stop.cancelled() => Err("shutdown requested while the successor was starting".into()),
        }
    }

    async fn exit_reason(&mut self) -> String {
        match tokio::time::timeout(EXIT_GRACE, self.child.wait()).await {
            Ok(status) => describe_exit(status),
            Err(_) => "successor closed its control socket before it was ready".into(),
        }
    }

    /// Kill the successor and every process of its group, and reap it (rollback): nothing it
    /// started keeps the inherited sockets.
    pub async fn kill(&mut self) {
        if let Err(err) = fds::kill_group(self.pid) {
            tracing::warn!(pgid = self.pid, error = %err, "could not kill the successor's process group");
        }
        if let Err(err) = self.child.start_kill() {
            tracing::debug!(error = %err, "successor already gone");
        }
        if let Err(err) = self.child.wait().await {
            tracing::warn!(error = %err, "could not reap the successor");
        }
    }

    /// Give the successor the restart record. The control socket stays open until this
    /// process exits; its end-of-file tells the successor we are gone.
    pub async fn hand_over(&mut self, record: &RestartRecord) -> std::io::Result<()> {
        self.control.send(&Message::HandedOver { record: Box::new(record.clone()) }).await
    }
}
