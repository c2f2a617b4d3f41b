//! `rebound.v1.ConfigService`: reload, validate, history and the effective configuration,
//! over the reload manager.

use super::convert::{duration, from_timestamp, timestamp};
use super::identity::principal;
use super::page;
use crate::auth::Role;
use crate::config::reload::{
    ReloadEvent, ReloadManager, ReloadRequest, ReloadResult, SourceKind, Trigger, reload_stats,
};
use crate::config::{CONFIG_VERSION, Change, ChangeKind, FieldError, redacted_toml};
use crate::error::Error;
use crate::proto::v1 as pb;
use crate::proto::v1::config_service_server::ConfigService;
use crate::store::reloads::ReloadEventQuery;
use futures::Stream;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tonic::{Request, Response, Status};

/// Largest inline configuration accepted by `Reload` and `Validate`.
const MAX_INLINE_BYTES: usize = 1024 * 1024;

/// Serves the reload manager.
#[derive(Clone)]
pub struct ConfigApi {
    manager: Arc<ReloadManager>,
}

impl ConfigApi {
    pub fn new(manager: Arc<ReloadManager>) -> Self {
        Self { manager }
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::WatchConfigResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ConfigService for ConfigApi {
    #[tracing::instrument(name = "config.get", skip_all)]
    async fn get_config(
        &self,
        _request: Request<pb::GetConfigRequest>,
    ) -> Result<Response<pb::GetConfigResponse>, Status> {
        let current = self.manager.handle().load();
        let config = &current.loaded.config;
        let source = match current.loaded.source {
            crate::config::Source::File(_) => pb::ConfigSource::File,
            crate::config::Source::Inline => pb::ConfigSource::Inline,
            crate::config::Source::Defaults => pb::ConfigSource::Defaults,
        };
        Ok(Response::new(pb::GetConfigResponse {
            toml: redacted_toml(config),
            version: current.version,
            schema_version: CONFIG_VERSION,
            content_hash: current.loaded.hash.clone(),
            source: source as i32,
            source_path: self.manager.file().map(|p| absolute(p)).unwrap_or_default(),
            loaded_at: Some(current.loaded_at.into()),
            env_overrides: current.loaded.env_overrides.clone(),
            watch_enabled: config.config.watch && self.manager.file().is_some(),
        }))
    }

    #[tracing::instrument(name = "config.reload_rpc", skip_all)]
    async fn reload(
        &self,
        request: Request<pb::ReloadRequest>,
    ) -> Result<Response<pb::ReloadResponse>, Status> {
        let principal = principal(&request);
        let audit = super::identity::audit(&request);
        if request.get_ref().restart_if_required {
            super::identity::require(&request, Role::Admin, "restart_if_required")?;
        }
        let request = request.into_inner();
        if let Some(content) = &request.content {
            check_inline("content", content)?;
            if request.restart_if_required {
                return Err(Error::invalid_argument(
                    "restart_if_required",
                    "only for reloads from the config file, not with inline content",
                )
                .into());
            }
        }
        let event = self
            .manager
            .reload(ReloadRequest {
                trigger: Trigger::Rpc,
                principal: Some(principal),
                content: request.content,
                restart_if_required: request.restart_if_required,
                audit,
            })
            .await?;
        Ok(Response::new(pb::ReloadResponse { event: Some(event_to_proto(&event)) }))
    }

    #[tracing::instrument(name = "config.validate", skip_all)]
    async fn validate(
        &self,
        request: Request<pb::ValidateRequest>,
    ) -> Result<Response<pb::ValidateResponse>, Status> {
        use pb::validate_request::Candidate;
        let (path, content) = match request.into_inner().candidate {
            None => (None, None),
            Some(Candidate::Path(path)) if path.trim().is_empty() => {
                return Err(Error::invalid_argument("path", "must not be empty").into());
            }
            Some(Candidate::Path(path)) => (Some(PathBuf::from(path)), None),
            Some(Candidate::Content(content)) => {
                check_inline("content", &content)?;
                (None, Some(content))
            }
        };
        let validation = self.manager.validate(path, content).await;
        let invalid = matches!(
            validation.result,
            ReloadResult::ValidationFailed | ReloadResult::FileNotFound | ReloadResult::IoError
        );
        Ok(Response::new(pb::ValidateResponse {
            valid: !invalid,
            result: result_to_proto(validation.result) as i32,
            restart_required: validation.restart_required(),
            errors: validation.errors.iter().map(error_to_proto).collect(),
            changes: validation.changes.iter().map(change_to_proto).collect(),
            content_hash: validation.content_hash.unwrap_or_default(),
            error: if invalid { validation.error.unwrap_or_default() } else { String::new() },
        }))
    }

    #[tracing::instrument(name = "config.list_reload_events", skip_all)]
    async fn list_reload_events(
        &self,
        request: Request<pb::ListReloadEventsRequest>,
    ) -> Result<Response<pb::ListReloadEventsResponse>, Status> {
        let request = request.into_inner();
        let limit = page::size(request.page_size)?;
        let results = page::filter_values("results", &request.results)?
            .iter()
            .map(|value| result_from_proto("results", *value).map(|r| r.as_str().to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        let trigger = match pb::ReloadTrigger::try_from(request.trigger) {
            Ok(pb::ReloadTrigger::Unspecified) => None,
            Ok(trigger) => Some(trigger_from_proto(trigger).as_str().to_owned()),
            Err(_) => return Err(Error::invalid_argument("trigger", "unknown trigger").into()),
        };
        let filters = (&results, &trigger);
        let before_id = page::decode::<i64>(&request.page_token, &filters)?;
        let query = ReloadEventQuery { before_id, limit, results: results.clone(), trigger };
        let events = self.manager.history(&query).await?;
        let filters = (&query.results, &query.trigger);
        let mut items: Vec<_> = events.iter().map(event_to_proto).collect();
        let next_page_token = page::finish(&mut items, &events, limit, |e| e.id, &filters);
        Ok(Response::new(pb::ListReloadEventsResponse { events: items, next_page_token }))
    }

    #[tracing::instrument(name = "config.stats", skip_all)]
    async fn get_reload_stats(
        &self,
        request: Request<pb::GetReloadStatsRequest>,
    ) -> Result<Response<pb::GetReloadStatsResponse>, Status> {
        let since = request.into_inner().since.map(|t| from_timestamp("since", &t)).transpose()?;
        if since.is_some_and(|since| since > chrono::Utc::now()) {
            return Err(Error::invalid_argument("since", "must not be in the future").into());
        }
        let stats = reload_stats(self.manager.store().as_ref(), since).await?;
        Ok(Response::new(pb::GetReloadStatsResponse {
            total: stats.total,
            successes: stats.successes,
            unchanged: stats.unchanged,
            failures: stats.failures,
            refused: stats.refused,
            by_result: stats
                .by_result
                .iter()
                .map(|(result, count)| pb::ReloadResultCount {
                    result: result_to_proto(*result) as i32,
                    count: *count,
                })
                .collect(),
            last_result: stats.last_result.map_or(0, |r| result_to_proto(r) as i32),
            last_reload_at: stats.last_reload_at.map(timestamp),
            last_success_at: stats.last_success_at.map(timestamp),
            latency_p50: stats.latency_p50.map(duration),
            latency_p99: stats.latency_p99.map(duration),
            current_version: self.manager.handle().load().version,
            oldest_event_at: stats.oldest_event_at.map(timestamp),
        }))
    }

    type WatchConfigStream = EventStream;

    #[tracing::instrument(name = "config.watch", skip_all)]
    async fn watch_config(
        &self,
        request: Request<pb::WatchConfigRequest>,
    ) -> Result<Response<Self::WatchConfigStream>, Status> {
        let request = request.into_inner();
        let wanted = page::filter_values("results", &request.results)?
            .iter()
            .map(|value| result_from_proto("results", *value))
            .collect::<Result<Vec<_>, _>>()?;
        let mut events = self.manager.subscribe();
        let current = if request.include_current {
            let query = ReloadEventQuery { limit: 1, ..Default::default() };
            self.manager.history(&query).await?.into_iter().next()
        } else {
            None
        };
        let keep = move |event: &ReloadEvent| wanted.is_empty() || wanted.contains(&event.result);
        let stream = async_stream::stream! {
            if let Some(event) = current.filter(&keep) {
                yield Ok(pb::WatchConfigResponse { event: Some(event_to_proto(&event)) });
            }
            loop {
                match events.recv().await {
                    Ok(event) if keep(&event) => {
                        yield Ok(pb::WatchConfigResponse { event: Some(event_to_proto(&event)) });
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "config watcher fell behind; use ListReloadEvents to catch up");
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        };
        Ok(Response::new(Box::pin(stream)))
    }
}

fn check_inline(field: &str, content: &str) -> Result<(), Error> {
    if content.len() > MAX_INLINE_BYTES {
        return Err(Error::invalid_argument(
            field,
            format!("larger than {MAX_INLINE_BYTES} bytes"),
        ));
    }
    Ok(())
}

fn absolute(path: &std::path::Path) -> String {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned()).display().to_string()
}

fn event_to_proto(event: &ReloadEvent) -> pb::ReloadEvent {
    pb::ReloadEvent {
        reload_id: event.id.to_string(),
        result: result_to_proto(event.result) as i32,
        trigger: match event.trigger {
            Trigger::Signal => pb::ReloadTrigger::Signal,
            Trigger::Rpc => pb::ReloadTrigger::Rpc,
            Trigger::Watch => pb::ReloadTrigger::Watch,
            Trigger::Startup => pb::ReloadTrigger::Startup,
        } as i32,
        principal: event.principal.clone().unwrap_or_default(),
        version_before: event.version_before,
        version_after: event.version_after,
        content_hash: event.content_hash.clone().unwrap_or_default(),
        changes: event.changes.iter().map(change_to_proto).collect(),
        duration: Some(duration(event.duration)),
        error: event.error.clone().unwrap_or_default(),
        failed_observer: event.failed_observer.clone().unwrap_or_default(),
        validation_errors: event.validation_errors.iter().map(error_to_proto).collect(),
        started_at: Some(timestamp(event.at)),
        source: match event.source {
            SourceKind::File => pb::ConfigSource::File,
            SourceKind::Inline => pb::ConfigSource::Inline,
            SourceKind::Defaults => pb::ConfigSource::Defaults,
        } as i32,
        source_path: event.source_path.as_deref().map(absolute).unwrap_or_default(),
        restart_id: event.restart_id.clone().unwrap_or_default(),
    }
}

fn change_to_proto(change: &Change) -> pb::ConfigChange {
    pb::ConfigChange {
        path: change.path.clone(),
        kind: match change.kind {
            ChangeKind::Added => pb::ConfigChangeKind::Added,
            ChangeKind::Removed => pb::ConfigChangeKind::Removed,
            ChangeKind::Modified => pb::ConfigChangeKind::Modified,
        } as i32,
        old_value: change.old_value.clone().unwrap_or_default(),
        new_value: change.new_value.clone().unwrap_or_default(),
        restart_required: change.restart_required,
        secret: change.secret,
    }
}

fn error_to_proto(error: &FieldError) -> pb::ConfigValidationError {
    pb::ConfigValidationError {
        path: error.path.clone(),
        reason: match &error.variable {
            Some(variable) => format!("{} (set by environment variable {variable})", error.reason),
            None => error.reason.clone(),
        },
        line: error.line.unwrap_or(0),
        column: error.column.unwrap_or(0),
    }
}

fn result_to_proto(result: ReloadResult) -> pb::ReloadResult {
    match result {
        ReloadResult::Success => pb::ReloadResult::Success,
        ReloadResult::Unchanged => pb::ReloadResult::Unchanged,
        ReloadResult::ValidationFailed => pb::ReloadResult::ValidationFailed,
        ReloadResult::FileNotFound => pb::ReloadResult::FileNotFound,
        ReloadResult::IoError => pb::ReloadResult::IoError,
        ReloadResult::AlreadyInProgress => pb::ReloadResult::AlreadyInProgress,
        ReloadResult::RestartRequired => pb::ReloadResult::RestartRequired,
        ReloadResult::RolledBack => pb::ReloadResult::RolledBack,
    }
}

fn result_from_proto(field: &str, value: i32) -> Result<ReloadResult, Error> {
    let result = match pb::ReloadResult::try_from(value) {
        Ok(pb::ReloadResult::Success) => ReloadResult::Success,
        Ok(pb::ReloadResult::Unchanged) => ReloadResult::Unchanged,
        Ok(pb::ReloadResult::ValidationFailed) => ReloadResult::ValidationFailed,
        Ok(pb::ReloadResult::FileNotFound) => ReloadResult::FileNotFound,
        Ok(pb::ReloadResult::IoError) => ReloadResult::IoError,
        Ok(pb::ReloadResult::AlreadyInProgress) => ReloadResult::AlreadyInProgress,
        Ok(pb::ReloadResult::RestartRequired) => ReloadResult::RestartRequired,
        Ok(pb::ReloadResult::RolledBack) => ReloadResult::RolledBack,
        Ok(pb::ReloadResult::Unspecified) | Err(_) => {
            return Err(Error::invalid_argument(field, format!("{value} is not a reload result")));
        }
    };
    Ok(result)
}

fn trigger_from_proto(trigger: pb::ReloadTrigger) -> Trigger {
    match trigger {
        pb::ReloadTrigger::Signal => Trigger::Signal,
        pb::ReloadTrigger::Watch => Trigger::Watch,
        pb::ReloadTrigger::Startup => Trigger::Startup,
        pb::ReloadTrigger::Rpc | pb::ReloadTrigger::Unspecified => Trigger::Rpc,
    }
}
