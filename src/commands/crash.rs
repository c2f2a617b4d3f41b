//! Crash recovery (`crash_recovery.enabled`): for a device that is crashed
//! (`process_status = crashed`) or stale (no heartbeat for `crash_recovery.stale_after`), the
//! ladder restart_app → reboot_host → power-cycle hook (tier `managed_power` only, when
//! `escalation.power_cycle_command` is set) → needs_attention. A step is taken only after the
//! previous step's command is terminal and `safety.escalation_cooldown` has passed since it
//! began; a device that is healthy again ends the ladder. Every step obeys the lockout: a
//! refused step ends the ladder in needs_attention.

use std::time::Duration;

use uuid::Uuid;

use super::fleet::{Fleet, Pending, duration_ms};

use super::issue::{IssueOrigin, IssueOutcome, IssueRequest, Lockout};
use super::leader::{Scope, fenced_tx};
use super::operations::{CrashState, crash_state};
use super::settings::DeviceSettings;
use crate::audit::AuditSlot;
use crate::clock::now_ms;
use crate::cluster::Leadership;
use crate::contract::Action;
use crate::error::Result;
use crate::model::clients::{CapabilityTier, ClientRecord, RecoveryStep};
use crate::model::commands::{EventSource, Origin};
use crate::store::commands::FleetTx;

/// What the ladder does next for one device.
enum Next {
    Wait,
    Recovered(String),
    Issue(Action),
    PowerCycle(Vec<String>),
    Attention(String),
}

impl Fleet {
    /// One pass of the ladder over every device that needs it.
    pub async fn recover_crashes(&self) -> Result<()> {
        let settings = self.settings.current();
        if !settings.crash_recovery.enabled || !self.link.is_configured() {
            return Ok(());
        }
        let now = now_ms();
        let stale_ms = duration_ms(settings.crash_recovery.stale_after);
        for client in self.store.crash_candidates(now.saturating_sub(stale_ms)).await? {
            if let Err(err) = self.ladder_step(client.client_uuid, now, &settings).await {
                tracing::error!(client.uuid = %client.client_uuid, error = %err,
                    "crash recovery step failed");
            }
        }
        Ok(())
    }

    #[tracing::instrument(name = "crash_recovery.step", skip_all, fields(client.uuid = %uuid))]
    async fn ladder_step(&self, uuid: Uuid, now: i64, settings: &DeviceSettings) -> Result<()> {
        let mut tx = self.leader_tx().await?;
        let Some(mut client) = tx.client(uuid).await? else { return Ok(()) };
        let state = crash_state(&client, now, duration_ms(settings.crash_recovery.stale_after));
        let next = self.decide(&mut *tx, &client, state, now, settings).await?;
        let mut pending = Pending::default();
        let step_started = |client: &mut ClientRecord, step: RecoveryStep, detail: String| {
            if client.recovery_step == RecoveryStep::Idle {
                client.recovery_detected_ms = Some(now);
            }
            client.recovery_step = step;
            client.recovery_step_ms = Some(now);
            client.recovery_detail = Some(detail);
        };
        let mut hook = None;
        match next {
            Next::Wait => return Ok(()),
            Next::Recovered(detail) => {
                tracing::info!("{detail}");
                client.recovery_step = RecoveryStep::Idle;
                client.recovery_step_ms = None;
                client.recovery_command_id = None;
                client.recovery_detected_ms = None;
                client.recovery_detail = Some(detail);
            }
            Next::Issue(action) => {
                let req = IssueRequest {
                    command_id: None,
                    client_uuid: uuid,
                    action,
                    reason: Some(format!("crash recovery: device {}", describe(state))),
                    requested_by: None,
                    expires_in: None,
                    principal: "system".into(),
                    trace_parent: None,
                    audit: AuditSlot::default(),
                };
                let how = IssueOrigin {
                    origin: Origin::CrashRecovery,
                    rollout_id: None,
                    source: EventSource::Scheduler,
                };
                match self.issue_in(&mut *tx, &mut pending, &req, how, now).await? {
                    IssueOutcome::Created(command) | IssueOutcome::Existing(command) => {
                        let detail = format!("device {}; issued {action}", describe(state));
                        tracing::warn!(command.id = %command.command_id, "crash recovery: {detail}");
                        client.recovery_command_id = Some(command.command_id);
                        let step = match action {
                            Action::RebootHost => RecoveryStep::RebootHost,
                            _ => RecoveryStep::RestartApp,
                        };
                        step_started(&mut client, step, detail);
                    }
                    IssueOutcome::Rejected(command, message) => {
                        client.recovery_command_id = Some(command.command_id);
                        needs_attention(&mut client, now, format!("{action} blocked: {message}"));
                    }
                }
            }
            Next::PowerCycle(argv) => {
                let detail = format!("device {}; running the power-cycle hook", describe(state));
                tracing::warn!("crash recovery: {detail}");
                client.recovery_command_id = None;
                step_started(&mut client, RecoveryStep::PowerCycle, detail);
                hook = Some(argv);
            }
            Next::Attention(reason) => needs_attention(&mut client, now, reason),
        }
        client.updated_ms = now;
        tx.put_client(&client).await?;
        tx.commit().await?;
        self.finish(pending);
        if let Some(argv) = hook {
            let timeout = settings.escalation.power_cycle_timeout;
            let (store, leadership) = (self.store.clone(), self.leadership.clone());
            tokio::spawn(async move {
                let outcome = run_hook(&argv, uuid, timeout).await;
                record_hook_outcome(store.as_ref(), &leadership, uuid, outcome).await;
            });
        }
        Ok(())
    }

