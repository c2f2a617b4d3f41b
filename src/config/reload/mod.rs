//! The reload manager: the one path every reload takes, whatever triggered it (SIGHUP, the
//! `Reload` RPC, the file watcher).
//!
//! read → parse → validate (every error, with field paths) → diff against the config in force
//! → refuse if a restart-only key changed → atomic swap → notify observers (old, new) → on an
//! observer failure or panic, restore the old config and tell the observers that already
//! applied it → persist the event → publish it to watchers.
//!
//! Reloads never interleave: one that arrives while another runs is refused with
//! `ALREADY_IN_PROGRESS` (and recorded). Environment overrides captured at start-up apply to
//! every reload, exactly as they did at start.

mod event;
mod stats;

pub use event::{ReloadEvent, ReloadResult, SourceKind, Trigger};
pub use stats::{ReloadStats, percentile, reload_stats};

use super::{Change, ConfigHandle, FieldError, LoadedConfig, Observers, Source, diff, parse_str};
use crate::audit::AuditSlot;
use crate::error::Error;
use crate::store::Store;
use crate::store::reloads::ReloadEventQuery;
use crate::systemd;
use chrono::Utc;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// Content used when the server runs without a config file.
const DEFAULTS_TEXT: &str = "version = 1";
/// How many events a slow watcher may fall behind before it misses some.
const WATCH_BUFFER: usize = 64;

/// A request to reload.
#[derive(Debug, Clone)]
pub struct ReloadRequest {
    pub trigger: Trigger,
    /// Who asked (RPC caller, `signal:SIGHUP`, `watch`).
    pub principal: Option<String>,
    /// Inline TOML to apply instead of reading the config file.
    pub content: Option<String>,
    pub restart_if_required: bool,
    /// The audit row of the RPC asking for it, stored with the reload event.
    pub audit: AuditSlot,
}

impl ReloadRequest {
    /// Re-read the config file, as asked by `principal` through `trigger` (signal, watch).
    pub fn from_file(trigger: Trigger, principal: &str) -> Self {
        Self {
            trigger,
            principal: Some(principal.to_owned()),
            content: None,
            restart_if_required: false,
            audit: AuditSlot::default(),
        }
    }
}

/// What `Validate` found, without applying anything.
#[derive(Debug, Clone)]
pub struct Validation {
    pub result: ReloadResult,
    pub errors: Vec<FieldError>,
    pub changes: Vec<Change>,
    pub content_hash: Option<String>,
    pub error: Option<String>,
}

impl Validation {
    pub fn restart_required(&self) -> bool {
        self.changes.iter().any(|c| c.restart_required)
    }
}

/// A candidate read and parsed, or why it could not be.
struct Candidate {
    source: SourceKind,
    path: Option<PathBuf>,
    parsed: Result<LoadedConfig, Failure>,
}

struct Failure {
    result: ReloadResult,
    errors: Vec<FieldError>,
    message: String,
}

/// Starts a hot restart so that restart-only keys of the config file take effect
/// (`restart_if_required`). Implemented by the restart coordinator; the successor process
/// reads the file again at start.
#[async_trait::async_trait]
pub trait RestartTrigger: Send + Sync {
    /// Start a restart for a configuration update asked by `principal`; returns its id.
    async fn restart_for_config(&self, principal: &str) -> Result<String, Error>;
}

/// Serializes reloads and keeps their history.
pub struct ReloadManager {
    handle: ConfigHandle,
    observers: Observers,
    store: Arc<dyn Store>,
    file: Option<PathBuf>,
    env: Vec<(String, String)>,
    running: tokio::sync::Mutex<()>,
    events: broadcast::Sender<ReloadEvent>,
    restarter: Option<Arc<dyn RestartTrigger>>,
}

impl ReloadManager {
    /// `file` is the config file given at start-up (`None`: defaults); `env` the environment
    /// whose `REBOUND_…__…` overrides apply to every reload.
    pub fn new(
        handle: ConfigHandle,
        observers: Observers,
        store: Arc<dyn Store>,
        file: Option<PathBuf>,
        env: Vec<(String, String)>,
    ) -> Self {
        let (events, _) = broadcast::channel(WATCH_BUFFER);
        Self {
            handle,
            observers,
            store,
            file,
            env,
            running: tokio::sync::Mutex::new(()),
            events,
            restarter: None,
        }
    }

    /// Lets `restart_if_required` reloads start a hot restart through `restarter`.
    pub fn with_restarter(mut self, restarter: Arc<dyn RestartTrigger>) -> Self {
        self.restarter = Some(restarter);
        self
    }

