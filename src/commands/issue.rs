//! Issuing a command: validation, idempotency on `command_id`, the per-device safety lockout,
//! and the `queued` record with its event. Publishing happens after commit
//! ([`Fleet::finish`]).

use std::time::Duration;

use uuid::Uuid;

use super::fleet::{Fleet, Pending, commit_audited, duration_ms};

use crate::audit::AuditSlot;
use crate::clock::now_ms;
use crate::config::SafetyConfig;
use crate::contract::Action;
use crate::contract::limits::{MAX_EXPIRY, MIN_EXPIRY, check_reason};
use crate::error::{Error, Result};
use crate::model::commands::{CommandRecord, CommandState, EventSource, Origin};
use crate::store::commands::FleetTx;

/// What the caller asks for.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// `None`: a new id is generated.
    pub command_id: Option<Uuid>,
    pub client_uuid: Uuid,
    pub action: Action,
    pub reason: Option<String>,
    pub requested_by: Option<i64>,
    /// `None`: `commands.default_expiry`.
    pub expires_in: Option<Duration>,
    pub principal: String,
    pub trace_parent: Option<String>,
    /// The audit row of the API call, stored with the command.
    pub audit: AuditSlot,
}

/// Why a command is issued, and by which path.
#[derive(Debug, Clone, Copy)]
pub(super) struct IssueOrigin {
    pub origin: Origin,
    pub rollout_id: Option<Uuid>,
    pub source: EventSource,
}

/// Result of [`Fleet::issue_in`].
#[derive(Debug)]
pub(super) enum IssueOutcome {
    Created(CommandRecord),
    Existing(CommandRecord),
    /// Stored as `rejected` by the lockout; the message says why and until when.
    Rejected(CommandRecord, String),
}

/// The safety lockout of one device at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub in_window: u32,
    pub max: u32,
    pub window: Duration,
    pub locked_out: bool,
    /// When the next command would be allowed; `None` when not locked out.
    pub next_allowed_ms: Option<i64>,
}

impl Lockout {
    /// From the issue times (ascending) of the commands counted in the window.
    pub fn compute(entries: &[i64], safety: &SafetyConfig) -> Self {
        let max = safety.lockout_max;
        let in_window = u32::try_from(entries.len()).unwrap_or(u32::MAX);
        let locked_out = in_window >= max;
        let window = duration_ms(safety.lockout_window);
        let next_allowed_ms =
            locked_out.then(|| entries[entries.len() - max as usize].saturating_add(window));
        Self { in_window, max, window: safety.lockout_window, locked_out, next_allowed_ms }
    }
}

/// Validate the parts of a request the domain owns (field names as in the API).
pub(super) fn validate(
    reason: Option<&str>,
    requested_by: Option<i64>,
    expires_in: Option<Duration>,
) -> Result<()> {
    if let Some(reason) = reason {
        check_reason(reason).map_err(|why| Error::invalid_argument("reason", why))?;
    }
    if requested_by.is_some_and(|id| id < 1) {
        return Err(Error::invalid_argument("requested_by", "must be at least 1"));
    }
    if expires_in.is_some_and(|e| !(MIN_EXPIRY..=MAX_EXPIRY).contains(&e)) {
        return Err(Error::invalid_argument("expires_in", "must be between 1s and 24h"));
    }
    Ok(())
}

/// The id of a command the caller did not name: a time-ordered UUID (version 7), so that the
/// store's indexes keyed by command id (the commands themselves, their events, rollout
/// members) take new commands at their right edge instead of on a random page each.
pub(super) fn new_command_id() -> Uuid {
    Uuid::now_v7()
}

fn params_hash(req: &IssueRequest, expires_ms: i64) -> String {
    let text = format!(
        "{}|{}|{:?}|{:?}|{}",
        req.client_uuid, req.action, req.reason, req.requested_by, expires_ms
    );
    crate::hex::sha256(text)
}

pub(super) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

