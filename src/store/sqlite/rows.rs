//! Row mapping of the device area (`commands`, `command_events`, `clients`, `rollouts`):
//! column lists, upsert statements and binding records to queries; decoding rows back is in
//! [`decode`].
//!
//! Only representation lives here (text enums, UUIDs as lower-case text, JSON targets); no
//! query decides anything.

use super::shapes::Binder;
use crate::model::clients::{CapabilityTier, ClientRecord, ProcessStatus};
use crate::model::commands::{AckTopic, CommandRecord, Evidence};
use crate::model::rollouts::{AbortCause, RolloutRecord};
use crate::store::StoreError;

mod decode;

pub(in crate::store) use self::decode::{
    ClientRow, CommandRow, EventRow, RolloutRow, members, open_ids_sql, open_summary_sql,
    state_count, uuids,
};

/// Columns of `commands`, in binding order.
pub(in crate::store) const COMMAND_COLUMNS: &str = "command_id, client_uuid, action, state, reason, \
    requested_by, source, params_hash, principal, issued_ms, expires_ms, published_ms, \
    accepted_ms, started_ms, finished_ms, deadline_ms, offline_seen_ms, boot_id_at_issue, \
    boot_id_at_completion, error_code, error_message, late_outcome, late_outcome_ms, \
    late_error_code, late_error_message, late_boot_id, completion_evidence, ignored_acks, \
    rollout_id, trace_parent, last_ack_topic, updated_ms";

/// Columns of `clients`, in binding order.
pub(in crate::store) const CLIENT_COLUMNS: &str = "client_uuid, group_name, capability_tier, \
    first_seen_ms, last_seen_ms, online, last_online_ms, last_offline_ms, last_health_ms, \
    boot_id, uptime_s, app_version, process_status, mqtt_reconnect_count, \
    mqtt_last_disconnect_ms, service_failed_unit, service_failed_ms, recovery_state, \
    recovery_step_ms, recovery_command_id, recovery_detected_ms, recovery_detail, \
    needs_attention, attention_reason, shut_down_ms, updated_ms";

/// Columns of `rollouts`, in binding order.
pub(in crate::store) const ROLLOUT_COLUMNS: &str = "rollout_id, action, target_json, canary_count, \
    canary_percent, canary_size, max_per_minute, abort_failure_percent, min_finished, state, \
    reason, requested_by, principal, params_hash, expires_in_ms, total_members, \
    issued_members, current_wave, last_issue_ms, created_ms, started_ms, canary_finished_ms, \
    updated_ms, finished_ms, abort_reason, abort_cause, error";

/// `INSERT INTO table (columns) VALUES (?, …)`, optionally upserting on `key`.
pub(super) fn insert_sql(table: &str, columns: &str, upsert_key: Option<&str>) -> String {
    insert_rows_sql(table, columns, upsert_key, 1)
}

/// Like [`insert_sql`] with `rows` rows of placeholders (one multi-row statement).
pub(super) fn insert_rows_sql(
    table: &str,
    columns: &str,
    upsert_key: Option<&str>,
    rows: usize,
) -> String {
    let names: Vec<&str> = columns.split(',').map(str::trim).collect();
    let mut sql =
        format!("INSERT INTO {table} ({columns}) VALUES {}", placeholders(names.len(), rows));
    if let Some(key) = upsert_key {
        let sets: Vec<String> = names
            .iter()
            .filter(|name| **name != key)
            .map(|name| format!("{name} = excluded.{name}"))
            .collect();
        sql.push_str(&format!(" ON CONFLICT ({key}) DO UPDATE SET {}", sets.join(", ")));
    }
    sql
}

/// A column of `commands` that a transition may change: how to tell that it did, and how to
/// bind its new value. The other columns are set at issue and never change.
pub(in crate::store) struct UpdatableColumn {
    pub name: &'static str,
    pub changed: fn(&CommandRecord, &CommandRecord) -> bool,
    pub bind: fn(&mut Binder, &CommandRecord),
}

macro_rules! updatable {
    ($($name:literal: $field:ident => |$c:ident| $value:expr,)*) => {
        [$(UpdatableColumn {
            name: $name,
            changed: |a, b| a.$field != b.$field,
            bind: |b, $c| {
                b.bind($value);
            },
        },)*]
    };
}

