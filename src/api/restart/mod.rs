//! `rebound.v1.RestartService`: hot restart requests, readiness, status, history, the phase
//! stream and the reconnect self-test, over the restart domain (`lifecycle::restart`).

pub(super) mod convert;
mod peer;
mod reconnect;
mod rolling;

use crate::api::page;
use crate::error::Error;
use crate::lifecycle::ServerContext;
use crate::lifecycle::restart::{RestartRecord, RestartRequest, Restarter};
use crate::proto::v1 as pb;
use crate::proto::v1::restart_service_server::RestartService;
use crate::store::{RestartCursor, RestartQuery};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// Serves RestartService for one process.
#[derive(Clone)]
pub struct RestartApi {
    ctx: Arc<ServerContext>,
    restarter: Restarter,
    tcp_addr: SocketAddr,
    unix_socket: Option<PathBuf>,
}

impl RestartApi {
    pub fn new(
        ctx: Arc<ServerContext>,
        restarter: Restarter,
        tcp_addr: SocketAddr,
        unix_socket: Option<PathBuf>,
    ) -> Self {
        Self { ctx, restarter, tcp_addr, unix_socket }
    }
}

fn binary(text: &str) -> Option<PathBuf> {
    (!text.is_empty()).then(|| PathBuf::from(text))
}

