//! Carrying out an action: `systemd` runs the allow-listed argv of the action (no shell, no
//! argument from the payload) and reports exit status and the tail of stderr; `simulate`
//! pretends, without touching the host. The executor never touches MQTT or the state.

use std::time::Duration;

use tokio::process::Command;

use super::config::{AgentConfig, ExecutorKind, Simulate};
use crate::contract::Action;

/// Bytes of stderr kept in a failure's `error_message`.
const STDERR_TAIL: usize = 512;

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Failed(String),
    /// The host is going down for a reboot: `completed` is sent after boot.
    Rebooting,
    /// The host is powering off: nothing more is sent.
    PoweringOff,
}

/// The configured executor.
#[derive(Debug, Clone)]
pub enum Executor {
    Systemd { reboot: Vec<String>, poweroff: Vec<String>, restart: Vec<String> },
    Simulate(Simulate),
}

impl Executor {
    pub fn from_config(config: &AgentConfig) -> Self {
        match config.executor {
            ExecutorKind::Systemd => Executor::Systemd {
                reboot: config.argv(Action::RebootHost),
                poweroff: config.argv(Action::ShutdownHost),
                restart: config.argv(Action::RestartApp),
            },
            ExecutorKind::Simulate => Executor::Simulate(config.simulate.clone()),
        }
    }

    pub fn is_simulated(&self) -> bool {
        matches!(self, Executor::Simulate(_))
    }

    /// Pause before `execution_started` (simulate only).
    pub fn start_delay(&self) -> Duration {
        match self {
            Executor::Simulate(sim) => sim.start_delay,
            Executor::Systemd { .. } => Duration::ZERO,
        }
    }

    /// Offline time of a simulated reboot.
    pub fn reboot_delay(&self) -> Duration {
        match self {
            Executor::Simulate(sim) => sim.reboot_delay,
            Executor::Systemd { .. } => Duration::ZERO,
        }
    }

    /// Run `action`.
    pub async fn execute(&self, action: Action) -> Outcome {
        match self {
            Executor::Systemd { reboot, poweroff, restart } => {
                let argv = match action {
                    Action::RebootHost => reboot,
                    Action::ShutdownHost => poweroff,
                    Action::RestartApp => restart,
                };
                match run(argv).await {
                    Err(message) => Outcome::Failed(message),
                    Ok(()) => match action {
                        Action::RebootHost => Outcome::Rebooting,
                        Action::ShutdownHost => Outcome::PoweringOff,
                        Action::RestartApp => Outcome::Completed,
                    },
                }
            }
            Executor::Simulate(sim) => {
                tokio::time::sleep(sim.run_time).await;
                if chance(sim.failure_rate) {
                    return Outcome::Failed("simulated failure (exit status 1)".into());
                }
                match action {
                    Action::RebootHost => Outcome::Rebooting,
                    Action::ShutdownHost => Outcome::PoweringOff,
                    Action::RestartApp => Outcome::Completed,
                }
            }
        }
    }
}

/// True with probability `p`.
pub fn chance(p: f64) -> bool {
    p > 0.0 && (uuid::Uuid::new_v4().as_u128() as u64 as f64) < p * u64::MAX as f64
}

/// Run `argv` directly; Err carries the exit status and stderr tail.
async fn run(argv: &[String]) -> Result<(), String> {
    let (program, args) = argv.split_first().ok_or("empty argv")?;
    let output = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let trimmed = stderr.trim();
    let start = trimmed.len().saturating_sub(STDERR_TAIL);
    let start = (start..=trimmed.len()).find(|i| trimmed.is_char_boundary(*i)).unwrap_or(0);
    Err(format!("{program} exited with {}: {}", output.status, &trimmed[start..]))
}

/// The heartbeat's `process_status` from `systemctl is-active UNIT`.
pub async fn unit_status(unit: &str) -> &'static str {
    let output = Command::new("systemctl")
        .args(["is-active", unit])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(5), output).await {
        Ok(Ok(out)) => match String::from_utf8_lossy(&out.stdout).trim() {
            "active" => "running",
            "activating" | "reloading" => "starting",
            "failed" => "crashed",
            _ => "stopped",
        },
        _ => "stopped",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn argv_failure_carries_status_and_stderr_tail() {
        let argv: Vec<String> = ["sh", "-c", "echo boom >&2; exit 3"].map(String::from).into();
        let err = run(&argv).await.unwrap_err();
        assert!(err.contains("exit status: 3") && err.ends_with("boom"), "{err}");
        assert!(run(&["/nonexistent/x".to_owned()]).await.unwrap_err().starts_with("cannot run"));
        assert!(run(&["true".to_owned()]).await.is_ok());
        assert!(!chance(0.0) && chance(1.0));
    }
}
