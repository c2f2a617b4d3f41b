//! Carrying the rate limits over restarts: the [`RateLimiter`]'s window goes to the store
//! when a process hands over to a hot-restart successor and whenever it stops, and comes
//! back at the next start (and, in a handover successor, once more when the old process has
//! gone, for the calls it admitted while both served; [`RateLimiter::import`] counts each
//! admission once). The store, not the snapshot, carries it: a restart without a
//! snapshot (`preserve_state = false`, a discarded or unwritten one) must not reset a limit.
//!
//! Never fatal: a store error is logged and the limits start from what is known. This module
//! does not decide when to save; the restart and the shutdown call it.

use super::ratelimit::{Admitted, Class, RateLimiter};
use crate::clock::now_ms;
use crate::store::{Admission, Store};
use std::time::Instant;

/// Save the admissions inside the window, replacing what the store held.
pub async fn save(limiter: &RateLimiter, store: &dyn Store) {
    let admissions: Vec<Admission> = limiter
        .export(Instant::now(), now_ms())
        .into_iter()
        .map(|admitted| Admission {
            principal: admitted.key,
            class: admitted.class.name().to_owned(),
            admitted_ms: admitted.at_ms,
        })
        .collect();
    match store.save_admissions(&admissions).await {
        Ok(()) => tracing::debug!(admissions = admissions.len(), "rate limit windows saved"),
        Err(err) => {
            tracing::warn!(error = %err, "could not save the rate limit windows; the next process starts them empty")
        }
    }
}

/// Count the admissions the previous process saved that are still inside the window.
pub async fn load(limiter: &RateLimiter, store: &dyn Store) {
    let since = now_ms().saturating_sub(i64::try_from(super::WINDOW.as_millis()).unwrap_or(0));
    let admissions = match store.load_admissions(since).await {
        Ok(admissions) => admissions,
        Err(err) => {
            tracing::warn!(error = %err, "could not load the rate limit windows; they start empty");
            return;
        }
    };
    let admitted: Vec<Admitted> = admissions
        .into_iter()
        .filter_map(|admission| {
            let class = Class::from_name(&admission.class).or_else(|| {
                tracing::warn!(class = %admission.class, "unknown rate limit class ignored");
                None
            })?;
            Some(Admitted { key: admission.principal, class, at_ms: admission.admitted_ms })
        })
        .collect();
    if !admitted.is_empty() {
        tracing::info!(admissions = admitted.len(), "rate limit windows carried over");
    }
    limiter.import(&admitted, Instant::now(), now_ms());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_window_saved_by_one_limiter_limits_the_next() {
        let store = crate::store::open("sqlite::memory:").await.unwrap();
        let before = RateLimiter::default();
        assert!(before.check("ops", Class::Restart, 1, Instant::now()).is_ok());
        save(&before, store.as_ref()).await;
        let after = RateLimiter::default();
        load(&after, store.as_ref()).await;
        let wait = after.check("ops", Class::Restart, 1, Instant::now()).unwrap_err();
        assert!(wait > Duration::from_secs(50), "{wait:?}");
        assert!(after.check("ops", Class::Command, 1, Instant::now()).is_ok());
    }
}
