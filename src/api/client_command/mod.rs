//! `rebound.v1.ClientCommandService`: device commands, the device registry and rollouts over
//! gRPC. A thin adapter: it validates and converts fields ([`fields`], [`convert`]), pages
//! ([`page`]) and streams ([`watch`]); every rule lives in [`crate::commands`]. This file holds
//! the service and its dispatch; the handlers are in [`commands`], [`clients`] and
//! [`rollouts`].

mod clients;
mod commands;
pub(crate) mod convert;
mod fields;
mod rollouts;
mod watch;

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::api::identity::{audit, principal};
use crate::commands::Fleet;
use crate::error::Result;
use crate::lifecycle::Drain;
use crate::proto::v1 as pb;
use crate::proto::v1::client_command_service_server::ClientCommandService;

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
        reply(
            commands::issue(self, principal(&request), audit(&request), request.into_inner()).await,
        )
    }

    async fn get_command(
        &self,
        request: Request<pb::GetCommandRequest>,
    ) -> Reply<pb::GetCommandResponse> {
        reply(commands::get(self, request.into_inner()).await)
    }

    async fn list_commands(
        &self,
        request: Request<pb::ListCommandsRequest>,
    ) -> Reply<pb::ListCommandsResponse> {
        reply(commands::list(self, request.into_inner()).await)
    }

    #[tracing::instrument(name = "commands.api.cancel", skip_all)]
    async fn cancel_command(
        &self,
        request: Request<pb::CancelCommandRequest>,
    ) -> Reply<pb::CancelCommandResponse> {
        reply(
            commands::cancel(self, principal(&request), audit(&request), request.into_inner())
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
        reply(clients::list(self, request.into_inner()).await)
    }

    async fn count_clients(
        &self,
        request: Request<pb::CountClientsRequest>,
    ) -> Reply<pb::CountClientsResponse> {
        reply(clients::count(self, request.into_inner()).await)
    }

    async fn get_client(
        &self,
        request: Request<pb::GetClientRequest>,
    ) -> Reply<pb::GetClientResponse> {
        reply(clients::get(self, request.into_inner()).await)
    }

    #[tracing::instrument(name = "commands.api.update_client", skip_all)]
    async fn update_client(
        &self,
        request: Request<pb::UpdateClientRequest>,
    ) -> Reply<pb::UpdateClientResponse> {
        reply(clients::update(self, audit(&request), request.into_inner()).await)
    }

    #[tracing::instrument(name = "commands.api.clear_service_failed", skip_all)]
    async fn clear_service_failed(
        &self,
        request: Request<pb::ClearServiceFailedRequest>,
    ) -> Reply<pb::ClearServiceFailedResponse> {
        reply(clients::clear_service_failed(self, audit(&request), request.into_inner()).await)
    }

    #[tracing::instrument(name = "commands.api.start_rollout", skip_all)]
    async fn start_rollout(
        &self,
        request: Request<pb::StartRolloutRequest>,
    ) -> Reply<pb::StartRolloutResponse> {
        reply(
            rollouts::start(self, principal(&request), audit(&request), request.into_inner()).await,
        )
    }

    async fn get_rollout(
        &self,
        request: Request<pb::GetRolloutRequest>,
    ) -> Reply<pb::GetRolloutResponse> {
        reply(rollouts::get(self, request.into_inner()).await)
    }

    async fn list_rollouts(
        &self,
        request: Request<pb::ListRolloutsRequest>,
    ) -> Reply<pb::ListRolloutsResponse> {
        reply(rollouts::list(self, request.into_inner()).await)
    }

    #[tracing::instrument(name = "commands.api.abort_rollout", skip_all)]
    async fn abort_rollout(
        &self,
        request: Request<pb::AbortRolloutRequest>,
    ) -> Reply<pb::AbortRolloutResponse> {
        reply(
            rollouts::abort(self, principal(&request), audit(&request), request.into_inner()).await,
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
