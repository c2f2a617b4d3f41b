//! The successor side of a restart: how this process started ([`Startup`]: cold, or with a
//! predecessor's handover and snapshot), and taking over the restart once it serves —
//! `ready` to the old process, then, when it is gone, `finalizing` and `complete` in the
//! same trace.

use super::control::{Control, Message};
use super::coordinator::Inner;
use super::inherit::Handover;
use super::phases::Run;
use super::{Mode, Outcome, Phase, RestartRecord, SnapshotOutcome};
use crate::clock::now_ms;
use crate::config::Config;
use crate::lifecycle::snapshot::{self, SnapshotKey, StateSections};
use crate::systemd;
use opentelemetry::propagation::TextMapPropagator;
use std::collections::{BTreeMap, HashMap};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use uuid::Uuid;

/// How this process started.
#[derive(Debug, Default)]
pub struct Startup {
    predecessor: Option<Predecessor>,
    sections: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug)]
struct Predecessor {
    handover: Handover,
    control: Option<OwnedFd>,
    snapshot: SnapshotOutcome,
    detail: String,
}

impl Startup {
    /// A cold start: no predecessor, no snapshot.
    pub fn cold() -> Self {
        Self::default()
    }

    /// A successor: restore the snapshot the handover names. Never fails; a snapshot that
    /// cannot be used is reported and ignored.
    pub fn successor(handover: Handover, control: Option<OwnedFd>, config: &Config) -> Self {
        let (snapshot, detail, sections) = restore(&handover, config);
        match snapshot {
            SnapshotOutcome::Restored => tracing::info!(detail = %detail, "snapshot restored"),
            other => {
                tracing::warn!(snapshot = %other, detail = %detail, "starting from the store alone")
            }
        }
        Self { predecessor: Some(Predecessor { handover, control, snapshot, detail }), sections }
    }

    pub fn is_successor(&self) -> bool {
        self.predecessor.is_some()
    }

    /// The generation this process runs as (0 for a cold start).
    pub fn generation(&self) -> u64 {
        self.predecessor.as_ref().map_or(0, |p| p.handover.generation)
    }

    /// The restart this process is finishing, if any.
    pub fn restart_id(&self) -> Option<Uuid> {
        self.predecessor.as_ref().map(|p| p.handover.restart_id)
    }

    /// The predecessor's replica id, for a successor whose predecessor named one.
    pub fn replica_id(&self) -> Option<&str> {
        self.predecessor.as_ref().and_then(|p| p.handover.replica_id.as_deref())
    }

    /// The process that handed over, for a successor.
    pub fn predecessor_pid(&self) -> Option<u32> {
        self.predecessor.as_ref().map(|p| p.handover.predecessor_pid)
    }

    /// The snapshot outcome, for a successor.
    pub fn snapshot(&self) -> Option<(SnapshotOutcome, &str)> {
        self.predecessor.as_ref().map(|p| (p.snapshot, p.detail.as_str()))
    }

    /// The registry of snapshot sections, holding what the predecessor saved.
    pub fn state_sections(&mut self) -> StateSections {
        let sections = StateSections::default();
        sections.set_restored(std::mem::take(&mut self.sections));
        sections
    }
}

type Restored = (SnapshotOutcome, String, BTreeMap<String, serde_json::Value>);

fn restore(handover: &Handover, config: &Config) -> Restored {
    let Some(path) = &handover.snapshot else {
        return (SnapshotOutcome::Disabled, "preserve_state was false".into(), BTreeMap::new());
    };
    let (key, key_error) =
        match SnapshotKey::load_optional(config.restart.snapshot_key(&config.store.url).as_deref())
        {
            Ok(key) => (key, None),
            Err(err) => (None, Some(err.to_string())),
        };
    match snapshot::read(path, key.as_ref()) {
        Ok((content, _))
            if content.restart_id != handover.restart_id
                || content.generation != handover.generation =>
        {
            (
                SnapshotOutcome::Tampered,
                format!(
                    "snapshot of restart {} generation {} does not belong to restart {} generation {}",
                    content.restart_id,
                    content.generation,
                    handover.restart_id,
                    handover.generation
                ),
                BTreeMap::new(),
            )
        }
        Ok((content, detail)) => (SnapshotOutcome::Restored, detail, content.sections),
        Err(discarded) => {
            let detail = match key_error {
                Some(key_error) => format!("{}; {key_error}", discarded.detail),
                None => discarded.detail,
            };
            (discarded.outcome, detail, BTreeMap::new())
        }
    }
}

