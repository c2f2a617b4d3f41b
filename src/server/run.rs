//! `rebound serve`: start-up (cold, or as a hot-restart successor), serving, and the exits:
//! the ordered shutdown, or the end of a hot restart (handover or exec).

use super::ServeError;
use super::connections;
use super::listeners::{self, Listeners};
use super::probes::Probes;
use super::shutdown::{Serving, SocketFile};
use super::tls::Alpn;
use crate::api::audit::Auditor;
use crate::api::client_command::ClientCommandApi;
use crate::api::config::ConfigApi;
use crate::api::health::HealthApi;
use crate::api::layer::RpcLayer;
use crate::api::recovery::RecoveryApi;
use crate::api::restart::RestartApi;
use crate::auth::{RateLimiter, carry};
use crate::cluster::Cluster;
use crate::config::reload::{ReloadManager, ReloadRequest, Trigger};
use crate::config::{Config, ConfigHandle, LoadedConfig, Observers, Source};
use crate::lifecycle::ServerContext;
use crate::lifecycle::restart::{
    AfterDrain, ExecPlan, Handoff, Inherited, Reason, RestartRequest, Restarter, Startup,
};
use crate::lifecycle::{Drain, signals};
use crate::model::process::ProcessInfo;
use crate::proto::v1::client_command_service_server::ClientCommandServiceServer;
use crate::proto::v1::config_service_server::ConfigServiceServer;
use crate::proto::v1::health_service_server::HealthServiceServer;
use crate::proto::v1::recovery_service_server::RecoveryServiceServer;
use crate::proto::v1::restart_service_server::RestartServiceServer;
use crate::recovery::retention;
use crate::store;
use crate::store::cluster::ReplicaBeat;
use crate::systemd;
use crate::tasks::Tasks;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_stream::wrappers::UnixListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tower::Layer;

/// The gRPC services this build serves, as advertised by reflection and health.
const SERVICES: &[&str] = &[
    <HealthServiceServer<HealthApi> as NamedService>::NAME,
    <ClientCommandServiceServer<ClientCommandApi> as NamedService>::NAME,
    <RestartServiceServer<RestartApi> as NamedService>::NAME,
    <ConfigServiceServer<ConfigApi> as NamedService>::NAME,
    <RecoveryServiceServer<RecoveryApi> as NamedService>::NAME,
];

/// How `rebound serve` ended without an error.
#[derive(Debug)]
pub enum Stopped {
    /// Shut down in order (a signal).
    Shutdown,
    /// A hot-restart successor serves now.
    HandedOver,
    /// Replace the process image (EXEC restart) once telemetry is flushed.
    Exec(ExecPlan),
}

/// Why the serving loop stopped.
enum Exit {
    Shutdown,
    ServerEnded(Option<super::shutdown::ServerResult>),
    Restart(Handoff),
}