/// Every column a command update may rewrite (the late outcome's five change together).
pub(in crate::store) static COMMAND_UPDATABLE: [UpdatableColumn; 20] = updatable! {
    "state": state => |c| c.state.as_str(),
    "published_ms": published_ms => |c| c.published_ms,
    "accepted_ms": accepted_ms => |c| c.accepted_ms,
    "started_ms": started_ms => |c| c.started_ms,
    "finished_ms": finished_ms => |c| c.finished_ms,
    "deadline_ms": deadline_ms => |c| c.deadline_ms,
    "offline_seen_ms": offline_seen_ms => |c| c.offline_seen_ms,
    "boot_id_at_issue": boot_id_at_issue => |c| c.boot_id_at_issue.as_deref(),
    "boot_id_at_completion": boot_id_at_completion => |c| c.boot_id_at_completion.as_deref(),
    "error_code": error_code => |c| c.error_code.as_deref(),
    "error_message": error_message => |c| c.error_message.as_deref(),
    "late_outcome": late_outcome => |c| c.late_outcome.as_ref().map(|l| l.state.as_str()),
    "late_outcome_ms": late_outcome => |c| c.late_outcome.as_ref().map(|l| l.received_ms),
    "late_error_code": late_outcome => |c| c.late_outcome.as_ref().and_then(|l| l.error_code.as_deref()),
    "late_error_message": late_outcome =>
        |c| c.late_outcome.as_ref().and_then(|l| l.error_message.as_deref()),
    "late_boot_id": late_outcome => |c| c.late_outcome.as_ref().and_then(|l| l.boot_id.as_deref()),
    "completion_evidence": completion_evidence => |c| c.completion_evidence.map(Evidence::as_str),
    "ignored_acks": ignored_acks => |c| c.ignored_acks,
    "last_ack_topic": last_ack_topic => |c| c.last_ack_topic.map(AckTopic::as_str),
    "updated_ms": updated_ms => |c| c.updated_ms,
};

/// Bit `i` set: [`COMMAND_UPDATABLE`]`[i]` is rewritten.
pub(in crate::store) type ColumnMask = u32;
/// Every updatable column.
pub(in crate::store) const ALL_UPDATABLE: ColumnMask = (1 << COMMAND_UPDATABLE.len()) - 1;

/// The columns in which `after` differs from `before`.
pub(in crate::store) fn changed_columns(
    before: &CommandRecord,
    after: &CommandRecord,
) -> ColumnMask {
    COMMAND_UPDATABLE
        .iter()
        .enumerate()
        .filter(|(_, column)| (column.changed)(before, after))
        .fold(0, |mask, (i, _)| mask | 1 << i)
}

/// The columns of `mask`, in table order.
fn masked(mask: ColumnMask) -> impl Iterator<Item = &'static UpdatableColumn> {
    COMMAND_UPDATABLE.iter().enumerate().filter(move |(i, _)| mask & 1 << i != 0).map(|(_, c)| c)
}

/// `UPDATE commands SET … FROM (VALUES (?, …), …) AS v WHERE commands.command_id = v.column1`
/// for `rows` rows of the command id and the columns of `mask`. Only those columns are
/// rewritten, so SQLite only touches the indexes on them (a `published` transition leaves the
/// finish and deadline indexes alone), and a row binds the id and those columns (four values
/// for `published`) instead of 32.
pub(super) fn update_commands_sql(mask: ColumnMask, rows: usize) -> String {
    let sets: Vec<String> = masked(mask)
        .enumerate()
        .map(|(i, column)| format!("{} = v.column{}", column.name, i + 2))
        .collect();
    format!(
        "UPDATE commands SET {} FROM (VALUES {}) AS v WHERE commands.command_id = v.column1",
        sets.join(", "),
        placeholders(sets.len() + 1, rows),
    )
}

/// Bind a row of [`update_commands_sql`]: the id, then the columns of `mask`.
pub(super) fn bind_command_update(b: &mut Binder, c: &CommandRecord, mask: ColumnMask) {
    b.uuid(c.command_id);
    for column in masked(mask) {
        (column.bind)(b, c);
    }
}

/// `(?, …), (?, …)`: `rows` rows (at least one) of `columns` placeholders.
pub(super) fn placeholders(columns: usize, rows: usize) -> String {
    let row = format!("({})", super::shapes::id_list(columns));
    vec![row.as_str(); rows.max(1)].join(", ")
}

pub(super) fn bind_command(b: &mut Binder, c: &CommandRecord) {
    let late = c.late_outcome.as_ref();
    b.uuid(c.command_id)
        .uuid(c.client_uuid)
        .bind(c.action.as_str())
        .bind(c.state.as_str())
        .bind(&c.reason)
        .bind(c.requested_by)
        .bind(c.origin.as_str())
        .bind(&c.params_hash)
        .bind(&c.principal)
        .bind(c.issued_ms)
        .bind(c.expires_ms)
        .bind(c.published_ms)
        .bind(c.accepted_ms)
        .bind(c.started_ms)
        .bind(c.finished_ms)
        .bind(c.deadline_ms)
        .bind(c.offline_seen_ms)
        .bind(&c.boot_id_at_issue)
        .bind(&c.boot_id_at_completion)
        .bind(&c.error_code)
        .bind(&c.error_message)
        .bind(late.map(|l| l.state.as_str()))
        .bind(late.map(|l| l.received_ms))
        .bind(late.and_then(|l| l.error_code.as_deref()))
        .bind(late.and_then(|l| l.error_message.as_deref()))
        .bind(late.and_then(|l| l.boot_id.as_deref()))
        .bind(c.completion_evidence.map(Evidence::as_str))
        .bind(c.ignored_acks)
        .opt_uuid(c.rollout_id)
        .bind(&c.trace_parent)
        .bind(c.last_ack_topic.map(AckTopic::as_str))
        .bind(c.updated_ms);
}

