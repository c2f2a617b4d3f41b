//! Rollouts over gRPC: start, get, list and abort.

use uuid::Uuid;

use super::{ClientCommandApi, convert, fields};
use crate::api::convert::optional_duration;
use crate::api::page;
use crate::audit::AuditSlot;
use crate::commands::{Canary, RolloutRequest};
use crate::contract::limits::check_reason;
use crate::error::{Error, Result};
use crate::model::rollouts::{RolloutRecord, RolloutTarget};
use crate::proto::v1 as pb;

pub(super) async fn start(
    api: &ClientCommandApi,
    who: String,
    audit: AuditSlot,
    r: pb::StartRolloutRequest,
) -> Result<pb::StartRolloutResponse> {
    use pb::rollout_target::Target;
    let target = match r.target.and_then(|t| t.target) {
        None => {
            return Err(Error::invalid_argument(
                "target",
                "required: client_uuids, group or all_clients",
            ));
        }
        Some(Target::AllClients(false)) => {
            return Err(Error::invalid_argument("all_clients", "must be true"));
        }
        Some(Target::AllClients(true)) => RolloutTarget::All,
        Some(Target::Group(group)) => RolloutTarget::Group(group),
        Some(Target::Clients(list)) => RolloutTarget::Clients(
            list.client_uuids
                .iter()
                .map(|id| fields::uuid("client_uuids", id))
                .collect::<Result<_>>()?,
        ),
    };
    use pb::start_rollout_request::Canary as C;
    let canary = match r.canary {
        None => Canary::Default,
        Some(C::CanaryCount(n)) => Canary::Count(n),
        Some(C::CanaryPercent(p)) => Canary::Percent(p),
    };
    let req = RolloutRequest {
        rollout_id: fields::optional_uuid("rollout_id", &r.rollout_id)?,
        action: fields::required_action(r.action)?,
        target,
        canary,
        max_per_minute: r.max_per_minute,
        abort_failure_percent: r.abort_failure_percent,
        min_finished: r.min_finished,
        reason: r.reason,
        requested_by: r.requested_by,
        expires_in: optional_duration("expires_in", r.expires_in)?,
        principal: who.clone(),
        audit,
    };
    let (rollout, created) = api.fleet.start_rollout(req).await?;
    let (rollout, counters) = api.fleet.rollout(rollout.rollout_id).await?;
    Ok(pb::StartRolloutResponse {
        rollout: Some(convert::rollout(&rollout, counters, true)),
        created,
    })
}

pub(super) async fn get(
    api: &ClientCommandApi,
    r: pb::GetRolloutRequest,
) -> Result<pb::GetRolloutResponse> {
    let (rollout, counters) = api.fleet.rollout(fields::uuid("rollout_id", &r.rollout_id)?).await?;
    Ok(pb::GetRolloutResponse { rollout: Some(convert::rollout(&rollout, counters, true)) })
}

pub(super) async fn list(
    api: &ClientCommandApi,
    r: pb::ListRolloutsRequest,
) -> Result<pb::ListRolloutsResponse> {
    let limit = page::size(r.page_size)?;
    let states = fields::rollout_states("states", &r.states)?;
    let action = fields::action("action", r.action)?;
    let filters = (&states, action);
    let after = page::decode::<(i64, Uuid)>(&r.page_token, &filters)?;
    let store = api.fleet.store();
    let found = store.list_rollouts(&states, action, after, limit).await?;
    let mut rollouts: Vec<_> =
        found.iter().map(|(record, counters)| convert::rollout(record, *counters, false)).collect();
    let key = |(r, _): &(RolloutRecord, _)| (r.created_ms, r.rollout_id);
    let next_page_token = page::finish(&mut rollouts, &found, limit, key, &filters);
    Ok(pb::ListRolloutsResponse { rollouts, next_page_token })
}

pub(super) async fn abort(
    api: &ClientCommandApi,
    who: String,
    audit: AuditSlot,
    r: pb::AbortRolloutRequest,
) -> Result<pb::AbortRolloutResponse> {
    let id = fields::uuid("rollout_id", &r.rollout_id)?;
    check_reason(&r.reason).map_err(|why| Error::invalid_argument("reason", why))?;
    api.fleet.abort_rollout(id, &who, &r.reason, &audit).await?;
    let (rollout, counters) = api.fleet.rollout(id).await?;
    Ok(pb::AbortRolloutResponse { rollout: Some(convert::rollout(&rollout, counters, true)) })
}
