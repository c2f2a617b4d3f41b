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
    /// The status last published. Setting the same status again publishes nothing: a
    /// `Health/Watch` stream sends one message per change (the announce and the drain both
    /// say NOT_SERVING; a watcher used to see it twice, depending on timing).
    current: Arc<tokio::sync::Mutex<Option<ServingStatus>>>,
}

impl Probes {
    pub fn new(reporter: HealthReporter, services: Vec<&'static str>) -> Self {
        Self { reporter, services, current: Arc::default() }
    }

    pub async fn set(&self, status: ServingStatus) {
        let mut current = self.current.lock().await;
        if *current == Some(status) {
            return;
        }
        *current = Some(status);
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_stream::StreamExt;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    #[tokio::test]
    async fn setting_the_same_status_twice_sends_a_watcher_one_message() {
        let (reporter, service) = tonic_health::server::health_reporter();
        let probes = Probes::new(reporter, vec!["rebound.v1.HealthService"]);
        probes.set(ServingStatus::Serving).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let server = tonic::transport::Server::builder().add_service(service);
        tokio::spawn(server.serve_with_incoming(incoming));
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = HealthClient::new(channel);
        let request = HealthCheckRequest { service: String::new() };
        let mut watch = client.watch(request).await.unwrap().into_inner();
        let mut next = async || watch.next().await.unwrap().unwrap().status();
        assert_eq!(next().await, ServingStatus::Serving.into());
        probes.set(ServingStatus::NotServing).await;
        assert_eq!(next().await, ServingStatus::NotServing.into());
        // The same status again: no message (a duplicate would arrive at once).
        probes.set(ServingStatus::NotServing).await;
        let quiet = tokio::time::timeout(Duration::from_millis(300), next()).await;
        assert!(quiet.is_err(), "a repeated status reached the watcher: {quiet:?}");
        probes.set(ServingStatus::Serving).await;
        assert_eq!(next().await, ServingStatus::Serving.into());
    }
}
