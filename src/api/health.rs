//! `rebound.v1.HealthService`: the rich health report over gRPC.

use crate::api::client_command::convert::ts;
use crate::cluster::ClusterStatus;
use crate::health::{self, ComponentStatus, Overall};
use crate::lifecycle::ServerContext;
use crate::proto::v1 as pb;
use crate::proto::v1::health_service_server::HealthService;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Serves [`health::report`].
#[derive(Clone)]
pub struct HealthApi {
    ctx: Arc<ServerContext>,
}

impl HealthApi {
    pub fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl HealthService for HealthApi {
    #[tracing::instrument(name = "health.get", skip_all)]
    async fn get_health(
        &self,
        _request: Request<pb::GetHealthRequest>,
    ) -> Result<Response<pb::GetHealthResponse>, Status> {
        let report = health::report(self.ctx.health_inputs()).await;
        let status = match report.overall {
            Overall::Serving => pb::ServingStatus::Serving,
            Overall::NotServing => pb::ServingStatus::NotServing,
            Overall::Draining => pb::ServingStatus::Draining,
        };
        let components = report
            .components
            .into_iter()
            .map(|c| pb::ComponentHealth {
                name: c.name.to_owned(),
                status: component_status(c.status) as i32,
                detail: c.detail,
            })
            .collect();
        Ok(Response::new(pb::GetHealthResponse {
            status: status as i32,
            components,
            version: report.version.to_owned(),
            git_sha: report.git_sha.to_owned(),
            started_at: Some(report.started_at.into()),
            uptime: prost_types::Duration::try_from(report.uptime).ok(),
            pid: report.pid,
            generation: report.generation,
            cluster: report.cluster.map(cluster_status),
        }))
    }
}

fn cluster_status(cluster: ClusterStatus) -> pb::ClusterStatus {
    pb::ClusterStatus {
        replica_id: cluster.replica_id,
        leader: cluster.leader,
        lease_epoch: u64::try_from(cluster.lease_epoch).unwrap_or(0),
        replicas: cluster
            .replicas
            .into_iter()
            .map(|r| pb::ReplicaStatus {
                replica_id: r.replica_id,
                listen: r.listen,
                leader: r.leader,
                heartbeat_at: Some(ts(r.heartbeat_ms)),
                pid: r.pid,
                generation: r.generation,
            })
            .collect(),
    }
}

fn component_status(status: ComponentStatus) -> pb::ComponentStatus {
    match status {
        ComponentStatus::Healthy => pb::ComponentStatus::Healthy,
        ComponentStatus::Degraded => pb::ComponentStatus::Degraded,
        ComponentStatus::Unhealthy => pb::ComponentStatus::Unhealthy,
        ComponentStatus::Disabled => pb::ComponentStatus::Disabled,
    }
}
