//! The `[auth]` and `[rate_limit]` sections: who may call the API and how often disruptive
//! operations may be requested. Values and validation only; `crate::auth` enforces them.

use super::load::FieldError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[auth]`: bearer-token authentication of the gRPC API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// TOML file of `[[tokens]]` (`name`, `role`, `sha256`). Set: every rebound.v1 call needs
    /// `authorization: Bearer <token>`. Re-read on every config reload.
    pub tokens_file: Option<PathBuf>,
    /// Require a token (any role) for gRPC reflection too. `grpc.health.v1` always stays open.
    pub protect_reflection: bool,
}

/// `[rate_limit]`: per-principal limits on disruptive operations (0 = unlimited).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// RestartService/Restart calls per principal per minute.
    pub restarts_per_minute: u32,
    /// IssueCommand and StartRollout calls per principal per minute.
    pub commands_per_minute: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self { restarts_per_minute: 1, commands_per_minute: 0 }
    }
}

/// Checks of both sections, appended to `errors` with their paths.
pub(super) fn validate(auth: &AuthConfig, limits: &RateLimitConfig, errors: &mut Vec<FieldError>) {
    if auth.tokens_file.as_ref().is_some_and(|path| path.as_os_str().is_empty()) {
        errors.push(FieldError::new("auth.tokens_file", "must not be empty"));
    }
    if auth.protect_reflection && auth.tokens_file.is_none() {
        errors.push(FieldError::new(
            "auth.protect_reflection",
            "needs auth.tokens_file (without tokens nothing can be checked)",
        ));
    }
    for (path, value) in [
        ("rate_limit.restarts_per_minute", limits.restarts_per_minute),
        ("rate_limit.commands_per_minute", limits.commands_per_minute),
    ] {
        if value > 100_000 {
            errors.push(FieldError::new(path, "must be at most 100000 (0 = unlimited)"));
        }
    }
}
