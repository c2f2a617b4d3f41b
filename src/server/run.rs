//! `rebound serve`: start-up, serving, and the ordered shutdown described in `lifecycle`.

use super::listeners::{self, Listeners};
use super::probes::Probes;
use super::{ProcessInfo, ServeError, ServerContext};
use crate::api::audit::Auditor;
use crate::api::config::ConfigApi;
use crate::api::health::HealthApi;
use crate::api::layer::RpcLayer;
use crate::api::recovery::RecoveryApi;
use crate::config::reload::{ReloadManager, ReloadRequest, Trigger};
use crate::config::{ConfigHandle, LoadedConfig, Observers, Source};
use crate::lifecycle::{Drain, Tasks, signals, systemd};
use crate::proto::v1::config_service_server::ConfigServiceServer;
use crate::proto::v1::health_service_server::HealthServiceServer;
use crate::proto::v1::recovery_service_server::RecoveryServiceServer;
use crate::recovery::report::{RecoveryReport, ReportBuilder};
use crate::recovery::retention;
use crate::store;
use crate::store::{RunRecord, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::transport::Server;
use tonic_health::ServingStatus;

/// After health flips and listeners close, open streams get this long to flush what they
/// already have (e.g. the NOT_SERVING update to health watchers) before they are ended.
const STREAM_FLUSH_GRACE: Duration = Duration::from_millis(100);

/// How long background loops get to return once told to stop.
const TASK_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The gRPC services this build serves, as advertised by reflection and health.
const SERVICES: &[&str] = &[
    <HealthServiceServer<HealthApi> as NamedService>::NAME,
    <ConfigServiceServer<ConfigApi> as NamedService>::NAME,
    <RecoveryServiceServer<RecoveryApi> as NamedService>::NAME,
];

/// Run the server until a shutdown signal, then drain and return.
pub async fn run(loaded: LoadedConfig, observers: Observers) -> Result<(), ServeError> {
    let mut signals = signals::listen().map_err(ServeError::Signals)?;
    let config = loaded.config.clone();
    let listeners = listeners::bind(&config.server).await?;
    let socket_path = listeners.unix.as_ref().map(|(_, path)| path.clone());
    let options = store::StoreOptions { durability: config.store.durability };
    let store = match store::open_with(&config.store.url, &options).await {
        Ok(store) => store,
        Err(err) => {
            socket_path.as_deref().map(Listeners::remove_socket_file);
            return Err(err.into());
        }
    };
    let process = ProcessInfo::current(0);
    let run = store.begin_run(process.pid, process.generation).await?;
    let previous = run.previous.as_ref().map_or("none", |previous| previous.end.as_str());
    tracing::info!(run.id = run.run_id.0, previous_run = %previous, "store ready");
    recover(&run, &process, store.as_ref()).await?;

    let drain = Drain::new();
    let config_file = match &loaded.source {
        Source::File(path) => Some(path.clone()),
        Source::Defaults | Source::Inline => None,
    };
    let ctx = Arc::new(ServerContext {
        config: ConfigHandle::new(loaded),
        observers,
        store: store.clone(),
        drain: drain.clone(),
        tasks: Tasks::new(),
        process,
    });
    let reload = Arc::new(ReloadManager::new(
        ctx.config.clone(),
        ctx.observers.clone(),
        store.clone(),
        config_file.clone(),
        std::env::vars().collect(),
    ));
    if let Some(file) = &config_file
        && let Err(err) = crate::config::watch::spawn(&ctx.tasks, reload.clone(), file)
    {
        tracing::warn!(error = %err, "config file watching is unavailable");
    }
    let auditor = Auditor::new(store.clone());
    retention::spawn(&ctx.tasks, ctx.config.clone(), store.clone());
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let probes = Probes::new(reporter, SERVICES.to_vec());
    probes.set(ServingStatus::Serving).await;

    let router = |ctx: &Arc<ServerContext>| -> Result<_, ServeError> {
        let reflection = config.server.reflection.then(reflection_services).transpose()?;
        let (v1, v1alpha) = reflection.unzip();
        Ok(Server::builder()
            .layer(RpcLayer::new(ctx.drain.clone(), auditor.clone()))
            .add_service(health_service.clone())
            .add_service(HealthServiceServer::new(HealthApi::new(ctx.clone())))
            .add_service(ConfigServiceServer::new(ConfigApi::new(reload.clone())))
            .add_service(RecoveryServiceServer::new(RecoveryApi::new(
                ctx.store.clone(),
                ctx.config.clone(),
            )))
            .add_optional_service(v1)
            .add_optional_service(v1alpha))
    };
    let mut servers = JoinSet::new();
    let tcp_router = router(&ctx)?;
    servers.spawn(
        tcp_router
            .serve_with_incoming_shutdown(TcpListenerStream::new(listeners.tcp), drain.started()),
    );
    if let Some((unix, _)) = listeners.unix {
        let unix_router = router(&ctx)?;
        servers.spawn(
            unix_router
                .serve_with_incoming_shutdown(UnixListenerStream::new(unix), drain.started()),
        );
    }

    let background = CancellationToken::new();
    systemd::spawn_watchdog(background.clone());
    probes.clone().spawn_monitor(ctx.clone());
    systemd::ready();
    systemd::status("serving");
    tracing::info!(
        addr = %listeners.tcp_addr,
        unix_socket = socket_path.as_ref().map(|p| p.display().to_string()),
        pid = ctx.process.pid,
        "serving"
    );

    let early_exit = loop {
        tokio::select! {
            request = signals.recv() => match request {
                Some(signals::Request::Shutdown(name)) => {
                    tracing::info!(signal = name, "shutdown requested");
                    break None;
                }
                Some(signals::Request::Reload) => {
                    let reload = reload.clone();
                    tokio::spawn(async move {
                        let request = ReloadRequest::from_file(Trigger::Signal, "signal:SIGHUP");
                        if let Err(err) = reload.reload(request).await {
                            tracing::error!(error = %err, "config reload on SIGHUP failed");
                        }
                    });
                }
                None => break None,
            },
            finished = servers.join_next() => {
                break Some(finished);
            }
        }
    };

    // Ordered shutdown (see lifecycle's module doc).
    systemd::stopping();
    probes.set(ServingStatus::NotServing).await;
    drain.begin();
    tokio::time::sleep(STREAM_FLUSH_GRACE).await;
    drain.close_streams();
    let timeout = ctx.config.config().server.drain_timeout;
    let drained = tokio::time::timeout(timeout, async {
        let mut result = match early_exit {
            Some(Some(Ok(Err(err)))) => Err(ServeError::Transport(err)),
            _ => Ok(()),
        };
        while let Some(finished) = servers.join_next().await {
            if let Ok(Err(err)) = finished {
                result = result.and(Err(ServeError::Transport(err)));
            }
        }
        drain.idle().await;
        result
    })
    .await;
    background.cancel();
    let mut outcome = match drained {
        Ok(result) => result,
        Err(_) => {
            servers.abort_all();
            Err(ServeError::DrainTimeout { timeout, in_flight: drain.in_flight() })
        }
    };
    let stuck = ctx.tasks.stop(TASK_STOP_TIMEOUT).await;
    if stuck > 0 {
        outcome = outcome.and(Err(ServeError::TasksStuck { count: stuck }));
    }
    if let Err(err) = store.end_run(run.run_id, outcome.is_ok()).await {
        tracing::error!(error = %err, "could not record the end of this run");
    }
    store.close().await;
    socket_path.as_deref().map(Listeners::remove_socket_file);
    if outcome.is_ok() {
        tracing::info!("drained; exiting");
    }
    outcome
}

/// Startup recovery: runs before anything is served and stores its report.
async fn recover(
    run: &RunRecord,
    process: &ProcessInfo,
    store: &dyn Store,
) -> Result<RecoveryReport, ServeError> {
    let mut builder = ReportBuilder::new(run, process);
    builder.check_store(store).await.map_err(ServeError::Recovery)?;
    let report = builder.finish(store).await.map_err(ServeError::Recovery)?;
    let found: u64 = report.categories.iter().map(|c| c.count).sum();
    tracing::info!(
        report.id = report.id,
        previous_run = report.previous_run.as_str(),
        found,
        warnings = report.warnings.len(),
        duration_us = report.duration.as_micros() as u64,
        "startup recovery finished"
    );
    for warning in &report.warnings {
        tracing::warn!(%warning, "startup recovery");
    }
    Ok(report)
}

type Reflection<T> = tonic_reflection::server::v1::ServerReflectionServer<T>;
type ReflectionAlpha<T> = tonic_reflection::server::v1alpha::ServerReflectionServer<T>;

/// Reflection v1 and v1alpha, advertising exactly the services this server registers.
fn reflection_services() -> Result<
    (
        Reflection<impl tonic_reflection::server::v1::ServerReflection>,
        ReflectionAlpha<impl tonic_reflection::server::v1alpha::ServerReflection>,
    ),
    ServeError,
> {
    let builder = || {
        let mut builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("grpc.reflection.v1.ServerReflection")
            .with_service_name("grpc.reflection.v1alpha.ServerReflection");
        for service in SERVICES {
            builder = builder.with_service_name(*service);
        }
        builder
    };
    let v1 = builder().build_v1().map_err(|err| ServeError::Reflection(err.to_string()))?;
    let v1alpha =
        builder().build_v1alpha().map_err(|err| ServeError::Reflection(err.to_string()))?;
    Ok((v1, v1alpha))
}
