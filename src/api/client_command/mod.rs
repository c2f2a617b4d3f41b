//! `rebound.v1.ClientCommandService`: device commands, the device registry and rollouts over
//! gRPC. A thin adapter: it validates and converts fields ([`fields`], [`convert`]), pages
//! ([`page`]) and streams ([`watch`]); every rule lives in [`crate::commands`].

mod convert;
mod fields;
mod watch;

use std::sync::Arc;

use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::api::convert::optional_duration;
use crate::api::identity::{audit, principal};
use crate::api::page;
use crate::contract::limits::check_reason;
use crate::commands::{Canary, Fleet, IssueRequest, RolloutRequest};
use crate::error::{Error, Result};
use crate::lifecycle::Drain;
use crate::proto::v1 as pb;
use crate::proto::v1::client_command_service_server::ClientCommandService;
use crate::model::clients::{ClientFilter, ClientRecord, CrashFilter};
use crate::model::commands::{CommandFilter, CommandRecord};
use crate::model::rollouts::{RolloutRecord, RolloutTarget};

/// Serves [`Fleet`] over gRPC.
#[derive(Clone)]
pub struct ClientCommandApi {
    fleet: Arc<Fleet>,
    drain: Drain,
}

impl ClientCommandApi {
    pub fn new(fleet: Arc<Fleet>, drain: Drain) -> Self {
        Self { fleet, drain }
    }

    fn refuse_while_draining(&self) -> Result<()> {
        if self.drain.is_draining() {
            return Err(Error::Unavailable(
                "server is draining; retry against its successor".into(),
            ));
        }
        Ok(())
    }

    async fn client_message(&self, client: &ClientRecord) -> Result<pb::Client> {
        let mut messages = self.client_messages(std::slice::from_ref(client)).await?;
        Ok(messages.remove(0))
    }

    /// The messages of `clients`, their lockouts read together.
    async fn client_messages(&self, clients: &[ClientRecord]) -> Result<Vec<pb::Client>> {
        let ids: Vec<Uuid> = clients.iter().map(|c| c.client_uuid).collect();
        let lockouts = self.fleet.lockouts(&ids).await?;
        let cooldown = self.fleet.settings().current().safety.escalation_cooldown;
        Ok(clients
            .iter()
            .zip(&lockouts)
            .map(|(client, lockout)| {
                convert::client(client, lockout, self.fleet.crash_state_of(client), cooldown)
            })
            .collect())
    }

