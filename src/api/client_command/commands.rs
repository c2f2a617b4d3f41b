//! Device commands over gRPC: issue, get, list and cancel.

use uuid::Uuid;

use super::{ClientCommandApi, convert, fields};
use crate::api::convert::optional_duration;
use crate::api::page;
use crate::audit::AuditSlot;
use crate::commands::IssueRequest;
use crate::contract::limits::check_reason;
use crate::error::{Error, Result};
use crate::model::commands::{CommandFilter, CommandRecord};
use crate::proto::v1 as pb;

impl ClientCommandApi {
    pub(super) async fn command_message(&self, id: Uuid) -> Result<pb::Command> {
        let (command, events) = self.fleet.command(id).await?;
        Ok(convert::command(&command, &events))
    }
}

/// W3C traceparent of the current span, when tracing exports are on.
fn traceparent() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let context = tracing::Span::current().context();
    let span = context.span();
    let sc = span.span_context();
    sc.is_valid().then(|| format!("00-{}-{}-01", sc.trace_id(), sc.span_id()))
}

pub(super) async fn issue(
    api: &ClientCommandApi,
    who: String,
    audit: AuditSlot,
    r: pb::IssueCommandRequest,
) -> Result<pb::IssueCommandResponse> {
    let req = IssueRequest {
        command_id: fields::optional_uuid("command_id", &r.command_id)?,
        client_uuid: fields::uuid("client_uuid", &r.client_uuid)?,
        action: fields::required_action(r.action)?,
        reason: r.reason,
        requested_by: r.requested_by,
        expires_in: optional_duration("expires_in", r.expires_in)?,
        principal: who.clone(),
        trace_parent: traceparent(),
        audit,
    };
    let (command, created) = api.fleet.issue(req).await?;
    let command = api.command_message(command.command_id).await?;
    Ok(pb::IssueCommandResponse { command: Some(command), created })
}

pub(super) async fn get(
    api: &ClientCommandApi,
    r: pb::GetCommandRequest,
) -> Result<pb::GetCommandResponse> {
    let id = fields::uuid("command_id", &r.command_id)?;
    Ok(pb::GetCommandResponse { command: Some(api.command_message(id).await?) })
}

pub(super) async fn list(
    api: &ClientCommandApi,
    r: pb::ListCommandsRequest,
) -> Result<pb::ListCommandsResponse> {
    let limit = page::size(r.page_size)?;
    let filter = CommandFilter {
        client_uuid: fields::optional_uuid("client_uuid", &r.client_uuid)?,
        states: fields::command_states("states", &r.states)?,
        action: fields::action("action", r.action)?,
        rollout_id: fields::optional_uuid("rollout_id", &r.rollout_id)?,
        origin: fields::origin("origin", r.origin)?,
    };
    let after = page::decode::<(i64, Uuid)>(&r.page_token, &filter)?;
    let store = api.fleet.store();
    let records = store.list_commands(&filter, after, limit).await?;
    let mut commands = Vec::with_capacity(records.len());
    for record in &records {
        let events = if r.include_events {
            store.command_events(record.command_id).await?
        } else {
            Vec::new()
        };
        commands.push(convert::command(record, &events));
    }
    let key = |c: &CommandRecord| (c.issued_ms, c.command_id);
    let next_page_token = page::finish(&mut commands, &records, limit, key, &filter);
    Ok(pb::ListCommandsResponse { commands, next_page_token })
}

pub(super) async fn cancel(
    api: &ClientCommandApi,
    who: String,
    audit: AuditSlot,
    r: pb::CancelCommandRequest,
) -> Result<pb::CancelCommandResponse> {
    let id = fields::uuid("command_id", &r.command_id)?;
    check_reason(&r.reason).map_err(|why| Error::invalid_argument("reason", why))?;
    api.fleet.cancel(id, &who, &r.reason, &audit).await?;
    Ok(pb::CancelCommandResponse { command: Some(api.command_message(id).await?) })
}