    pub fn handle(&self) -> &ConfigHandle {
        &self.handle
    }

    /// The config file reloads read, if any.
    pub fn file(&self) -> Option<&PathBuf> {
        self.file.as_ref()
    }

    /// Receive every reload event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ReloadEvent> {
        self.events.subscribe()
    }

    /// Run one reload to its end and return the recorded event.
    #[tracing::instrument(name = "config.reload", skip_all, fields(reload.trigger = request.trigger.as_str(), reload.result))]
    pub async fn reload(&self, request: ReloadRequest) -> Result<ReloadEvent, Error> {
        let at = Utc::now();
        let before = self.handle.load();
        let mut event = ReloadEvent {
            id: 0,
            at,
            trigger: request.trigger,
            principal: request.principal.clone(),
            result: ReloadResult::AlreadyInProgress,
            version_before: before.version,
            version_after: before.version,
            content_hash: None,
            changes: Vec::new(),
            duration: Duration::ZERO,
            error: None,
            failed_observer: None,
            validation_errors: Vec::new(),
            source: SourceKind::Inline,
            source_path: None,
            restart_id: None,
        };
        let Ok(_running) = self.running.try_lock() else {
            event.error = Some("another reload is in progress".into());
            return self.record(event, &request.audit).await;
        };
        systemd::reloading();
        let candidate = self.read(request.content).await;
        event.source = candidate.source;
        event.source_path = candidate.path;
        let started = Instant::now();
        match candidate.parsed {
            Err(failure) => {
                event.result = failure.result;
                event.validation_errors = failure.errors;
                event.error = Some(failure.message);
            }
            Ok(loaded) => {
                event.content_hash = Some(loaded.hash.clone());
                event.changes = diff(&before.loaded.config, &loaded.config);
                let restart_keys = event.restart_required().join(", ");
                if event.changes.is_empty() {
                    event.result = match self.refresh(&loaded.config) {
                        Ok(()) => ReloadResult::Unchanged,
                        Err((observer, reason)) => {
                            event.error = Some(format!("observer {observer} failed: {reason}"));
                            event.failed_observer = Some(observer.to_owned());
                            ReloadResult::RolledBack
                        }
                    };
                } else if !restart_keys.is_empty() {
                    event.result = ReloadResult::RestartRequired;
                    let hint = match (request.restart_if_required, &self.restarter) {
                        (false, _) => {
                            "restart the server to apply them; nothing was applied".into()
                        }
                        (true, None) => {
                            "this server cannot restart itself; restart it to apply them".into()
                        }
                        (true, Some(restarter)) => {
                            let principal = request.principal.as_deref().unwrap_or("system");
                            match restarter.restart_for_config(principal).await {
                                Ok(id) => {
                                    let hint = format!("hot restart {id} started to apply them");
                                    event.restart_id = Some(id);
                                    hint
                                }
                                Err(err) => format!("the hot restart could not start: {err}"),
                            }
                        }
                    };
                    event.error =
                        Some(format!("changed keys need a restart: {restart_keys}; {hint}"));
                } else {
                    let old = before.loaded.config.clone();
                    let new = loaded.config.clone();
                    event.version_after = self.handle.swap(loaded);
                    if let Err((observer, reason)) = self.notify(&old, &new) {
                        self.handle.restore(before.clone());
                        event.version_after = before.version;
                        event.result = ReloadResult::RolledBack;
                        event.error = Some(format!("observer {observer} failed: {reason}"));
                        event.failed_observer = Some(observer.to_owned());
                    } else {
                        event.result = ReloadResult::Success;
                    }
                }
            }
        }
        event.duration = started.elapsed();
        let recorded = self.record(event, &request.audit).await;
        systemd::ready();
        recorded
    }

    /// Read, parse and diff a candidate without applying it. `content` wins over `path`;
    /// with neither, the server's own config file is validated.
    pub async fn validate(&self, path: Option<PathBuf>, content: Option<String>) -> Validation {
        let candidate = match (content, path) {
            (Some(content), _) => self.read(Some(content)).await,
            (None, Some(path)) => read_file(path, &self.env).await,
            (None, None) => self.read(None).await,
        };
        match candidate.parsed {
            Err(failure) => Validation {
                result: failure.result,
                errors: failure.errors,
                changes: Vec::new(),
                content_hash: None,
                error: Some(failure.message),
            },
            Ok(loaded) => {
                let changes = diff(&self.handle.load().loaded.config, &loaded.config);
                let result = if changes.is_empty() {
                    ReloadResult::Unchanged
                } else if changes.iter().any(|c| c.restart_required) {
                    ReloadResult::RestartRequired
                } else {
                    ReloadResult::Success
                };
                Validation {
                    result,
                    errors: Vec::new(),
                    changes,
                    content_hash: Some(loaded.hash),
                    error: None,
                }
            }
        }
    }

    /// Stored events, newest first.
    pub async fn history(&self, query: &ReloadEventQuery) -> Result<Vec<ReloadEvent>, Error> {
        let rows = self.store.list_reload_events(query).await?;
        Ok(rows.into_iter().map(ReloadEvent::from_row).collect())
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    async fn read(&self, content: Option<String>) -> Candidate {
        match (content, &self.file) {
            (Some(text), _) => Candidate {
                source: SourceKind::Inline,
                path: None,
                parsed: parse(&text, Source::Inline, &self.env),
            },
            (None, Some(path)) => read_file(path.clone(), &self.env).await,
            (None, None) => Candidate {
                source: SourceKind::Defaults,
                path: None,
                parsed: parse(DEFAULTS_TEXT, Source::Defaults, &self.env),
            },
        }
    }

    /// The configuration is unchanged: let every observer re-read the files it names. Stops
    /// at the first failure (each observer keeps its previous state when it fails).
    fn refresh(&self, config: &super::Config) -> Result<(), (&'static str, String)> {
        for observer in self.observers.all() {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| observer.refresh(config)))
                .unwrap_or_else(|panic| Err(format!("panicked: {}", panic_message(&panic))));
            if let Err(reason) = outcome {
                tracing::warn!(observer = observer.name(), %reason, "observer could not re-read its files");
                return Err((observer.name(), reason));
            }
        }
        Ok(())
    }

    /// Call every observer with (old, new); on the first failure, undo the ones that applied.
    fn notify(
        &self,
        old: &super::Config,
        new: &super::Config,
    ) -> Result<(), (&'static str, String)> {
        let observers = self.observers.all();
        for (index, observer) in observers.iter().enumerate() {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| observer.apply(old, new)))
                .unwrap_or_else(|panic| Err(format!("panicked: {}", panic_message(&panic))));
            if let Err(reason) = outcome {
                tracing::warn!(observer = observer.name(), %reason, "observer refused the new config; rolling back");
                for applied in observers[..index].iter().rev() {
                    let undo =
                        std::panic::catch_unwind(AssertUnwindSafe(|| applied.apply(new, old)));
                    if !matches!(undo, Ok(Ok(()))) {
                        tracing::error!(observer = applied.name(), "observer could not roll back");
                    }
                }
                return Err((observer.name(), reason));
            }
        }
        Ok(())
    }

    async fn record(
        &self,
        mut event: ReloadEvent,
        audit: &AuditSlot,
    ) -> Result<ReloadEvent, Error> {
        event.id = self.store.insert_reload_event(&event.to_row(), audit.row().as_ref()).await?;
        audit.committed();
        crate::metrics::metrics().reload_ended(event.result.as_str(), event.duration);
        tracing::Span::current().record("reload.result", event.result.as_str());
        let changed: Vec<&str> = event.changes.iter().map(|c| c.path.as_str()).collect();
        if event.result.is_ok() {
            tracing::info!(
                result = event.result.as_str(),
                version = event.version_after,
                ?changed,
                duration_us = event.duration.as_micros() as u64,
                "config reloaded"
            );
        } else {
            tracing::warn!(
                result = event.result.as_str(),
                error = event.error.as_deref().unwrap_or(""),
                "config reload not applied"
            );
        }
        let _ = self.events.send(event.clone());
        Ok(event)
    }
}

async fn read_file(path: PathBuf, env: &[(String, String)]) -> Candidate {
    let parsed = match tokio::fs::read_to_string(&path).await {
        Ok(text) => parse(&text, Source::File(path.clone()), env),
        Err(err) => {
            let (result, message) = if err.kind() == std::io::ErrorKind::NotFound {
                (ReloadResult::FileNotFound, format!("config file {}: not found", path.display()))
            } else {
                (ReloadResult::IoError, format!("config file {}: {err}", path.display()))
            };
            Err(Failure { result, errors: Vec::new(), message })
        }
    };
    Candidate { source: SourceKind::File, path: Some(path), parsed }
}

fn parse(text: &str, source: Source, env: &[(String, String)]) -> Result<LoadedConfig, Failure> {
    parse_str(text, source, env.iter().cloned()).map_err(|err| Failure {
        result: ReloadResult::ValidationFailed,
        errors: err.field_errors(),
        message: err.to_string(),
    })
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

#[cfg(test)]
mod tests;
