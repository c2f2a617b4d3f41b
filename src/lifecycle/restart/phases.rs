//! The phases of a restart in the old process, in the order of the module doc: suspend the
//! loops, write the snapshot, start the successor (HANDOVER) or prepare the exec (EXEC), ask
//! the serving loop to drain, and hand over. Any failure before the drain resumes the loops
//! and leaves this process serving.

use super::coordinator::{AfterDrain, Inner};
use super::exec::ExecPlan;
use super::handover;
use super::inherit::Handover;
use super::{Mode, Outcome, Phase, RestartRecord};
use crate::clock::now_ms;
use crate::lifecycle::snapshot::{self, Snapshot, SnapshotKey};
use opentelemetry::propagation::TextMapPropagator;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// How long background loops get to reach a safe point.
const SUSPEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A restart in progress: its record, the clock of the running phase and its span.
///
/// Transitions are published at once and saved in order by background writes, so the
/// phases do not wait for the store's fsync; [`Run::flush`] waits for them where it matters
/// (before the record passes to the successor, and at the end).
pub(super) struct Run {
    inner: Arc<Inner>,
    pub record: RestartRecord,
    root: Span,
    phase_started: Instant,
    phase_span: Span,
    /// The last background save; each save waits for the one before it.
    saving: Option<tokio::task::JoinHandle<()>>,
}

impl Run {
    pub fn new(inner: Arc<Inner>, record: RestartRecord, root: Span) -> Self {
        let phase_span = phase_span(&root, record.phase);
        Self { inner, record, root, phase_started: Instant::now(), phase_span, saving: None }
    }

    /// Continue a restart whose running phase began elsewhere (in the predecessor), timing it
    /// from its recorded start.
    pub fn resume(inner: Arc<Inner>, record: RestartRecord, root: Span) -> Self {
        let phase_span = phase_span(&root, record.phase);
        let started_ms = record.phases.last().map_or_else(now_ms, |p| p.started_ms);
        let ago = Duration::from_millis(now_ms().saturating_sub(started_ms).max(0) as u64);
        let phase_started = Instant::now().checked_sub(ago).unwrap_or_else(Instant::now);
        Self { inner, record, root, phase_started, phase_span, saving: None }
    }

    /// Enter `phase`: time the previous one, save, publish.
    pub async fn enter(&mut self, phase: Phase) {
        let previous = self.record.phase;
        let closed = self.phase_started.elapsed().as_micros() as u64;
        self.phase_started = Instant::now();
        self.record.enter(phase, now_ms(), closed);
        self.phase_span = phase_span(&self.root, phase);
        tracing::info!(parent: &self.phase_span, restart.id = %self.record.id, phase = %phase, "restart phase");
        self.save(previous);
    }

    /// End with `outcome`; `error` says why for anything but success.
    pub async fn finish(&mut self, outcome: Outcome, error: Option<String>) {
        let previous = self.record.phase;
        let closed = self.phase_started.elapsed().as_micros() as u64;
        self.record.finish(outcome, error, now_ms(), closed);
        self.phase_span = Span::none();
        match &self.record.error {
            None => {
                tracing::info!(parent: &self.root, restart.id = %self.record.id, outcome = %outcome, "restart finished")
            }
            Some(error) => {
                tracing::warn!(parent: &self.root, restart.id = %self.record.id, outcome = %outcome, error = %error, "restart finished")
            }
        }
        let elapsed_ms = now_ms().saturating_sub(self.record.requested_ms).max(0);
        let elapsed = std::time::Duration::from_millis(elapsed_ms as u64);
        crate::metrics::metrics().restart_ended(outcome.as_str(), elapsed);
        self.inner.reconnects.finished(&self.record);
        // The outcome is stored before anyone hears of it, so history never lags behind.
        self.persist();
        self.flush().await;
        self.inner.publish(Some(previous), &self.record);
    }

    fn save(&mut self, previous: Phase) {
        self.inner.publish(Some(previous), &self.record);
        self.persist();
    }

