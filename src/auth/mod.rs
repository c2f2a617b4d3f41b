//! Who is calling and what they may do: bearer-token and client-certificate authentication
//! against the tokens file, role checks against the RPC policy, and per-principal rate
//! limits on disruptive operations.
//!
//! The [`Gate`] is transport-neutral: the RPC layer (`api::layer`) hands it the method's
//! required role, the `authorization` value, the verified client certificate (mutual TLS)
//! and the peer, and maps its [`Error`]s through the one status table. Auth is on whenever
//! `auth.tokens_file` is configured (a client CA needs one: its `[[clients]]` give
//! certificates their roles); the file is re-read on every config reload (a bad file refuses
//! the reload and the old entries stay). A bearer token, when sent, decides alone; without
//! one a certificate whose identity is listed runs as `cert:<identity>`.
//! The rate limiter is shared with the server context, so restarts and the shutdown can
//! carry its window to the next process ([`carry`]).
//! Nothing here parses requests, verifies certificates, writes audit events or knows the
//! list of RPCs.

pub mod carry;
mod certificate;
pub mod peer;
mod ratelimit;
mod tokens;

pub use certificate::ClientCert;
pub use ratelimit::{Admitted, Class, RateLimiter, WINDOW};
pub use tokens::{ClientEntry, Role, TokenEntry, TokenSet, TokensError, hash_token};

use crate::config::{AuthConfig, Config, ConfigHandle, Observers, file_observer};
use crate::error::Error;
use arc_swap::ArcSwapOption;
use std::sync::Arc;
use std::time::Instant;

/// The identity a call runs under, as recorded in history and the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name, `cert:<identity>` for a client certificate, or `peer:ADDR` when the
    /// caller is not authenticated.
    pub name: String,
    /// The authenticated role; `None` when authentication is off (or the call is open).
    pub role: Option<Role>,
    /// Where the call came from (`ip:port` or `unix`).
    pub peer: String,
}

impl Principal {
    /// A caller known only by its address.
    pub fn anonymous(peer: String) -> Self {
        Self { name: format!("peer:{peer}"), role: None, peer }
    }

    /// The rate-limit bucket: the token name, or one shared bucket for unauthenticated
    /// callers (their addresses change with every connection).
    fn limit_key(&self) -> &str {
        if self.role.is_some() { &self.name } else { "anonymous" }
    }
}

/// What the gate needs to know about one call.
#[derive(Debug)]
pub struct Call<'a> {
    /// `Service/Method`, for messages.
    pub method: &'a str,
    /// The `authorization` metadata value, if any.
    pub authorization: Option<&'a str>,
    /// The client certificate the connection presented and TLS verified, if any.
    pub certificate: Option<&'a ClientCert>,
    pub peer: String,
    /// The least role allowed; `None` for calls open to anyone (probes, reflection).
    pub required: Option<Role>,
    /// The rate limit the call counts against, if any.
    pub limit: Option<Class>,
}

/// A refused call: the error to answer with, and who was refused (for the audit log).
#[derive(Debug)]
pub struct Refusal {
    pub principal: Principal,
    pub error: Error,
}

/// Authentication, authorization and rate limits for every RPC. Shared by all listeners.
pub struct Gate {
    config: ConfigHandle,
    tokens: ArcSwapOption<TokenSet>,
    limiter: Arc<RateLimiter>,
}

impl Gate {
    /// Load the tokens file of the current configuration, follow reloads, and warn loudly
    /// when the API is served without authentication beyond loopback. Calls are counted in
    /// `limiter`.
    pub fn start(
        config: &ConfigHandle,
        observers: &Observers,
        limiter: Arc<RateLimiter>,
    ) -> Result<Arc<Self>, TokensError> {
        let current = config.config();
        let tokens = read_tokens(&current.auth)?;
        match &tokens {
            Some(set) => {
                tracing::info!(tokens = set.len(), clients = set.clients_len(), "authentication on")
            }
            None => warn_if_open(&current),
        }
        let gate = Arc::new(Self {
            config: config.clone(),
            tokens: ArcSwapOption::new(tokens.map(Arc::new)),
            limiter,
        });
        let observed = gate.clone();
        observers
            .register(file_observer("auth.tokens", move |config| observed.reload_tokens(config)));
        Ok(gate)
    }

    /// Whether calls must authenticate.
    pub fn enabled(&self) -> bool {
        self.tokens.load().is_some()
    }

    /// Whether reflection needs a token too (`auth.protect_reflection`).
    pub fn protect_reflection(&self) -> bool {
        self.config.load().loaded.config.auth.protect_reflection
    }

