//! The [`Restarter`]: one per process. It admits restart requests (one at a time), owns the
//! record of the running restart, publishes every transition, and answers status queries.
//! The phases themselves run in `phases.rs`; the successor side in `successor.rs`.

use super::exec::ExecPlan;
use super::handover::Successor;
use super::inherit::ListenerSockets;
use super::prepare::{self, Readiness, Subject};
use super::stats::{ReconnectStats, Reconnects, SessionView};
use super::successor::Startup;
use super::{DrainStats, Mode, Phase, Reason, RequestedMode, RestartRecord};
use crate::audit::AuditSlot;
use crate::clock::now_ms;
use crate::error::Error;
use crate::lifecycle::ServerContext;
use crate::store::{RestartPage, RestartQuery};
use opentelemetry::trace::TraceContextExt;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use uuid::Uuid;

/// Bounds of a requested drain timeout.
const DRAIN_TIMEOUT_MIN: Duration = Duration::from_secs(1);
const DRAIN_TIMEOUT_MAX: Duration = Duration::from_secs(300);

/// A restart as the domain sees the request.
#[derive(Debug, Clone)]
pub struct RestartRequest {
    pub mode: RequestedMode,
    pub reason: Reason,
    /// `None`: `server.drain_timeout`.
    pub drain_timeout: Option<Duration>,
    pub preserve_state: bool,
    /// `None`: the running executable.
    pub binary: Option<PathBuf>,
    pub principal: String,
    /// The audit row of the RPC asking for it, stored with the first restart record.
    pub audit: AuditSlot,
}

impl RestartRequest {
    /// A handover restart the server asks for itself (SIGUSR2).
    pub fn system(reason: Reason) -> Self {
        Self {
            mode: RequestedMode::Handover,
            reason,
            drain_timeout: None,
            preserve_state: true,
            binary: None,
            principal: "system".into(),
            audit: AuditSlot::default(),
        }
    }

    /// The checks [`Restarter::start`] runs first: drain timeout and binary path.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(timeout) = self.drain_timeout
            && !(DRAIN_TIMEOUT_MIN..=DRAIN_TIMEOUT_MAX).contains(&timeout)
        {
            return Err(Error::invalid_argument("drain_timeout", "must be between 1s and 300s"));
        }
        validate_binary(self.binary.as_deref())
    }
}

/// Longest `binary` accepted, in bytes: Linux's `PATH_MAX`; no longer path can be executed.
pub const MAX_BINARY_PATH: usize = 4096;

/// `binary` must be an absolute path of at most [`MAX_BINARY_PATH`] bytes when given.
pub fn validate_binary(binary: Option<&std::path::Path>) -> Result<(), Error> {
    let Some(path) = binary else { return Ok(()) };
    let echoed = || crate::error::echo(&path.to_string_lossy());
    if path.as_os_str().len() > MAX_BINARY_PATH {
        let reason = format!("{}: longer than {MAX_BINARY_PATH} bytes", echoed());
        return Err(Error::invalid_argument("binary", reason));
    }
    if !path.is_absolute() {
        return Err(Error::invalid_argument(
            "binary",
            format!("{}: not an absolute path", echoed()),
        ));
    }
    Ok(())
}

/// One published phase transition.
#[derive(Debug, Clone)]
pub struct Transition {
    pub previous: Option<Phase>,
    pub record: RestartRecord,
}

/// A restart's request to the serving loop: drain now, then tell me the figures.
#[derive(Debug)]
pub struct Handoff {
    pub mode: Mode,
    pub drain_timeout: Duration,
    report: oneshot::Sender<DrainStats>,
    after: oneshot::Receiver<AfterDrain>,
}

/// What the process does once the restart has taken the drain figures.
#[derive(Debug)]
pub enum AfterDrain {
    /// The successor owns everything now: stop and exit 0 (keep the unix socket file).
    Exit,
    /// Stop, then replace the process image.
    Exec(ExecPlan),
    /// The restart failed after the drain (nothing serves any more): stop and exit with
    /// this error.
    Abort(String),
}

impl Handoff {
    /// Report the drain; returns what to do next.
    pub async fn drained(self, stats: DrainStats) -> AfterDrain {
        let _ = self.report.send(stats);
        self.after.await.unwrap_or(AfterDrain::Exit)
    }
}

/// The restart coordinator of this process. Cheap to clone.
#[derive(Clone)]
pub struct Restarter {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub ctx: Arc<ServerContext>,
    pub sockets: ListenerSockets,
    pub reconnects: Arc<Reconnects>,
    state: Mutex<State>,
    events: broadcast::Sender<Transition>,
    handoffs: mpsc::Sender<Handoff>,
    pub stop: CancellationToken,
    /// A successor that took over keeps its control socket open until we exit.
    pub successor: tokio::sync::Mutex<Option<Successor>>,
    pub args: Vec<OsString>,
    current_exe: PathBuf,
}