    /// Save the record as it is now, after the saves already queued.
    pub fn persist(&mut self) {
        let (store, record, before) =
            (self.inner.ctx.store.clone(), self.record.clone(), self.saving.take());
        self.saving = Some(tokio::spawn(async move {
            if let Some(before) = before {
                let _ = before.await;
            }
            if let Err(err) = store.save_restart(&record, None).await {
                tracing::warn!(restart.id = %record.id, error = %err, "could not save the restart record");
            }
        }));
    }

    /// Wait until every queued save is done.
    pub async fn flush(&mut self) {
        if let Some(saving) = self.saving.take()
            && let Err(err) = saving.await
        {
            tracing::error!(error = %err, "restart record save failed");
        }
    }

    /// W3C `traceparent` of the running phase, for the successor.
    fn traceparent(&self) -> Option<String> {
        let mut carrier = HashMap::new();
        let propagator = opentelemetry_sdk::propagation::TraceContextPropagator::new();
        propagator.inject_context(&self.phase_span.context(), &mut carrier);
        carrier.remove("traceparent")
    }
}

/// The span of one phase, `restart.<phase>`, under the restart's root span.
pub(super) fn phase_span(root: &Span, phase: Phase) -> Span {
    let name = format!("restart.{phase}");
    tracing::info_span!(parent: root, "restart.phase", otel.name = %name, restart.phase = %phase)
}

/// Run a restart admitted by `Restarter::start` to its end (or to the exec).
pub(super) async fn run(inner: Arc<Inner>, record: RestartRecord, root: Span) {
    let mut run = Run::new(inner.clone(), record, root);
    run.enter(Phase::SuspendingTasks).await;
    let stuck = inner.ctx.tasks.suspend(SUSPEND_TIMEOUT).await;
    if stuck > 0 {
        let error = format!(
            "{stuck} background task(s) did not reach a safe point within {SUSPEND_TIMEOUT:?}"
        );
        return abandon(&mut run, Outcome::Failed, error, None).await;
    }
    match run.record.mode {
        Mode::Handover => handover(run).await,
        Mode::Exec => exec(run).await,
    }
}

/// Resume serving as before: loops continue, the snapshot is removed, the record ends.
async fn abandon(run: &mut Run, outcome: Outcome, error: String, snapshot: Option<PathBuf>) {
    if let Some(path) = snapshot
        && let Err(err) = std::fs::remove_file(&path)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %err, "could not remove the unused snapshot");
    }
    run.inner.ctx.tasks.resume();
    run.finish(outcome, Some(error)).await;
}

async fn handover(mut run: Run) {
    let inner = run.inner.clone();
    let snapshot = if run.record.preserve_state {
        run.enter(Phase::SerializingState).await;
        match write_snapshot(&run) {
            Ok(path) => Some(path),
            Err(error) => return abandon(&mut run, Outcome::Failed, error, None).await,
        }
    } else {
        None
    };
    run.enter(Phase::StartingSuccessor).await;
    // The successor loads the rate limit windows at start (this restart's call included).
    crate::auth::carry::save(&inner.ctx.limits, inner.ctx.store.as_ref()).await;
    let description = describe(&run, snapshot.clone());
    let ready_timeout = inner.ctx.config.config().restart.ready_timeout;
    let mut successor =
        match handover::spawn(&run.record.binary, &inner.args, description, &inner.sockets) {
            Ok(successor) => successor,
            Err(err) => {
                let error = format!("cannot start {}: {err}", run.record.binary.display());
                return abandon(&mut run, Outcome::Failed, error, snapshot).await;
            }
        };
    tracing::info!(parent: &run.phase_span, pid = successor.pid, "successor spawned");
    let ready = match successor.wait_ready(ready_timeout, &inner.stop).await {
        Ok(ready) => ready,
        Err(reason) => {
            successor.kill().await;
            let outcome =
                if inner.stop.is_cancelled() { Outcome::Failed } else { Outcome::RolledBack };
            return abandon(&mut run, outcome, reason, snapshot).await;
        }
    };
    run.record.new_pid = Some(ready.pid);
    run.record.generation_after = run.record.generation_before + 1;
    run.record.snapshot = Some(ready.snapshot);
    run.record.snapshot_detail = Some(ready.snapshot_detail);
    run.record.successor_ready_ms = Some(now_ms());
    tracing::info!(parent: &run.phase_span, pid = ready.pid, snapshot = %ready.snapshot, "successor ready");
    let Some(after) = close_connections(&mut run).await else {
        successor.kill().await;
        return abandon(&mut run, Outcome::Failed, STOPPED.into(), None).await;
    };
    run.enter(Phase::Finalizing).await;
    run.flush().await;
    if let Err(err) = successor.hand_over(&run.record).await {
        tracing::error!(error = %err, "could not hand the restart record to the successor");
    }
    *inner.successor.lock().await = Some(successor);
    let _ = after.send(AfterDrain::Exit);
}