pub(super) fn bind_client(b: &mut Binder, c: &ClientRecord) {
    b.uuid(c.client_uuid)
        .bind(&c.group)
        .bind(c.capability_tier.map(CapabilityTier::as_str))
        .bind(c.first_seen_ms)
        .bind(c.last_seen_ms)
        .bind(i64::from(c.online == Some(true)))
        .bind(c.last_online_ms)
        .bind(c.last_offline_ms)
        .bind(c.last_health_ms)
        .bind(&c.boot_id)
        .bind(c.uptime_s)
        .bind(&c.app_version)
        .bind(c.process_status.map(ProcessStatus::as_str))
        .bind(c.mqtt_reconnect_count)
        .bind(c.mqtt_last_disconnect_ms)
        .bind(&c.service_failed_unit)
        .bind(c.service_failed_ms)
        .bind(c.recovery_step.as_str())
        .bind(c.recovery_step_ms)
        .opt_uuid(c.recovery_command_id)
        .bind(c.recovery_detected_ms)
        .bind(&c.recovery_detail)
        .bind(i64::from(c.needs_attention))
        .bind(&c.attention_reason)
        .bind(c.shut_down_ms)
        .bind(c.updated_ms);
}

pub(super) fn bind_rollout(
    b: &mut Binder,
    r: &RolloutRecord,
    op: &'static str,
) -> Result<(), StoreError> {
    let target = serde_json::to_string(&r.target).map_err(|e| StoreError::encode(op, e))?;
    b.uuid(r.rollout_id)
        .bind(r.action.as_str())
        .bind(target)
        .bind(r.canary_count)
        .bind(r.canary_percent)
        .bind(r.canary_size)
        .bind(r.max_per_minute)
        .bind(r.abort_failure_percent)
        .bind(r.min_finished)
        .bind(r.state.as_str())
        .bind(&r.reason)
        .bind(r.requested_by)
        .bind(&r.principal)
        .bind(&r.params_hash)
        .bind(r.expires_in_ms)
        .bind(r.total_members)
        .bind(r.issued_members)
        .bind(r.current_wave)
        .bind(r.last_issue_ms)
        .bind(r.created_ms)
        .bind(r.started_ms)
        .bind(r.canary_finished_ms)
        .bind(r.updated_ms)
        .bind(r.finished_ms)
        .bind(&r.abort_reason)
        .bind(r.abort_cause.map(AbortCause::as_str))
        .bind(&r.error);
    Ok(())
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::contract::Action;
    use crate::model::commands::{CommandState, LateOutcome, Origin};

    fn command() -> CommandRecord {
        CommandRecord::new(Uuid::new_v4(), Uuid::new_v4(), Action::RestartApp, Origin::Api, 1, 2)
    }

    #[test]
    fn changed_columns_name_what_differs() {
        let before = command();
        assert_eq!(changed_columns(&before, &before), 0);
        let mut after = before.clone();
        after.state = CommandState::Published;
        after.published_ms = Some(5);
        let names: Vec<_> = masked(changed_columns(&before, &after)).map(|c| c.name).collect();
        assert_eq!(names, ["state", "published_ms"]);
        after.late_outcome = Some(LateOutcome {
            state: CommandState::Failed,
            received_ms: 6,
            error_code: None,
            error_message: None,
            boot_id: None,
        });
        let late = changed_columns(&before, &after)
            & !changed_columns(&before, &{
                let mut a = after.clone();
                a.late_outcome = None;
                a
            });
        let names: Vec<_> = masked(late).map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "late_outcome",
                "late_outcome_ms",
                "late_error_code",
                "late_error_message",
                "late_boot_id"
            ]
        );
    }

    #[test]
    fn an_update_sets_and_binds_just_its_columns() {
        let mask = 1 << 0 | 1 << 19;
        assert_eq!(
            update_commands_sql(mask, 2),
            "UPDATE commands SET state = v.column2, updated_ms = v.column3 FROM (VALUES \
             (?, ?, ?), (?, ?, ?)) AS v WHERE commands.command_id = v.column1"
        );
        assert_eq!(masked(ALL_UPDATABLE).count(), COMMAND_UPDATABLE.len());
        // Every updatable column is a column of the table, and none is set at issue only.
        for column in &COMMAND_UPDATABLE {
            assert!(
                COMMAND_COLUMNS.split(", ").any(|c| c.trim() == column.name),
                "{}",
                column.name
            );
        }
        for fixed in
            ["command_id", "client_uuid", "action", "issued_ms", "expires_ms", "rollout_id"]
        {
            assert!(COMMAND_UPDATABLE.iter().all(|c| c.name != fixed), "{fixed}");
        }
    }

    #[test]
    fn row_structs_read_the_columns_in_the_order_they_are_selected() {
        // `from_native` reads by position: each struct's fields are its column list.
        for (fields, columns) in [
            (CommandRow::FIELDS, COMMAND_COLUMNS),
            (ClientRow::FIELDS, CLIENT_COLUMNS),
            (RolloutRow::FIELDS, ROLLOUT_COLUMNS),
        ] {
            let columns: Vec<&str> = columns.split(',').map(str::trim).collect();
            assert_eq!(fields, columns.as_slice());
        }
    }
}
