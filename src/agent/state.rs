//! The agent's durable memory: one record per `command_id` (its phase and the latest ack
//! sent), the simulated boot id, and the simulated executions log.
//!
//! With a directory, every change is written to a temp file, fsynced, renamed and the
//! directory fsynced BEFORE the caller publishes the ack, so a command id survives crashes
//! and reboots and is never executed twice. Without one (fleet-sim) it lives in memory.
//! This module decides nothing: it stores what the session tells it.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::wire::AckOut;

/// Terminal records older than this are forgotten at load (commands expire in minutes).
const KEEP_MS: i64 = 7 * 24 * 3600 * 1000;

/// Where a command stands on this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Accepted,
    ExecutionStarted,
    Completed,
    Failed,
}

impl Phase {
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Completed | Phase::Failed)
    }
}

/// One command as remembered by the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    pub command_id: Uuid,
    /// The action text (empty when the payload had none usable).
    pub action: String,
    pub phase: Phase,
    /// The boot id when the command arrived (reboot proof).
    pub boot_id_before: String,
    pub last_ack: AckOut,
    pub updated_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// The record store plus simulated boot id and executions count.
#[derive(Debug, Default)]
pub struct State {
    dir: Option<PathBuf>,
    records: HashMap<Uuid, CommandRecord>,
    sim_boot_id: Option<String>,
    executions: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.display().to_string(), source }
}

/// Write `bytes` to `path` durably (temp file, fsync, rename, fsync of the directory).
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::File::open(parent).and_then(|d| d.sync_all()).map_err(io(parent))
}

impl State {
    /// State kept in memory only (simulated fleets).
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Open (creating) `dir` and load every record.
    pub fn open(dir: &Path, now_ms: i64) -> Result<Self, StateError> {
        let commands = dir.join("commands");
        std::fs::create_dir_all(&commands).map_err(io(&commands))?;
        let mut records = HashMap::new();
        for entry in std::fs::read_dir(&commands).map_err(io(&commands))? {
            let path = entry.map_err(io(&commands))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = std::fs::read(&path).map_err(io(&path))?;
            match serde_json::from_slice::<CommandRecord>(&text) {
                Ok(r) if r.phase.is_terminal() && now_ms - r.updated_ms > KEEP_MS => {
                    std::fs::remove_file(&path).map_err(io(&path))?;
                }
                Ok(record) => {
                    records.insert(record.command_id, record);
                }
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "agent.state: unreadable record skipped")
                }
            }
        }
        let boot = dir.join("sim_boot_id");
        let sim_boot_id = std::fs::read_to_string(&boot).ok().map(|s| s.trim().to_owned());
        let log = dir.join("sim_executions.log");
        let executions =
            std::fs::read_to_string(&log).map(|s| s.lines().count() as u64).unwrap_or(0);
        Ok(Self { dir: Some(dir.to_owned()), records, sim_boot_id, executions })
    }

    pub fn get(&self, id: &Uuid) -> Option<&CommandRecord> {
        self.records.get(id)
    }

    /// Every record not yet terminal.
    pub fn unfinished(&self) -> Vec<CommandRecord> {
        let mut open: Vec<_> =
            self.records.values().filter(|r| !r.phase.is_terminal()).cloned().collect();
        open.sort_by_key(|r| r.updated_ms);
        open
    }

    /// Store `record` durably, then remember it.
    pub fn put(&mut self, record: CommandRecord) -> Result<(), StateError> {
        if let Some(dir) = &self.dir {
            let path = dir.join("commands").join(format!("{}.json", record.command_id));
            let bytes = serde_json::to_vec(&record).unwrap_or_default();
            write_durably(&path, &bytes)?;
        }
        self.records.insert(record.command_id, record);
        Ok(())
    }

    /// The simulated boot id, created on first use.
    pub fn sim_boot_id(&mut self) -> Result<String, StateError> {
        match &self.sim_boot_id {
            Some(id) => Ok(id.clone()),
            None => self.new_sim_boot_id(),
        }
    }

    /// A simulated reboot: a fresh boot id, stored durably.
    pub fn new_sim_boot_id(&mut self) -> Result<String, StateError> {
        let id = Uuid::new_v4().to_string();
        if let Some(dir) = &self.dir {
            write_durably(&dir.join("sim_boot_id"), id.as_bytes())?;
        }
        self.sim_boot_id = Some(id.clone());
        Ok(id)
    }

    /// Record one simulated execution (appended and fsynced to `sim_executions.log`).
    pub fn log_execution(&mut self, id: Uuid, action: &str) -> Result<(), StateError> {
        if let Some(dir) = &self.dir {
            let path = dir.join("sim_executions.log");
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io(&path))?;
            file.write_all(format!("{id} {action}\n").as_bytes()).map_err(io(&path))?;
            file.sync_all().map_err(io(&path))?;
        }
        self.executions += 1;
        Ok(())
    }

    /// Simulated executions so far.
    pub fn executions(&self) -> u64 {
        self.executions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_boot_id_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(dir.path(), 0).unwrap();
        let id = Uuid::new_v4();
        let record = CommandRecord {
            command_id: id,
            action: "restart_app".into(),
            phase: Phase::Accepted,
            boot_id_before: "b".into(),
            last_ack: AckOut::new(id, "accepted"),
            updated_ms: 1,
        };
        state.put(record.clone()).unwrap();
        let boot = state.sim_boot_id().unwrap();
        state.log_execution(id, "restart_app").unwrap();
        let mut again = State::open(dir.path(), 2).unwrap();
        assert_eq!(again.get(&id), Some(&record));
        assert_eq!(again.unfinished().len(), 1);
        assert_eq!(again.sim_boot_id().unwrap(), boot);
        assert_eq!(again.executions(), 1);
        assert_ne!(again.new_sim_boot_id().unwrap(), boot);
    }
}