async fn exec(mut run: Run) {
    let inner = run.inner.clone();
    let Some(after) = close_connections(&mut run).await else {
        return abandon(&mut run, Outcome::Failed, STOPPED.into(), None).await;
    };
    let snapshot = if run.record.preserve_state {
        run.enter(Phase::SerializingState).await;
        match write_snapshot(&run) {
            Ok(path) => Some(path),
            Err(error) => {
                // Too late to resume (the listeners are drained): go on, the new image
                // reports the snapshot as missing.
                tracing::error!(error = %error, "snapshot not written; the new image starts from the store");
                None
            }
        }
    } else {
        None
    };
    run.enter(Phase::StartingSuccessor).await;
    run.record.new_pid = Some(run.record.old_pid);
    let description = describe(&run, snapshot);
    let plan = match ExecPlan::new(
        run.record.binary.clone(),
        inner.args.clone(),
        description,
        &inner.sockets,
    ) {
        Ok(plan) => plan,
        Err(err) => {
            let error = format!("cannot prepare the exec: {err}");
            run.finish(Outcome::Failed, Some(error.clone())).await;
            let _ = after.send(AfterDrain::Abort(error));
            return;
        }
    };
    // The new image reads the record from the store: it must be there before the exec.
    run.persist();
    run.flush().await;
    let _ = after.send(AfterDrain::Exec(plan));
}

/// Why a restart ends when the serving loop no longer takes a drain request.
const STOPPED: &str = "the server stopped before the drain";

/// `closing_connections`: have the serving loop drain, and record what the drain did.
/// `None` when the loop is shutting down instead.
async fn close_connections(run: &mut Run) -> Option<oneshot::Sender<AfterDrain>> {
    run.enter(Phase::ClosingConnections).await;
    let inner = run.inner.clone();
    let (drain, after) = inner.request_drain(run.record.mode, run.record.drain_timeout).await?;
    run.record.drain = drain;
    inner.reconnects.drained(&drain);
    Some(after)
}

/// The handover description for the successor (descriptor fields filled in later).
fn describe(run: &Run, snapshot: Option<PathBuf>) -> Handover {
    Handover {
        restart_id: run.record.id,
        mode: run.record.mode,
        generation: run.record.generation_before + 1,
        predecessor_pid: run.record.old_pid,
        tcp_fd: -1,
        http_fd: None,
        unix_fd: None,
        unix_path: None,
        control_fd: None,
        snapshot,
        traceparent: run.traceparent(),
        replica_id: Some(run.inner.ctx.process.replica_id.clone()),
    }
}

/// Capture every section and write the snapshot; `Err` is the failure reason.
fn write_snapshot(run: &Run) -> Result<PathBuf, String> {
    let ctx = &run.inner.ctx;
    let config = ctx.config.config();
    let key = SnapshotKey::load_optional(config.restart.snapshot_key(&config.store.url).as_deref())
        .map_err(|err| err.to_string())?;
    let sections = ctx.state.capture().map_err(|err| err.to_string())?;
    let content = Snapshot {
        restart_id: run.record.id,
        generation: run.record.generation_before + 1,
        written_ms: now_ms(),
        sections,
    };
    let dir = config.restart.snapshot_dir(&config.store.url);
    let (path, detail) =
        snapshot::write(&dir, &content, key.as_ref()).map_err(|err| err.to_string())?;
    tracing::info!(parent: &run.phase_span, path = %path.display(), detail = %detail, "snapshot written");
    Ok(path)
}