#[derive(Default)]
struct State {
    running: Option<Uuid>,
    /// The running restart, or the last one this process saw.
    last: Option<RestartRecord>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Restarter {
    /// The coordinator, and the channel on which restarts ask the serving loop to drain.
    pub async fn new(
        ctx: Arc<ServerContext>,
        sockets: ListenerSockets,
        startup: &Startup,
    ) -> (Self, mpsc::Receiver<Handoff>) {
        // The store's totals are only needed when the snapshot did not carry the statistics.
        let reconnects = match ctx.state.take_restored(super::stats::SECTION) {
            Some(section) => Reconnects::restore(Some(section), ReconnectStats::default),
            None => {
                let stats = match ctx.store.restart_totals().await {
                    Ok(totals) => ReconnectStats::from_totals(&totals, now_ms()),
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot read restart totals; statistics start at zero");
                        ReconnectStats::default()
                    }
                };
                Reconnects::restore(None, || stats)
            }
        };
        let reconnects = Arc::new(reconnects);
        ctx.state.register(reconnects.clone());
        if startup.is_successor() {
            // Loops stay parked until the predecessor has stopped its own (finalizing).
            ctx.tasks.suspend(Duration::ZERO).await;
        }
        let (handoffs, receiver) = mpsc::channel(1);
        let inner = Inner {
            ctx,
            sockets,
            reconnects,
            state: Mutex::new(State::default()),
            events: broadcast::channel(64).0,
            handoffs,
            stop: CancellationToken::new(),
            successor: tokio::sync::Mutex::new(None),
            args: std::env::args_os().skip(1).collect(),
            current_exe: std::env::current_exe()
                .unwrap_or_else(|_| PathBuf::from("/proc/self/exe")),
        };
        (Self { inner: Arc::new(inner) }, receiver)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state()
    }

    /// The executable a restart without `binary` starts.
    pub fn current_exe(&self) -> PathBuf {
        self.inner.current_exe.clone()
    }

    /// Admit and start a restart; returns its record (phase `preparing`) at once.
    pub async fn start(&self, request: RestartRequest) -> Result<RestartRecord, Error> {
        request.validate()?;
        let ctx = &self.inner.ctx;
        let mode = request.mode.resolve(ctx.process.pid);
        let binary = request.binary.clone().unwrap_or_else(|| self.current_exe());
        let id = Uuid::new_v4();
        {
            let mut state = self.state();
            if let Some(running) = state.running {
                return Err(Error::FailedPrecondition(format!(
                    "restart_in_progress: restart {running} is running"
                )));
            }
            state.running = Some(id);
        }
        let readiness = self.check(mode, &binary, request.preserve_state, false).await;
        if !readiness.ready() {
            self.state().running = None;
            let issues: Vec<String> = readiness.issues.iter().map(ToString::to_string).collect();
            return Err(Error::FailedPrecondition(issues.join("; ")));
        }
        let span = tracing::info_span!(
            "restart",
            otel.name = "restart",
            restart.id = %id,
            restart.mode = %mode,
            restart.reason = %request.reason,
        );
        let trace_id = span.context().span().span_context().clone();
        let trace_id = trace_id.is_valid().then(|| trace_id.trace_id().to_string());
        let requested_ms = now_ms();
        let mut record = RestartRecord::new(id, request.mode, mode, request.reason, requested_ms);
        record.generation_before = ctx.process.generation;
        record.old_pid = ctx.process.pid;
        record.drain_timeout =
            request.drain_timeout.unwrap_or_else(|| ctx.config.config().server.drain_timeout);
        record.preserve_state = request.preserve_state;
        record.binary = binary;
        record.principal = request.principal;
        record.trace_id = trace_id;
        if let Err(err) = ctx.store.save_restart(&record, request.audit.row().as_ref()).await {
            self.state().running = None;
            return Err(err.into());
        }
        request.audit.committed();
        self.inner.reconnects.restart_requested();
        self.inner.publish(None, &record);
        tracing::info!(parent: &span, restart.id = %id, mode = %mode, reason = %record.reason, "restart requested");
        let inner = self.inner.clone();
        let task =
            tokio::spawn(super::phases::run(inner, record.clone(), span.clone()).instrument(span));
        self.state().task = Some(task);
        Ok(record)
    }