/// The restart `message` asks for, on behalf of the caller of `call`.
fn domain_request<T>(
    call: &Request<T>,
    message: &pb::RestartRequest,
) -> Result<RestartRequest, Error> {
    Ok(RestartRequest {
        mode: convert::requested_mode(message.mode)?,
        reason: convert::reason(message.reason)?,
        drain_timeout: crate::api::convert::optional_duration(
            "drain_timeout",
            message.drain_timeout,
        )?,
        preserve_state: message.preserve_state.unwrap_or(true),
        binary: binary(&message.binary),
        principal: crate::api::identity::principal(call),
        audit: crate::api::identity::audit(call),
    })
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchRestartResponse, Status>> + Send>>;
type RollingStream = Pin<Box<dyn Stream<Item = Result<pb::RollingRestartResponse, Status>> + Send>>;

#[tonic::async_trait]
impl RestartService for RestartApi {
    #[tracing::instrument(name = "restart.request", skip_all)]
    async fn restart(
        &self,
        request: Request<pb::RestartRequest>,
    ) -> Result<Response<pb::RestartResponse>, Status> {
        let domain = domain_request(&request, request.get_ref())?;
        let record = self.restarter.start(domain).await?;
        Ok(Response::new(pb::RestartResponse {
            restart_id: record.id.to_string(),
            restart: Some(convert::event(&record)),
        }))
    }

    #[tracing::instrument(name = "restart.prepare", skip_all)]
    async fn prepare_shutdown(
        &self,
        request: Request<pb::PrepareShutdownRequest>,
    ) -> Result<Response<pb::PrepareShutdownResponse>, Status> {
        let request = request.into_inner();
        let mode = convert::requested_mode(request.mode)?;
        let report = self.restarter.prepare(mode, binary(&request.binary)).await?;
        Ok(Response::new(convert::readiness(&report)))
    }

    #[tracing::instrument(name = "restart.status", skip_all)]
    async fn get_restart_status(
        &self,
        request: Request<pb::GetRestartStatusRequest>,
    ) -> Result<Response<pb::GetRestartStatusResponse>, Status> {
        let id = convert::optional_uuid("restart_id", &request.into_inner().restart_id)?;
        let record = self.restarter.status(id).await?;
        Ok(Response::new(pb::GetRestartStatusResponse {
            restart: record.as_ref().map(convert::event),
            in_progress: self.restarter.running().is_some(),
            generation: self.ctx.process.generation,
            pid: self.ctx.process.pid,
        }))
    }

    #[tracing::instrument(name = "restart.history", skip_all)]
    async fn list_restart_events(
        &self,
        request: Request<pb::ListRestartEventsRequest>,
    ) -> Result<Response<pb::ListRestartEventsResponse>, Status> {
        let request = request.into_inner();
        let limit = page::size(request.page_size)?;
        let outcomes = convert::outcome_filter(&request.outcomes)?;
        let after = page::decode::<(i64, Uuid)>(&request.page_token, &outcomes)?
            .map(|(requested_ms, id)| RestartCursor { requested_ms, id });
        let query = RestartQuery { limit, after, outcomes };
        let page = self.restarter.history(&query).await?;
        let mut events: Vec<_> = page.records.iter().map(convert::event).collect();
        let key = |r: &RestartRecord| (r.requested_ms, r.id);
        let next_page_token = page::within_budget(&mut events, &page.records, key, &query.outcomes)
            .or_else(|| page.next.map(|c| page::encode(&(c.requested_ms, c.id), &query.outcomes)))
            .unwrap_or_default();
        Ok(Response::new(pb::ListRestartEventsResponse { events, next_page_token }))
    }

    type WatchRestartStream = WatchStream;

    #[tracing::instrument(name = "restart.watch", skip_all)]
    async fn watch_restart(
        &self,
        request: Request<pb::WatchRestartRequest>,
    ) -> Result<Response<Self::WatchRestartStream>, Status> {
        let id = convert::optional_uuid("restart_id", &request.into_inner().restart_id)?;
        // Subscribe before reading the current state, so no transition falls in between.
        let mut events = self.restarter.subscribe();
        let current = self.restarter.status(id).await?;
        let current = match (id, current) {
            (None, Some(record)) if record.outcome.is_some() => None,
            (_, current) => current,
        };
        let stream = async_stream::stream! {
            if let Some(record) = &current {
                yield Ok(pb::WatchRestartResponse { restart: Some(convert::event(record)), previous_phase: 0 });
                if id.is_some() && record.phase.is_terminal() {
                    return;
                }
            }
            loop {
                let transition = match events.recv().await {
                    Ok(transition) => transition,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "watcher lagged; continuing with later transitions");
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                };
                if id.is_some_and(|id| id != transition.record.id) {
                    continue;
                }
                yield Ok(pb::WatchRestartResponse {
                    restart: Some(convert::event(&transition.record)),
                    previous_phase: transition.previous.map_or(0, |p| convert::phase(p) as i32),
                });
                if id.is_some() && transition.record.phase.is_terminal() {
                    break;
                }
            }
        };
        Ok(Response::new(Box::pin(stream)))
    }

    #[tracing::instrument(name = "restart.test_reconnect", skip_all)]
    async fn test_reconnect(
        &self,
        request: Request<pb::TestReconnectRequest>,
    ) -> Result<Response<pb::TestReconnectResponse>, Status> {
        let request = request.into_inner();
        let session_id = reconnect::validate_session(&request.session_id)?;
        let timeout = reconnect::validate_timeout(request.timeout)?;
        let probe = reconnect::probe(self.tcp_addr, self.unix_socket.as_deref(), timeout).await;
        let session = session_id.map(|id| convert::session(&self.restarter.touch_session(id)));
        Ok(Response::new(pb::TestReconnectResponse {
            success: probe.error.is_none(),
            target: probe.target,
            connect_latency: probe.connect.and_then(convert::duration),
            call_latency: probe.call.and_then(convert::duration),
            error: probe.error.unwrap_or_default(),
            pid: self.ctx.process.pid,
            generation: self.ctx.process.generation,
            stats: Some(convert::stats(&self.restarter.stats())),
            session,
        }))
    }

    type RollingRestartStream = RollingStream;

    #[tracing::instrument(name = "restart.rolling", skip_all)]
    async fn rolling_restart(
        &self,
        request: Request<pb::RollingRestartRequest>,
    ) -> Result<Response<Self::RollingRestartStream>, Status> {
        let rolling = rolling::Rolling::plan(&self.ctx, &request).await?;
        Ok(Response::new(Box::pin(rolling.run(self.restarter.clone()))))
    }
}
