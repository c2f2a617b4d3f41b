//! The health report: overall serving state plus one entry per component, computed live.
//!
//! Transport-neutral: the gRPC `HealthService`, the CLI and probes all read this. It only
//! observes components; it never changes their state.
//!
//! The store is UNHEALTHY when it does not answer a ping, or while its writes fail (a
//! read-only file, a full disk, an I/O error: see `store::writes`); DEGRADED while writes
//! fail only because the database is busy or locked. While writes fail, each report tries one
//! probe write ([`Store::probe_write`]), so the component recovers by itself once writes work
//! again: the probes monitor (`server/probes.rs`) recomputes the report every few seconds and
//! `grpc.health.v1` says NOT_SERVING while any component is UNHEALTHY.

use crate::cluster::{Cluster, ClusterStatus};
use crate::config::ConfigHandle;
use crate::model::process::ProcessInfo;
use crate::store::{Store, StoreErrorKind, WriteFailure};
use std::time::{Duration, SystemTime};

/// How long a store ping may take before the store counts as unhealthy.
const STORE_PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Overall state of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overall {
    Serving,
    NotServing,
    Draining,
}

/// State of one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentStatus {
    Healthy,
    Degraded,
    Unhealthy,
    Disabled,
}

#[derive(Debug, Clone)]
pub struct Component {
    pub name: &'static str,
    pub status: ComponentStatus,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct HealthReport {
    pub overall: Overall,
    pub components: Vec<Component>,
    pub version: &'static str,
    pub git_sha: &'static str,
    pub started_at: SystemTime,
    pub uptime: Duration,
    pub pid: u32,
    pub generation: u64,
    /// This replica, whether it leads, and the live replicas; `None` when the database did
    /// not answer.
    pub cluster: Option<ClusterStatus>,
}

/// Crate version, as built.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Git commit the binary was built from (the full 40-digit SHA), or `unknown`.
pub const GIT_SHA: &str = env!("REBOUND_GIT_SHA");

/// A component that reports its own health (the MQTT gateway, the command domain, …).
pub trait HealthSource: Send + Sync + 'static {
    /// The component's state now. Must be cheap and must not block.
    fn component(&self) -> Component;
}

/// The extra health sources registered by components at start-up, in order.
#[derive(Clone, Default)]
pub struct Sources {
    list: std::sync::Arc<std::sync::Mutex<Vec<std::sync::Arc<dyn HealthSource>>>>,
}

impl Sources {
    pub fn register(&self, source: std::sync::Arc<dyn HealthSource>) {
        self.list.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(source);
    }

    fn components(&self) -> Vec<Component> {
        let list = self.list.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        list.iter().map(|source| source.component()).collect()
    }
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.components().iter().map(|c| c.name).collect();
        f.debug_tuple("Sources").field(&names).finish()
    }
}

/// What the report reads: narrow handles on the running server's parts (the server context
/// lends them, see `lifecycle::ServerContext::health_inputs`).
pub struct Inputs<'a> {
    pub store: &'a dyn Store,
    pub config: &'a ConfigHandle,
    /// Components that report their own health.
    pub sources: &'a Sources,
    /// The process is shutting down or handing over.
    pub draining: bool,
    pub process: &'a ProcessInfo,
    pub cluster: &'a Cluster,
}

/// Compute the report now.
pub async fn report(inputs: Inputs<'_>) -> HealthReport {
    let mut components = vec![store_component(inputs.store).await, config_component(inputs.config)];
    components.extend(inputs.sources.components());
    let overall = overall(inputs.draining, &components);
    HealthReport {
        overall,
        components,
        version: VERSION,
        git_sha: GIT_SHA,
        started_at: inputs.process.started_at,
        uptime: inputs.process.started.elapsed(),
        pid: inputs.process.pid,
        generation: inputs.process.generation,
        cluster: cluster_status(inputs.cluster).await,
    }
}

async fn cluster_status(cluster: &Cluster) -> Option<ClusterStatus> {
    match tokio::time::timeout(STORE_PING_TIMEOUT, cluster.status()).await {
        Ok(Ok(status)) => Some(status),
        Ok(Err(err)) => {
            tracing::debug!(error = %err, "health: no cluster status");
            None
        }
        Err(_) => None,
    }
}

/// Draining wins; otherwise any UNHEALTHY component makes the process NOT_SERVING.
fn overall(draining: bool, components: &[Component]) -> Overall {
    if draining {
        Overall::Draining
    } else if components.iter().any(|c| c.status == ComponentStatus::Unhealthy) {
        Overall::NotServing
    } else {
        Overall::Serving
    }
}

async fn store_component(store: &dyn Store) -> Component {
    let (status, detail) = match tokio::time::timeout(STORE_PING_TIMEOUT, store.ping()).await {
        Ok(Ok(ping)) => {
            let answers = format!(
                "{} {}, schema version {}, ping {:.1} ms",
                ping.backend,
                ping.location,
                ping.schema_version,
                ping.latency.as_secs_f64() * 1e3
            );
            match failing_writes(store).await {
                None => (ComponentStatus::Healthy, answers),
                Some(failure) => (write_status(failure.kind), write_detail(&failure, &answers)),
            }
        }
        Ok(Err(err)) => (ComponentStatus::Unhealthy, err.to_string()),
        Err(_) => (
            ComponentStatus::Unhealthy,
            format!("no answer within {} ms", STORE_PING_TIMEOUT.as_millis()),
        ),
    };
    Component { name: "store", status, detail }
}

/// The write failure that still holds: when the latest write failed, one probe write
/// decides whether writes work again.
async fn failing_writes(store: &dyn Store) -> Option<WriteFailure> {
    let before = store.write_failure()?;
    match tokio::time::timeout(STORE_PING_TIMEOUT, store.probe_write()).await {
        Ok(Ok(())) => None,
        Ok(Err(_)) => store.write_failure().or(Some(before)),
        Err(_) => Some(before),
    }
}

fn write_status(kind: StoreErrorKind) -> ComponentStatus {
    match kind {
        StoreErrorKind::Unavailable => ComponentStatus::Degraded,
        _ => ComponentStatus::Unhealthy,
    }
}

fn write_detail(failure: &WriteFailure, answers: &str) -> String {
    format!(
        "writes failing for {} s ({} failed, the latest {}: {}); {answers}",
        failure.since.elapsed().as_secs(),
        failure.count,
        failure.op,
        failure.kind.describe()
    )
}

fn config_component(config: &ConfigHandle) -> Component {
    let current = config.load();
    Component {
        name: "config",
        status: ComponentStatus::Healthy,
        detail: format!(
            "{}, version {}, hash {}",
            current.loaded.source,
            current.version,
            &current.loaded.hash[..12]
        ),
    }
}

#[cfg(test)]
mod tests;
