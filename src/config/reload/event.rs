//! Reload events: what one reload attempt did, and its stored form.

use crate::config::{Change, FieldError};
use crate::store::reloads::ReloadEventRow;
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::time::Duration;

/// The outcome of a reload attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReloadResult {
    /// Validated, swapped in and applied by every observer.
    Success,
    /// The candidate equals the configuration in force; nothing to do.
    Unchanged,
    /// The candidate has errors; the old configuration stays.
    ValidationFailed,
    /// The config file does not exist.
    FileNotFound,
    /// The config file could not be read.
    IoError,
    /// Another reload was running; this one was refused.
    AlreadyInProgress,
    /// Keys that only apply after a restart changed; nothing was applied.
    RestartRequired,
    /// An observer refused or failed; the old configuration was restored.
    RolledBack,
}

impl ReloadResult {
    pub const ALL: [ReloadResult; 8] = [
        Self::Success,
        Self::Unchanged,
        Self::ValidationFailed,
        Self::FileNotFound,
        Self::IoError,
        Self::AlreadyInProgress,
        Self::RestartRequired,
        Self::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Unchanged => "unchanged",
            Self::ValidationFailed => "validation_failed",
            Self::FileNotFound => "file_not_found",
            Self::IoError => "io_error",
            Self::AlreadyInProgress => "already_in_progress",
            Self::RestartRequired => "restart_required",
            Self::RolledBack => "rolled_back",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Whether the configuration in force is the one asked for afterwards.
    pub fn is_ok(self) -> bool {
        matches!(self, Self::Success | Self::Unchanged)
    }
}

/// What started a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Signal,
    Rpc,
    Watch,
    Startup,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signal => "signal",
            Self::Rpc => "rpc",
            Self::Watch => "watch",
            Self::Startup => "startup",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Signal, Self::Rpc, Self::Watch, Self::Startup]
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

/// Where a candidate configuration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    File,
    Inline,
    Defaults,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Inline => "inline",
            Self::Defaults => "defaults",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "inline" => Self::Inline,
            "defaults" => Self::Defaults,
            _ => Self::File,
        }
    }
}

/// One reload attempt, as reported and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ReloadEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub trigger: Trigger,
    pub principal: Option<String>,
    pub result: ReloadResult,
    pub version_before: u64,
    pub version_after: u64,
    pub content_hash: Option<String>,
    pub changes: Vec<Change>,
    /// Parse-to-notify time (reading the file excluded).
    pub duration: Duration,
    pub error: Option<String>,
    pub failed_observer: Option<String>,
    pub validation_errors: Vec<FieldError>,
    pub source: SourceKind,
    pub source_path: Option<PathBuf>,
    pub restart_id: Option<String>,
}

impl ReloadEvent {
    /// Keys among the changes that need a restart.
    pub fn restart_required(&self) -> Vec<&str> {
        self.changes.iter().filter(|c| c.restart_required).map(|c| c.path.as_str()).collect()
    }

    pub(super) fn to_row(&self) -> ReloadEventRow {
        let json = |value: serde_json::Result<String>| value.unwrap_or_else(|_| "[]".to_owned());
        ReloadEventRow {
            id: self.id,
            at: self.at,
            trigger: self.trigger.as_str().to_owned(),
            principal: self.principal.clone(),
            result: self.result.as_str().to_owned(),
            version_before: self.version_before,
            version_after: self.version_after,
            content_hash: self.content_hash.clone(),
            diff_json: json(serde_json::to_string(&self.changes)),
            restart_required_json: json(serde_json::to_string(&self.restart_required())),
            validation_errors_json: json(serde_json::to_string(&self.validation_errors)),
            duration: self.duration,
            error: self.error.clone(),
            failed_observer: self.failed_observer.clone(),
            source: self.source.as_str().to_owned(),
            source_path: self.source_path.as_ref().map(|p| p.display().to_string()),
            restart_id: self.restart_id.clone(),
        }
    }

    /// Read a stored event back; unknown values (from a newer binary) degrade gracefully.
    pub fn from_row(row: ReloadEventRow) -> Self {
        Self {
            id: row.id,
            at: row.at,
            trigger: Trigger::parse(&row.trigger).unwrap_or(Trigger::Rpc),
            principal: row.principal,
            result: ReloadResult::parse(&row.result).unwrap_or(ReloadResult::ValidationFailed),
            version_before: row.version_before,
            version_after: row.version_after,
            content_hash: row.content_hash,
            changes: serde_json::from_str(&row.diff_json).unwrap_or_default(),
            duration: row.duration,
            error: row.error,
            failed_observer: row.failed_observer,
            validation_errors: serde_json::from_str(&row.validation_errors_json)
                .unwrap_or_default(),
            source: SourceKind::parse(&row.source),
            source_path: row.source_path.map(PathBuf::from),
            restart_id: row.restart_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ChangeKind;

    #[test]
    fn stored_form_round_trips() {
        let event = ReloadEvent {
            id: 7,
            at: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
            trigger: Trigger::Watch,
            principal: Some("watch".into()),
            result: ReloadResult::RestartRequired,
            version_before: 3,
            version_after: 3,
            content_hash: Some("ab".into()),
            changes: vec![Change {
                path: "server.listen".into(),
                kind: ChangeKind::Modified,
                old_value: Some("\"a\"".into()),
                new_value: Some("\"b\"".into()),
                restart_required: true,
                secret: false,
            }],
            duration: Duration::from_micros(1234),
            error: Some("restart required".into()),
            failed_observer: None,
            validation_errors: vec![FieldError::new("server.listen", "bad")],
            source: SourceKind::File,
            source_path: Some("/etc/rebound.toml".into()),
            restart_id: None,
        };
        let row = event.to_row();
        assert_eq!(row.restart_required_json, r#"["server.listen"]"#);
        assert_eq!(ReloadEvent::from_row(row), event);
    }

    #[test]
    fn result_names_round_trip() {
        for result in ReloadResult::ALL {
            assert_eq!(ReloadResult::parse(result.as_str()), Some(result));
        }
    }
}