    async fn decide(
        &self,
        tx: &mut dyn FleetTx,
        client: &ClientRecord,
        state: CrashState,
        now: i64,
        settings: &DeviceSettings,
    ) -> Result<Next> {
        let crashed = matches!(state, CrashState::Crashed | CrashState::Stale);
        let step = client.recovery_step;
        let cooled = client.recovery_step_ms.is_none_or(|at| {
            now >= at.saturating_add(duration_ms(settings.safety.escalation_cooldown))
        });
        let outcome = match step {
            RecoveryStep::Idle => {
                return Ok(if crashed { Next::Issue(Action::RestartApp) } else { Next::Wait });
            }
            RecoveryStep::NeedsAttention => return Ok(Next::Wait),
            RecoveryStep::PowerCycle => "power cycle".to_owned(),
            RecoveryStep::RestartApp | RecoveryStep::RebootHost => {
                let command = match client.recovery_command_id {
                    Some(id) => tx.command(id).await?,
                    None => None,
                };
                match command {
                    Some(command) if !command.state.is_terminal() => return Ok(Next::Wait),
                    Some(command) => format!("{} {}", command.action, command.state),
                    None => format!("{step} (command missing)"),
                }
            }
        };
        if !crashed {
            return Ok(Next::Recovered(format!("recovered after {outcome}")));
        }
        if !cooled {
            return Ok(Next::Wait);
        }
        let hook = settings.escalation.power_cycle_command.clone();
        let managed = client.capability_tier == Some(CapabilityTier::ManagedPower);
        Ok(match step {
            RecoveryStep::RestartApp => Next::Issue(Action::RebootHost),
            RecoveryStep::RebootHost => match hook.filter(|_| managed) {
                Some(argv) => {
                    let since = now.saturating_sub(duration_ms(settings.safety.lockout_window));
                    let entries = tx.lockout_entries(client.client_uuid, since).await?;
                    if Lockout::compute(&entries, &settings.safety).locked_out {
                        Next::Attention(format!(
                            "{outcome}; power cycle blocked by the safety lockout"
                        ))
                    } else {
                        Next::PowerCycle(argv)
                    }
                }
                None => Next::Attention(format!("{outcome}; ladder exhausted")),
            },
            _ => Next::Attention(format!("{outcome}; ladder exhausted")),
        })
    }
}

fn describe(state: CrashState) -> &'static str {
    match state {
        CrashState::Crashed => "crashed",
        CrashState::Stale => "stale (no heartbeat)",
        CrashState::Healthy | CrashState::Unknown => "healthy",
    }
}

fn needs_attention(client: &mut ClientRecord, now: i64, reason: String) {
    tracing::error!(client.uuid = %client.client_uuid, "crash recovery: needs attention: {reason}");
    client.recovery_step = RecoveryStep::NeedsAttention;
    client.recovery_step_ms = Some(now);
    client.needs_attention = true;
    client.attention_reason = Some(reason.clone());
    client.recovery_detail = Some(reason);
}

