//! The `[auth]` and `[rate_limit]` sections: who may call the API and how often disruptive
//! operations may be requested, and the checks tying `server.tls.client_ca_file` (mutual
//! TLS) to them. Values and validation only; `crate::auth` and `server::tls` enforce them.

use super::Config;
use super::load::FieldError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[auth]`: bearer-token authentication of the gRPC API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// TOML file of `[[tokens]]` (`name`, `role`, `sha256`) and `[[clients]]` (`name`: a
    /// client certificate identity, `role`). Set: every rebound.v1 call needs
    /// `authorization: Bearer <token>` or a listed client certificate (mutual TLS). Re-read
    /// on every config reload.
    pub tokens_file: Option<PathBuf>,
    /// Require a token (any role) for gRPC reflection too. `grpc.health.v1` always stays open.
    pub protect_reflection: bool,
    /// Accept a tokens file with no `[[tokens]]` and no `[[clients]]`, which refuses every
    /// rebound.v1 call. Off: such a file is refused at start and on reload like a malformed one.
    pub allow_empty_tokens: bool,
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

/// Checks of both sections and of mutual TLS, appended to `errors` with their paths.
pub(super) fn validate(config: &Config, errors: &mut Vec<FieldError>) {
    let (auth, limits, tls) = (&config.auth, &config.rate_limit, &config.server.tls);
    if let Some(ca) = &tls.client_ca_file {
        let field = "server.tls.client_ca_file";
        if ca.as_os_str().is_empty() {
            errors.push(FieldError::new(field, "must not be empty"));
        }
        if !tls.enabled() {
            errors.push(FieldError::new(
                field,
                "needs server.tls.cert_file and key_file (mutual TLS is TLS first)",
            ));
        }
        if auth.tokens_file.is_none() {
            errors.push(FieldError::new(
                field,
                "needs auth.tokens_file: its [[clients]] entries give certificate identities \
                 their roles",
            ));
        }
    }
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

#[cfg(test)]
mod tests {
    use crate::config::{ConfigError, Source, parse_str};

    fn errors(text: &str) -> Vec<String> {
        match parse_str(text, Source::Inline, []) {
            Ok(_) => vec![],
            Err(ConfigError::Invalid { errors, .. }) => {
                errors.iter().map(ToString::to_string).collect()
            }
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn a_client_ca_needs_tls_and_a_tokens_file() {
        let alone = errors("version = 1\n[server.tls]\nclient_ca_file = \"ca.pem\"\n");
        assert_eq!(alone.len(), 2, "{alone:?}");
        assert!(alone.iter().all(|e| e.starts_with("server.tls.client_ca_file")), "{alone:?}");
        assert!(alone[0].contains("cert_file and key_file"), "{alone:?}");
        assert!(alone[1].contains("needs auth.tokens_file"), "{alone:?}");
        let complete = "version = 1\n[server.tls]\ncert_file = \"s.pem\"\nkey_file = \"s.key\"\n\
                        client_ca_file = \"ca.pem\"\n[auth]\ntokens_file = \"tokens.toml\"\n";
        assert_eq!(errors(complete), Vec::<String>::new());
    }
}
