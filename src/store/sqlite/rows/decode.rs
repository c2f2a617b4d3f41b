//! Decoding rows of the device area back into records: text enums, UUIDs, JSON targets,
//! each failure named with the operation that read the row (see [`Decode`]).

use uuid::Uuid;

use crate::contract::Action;
use crate::model::clients::{CapabilityTier, ClientRecord, ProcessStatus, RecoveryStep};
use crate::model::commands::{
    AckTopic, CommandEvent, CommandRecord, CommandState, EventSource, Evidence, LateOutcome,
    Origin, StateCount,
};
use crate::model::rollouts::{
    AbortCause, RolloutMember, RolloutRecord, RolloutState, RolloutTarget,
};
use crate::store::StoreError;

/// The UUIDs of id columns read as text.
pub(in crate::store) fn uuids(texts: &[String], op: &'static str) -> Result<Vec<Uuid>, StoreError> {
    texts.iter().map(|t| Uuid::parse_str(t).map_err(|e| StoreError::decode(op, e))).collect()
}

/// Rollout members read as `(client_uuid, wave)`.
pub(in crate::store) fn members(
    rows: Vec<(String, i64)>,
    op: &'static str,
) -> Result<Vec<RolloutMember>, StoreError> {
    rows.into_iter()
        .map(|(client, wave)| {
            let client_uuid = Uuid::parse_str(&client).map_err(|e| StoreError::decode(op, e))?;
            Ok(RolloutMember { client_uuid, wave })
        })
        .collect()
}

/// Whether an open command's timer ran out at the bound time `{now}` (the condition of
/// `due_commands`), never NULL. `{now}` is replaced by the backend's placeholder.
pub(in crate::store) const DUE: &str = "COALESCE(CASE WHEN state IN ('queued', 'published') \
     THEN expires_ms <= {now} ELSE deadline_ms <= {now} END, FALSE)";

/// The open-command summary's counts per state, with how many are due (`DUE`).
pub(in crate::store) fn open_summary_sql(placeholder: &str) -> String {
    format!(
        "SELECT state, COUNT(*), SUM(CASE WHEN {} THEN 1 ELSE 0 END) FROM commands \
         WHERE state IN ('queued', 'published', 'accepted', 'execution_started') \
         GROUP BY state",
        DUE.replace("{now}", placeholder)
    )
}

/// Some ids of the open commands of one state that are not due.
pub(in crate::store) fn open_ids_sql(state: &str, now: &str, limit: &str) -> String {
    format!(
        "SELECT command_id FROM commands WHERE state = {state} AND NOT {} LIMIT {limit}",
        DUE.replace("{now}", now)
    )
}

/// One state of the open-command summary: the state's text, its counts and some of its ids.
pub(in crate::store) fn state_count(
    state: &str,
    (count, due): (i64, i64),
    ids: &[String],
    op: &'static str,
) -> Result<StateCount, StoreError> {
    Ok(StateCount {
        state: CommandState::parse(state)
            .ok_or_else(|| StoreError::decode(op, format!("unknown state {state:?}")))?,
        count: u64::try_from(count).unwrap_or_default(),
        due: u64::try_from(due).unwrap_or_default(),
        ids: uuids(ids, op)?,
    })
}