/// Run the power-cycle hook (no shell), `{client_uuid}` replaced in its arguments.
async fn run_hook(argv: &[String], uuid: Uuid, timeout: Duration) -> String {
    let uuid_text = uuid.to_string();
    let args: Vec<String> = argv.iter().map(|a| a.replace("{client_uuid}", &uuid_text)).collect();
    let Some((program, rest)) = args.split_first() else {
        return "power-cycle hook not configured".into();
    };
    let mut command = tokio::process::Command::new(program);
    command.args(rest).env("REBOUND_CLIENT_UUID", &uuid_text).kill_on_drop(true);
    match tokio::time::timeout(timeout, command.status()).await {
        Ok(Ok(status)) if status.success() => "power-cycle hook exited 0".into(),
        Ok(Ok(status)) => format!("power-cycle hook failed: {status}"),
        Ok(Err(err)) => format!("power-cycle hook could not run: {err}"),
        Err(_) => format!("power-cycle hook killed after {}", humantime::format_duration(timeout)),
    }
}

/// Record the power-cycle hook's `outcome` on the device, in a transaction fenced like the
/// ladder step that ran the hook: the hook may outlast this replica's lease, and a replica
/// that lost it records nothing (and steps down).
async fn record_hook_outcome(
    store: &dyn crate::store::Store,
    leadership: &Leadership,
    uuid: Uuid,
    outcome: String,
) {
    tracing::warn!(client.uuid = %uuid, "crash recovery: {outcome}");
    let result: Result<()> = async {
        let mut tx = fenced_tx(store, leadership, Scope::Devices).await?;
        if let Some(mut client) = tx.client(uuid).await?
            && client.recovery_step == RecoveryStep::PowerCycle
        {
            client.recovery_detail = Some(outcome);
            client.updated_ms = now_ms();
            tx.put_client(&client).await?;
        }
        Ok(tx.commit().await?)
    }
    .await;
    if let Err(err) = result {
        tracing::error!(client.uuid = %uuid, error = %err, "cannot record the power-cycle outcome");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hook_replaces_the_uuid_and_reports_its_exit() {
        let uuid = Uuid::new_v4();
        let ok = vec![
            "sh".into(),
            "-c".into(),
            "test \"$0\" = {client_uuid}".into(),
            "{client_uuid}".into(),
        ];
        assert_eq!(run_hook(&ok, uuid, Duration::from_secs(5)).await, "power-cycle hook exited 0");
        let fail = vec!["false".to_owned()];
        assert!(run_hook(&fail, uuid, Duration::from_secs(5)).await.contains("failed"));
        let slow = vec!["sleep".to_owned(), "5".to_owned()];
        assert!(run_hook(&slow, uuid, Duration::from_millis(50)).await.contains("killed"));
    }

    /// The hook outlasted the lease (PostgreSQL: another replica took it, epoch + 1): the old
    /// leader records nothing and steps down; the leader records the outcome.
    #[tokio::test]
    async fn an_old_leader_does_not_record_the_hook_outcome() {
        use crate::store::{Fence, StoreOptions, open_with, test_postgres::database};
        let Some(url) = database().await else { return };
        let ttl = Duration::from_secs(30);
        let mut stores = Vec::new();
        for id in ["a", "b"] {
            let options = StoreOptions { replica_id: Some(id.into()), ..StoreOptions::default() };
            stores.push(open_with(&url, &options).await.unwrap());
        }
        let (a, b) = (stores[0].as_ref(), stores[1].as_ref());
        let uuid = Uuid::new_v4();
        let mut client = ClientRecord::new(uuid, now_ms());
        client.recovery_step = RecoveryStep::PowerCycle;
        client.recovery_detail = Some("running the power-cycle hook".into());
        let mut tx = a.fleet_tx().await.unwrap();
        tx.put_client(&client).await.unwrap();
        tx.commit().await.unwrap();
        let epoch = a.cluster().unwrap().try_acquire("a", ttl).await.unwrap().unwrap();
        let old = Leadership::leading("a", epoch);
        a.cluster().unwrap().release(&Fence { holder: "a".into(), epoch }).await.unwrap();
        let taken = b.cluster().unwrap().try_acquire("b", ttl).await.unwrap();
        assert_eq!(taken, Some(epoch + 1));

        let outcome = "power-cycle hook exited 0";
        record_hook_outcome(a, &old, uuid, outcome.into()).await;
        let found = a.client(uuid).await.unwrap().unwrap().recovery_detail;
        assert_eq!(found.as_deref(), Some("running the power-cycle hook"), "the old leader wrote");
        assert!(!old.is_leader(), "a fenced leader steps down");

        record_hook_outcome(b, &Leadership::leading("b", epoch + 1), uuid, outcome.into()).await;
        let found = b.client(uuid).await.unwrap().unwrap().recovery_detail;
        assert_eq!(found.as_deref(), Some(outcome));
    }
}