    /// Decide one call: the principal it runs under, or why it is refused.
    pub fn admit(&self, call: Call<'_>) -> Result<Principal, Box<Refusal>> {
        let anonymous = Principal::anonymous(call.peer.clone());
        let tokens = self.tokens.load_full();
        let principal = match (&tokens, call.required) {
            (None, _) => anonymous,
            (Some(tokens), None) => identify(tokens, &call).unwrap_or(anonymous),
            (Some(tokens), Some(required)) => {
                let principal = identify(tokens, &call)?;
                if principal.role.is_some_and(|role| role < required) {
                    let error = Error::PermissionDenied(format!(
                        "{} needs role {} or higher; {} has role {}",
                        call.method,
                        required.as_str(),
                        principal.name,
                        principal.role.map_or("none", Role::as_str)
                    ));
                    return Err(Box::new(Refusal { principal, error }));
                }
                principal
            }
        };
        if let Some(class) = call.limit {
            let limits = &self.config.load().loaded.config.rate_limit;
            let per_minute = match class {
                Class::Restart => limits.restarts_per_minute,
                Class::Command => limits.commands_per_minute,
            };
            if let Err(retry_after) =
                self.limiter.check(principal.limit_key(), class, per_minute, Instant::now())
            {
                let error = Error::RateLimited {
                    what: format!(
                        "{} ({per_minute} per minute for {})",
                        class.as_str(),
                        principal.name
                    ),
                    retry_after,
                };
                return Err(Box::new(Refusal { principal, error }));
            }
        }
        Ok(principal)
    }

    fn replace(&self, tokens: Option<TokenSet>) {
        self.tokens.store(tokens.map(Arc::new));
    }
}

/// The principal a call authenticates as: its bearer token when it sends one, else its
/// client certificate when that is listed in `[[clients]]`.
fn identify(tokens: &TokenSet, call: &Call<'_>) -> Result<Principal, Box<Refusal>> {
    let refuse = |principal, reason: String| {
        Box::new(Refusal { principal, error: Error::Unauthenticated(reason) })
    };
    let anonymous = || Principal::anonymous(call.peer.clone());
    let Some(value) = call.authorization else {
        return match call.certificate {
            Some(certificate) => certified(tokens, certificate, &call.peer)
                .map_err(|(principal, reason)| refuse(principal.unwrap_or_else(anonymous), reason)),
            None => Err(refuse(
                anonymous(),
                "missing credentials: send metadata `authorization: Bearer <token>` (or a \
                 client certificate over mutual TLS)"
                    .into(),
            )),
        };
    };
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            refuse(anonymous(), "authorization metadata is not `Bearer <token>`".into())
        })?;
    let entry = tokens.find(token).ok_or_else(|| refuse(anonymous(), "unknown token".into()))?;
    Ok(Principal { name: entry.name.clone(), role: Some(entry.role), peer: call.peer.clone() })
}

/// The principal of a verified client certificate: `cert:<identity>` with the role of its
/// `[[clients]]` entry. Refused (with the principal to audit, when it has a name) when the
/// certificate names no identity or its identity is not listed.
fn certified(
    tokens: &TokenSet,
    certificate: &ClientCert,
    peer: &str,
) -> Result<Principal, (Option<Principal>, String)> {
    let Some(identity) = certificate.identity.as_deref() else {
        return Err((
            None,
            "the client certificate names no identity (no DNS or URI SAN, no CN)".into(),
        ));
    };
    let name = format!("cert:{identity}");
    match tokens.client(identity) {
        Some(client) => Ok(Principal { name, role: Some(client.role), peer: peer.to_owned() }),
        None => Err((
            Some(Principal { name, role: None, peer: peer.to_owned() }),
            format!(
                "client certificate {identity:?} is not listed in the tokens file's [[clients]]"
            ),
        )),
    }
}

/// The tokens file of `auth`, if one is configured. A file that lets nobody in (no tokens,
/// no clients) is refused unless `auth.allow_empty_tokens` says that is meant.
fn read_tokens(auth: &AuthConfig) -> Result<Option<TokenSet>, TokensError> {
    let Some(path) = auth.tokens_file.as_deref() else { return Ok(None) };
    let tokens = TokenSet::read(path)?;
    if tokens.is_empty() && tokens.clients_len() == 0 && !auth.allow_empty_tokens {
        return Err(TokensError::Invalid {
            path: path.display().to_string(),
            reason: "no [[tokens]] or [[clients]] entries, so every call would be refused \
                     (set auth.allow_empty_tokens = true if that is meant)"
                .into(),
        });
    }
    Ok(Some(tokens))
}

/// Serving without authentication is fine on loopback and nowhere else.
fn warn_if_open(config: &Config) {
    let loopback = config.server.listen_addr().is_ok_and(|addr| addr.ip().is_loopback());
    if !loopback {
        tracing::warn!(
            listen = %config.server.listen,
            "AUTHENTICATION IS OFF on a non-loopback address: anyone who reaches this port can \
             restart the server and reboot devices; set auth.tokens_file (docs/security.md)"
        );
    }
}

impl Gate {
    /// Re-read the tokens file of `config` (on every reload, so tokens rotate without a
    /// restart); on failure the tokens in force stay.
    fn reload_tokens(&self, config: &Config) -> Result<(), String> {
        let tokens = read_tokens(&config.auth).map_err(|err| err.to_string())?;
        match &tokens {
            Some(set) => {
                tracing::info!(
                    tokens = set.len(),
                    clients = set.clients_len(),
                    "tokens file loaded"
                )
            }
            None if self.enabled() => {
                tracing::warn!("auth.tokens_file removed: authentication is now off");
                warn_if_open(config);
            }
            None => {}
        }
        self.replace(tokens);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
