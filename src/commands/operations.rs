//! Operator actions and reads besides issuing: command lookup and cancel, the device
//! registry (group, capability tier, service failures) and each device's lockout and crash
//! state.

use uuid::Uuid;

use super::fleet::{Fleet, Pending, commit_audited, duration_ms};

use super::issue::Lockout;
use super::lifecycle;
use crate::audit::AuditSlot;
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::model::clients::{CapabilityTier, ClientRecord, ProcessStatus};
use crate::model::commands::{CommandEvent, CommandRecord, EventSource};

/// Longest group name.
pub const MAX_GROUP_CHARS: usize = 64;

/// Crash detection result for one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashState {
    /// No heartbeat received yet.
    Unknown,
    Healthy,
    Crashed,
    Stale,
}

/// Crash state of `client` at `now_ms`, heartbeats older than `stale_after_ms` being stale.
pub fn crash_state(client: &ClientRecord, now_ms: i64, stale_after_ms: i64) -> CrashState {
    let Some(last) = client.last_health_ms else { return CrashState::Unknown };
    if client.process_status == Some(ProcessStatus::Crashed) {
        CrashState::Crashed
    } else if client.shut_down_ms.is_none() && last < now_ms.saturating_sub(stale_after_ms) {
        CrashState::Stale
    } else {
        CrashState::Healthy
    }
}

/// Check a group name: 1–64 characters of `[A-Za-z0-9._-]`.
pub fn validate_group(group: &str) -> Result<()> {
    let ok = !group.is_empty()
        && group.chars().count() <= MAX_GROUP_CHARS
        && group.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument("group", "must be 1-64 characters of [A-Za-z0-9._-]"))
    }
}

impl Fleet {
    /// One command with its history.
    pub async fn command(&self, id: Uuid) -> Result<(CommandRecord, Vec<CommandEvent>)> {
        let command = self.store.command(id).await?;
        let command = command.ok_or(Error::NotFound { kind: "command", id: id.to_string() })?;
        let events = self.store.command_events(id).await?;
        Ok((command, events))
    }

    /// Cancel a command the device has not accepted yet.
    #[tracing::instrument(name = "commands.cancel", skip_all, fields(command.id = %id))]
    pub async fn cancel(
        &self,
        id: Uuid,
        principal: &str,
        reason: &str,
        audit: &AuditSlot,
    ) -> Result<CommandRecord> {
        let mut tx = self.store.fleet_tx().await?;
        let Some(mut command) = tx.command(id).await? else {
            return Err(Error::NotFound { kind: "command", id: id.to_string() });
        };
        let detail = if reason.is_empty() {
            format!("canceled by {principal}")
        } else {
            format!("canceled by {principal}: {reason}")
        };
        let mut pending = Pending::default();
        if let Some(t) = lifecycle::cancel(&mut command, now_ms(), detail)? {
            pending.record(&mut *tx, command.clone(), t, EventSource::Api).await?;
        }
        commit_audited(tx, audit, None).await?;
        self.finish(pending);
        Ok(command)
    }

    pub async fn client(&self, uuid: Uuid) -> Result<ClientRecord> {
        self.store
            .client(uuid)
            .await?
            .ok_or(Error::NotFound { kind: "client", id: uuid.to_string() })
    }

    /// The safety lockout of each of `clients` now (one read per few hundred devices).
    pub async fn lockouts(&self, clients: &[Uuid]) -> Result<Vec<Lockout>> {
        let safety = self.settings.current().safety.clone();
        let since = now_ms().saturating_sub(duration_ms(safety.lockout_window));
        let entries = self.store.lockout_entries_of(clients, since).await?;
        Ok(clients
            .iter()
            .map(|id| Lockout::compute(entries.get(id).map_or(&[], Vec::as_slice), &safety))
            .collect())
    }

    /// Crash state of one device now.
    pub fn crash_state_of(&self, client: &ClientRecord) -> CrashState {
        let stale = duration_ms(self.settings.current().crash_recovery.stale_after);
        crash_state(client, now_ms(), stale)
    }

    /// Set group (`Some("")` removes it) and/or capability tier.
    #[tracing::instrument(name = "commands.update_client", skip_all, fields(client.uuid = %uuid))]
    pub async fn update_client(
        &self,
        uuid: Uuid,
        group: Option<String>,
        tier: Option<CapabilityTier>,
        audit: &AuditSlot,
    ) -> Result<ClientRecord> {
        if group.is_none() && tier.is_none() {
            return Err(Error::invalid_argument("update", "nothing to update"));
        }
        if let Some(group) = group.as_deref().filter(|g| !g.is_empty()) {
            validate_group(group)?;
        }
        let mut tx = self.store.fleet_tx().await?;
        let Some(mut client) = tx.client(uuid).await? else {
            return Err(Error::NotFound { kind: "client", id: uuid.to_string() });
        };
        if let Some(group) = group {
            client.group = (!group.is_empty()).then_some(group);
        }
        if let Some(tier) = tier {
            client.capability_tier = Some(tier);
        }
        client.updated_ms = now_ms();
        tx.put_client(&client).await?;
        commit_audited(tx, audit, None).await?;
        Ok(client)
    }

    /// Clear a recorded service failure and the retained message. Returns the device and
    /// whether there was a failure to clear.
    #[tracing::instrument(name = "commands.clear_service_failed", skip_all, fields(client.uuid = %uuid))]
    pub async fn clear_service_failed(
        &self,
        uuid: Uuid,
        audit: &AuditSlot,
    ) -> Result<(ClientRecord, bool)> {
        let mut tx = self.store.fleet_tx().await?;
        let Some(mut client) = tx.client(uuid).await? else {
            return Err(Error::NotFound { kind: "client", id: uuid.to_string() });
        };
        let cleared = client.service_failed_unit.is_some() || client.service_failed_ms.is_some();
        if cleared {
            client.service_failed_unit = None;
            client.service_failed_ms = None;
            client.updated_ms = now_ms();
            tx.put_client(&client).await?;
        }
        commit_audited(tx, audit, None).await?;
        if cleared {
            self.link.clear_service_failed(uuid);
        }
        Ok((client, cleared))
    }
}