/// Run the server until a shutdown signal or a hot restart, then drain and return.
pub async fn run(loaded: LoadedConfig, observers: Observers) -> Result<Stopped, ServeError> {
    let mut signals = signals::listen().map_err(ServeError::Signals)?;
    let config = loaded.config.clone();
    let (listeners, mut startup) = open_listeners(&config)?;
    // The addresses actually bound (`server.listen = "127.0.0.1:0"` picks a free port): the
    // first line that names them, before anything that may take long or fail.
    let http_addr = listeners.http.as_ref().map(|(_, addr)| addr.to_string());
    tracing::info!(
        addr = %listeners.tcp_addr,
        http = %http_addr.as_deref().unwrap_or("off"),
        "listening"
    );
    let socket_path = listeners.unix.as_ref().map(|(_, path)| path.clone());
    let file = match &loaded.source {
        Source::File(path) => Some(path.as_path()),
        Source::Defaults | Source::Inline => None,
    };
    let instance = crate::cluster::identity::instance(file, &config.server.listen);
    let replica_id =
        crate::cluster::identity::choose(&config.cluster, startup.replica_id(), &instance);
    let mut options = config.store.options();
    options.replica_id = Some(replica_id.clone());
    let store = match store::open_with(&config.store.url, &options).await {
        Ok(store) => store,
        Err(err) => {
            // An inherited socket file belongs to the predecessor, which still serves on it.
            if !startup.is_successor() {
                socket_path.as_deref().map(Listeners::remove_socket_file);
            }
            return Err(err.into());
        }
    };
    let process = ProcessInfo::current(startup.generation(), replica_id);
    let run = store.begin_run(process.pid, process.generation).await?;
    let previous = run.previous.as_ref().map_or("none", |previous| previous.end.as_str());
    tracing::info!(run.id = run.run_id.0, previous_run = %previous, generation = process.generation, "store ready");
    let report = crate::recovery::startup::recover(&run, &process, &startup, &store)
        .await
        .map_err(ServeError::Recovery)?;

    let limits = Arc::new(RateLimiter::default());
    carry::load(&limits, store.as_ref()).await;
    let drain = Drain::new();
    let config_file = match &loaded.source {
        Source::File(path) => Some(path.clone()),
        Source::Defaults | Source::Inline => None,
    };
    let config_handle = ConfigHandle::new(loaded);
    let tasks = Tasks::new();
    let beat = ReplicaBeat {
        replica_id: process.replica_id.clone(),
        listen: listeners.tcp_addr.to_string(),
        pid: process.pid,
        generation: process.generation,
    };
    let cluster = Cluster::start(&tasks, store.clone(), config_handle.clone(), beat);
    let ctx = Arc::new(ServerContext {
        config: config_handle,
        observers,
        store: store.clone(),
        drain: drain.clone(),
        tasks,
        health: Default::default(),
        state: startup.state_sections(),
        limits: limits.clone(),
        process,
        cluster,
    });
    let gate = crate::auth::Gate::start(&ctx.config, &ctx.observers, limits)?;
    let tls = super::tls::Tls::start(&ctx.config, &ctx.observers, Alpn::Grpc)?;
    let fleet = super::devices::start(&ctx);
    let Listeners { tcp, tcp_addr, unix, http, sockets } = listeners;
    let (restarter, mut handoffs) = Restarter::new(ctx.clone(), sockets, &startup).await;
    let reload = Arc::new(
        ReloadManager::new(
            ctx.config.clone(),
            ctx.observers.clone(),
            store.clone(),
            config_file.clone(),
            std::env::vars().collect(),
        )
        .with_restarter(Arc::new(restarter.clone())),
    );
    if let Some(file) = &config_file
        && let Err(err) = crate::config::watch::spawn(&ctx.tasks, reload.clone(), file)
    {
        tracing::warn!(error = %err, "config file watching is unavailable");
    }
    let auditor = Auditor::new(store.clone());
    let leadership = ctx.cluster.leadership().clone();
    retention::spawn(&ctx.tasks, ctx.config.clone(), store.clone(), leadership);
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let probes = Probes::new(reporter, SERVICES.to_vec());
    probes.set(ServingStatus::Serving).await;
    crate::recovery::startup::spawn_store_check(&ctx.tasks, store.clone(), report);

    // The rebound.v1 services, once: every gRPC listener and the console's gateway serve
    // these same instances behind the same layer.
    let api = Routes::new(HealthServiceServer::new(HealthApi::new(ctx.clone())))
        .add_service(ClientCommandServiceServer::new(ClientCommandApi::new(
            fleet.clone(),
            ctx.drain.clone(),
        )))
        .add_service(RestartServiceServer::new(RestartApi::new(
            ctx.clone(),
            restarter.clone(),
            tcp_addr,
            socket_path.clone(),
        )))
        .add_service(ConfigServiceServer::new(ConfigApi::new(reload.clone())))
        .add_service(RecoveryServiceServer::new(RecoveryApi::new(
            ctx.store.clone(),
            ctx.config.clone(),
        )));
    let layer = RpcLayer::new(ctx.drain.clone(), auditor.clone(), gate.clone());
    let router = || -> Result<_, ServeError> {
        let mut routes = api.clone().add_service(health_service.clone());
        if config.server.reflection {
            let (v1, v1alpha) = reflection_services()?;
            routes = routes.add_service(v1).add_service(v1alpha);
        }
        Ok(Server::builder().layer(layer.clone()).add_routes(routes))
    };
    let mut servers = JoinSet::new();
    let tcp_incoming = connections::counted(super::tls::incoming(tcp, tls), drain.clone());
    servers.spawn(router()?.serve_with_incoming_shutdown(tcp_incoming, drain.started()));
    if let Some((unix, _)) = unix {
        let unix_incoming = connections::counted(UnixListenerStream::new(unix), drain.clone());
        servers.spawn(router()?.serve_with_incoming_shutdown(unix_incoming, drain.started()));
    }
    let http_url = match http {
        None => None,
        Some((listener, addr)) => {
            let http_tls = super::tls::Tls::start(&ctx.config, &ctx.observers, Alpn::Http)?;
            let scheme = if config.server.tls.enabled() { "https" } else { "http" };
            let incoming =
                connections::counted(super::tls::incoming(listener, http_tls), drain.clone());
            let grpc = crate::http::grpc::boxed(layer.layer(api.clone().prepare()));
            let gateway = crate::http::gateway::Gateway::new(grpc, gate.clone());
            let routes = crate::http::router(fleet.clone(), gateway);
            let serve = crate::http::serve::serve(incoming, routes, drain.clone());
            servers.spawn(async move {
                serve.await;
                Ok(())
            });
            let url = format!("{scheme}://{addr}/");
            tracing::info!(url = %url, "http listener: console at {url}, metrics at {url}metrics");
            Some(url)
        }
    };

    let background = CancellationToken::new();
    systemd::spawn_watchdog(background.clone());
    probes.clone().spawn_monitor(ctx.clone());
    let successor = startup.is_successor();
    restarter.serving(startup).await;
    systemd::ready();
    systemd::status("serving");
    tracing::info!(
        addr = %tcp_addr,
        http = http_url.as_deref().unwrap_or("off"),
        unix_socket = socket_path.as_ref().map(|p| p.display().to_string()),
        pid = ctx.process.pid,
        generation = ctx.process.generation,
        successor,
        "serving"
    );
    let mut serving = Serving { ctx, servers, probes, background, run_id: run.run_id, socket_path };

    let exit = loop {
        tokio::select! {
            request = signals.recv() => match request {
                Some(signals::Request::Shutdown(name)) => {
                    tracing::info!(signal = name, "shutdown requested");
                    break Exit::Shutdown;
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
                Some(signals::Request::Restart(name)) => {
                    let request = RestartRequest::system(Reason::ManualRequest);
                    match restarter.start(request).await {
                        Ok(record) => tracing::info!(signal = name, restart.id = %record.id, "hot restart requested"),
                        Err(err) => tracing::warn!(signal = name, error = %err, "hot restart refused"),
                    }
                }
                None => break Exit::Shutdown,
            },
            Some(handoff) = handoffs.recv() => break Exit::Restart(handoff),
            finished = serving.servers.join_next() => {
                break Exit::ServerEnded(finished.and_then(Result::ok));
            }
        }
    };
    stop(serving, exit, &restarter, &mut signals).await
}

/// Resolves at the next shutdown signal (or when no more signals can arrive); other requests
/// are ignored, the process is stopping.
async fn second_stop_signal(signals: &mut mpsc::Receiver<signals::Request>) {
    while let Some(request) = signals.recv().await {
        match request {
            signals::Request::Shutdown(_) => return,
            other => tracing::info!(?other, "ignored while stopping"),
        }
    }
}

/// Cold start: bind. Successor: adopt the inherited sockets and restore the snapshot.
fn open_listeners(config: &Config) -> Result<(Listeners, Startup), ServeError> {
    match Inherited::from_env().map_err(ServeError::Handover)? {
        None => Ok((listeners::bind(&config.server)?, Startup::cold())),
        Some(Inherited { handover, tcp, unix, http, control }) => {
            let listeners = listeners::inherit(&config.server, tcp, unix, http)?;
            Ok((listeners, Startup::successor(handover, control, config)))
        }
    }
}

/// The exits, in the order `lifecycle` documents.
async fn stop(
    mut serving: Serving,
    exit: Exit,
    restarter: &Restarter,
    signals: &mut mpsc::Receiver<signals::Request>,
) -> Result<Stopped, ServeError> {
    match exit {
        Exit::Shutdown | Exit::ServerEnded(_) => {
            // First of all: another replica takes the lease over while this one drains.
            serving.ctx.cluster.leave().await;
            restarter.shutdown().await;
            systemd::stopping();
            let early = match exit {
                Exit::ServerEnded(finished) => finished,
                _ => {
                    let delay = serving.ctx.config.config().server.shutdown_delay;
                    serving.announce(delay, second_stop_signal(signals)).await;
                    None
                }
            };
            let timeout = serving.ctx.config.config().server.drain_timeout;
            let (result, _) = serving.drain(timeout, early).await;
            serving.finish(result, SocketFile::Remove).await?;
            tracing::info!("drained; exiting");
            Ok(Stopped::Shutdown)
        }
        Exit::Restart(handoff) => {
            tracing::info!(mode = %handoff.mode, "hot restart: draining this process");
            let (result, stats) = serving.drain(handoff.drain_timeout, None).await;
            if let Err(err) = &result {
                tracing::warn!(error = %err, "drain incomplete");
            }
            match handoff.drained(stats).await {
                AfterDrain::Exit => {
                    serving.finish(result, SocketFile::Keep).await?;
                    tracing::info!("handed over; exiting");
                    Ok(Stopped::HandedOver)
                }
                AfterDrain::Exec(plan) => {
                    if let Err(err) = serving.finish(result, SocketFile::Keep).await {
                        tracing::warn!(error = %err, "stopped with an error; exec anyway");
                    }
                    Ok(Stopped::Exec(plan))
                }
                AfterDrain::Abort(error) => {
                    let _ = serving.finish(result, SocketFile::Remove).await;
                    Err(ServeError::Restart(error))
                }
            }
        }
    }
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