    /// The PrepareShutdown report for a restart in `mode` with `binary` (default: the running
    /// executable).
    pub async fn prepare(
        &self,
        mode: RequestedMode,
        binary: Option<PathBuf>,
    ) -> Result<Readiness, Error> {
        validate_binary(binary.as_deref())?;
        let mode = mode.resolve(self.inner.ctx.process.pid);
        let binary = binary.unwrap_or_else(|| self.current_exe());
        Ok(self.check(mode, &binary, true, true).await)
    }

    async fn check(
        &self,
        mode: Mode,
        binary: &std::path::Path,
        preserve_state: bool,
        query: bool,
    ) -> Readiness {
        let running = if query { self.state().running } else { None };
        let sockets = self.inner.sockets.inheritable().map(drop).map_err(|err| {
            format!("listening sockets cannot be duplicated for a successor: {err}")
        });
        let subject =
            Subject { mode, binary, preserve_state, running, sockets, exclude_self: true };
        prepare::check(&self.inner.ctx, subject).await
    }

    /// The id of the restart running now, if any.
    pub fn running(&self) -> Option<Uuid> {
        self.state().running
    }

    /// A restart by id, or (`None`) the running one, else the most recent one.
    pub async fn status(&self, id: Option<Uuid>) -> Result<Option<RestartRecord>, Error> {
        let local = self.state().last.clone();
        match id {
            Some(id) => match local.filter(|r| r.id == id) {
                Some(record) => Ok(Some(record)),
                None => match self.inner.ctx.store.restart(id).await? {
                    Some(record) => Ok(Some(record)),
                    None => Err(Error::NotFound { kind: "restart", id: id.to_string() }),
                },
            },
            None => match local {
                Some(record) if record.outcome.is_none() => Ok(Some(record)),
                _ => Ok(self.inner.ctx.store.latest_restart().await?),
            },
        }
    }

    /// Stored history, newest first.
    pub async fn history(&self, query: &RestartQuery) -> Result<RestartPage, Error> {
        Ok(self.inner.ctx.store.list_restarts(query).await?)
    }

    /// Every later transition.
    pub fn subscribe(&self) -> broadcast::Receiver<Transition> {
        self.inner.events.subscribe()
    }

    pub fn stats(&self) -> ReconnectStats {
        self.inner.reconnects.stats()
    }

    /// Record a TestReconnect call of `session_id`.
    pub fn touch_session(&self, session_id: &str) -> SessionView {
        self.inner.reconnects.touch(session_id, self.inner.ctx.process.generation, now_ms())
    }

    /// The process is shutting down: stop a restart that has not handed over yet (its
    /// successor is killed) and wait for it to record that.
    pub async fn shutdown(&self) {
        self.inner.stop.cancel();
        let task = self.state().task.take();
        if let Some(task) = task
            && let Err(err) = task.await
        {
            tracing::error!(error = %err, "restart task failed");
        }
    }

    /// This process serves now; for a successor, take over the restart in progress.
    pub async fn serving(&self, startup: Startup) {
        super::successor::take_over(self.inner.clone(), startup).await;
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Save and broadcast `record` after a transition from `previous`.
    pub(super) fn publish(&self, previous: Option<Phase>, record: &RestartRecord) {
        {
            let mut state = self.state();
            state.last = Some(record.clone());
            if record.outcome.is_some() && state.running == Some(record.id) {
                state.running = None;
            }
        }
        let _ = self.events.send(Transition { previous, record: record.clone() });
    }

    /// Mark `record` as the running restart of this process (a successor taking one over).
    pub(super) fn adopt(&self, record: &RestartRecord) {
        let mut state = self.state();
        state.running = record.outcome.is_none().then_some(record.id);
        state.last = Some(record.clone());
    }

    /// Ask the serving loop to drain; `None` if it will not (shutting down).
    pub(super) async fn request_drain(
        &self,
        mode: Mode,
        drain_timeout: Duration,
    ) -> Option<(DrainStats, oneshot::Sender<AfterDrain>)> {
        let (report, report_rx) = oneshot::channel();
        let (after_tx, after) = oneshot::channel();
        let handoff = Handoff { mode, drain_timeout, report, after };
        tokio::select! {
            sent = self.handoffs.send(handoff) => sent.ok()?,
            _ = self.stop.cancelled() => return None,
        }
        let stats = report_rx.await.ok()?;
        Some((stats, after_tx))
    }
}

#[async_trait::async_trait]
impl crate::config::reload::RestartTrigger for Restarter {
    async fn restart_for_config(&self, principal: &str) -> Result<String, Error> {
        let mut request = RestartRequest::system(Reason::ConfigurationUpdate);
        request.mode = RequestedMode::Auto;
        request.principal = principal.to_owned();
        Ok(self.start(request).await?.id.to_string())
    }
}
