//! Keeps the standard `grpc.health.v1.Health` statuses (what Kubernetes and
//! grpc-health-probe read) in line with the rich health report.
//!
//! The overall `""` service and every registered service share one status: SERVING while
//! the report says serving, NOT_SERVING when a component is unhealthy or the server drains.

use crate::health::{self, Overall};
use crate::lifecycle::ServerContext;
use std::sync::Arc;
use std::time::Duration;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// How often the report is recomputed for the probes.
const PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// Publishes one status for the overall service and every registered service.
#[derive(Clone)]
pub struct Probes {
    reporter: HealthReporter,
    services: Vec<&'static str>,
}

impl Probes {
    pub fn new(reporter: HealthReporter, services: Vec<&'static str>) -> Self {
        Self { reporter, services }
    }

    pub async fn set(&self, status: ServingStatus) {
        self.reporter.set_service_status("", status).await;
        for service in &self.services {
            self.reporter.set_service_status(*service, status).await;
        }
    }

    /// Recompute the report periodically until the shutdown is announced.
    pub fn spawn_monitor(self, ctx: Arc<ServerContext>) {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(PROBE_INTERVAL);
            ticker.tick().await;
            let mut last = Overall::Serving;
            loop {
                tokio::select! {
                    _ = ctx.drain.stopping() => break,
                    _ = ticker.tick() => {}
                }
                let report = health::report(ctx.health_inputs()).await;
                if report.overall == last || ctx.drain.is_stopping() {
                    continue;
                }
                let status = match report.overall {
                    Overall::Serving => ServingStatus::Serving,
                    Overall::NotServing | Overall::Draining => ServingStatus::NotServing,
                };
                tracing::warn!(overall = ?report.overall, "health changed");
                self.set(status).await;
                last = report.overall;
            }
        });
    }
}