/// Decoding helpers that name the failing operation.
struct Decode(&'static str);

impl Decode {
    pub fn uuid(&self, text: &str) -> Result<Uuid, StoreError> {
        Uuid::parse_str(text).map_err(|e| StoreError::decode(self.0, e))
    }

    pub fn opt_uuid(&self, text: Option<String>) -> Result<Option<Uuid>, StoreError> {
        text.map(|t| self.uuid(&t)).transpose()
    }

    pub fn value<T>(&self, text: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
        parse(text).ok_or_else(|| StoreError::decode(self.0, format!("unknown value {text:?}")))
    }

    pub fn opt<T>(
        &self,
        text: Option<String>,
        parse: fn(&str) -> Option<T>,
    ) -> Result<Option<T>, StoreError> {
        text.map(|t| self.value(&t, parse)).transpose()
    }
}

/// A row struct read by sqlx (`FromRow`, the pool's reads) and by the writer connection
/// (`from_native`, rusqlite), with its fields in the order of its `*_COLUMNS` list.
macro_rules! row_struct {
    ($name:ident { $($field:ident: $ty:ty,)* }) => {
        #[derive(sqlx::FromRow)]
        pub(in crate::store) struct $name {
            $($field: $ty,)*
        }

        impl $name {
            /// Field names in reading order (they must be the selected columns, in order).
            #[cfg(test)]
            pub const FIELDS: &[&str] = &[$(stringify!($field)),*];

            /// Read a row of the writer connection selecting exactly these columns in order.
            pub fn from_native(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                let mut index = 0..;
                Ok(Self { $($field: row.get(index.next().unwrap_or_default())?,)* })
            }
        }
    };
}

row_struct! { CommandRow {
    command_id: String,
    client_uuid: String,
    action: String,
    state: String,
    reason: Option<String>,
    requested_by: Option<i64>,
    source: String,
    params_hash: String,
    principal: Option<String>,
    issued_ms: i64,
    expires_ms: i64,
    published_ms: Option<i64>,
    accepted_ms: Option<i64>,
    started_ms: Option<i64>,
    finished_ms: Option<i64>,
    deadline_ms: Option<i64>,
    offline_seen_ms: Option<i64>,
    boot_id_at_issue: Option<String>,
    boot_id_at_completion: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    late_outcome: Option<String>,
    late_outcome_ms: Option<i64>,
    late_error_code: Option<String>,
    late_error_message: Option<String>,
    late_boot_id: Option<String>,
    completion_evidence: Option<String>,
    ignored_acks: i64,
    rollout_id: Option<String>,
    trace_parent: Option<String>,
    last_ack_topic: Option<String>,
    updated_ms: i64,
}}

impl CommandRow {
    pub fn into_record(self, op: &'static str) -> Result<CommandRecord, StoreError> {
        let d = Decode(op);
        let late_outcome = match self.late_outcome {
            Some(state) => Some(LateOutcome {
                state: d.value(&state, CommandState::parse)?,
                received_ms: self.late_outcome_ms.unwrap_or(self.updated_ms),
                error_code: self.late_error_code,
                error_message: self.late_error_message,
                boot_id: self.late_boot_id,
            }),
            None => None,
        };
        Ok(CommandRecord {
            command_id: d.uuid(&self.command_id)?,
            client_uuid: d.uuid(&self.client_uuid)?,
            action: d.value(&self.action, Action::parse)?,
            state: d.value(&self.state, CommandState::parse)?,
            reason: self.reason,
            requested_by: self.requested_by,
            origin: d.value(&self.source, Origin::parse)?,
            params_hash: self.params_hash,
            principal: self.principal.unwrap_or_default(),
            issued_ms: self.issued_ms,
            expires_ms: self.expires_ms,
            published_ms: self.published_ms,
            accepted_ms: self.accepted_ms,
            started_ms: self.started_ms,
            finished_ms: self.finished_ms,
            deadline_ms: self.deadline_ms,
            offline_seen_ms: self.offline_seen_ms,
            boot_id_at_issue: self.boot_id_at_issue,
            boot_id_at_completion: self.boot_id_at_completion,
            error_code: self.error_code,
            error_message: self.error_message,
            late_outcome,
            completion_evidence: d.opt(self.completion_evidence, Evidence::parse)?,
            ignored_acks: self.ignored_acks,
            rollout_id: d.opt_uuid(self.rollout_id)?,
            trace_parent: self.trace_parent,
            last_ack_topic: d.opt(self.last_ack_topic, AckTopic::parse)?,
            updated_ms: self.updated_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(in crate::store) struct EventRow {
    id: i64,
    command_id: String,
    at_ms: i64,
    from_state: Option<String>,
    to_state: String,
    source: String,
    detail: Option<String>,
}

impl EventRow {
    pub fn into_event(self, op: &'static str) -> Result<CommandEvent, StoreError> {
        let d = Decode(op);
        Ok(CommandEvent {
            id: self.id,
            command_id: d.uuid(&self.command_id)?,
            at_ms: self.at_ms,
            from_state: d.opt(self.from_state, CommandState::parse)?,
            to_state: d.value(&self.to_state, CommandState::parse)?,
            source: d.value(&self.source, EventSource::parse)?,
            detail: self.detail.unwrap_or_default(),
        })
    }
}

row_struct! { ClientRow {
    client_uuid: String,
    group_name: Option<String>,
    capability_tier: Option<String>,
    first_seen_ms: i64,
    last_seen_ms: i64,
    online: i64,
    last_online_ms: Option<i64>,
    last_offline_ms: Option<i64>,
    last_health_ms: Option<i64>,
    boot_id: Option<String>,
    uptime_s: Option<i64>,
    app_version: Option<String>,
    process_status: Option<String>,
    mqtt_reconnect_count: Option<i64>,
    mqtt_last_disconnect_ms: Option<i64>,
    service_failed_unit: Option<String>,
    service_failed_ms: Option<i64>,
    recovery_state: String,
    recovery_step_ms: Option<i64>,
    recovery_command_id: Option<String>,
    recovery_detected_ms: Option<i64>,
    recovery_detail: Option<String>,
    needs_attention: i64,
    attention_reason: Option<String>,
    shut_down_ms: Option<i64>,
    updated_ms: i64,
}}

impl ClientRow {
    pub fn into_record(self, op: &'static str) -> Result<ClientRecord, StoreError> {
        let d = Decode(op);
        let reported = self.last_online_ms.is_some() || self.last_offline_ms.is_some();
        Ok(ClientRecord {
            client_uuid: d.uuid(&self.client_uuid)?,
            group: self.group_name,
            capability_tier: d.opt(self.capability_tier, CapabilityTier::parse)?,
            first_seen_ms: self.first_seen_ms,
            last_seen_ms: self.last_seen_ms,
            online: reported.then_some(self.online != 0),
            last_online_ms: self.last_online_ms,
            last_offline_ms: self.last_offline_ms,
            last_health_ms: self.last_health_ms,
            boot_id: self.boot_id,
            uptime_s: self.uptime_s,
            app_version: self.app_version,
            process_status: d.opt(self.process_status, ProcessStatus::parse)?,
            mqtt_reconnect_count: self.mqtt_reconnect_count,
            mqtt_last_disconnect_ms: self.mqtt_last_disconnect_ms,
            service_failed_unit: self.service_failed_unit,
            service_failed_ms: self.service_failed_ms,
            recovery_step: d.value(&self.recovery_state, RecoveryStep::parse)?,
            recovery_step_ms: self.recovery_step_ms,
            recovery_command_id: d.opt_uuid(self.recovery_command_id)?,
            recovery_detected_ms: self.recovery_detected_ms,
            recovery_detail: self.recovery_detail,
            needs_attention: self.needs_attention != 0,
            attention_reason: self.attention_reason,
            shut_down_ms: self.shut_down_ms,
            updated_ms: self.updated_ms,
        })
    }
}

row_struct! { RolloutRow {
    rollout_id: String,
    action: String,
    target_json: String,
    canary_count: Option<i64>,
    canary_percent: Option<f64>,
    canary_size: i64,
    max_per_minute: i64,
    abort_failure_percent: f64,
    min_finished: i64,
    state: String,
    reason: Option<String>,
    requested_by: Option<i64>,
    principal: Option<String>,
    params_hash: String,
    expires_in_ms: i64,
    total_members: i64,
    issued_members: i64,
    current_wave: i64,
    last_issue_ms: Option<i64>,
    created_ms: i64,
    started_ms: Option<i64>,
    canary_finished_ms: Option<i64>,
    updated_ms: i64,
    finished_ms: Option<i64>,
    abort_reason: Option<String>,
    abort_cause: Option<String>,
    error: Option<String>,
}}

impl RolloutRow {
    pub fn into_record(self, op: &'static str) -> Result<RolloutRecord, StoreError> {
        let d = Decode(op);
        let target: RolloutTarget =
            serde_json::from_str(&self.target_json).map_err(|e| StoreError::decode(op, e))?;
        Ok(RolloutRecord {
            rollout_id: d.uuid(&self.rollout_id)?,
            action: d.value(&self.action, Action::parse)?,
            target,
            canary_count: self.canary_count,
            canary_percent: self.canary_percent,
            canary_size: self.canary_size,
            max_per_minute: self.max_per_minute,
            abort_failure_percent: self.abort_failure_percent,
            min_finished: self.min_finished,
            state: d.value(&self.state, RolloutState::parse)?,
            reason: self.reason,
            requested_by: self.requested_by,
            principal: self.principal.unwrap_or_default(),
            params_hash: self.params_hash,
            expires_in_ms: self.expires_in_ms,
            total_members: self.total_members,
            issued_members: self.issued_members,
            current_wave: self.current_wave,
            last_issue_ms: self.last_issue_ms,
            created_ms: self.created_ms,
            started_ms: self.started_ms,
            canary_finished_ms: self.canary_finished_ms,
            updated_ms: self.updated_ms,
            finished_ms: self.finished_ms,
            abort_reason: self.abort_reason,
            abort_cause: d.opt(self.abort_cause, AbortCause::parse)?,
            error: self.error,
        })
    }
}