/// Called once this process serves. A cold start marks restarts a dead process left
/// unfinished; a successor reports ready and finishes its restart in the background.
pub(super) async fn take_over(inner: Arc<Inner>, startup: Startup) {
    let keep = startup.restart_id();
    let Some(predecessor) = startup.predecessor else {
        record_interrupted(&inner, None).await;
        return;
    };
    // Ready first: the old process (and the restart's duration) waits for it.
    let pid = inner.ctx.process.pid;
    systemd::main_pid(pid);
    let mut control = match predecessor.control.as_ref().map(|fd| fd.try_clone()).transpose() {
        Ok(fd) => fd.and_then(|fd| control_stream(fd).ok()),
        Err(err) => {
            tracing::error!(error = %err, "control socket unusable");
            None
        }
    };
    if let Some(control) = control.as_mut() {
        let ready = Message::Ready {
            pid,
            snapshot: predecessor.snapshot,
            snapshot_detail: predecessor.detail.clone(),
        };
        if let Err(err) = control.send(&ready).await {
            tracing::error!(error = %err, "could not tell the old process we are ready");
        }
        tracing::info!(
            predecessor = predecessor.handover.predecessor_pid,
            "ready sent; waiting for the old process to drain and exit"
        );
    }
    record_interrupted(&inner, keep).await;
    let id = predecessor.handover.restart_id;
    let record = match inner.ctx.store.restart(id).await {
        Ok(record) => record,
        Err(err) => {
            tracing::warn!(restart.id = %id, error = %err, "cannot load the restart record");
            None
        }
    };
    if let Some(record) = &record {
        inner.adopt(record);
    }
    tokio::spawn(async move {
        let handed = match control.as_mut() {
            Some(control) => wait_for_predecessor(control).await,
            None => Err("no control socket".to_owned()),
        };
        finalize(inner, record, predecessor, handed).await;
    });
}

/// Mark restarts a dead process left unfinished (all but `keep`) as interrupted.
async fn record_interrupted(inner: &Inner, keep: Option<Uuid>) {
    match inner.ctx.store.interrupt_restarts(keep, now_ms()).await {
        Ok(ids) if !ids.is_empty() => {
            tracing::warn!(?ids, "restarts interrupted by a dead process recorded")
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "could not check for interrupted restarts"),
    }
}

fn control_stream(fd: OwnedFd) -> std::io::Result<Control> {
    let stream = std::os::unix::net::UnixStream::from(fd);
    stream.set_nonblocking(true)?;
    Ok(Control::new(tokio::net::UnixStream::from_std(stream)?))
}

/// The record the old process handed over, once it has exited.
async fn wait_for_predecessor(control: &mut Control) -> Result<RestartRecord, String> {
    let mut handed = None;
    loop {
        match control.recv().await {
            Ok(Some(Message::HandedOver { record })) => handed = Some(*record),
            Ok(Some(other)) => tracing::warn!(?other, "unexpected control message"),
            Ok(None) => break,
            Err(err) => return Err(format!("control socket: {err}")),
        }
    }
    handed.ok_or_else(|| {
        "the old process exited before handing over (its drain may have been cut short)".into()
    })
}

async fn finalize(
    inner: Arc<Inner>,
    stored: Option<RestartRecord>,
    predecessor: Predecessor,
    handed: Result<RestartRecord, String>,
) {
    let exec = predecessor.handover.mode == Mode::Exec;
    let (mut record, error) = match (handed, stored) {
        (Ok(record), _) => (record, None),
        (Err(_), Some(record)) if exec => (record, None),
        (Err(error), Some(record)) => (record, Some(error)),
        (Err(error), None) => {
            tracing::error!(error = %error, "restart record lost; resuming without it");
            inner.ctx.tasks.resume();
            return;
        }
    };
    if exec {
        record.new_pid = Some(inner.ctx.process.pid);
        record.snapshot = Some(predecessor.snapshot);
        record.snapshot_detail = Some(predecessor.detail.clone());
        record.successor_ready_ms = Some(now_ms());
        record.generation_after = predecessor.handover.generation;
    } else {
        inner.reconnects.drained(&record.drain);
        // What the old process admitted while both served (it saved once more as it stopped).
        crate::auth::carry::load(&inner.ctx.limits, inner.ctx.store.as_ref()).await;
    }
    let root =
        tracing::info_span!("restart", otel.name = "restart.successor", restart.id = %record.id);
    if let Some(traceparent) = &predecessor.handover.traceparent {
        let carrier = HashMap::from([("traceparent".to_owned(), traceparent.clone())]);
        let propagator = opentelemetry_sdk::propagation::TraceContextPropagator::new();
        let _ = root.set_parent(propagator.extract(&carrier));
    }
    let mut run = Run::resume(inner.clone(), record, root);
    if run.record.phase != Phase::Finalizing {
        run.enter(Phase::Finalizing).await;
    }
    inner.ctx.tasks.resume();
    match error {
        None => run.finish(Outcome::Succeeded, None).await,
        Some(error) => run.finish(Outcome::Failed, Some(error)).await,
    }
}