    async fn command_message(&self, id: Uuid) -> Result<pb::Command> {
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

type Reply<T> = std::result::Result<Response<T>, Status>;

fn reply<T>(result: Result<T>) -> Reply<T> {
    result.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl ClientCommandService for ClientCommandApi {
    #[tracing::instrument(name = "commands.api.issue", skip_all)]
    async fn issue_command(
        &self,
        request: Request<pb::IssueCommandRequest>,
    ) -> Reply<pb::IssueCommandResponse> {
        let who = principal(&request);
        let audit = audit(&request);
        let r = request.into_inner();
        reply(
            async {
                self.refuse_while_draining()?;
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
                let (command, created) = self.fleet.issue(req).await?;
                let command = self.command_message(command.command_id).await?;
                Ok(pb::IssueCommandResponse { command: Some(command), created })
            }
            .await,
        )
    }

    async fn get_command(
        &self,
        request: Request<pb::GetCommandRequest>,
    ) -> Reply<pb::GetCommandResponse> {
        let r = request.into_inner();
        reply(
            async {
                let id = fields::uuid("command_id", &r.command_id)?;
                Ok(pb::GetCommandResponse { command: Some(self.command_message(id).await?) })
            }
            .await,
        )
    }

    async fn list_commands(
        &self,
        request: Request<pb::ListCommandsRequest>,
    ) -> Reply<pb::ListCommandsResponse> {
        let r = request.into_inner();
        reply(
            async {
                let limit = page::size(r.page_size)?;
                let filter = CommandFilter {
                    client_uuid: fields::optional_uuid("client_uuid", &r.client_uuid)?,
                    states: fields::command_states("states", &r.states)?,
                    action: fields::action("action", r.action)?,
                    rollout_id: fields::optional_uuid("rollout_id", &r.rollout_id)?,
                    origin: fields::origin("origin", r.origin)?,
                };
                let after = page::decode::<(i64, Uuid)>(&r.page_token, &filter)?;
                let store = self.fleet.store();
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
            .await,
        )
    }

    #[tracing::instrument(name = "commands.api.cancel", skip_all)]
    async fn cancel_command(
        &self,
        request: Request<pb::CancelCommandRequest>,
    ) -> Reply<pb::CancelCommandResponse> {
        let who = principal(&request);
        let audit = audit(&request);
        let r = request.into_inner();
        reply(
            async {
                self.refuse_while_draining()?;
                let id = fields::uuid("command_id", &r.command_id)?;
                check_reason(&r.reason).map_err(|why| Error::invalid_argument("reason", why))?;
                self.fleet.cancel(id, &who, &r.reason, &audit).await?;
                Ok(pb::CancelCommandResponse { command: Some(self.command_message(id).await?) })
            }
            .await,
        )
    }

    type WatchCommandsStream = watch::BoxStream<pb::WatchCommandsResponse>;

    async fn watch_commands(
        &self,
        request: Request<pb::WatchCommandsRequest>,
    ) -> Reply<Self::WatchCommandsStream> {
        let r = request.into_inner();
        reply(watch::commands(self.fleet.clone(), self.drain.clone(), r).await)
    }

    async fn list_clients(
        &self,
        request: Request<pb::ListClientsRequest>,
    ) -> Reply<pb::ListClientsResponse> {
        let r = request.into_inner();
        reply(
            async {
                let limit = page::size(r.page_size)?;
                if !r.group.is_empty() {
                    crate::commands::validate_group(&r.group)?;
                }
                let stale_after = self.fleet.settings().current().crash_recovery.stale_after;
                let bound = crate::clock::now_ms() - stale_after.as_millis() as i64;
                let crash = match pb::CrashState::try_from(r.crash_state).map_err(|_| {
                    Error::invalid_argument(
                        "crash_state",
                        format!("unknown value {}", r.crash_state),
                    )
                })? {
                    pb::CrashState::Unspecified => None,
                    pb::CrashState::Healthy => Some((CrashFilter::Healthy, bound)),
                    pb::CrashState::Crashed => Some((CrashFilter::Crashed, bound)),
                    pb::CrashState::Stale => Some((CrashFilter::Stale, bound)),
                };
                let online = match pb::Presence::try_from(r.presence).map_err(|_| {
                    Error::invalid_argument("presence", format!("unknown value {}", r.presence))
                })? {
                    pb::Presence::Unspecified => None,
                    pb::Presence::Online => Some(true),
                    pb::Presence::Offline => Some(false),
                };
                let filter = ClientFilter {
                    group: (!r.group.is_empty()).then_some(r.group.clone()),
                    online,
                    needs_attention: r.needs_attention,
                    service_failed: r.service_failed,
                    capability_tier: fields::tier("capability_tier", r.capability_tier)?,
                    crash,
                };
                // The staleness bound moves with time; the token fingerprints the rest.
                let fingerprint = (
                    &filter.group,
                    filter.online,
                    filter.needs_attention,
                    filter.service_failed,
                    filter.capability_tier,
                    filter.crash.map(|(c, _)| c),
                );
                let after = page::decode::<Uuid>(&r.page_token, &fingerprint)?;
                let records = self.fleet.store().list_clients(&filter, after, limit).await?;
                let mut clients = self.client_messages(&records).await?;
                let key = |c: &ClientRecord| c.client_uuid;
                let next_page_token =
                    page::finish(&mut clients, &records, limit, key, &fingerprint);
                Ok(pb::ListClientsResponse { clients, next_page_token })
            }
            .await,
        )
    }

    async fn get_client(
        &self,
        request: Request<pb::GetClientRequest>,
    ) -> Reply<pb::GetClientResponse> {
        let r = request.into_inner();
        reply(
            async {
                let record =
                    self.fleet.client(fields::uuid("client_uuid", &r.client_uuid)?).await?;
                Ok(pb::GetClientResponse { client: Some(self.client_message(&record).await?) })
            }
            .await,
        )
    }

    #[tracing::instrument(name = "commands.api.update_client", skip_all)]
    async fn update_client(
        &self,
        request: Request<pb::UpdateClientRequest>,
    ) -> Reply<pb::UpdateClientResponse> {
        let audit = audit(&request);
        let r = request.into_inner();
        reply(
            async {
                self.refuse_while_draining()?;
                let uuid = fields::uuid("client_uuid", &r.client_uuid)?;
                let tier = fields::tier("capability_tier", r.capability_tier)?;
                let record = self.fleet.update_client(uuid, r.group, tier, &audit).await?;
                Ok(pb::UpdateClientResponse { client: Some(self.client_message(&record).await?) })
            }
            .await,
        )
    }

    #[tracing::instrument(name = "commands.api.clear_service_failed", skip_all)]
    async fn clear_service_failed(
        &self,
        request: Request<pb::ClearServiceFailedRequest>,
    ) -> Reply<pb::ClearServiceFailedResponse> {
        let audit = audit(&request);
        let r = request.into_inner();
        reply(
            async {
                self.refuse_while_draining()?;
                let (record, cleared) = self
                    .fleet
                    .clear_service_failed(fields::uuid("client_uuid", &r.client_uuid)?, &audit)
                    .await?;
                Ok(pb::ClearServiceFailedResponse {
                    client: Some(self.client_message(&record).await?),
                    cleared,
                })
            }
            .await,
        )
    }

    #[tracing::instrument(name = "commands.api.start_rollout", skip_all)]
    async fn start_rollout(
        &self,
        request: Request<pb::StartRolloutRequest>,
    ) -> Reply<pb::StartRolloutResponse> {
        let who = principal(&request);
        let audit = audit(&request);
        let r = request.into_inner();
        reply(
            async {
                self.refuse_while_draining()?;
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
                let (rollout, created) = self.fleet.start_rollout(req).await?;
                let (rollout, counters) = self.fleet.rollout(rollout.rollout_id).await?;
                Ok(pb::StartRolloutResponse {
                    rollout: Some(convert::rollout(&rollout, counters, true)),
                    created,
                })
            }
            .await,
        )
    }

    async fn get_rollout(
        &self,
        request: Request<pb::GetRolloutRequest>,
    ) -> Reply<pb::GetRolloutResponse> {
        let r = request.into_inner();
        reply(
            async {
                let (rollout, counters) =
                    self.fleet.rollout(fields::uuid("rollout_id", &r.rollout_id)?).await?;
                Ok(pb::GetRolloutResponse {
                    rollout: Some(convert::rollout(&rollout, counters, true)),
                })
            }
            .await,
        )
    }

    async fn list_rollouts(
        &self,
        request: Request<pb::ListRolloutsRequest>,
    ) -> Reply<pb::ListRolloutsResponse> {
        let r = request.into_inner();
        reply(
            async {
                let limit = page::size(r.page_size)?;
                let states = fields::rollout_states("states", &r.states)?;
                let action = fields::action("action", r.action)?;
                let filters = (&states, action);
                let after = page::decode::<(i64, Uuid)>(&r.page_token, &filters)?;
                let store = self.fleet.store();
                let found = store.list_rollouts(&states, action, after, limit).await?;
                let mut rollouts: Vec<_> = found
                    .iter()
                    .map(|(record, counters)| convert::rollout(record, *counters, false))
                    .collect();
                let key = |(r, _): &(RolloutRecord, _)| (r.created_ms, r.rollout_id);
                let next_page_token = page::finish(&mut rollouts, &found, limit, key, &filters);
                Ok(pb::ListRolloutsResponse { rollouts, next_page_token })
            }
            .await,
        )
    }

    #[tracing::instrument(name = "commands.api.abort_rollout", skip_all)]
    async fn abort_rollout(
        &self,
        request: Request<pb::AbortRolloutRequest>,
    ) -> Reply<pb::AbortRolloutResponse> {
        let who = principal(&request);
        let audit = audit(&request);
        let r = request.into_inner();
        reply(
            async {
                self.refuse_while_draining()?;
                let id = fields::uuid("rollout_id", &r.rollout_id)?;
                check_reason(&r.reason).map_err(|why| Error::invalid_argument("reason", why))?;
                self.fleet.abort_rollout(id, &who, &r.reason, &audit).await?;
                let (rollout, counters) = self.fleet.rollout(id).await?;
                Ok(pb::AbortRolloutResponse {
                    rollout: Some(convert::rollout(&rollout, counters, true)),
                })
            }
            .await,
        )
    }

    type WatchRolloutStream = watch::BoxStream<pb::WatchRolloutResponse>;

    async fn watch_rollout(
        &self,
        request: Request<pb::WatchRolloutRequest>,
    ) -> Reply<Self::WatchRolloutStream> {
        let r = request.into_inner();
        reply(watch::rollout(self.fleet.clone(), self.drain.clone(), r).await)
    }
}