impl Fleet {
    /// Issue a command through the API. Returns the command and whether it was created.
    #[tracing::instrument(name = "commands.issue", skip_all,
        fields(client.uuid = %req.client_uuid, command.action = %req.action))]
    pub async fn issue(&self, req: IssueRequest) -> Result<(CommandRecord, bool)> {
        validate(req.reason.as_deref(), req.requested_by, req.expires_in)?;
        self.require_gateway()?;
        let mut tx = self.store.fleet_tx().await?;
        // The device (and the device of a stored command with the caller's id) is locked
        // before anything is read, so a second call with the same id waits and finds it.
        tx.prefetch(req.command_id.as_slice(), &[req.client_uuid]).await?;
        let mut pending = Pending::default();
        let how = IssueOrigin { origin: Origin::Api, rollout_id: None, source: EventSource::Api };
        let outcome = self.issue_in(&mut *tx, &mut pending, &req, how, now_ms()).await?;
        let answer = match outcome {
            IssueOutcome::Created(command) => Ok((command, true)),
            IssueOutcome::Existing(command) => Ok((command, false)),
            IssueOutcome::Rejected(_, message) => Err(Error::ResourceExhausted(message)),
        };
        commit_audited(tx, &req.audit, answer.as_ref().err()).await?;
        self.finish(pending);
        answer
    }

    /// Start of the lockout window ending at `now`.
    pub(super) fn lockout_since(&self, now: i64) -> i64 {
        now.saturating_sub(duration_ms(self.settings.current().safety.lockout_window))
    }

    pub(super) fn require_gateway(&self) -> Result<()> {
        if self.link.is_configured() {
            Ok(())
        } else {
            Err(Error::FailedPrecondition(
                "mqtt.url: no MQTT gateway is configured; devices cannot be reached".into(),
            ))
        }
    }

    /// Issue inside an open transaction (API, rollouts and crash recovery share this).
    pub(super) async fn issue_in(
        &self,
        tx: &mut dyn FleetTx,
        pending: &mut Pending,
        req: &IssueRequest,
        how: IssueOrigin,
        now: i64,
    ) -> Result<IssueOutcome> {
        let settings = self.settings.current();
        let expires_in = req.expires_in.unwrap_or(settings.commands.default_expiry);
        let expires_ms = duration_ms(expires_in);
        let hash = params_hash(req, expires_ms);
        // Idempotency applies to ids the caller chose. A generated one (UUIDv7: time, a
        // counter and random bits; increasing within the process) names no stored command;
        // were it ever to, the commands table's primary key would refuse the insert and the
        // transaction, not overwrite anything.
        let command_id = match req.command_id {
            None => new_command_id(),
            Some(command_id) => {
                if let Some(existing) = tx.command(command_id).await? {
                    if existing.params_hash == hash {
                        return Ok(IssueOutcome::Existing(existing));
                    }
                    return Err(Error::AlreadyExists(format!(
                        "command_id: command {command_id} already exists with other parameters"
                    )));
                }
                command_id
            }
        };
        let Some(client) = tx.client(req.client_uuid).await? else {
            return Err(Error::NotFound { kind: "client", id: req.client_uuid.to_string() });
        };
        let entries = tx.lockout_entries(req.client_uuid, self.lockout_since(now)).await?;
        let lockout = Lockout::compute(&entries, &settings.safety);
        let mut command = CommandRecord {
            reason: req.reason.clone(),
            requested_by: req.requested_by,
            params_hash: hash,
            principal: req.principal.clone(),
            boot_id_at_issue: client.boot_id.clone(),
            rollout_id: how.rollout_id,
            trace_parent: req.trace_parent.clone(),
            ..CommandRecord::new(
                command_id,
                req.client_uuid,
                req.action,
                how.origin,
                now,
                now.saturating_add(expires_ms),
            )
        };
        if lockout.locked_out {
            let until = lockout.next_allowed_ms.map(rfc3339).unwrap_or_default();
            let message = format!(
                "safety lockout: client {} already has {} of {} disruptive commands in the last \
                 {}; command {command_id} stored as rejected; next allowed at {until}",
                req.client_uuid,
                lockout.in_window,
                lockout.max,
                humantime::format_duration(lockout.window),
            );
            command.state = CommandState::Rejected;
            command.finished_ms = Some(now);
            command.error_code = Some("safety_lockout".into());
            command.error_message = Some(message.clone());
            pending.create(tx, command.clone(), how.source, &message).await?;
            tracing::warn!(command.id = %command_id, client.uuid = %req.client_uuid, "{message}");
            return Ok(IssueOutcome::Rejected(command, message));
        }
        let detail = format!("issued by {} ({})", req.principal, how.origin);
        pending.create(tx, command.clone(), how.source, &detail).await?;
        Ok(IssueOutcome::Created(command))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::limits::MAX_REASON_CHARS;

    #[test]
    fn lockout_frees_when_the_oldest_counted_command_leaves_the_window() {
        let safety = SafetyConfig::default();
        let open = Lockout::compute(&[0, 10], &safety);
        assert!(!open.locked_out && open.next_allowed_ms.is_none());
        let full = Lockout::compute(&[0, 10, 20], &safety);
        assert!(full.locked_out);
        assert_eq!(full.next_allowed_ms, Some(15 * 60 * 1000));
        let over = Lockout::compute(&[0, 10, 20, 30], &safety);
        assert_eq!(over.next_allowed_ms, Some(10 + 15 * 60 * 1000));
    }

    #[test]
    fn validation_names_the_field() {
        let long = "x".repeat(MAX_REASON_CHARS + 1);
        let err = validate(Some(&long), None, None).unwrap_err().to_string();
        assert!(err.starts_with("reason:"), "{err}");
        assert!(
            validate(None, Some(0), None).unwrap_err().to_string().starts_with("requested_by:")
        );
        let err = validate(None, None, Some(Duration::from_millis(10))).unwrap_err();
        assert!(err.to_string().starts_with("expires_in:"));
        validate(Some("ok"), Some(1), Some(Duration::from_secs(60))).unwrap();
    }

    #[test]
    fn new_command_ids_sort_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..1000).map(|_| new_command_id().to_string()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "the store's text keys must grow with time");
        assert_eq!(new_command_id().get_version_num(), 7);
    }
}
