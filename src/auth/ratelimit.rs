//! Per-principal rate limits on disruptive operations (server restarts, device command
//! issuance): at most N admitted calls per principal in any sliding minute.
//!
//! Pure bookkeeping over timestamps handed in by the caller; it knows nothing of gRPC and
//! reads no configuration itself (the limit comes with each check, so reloads apply at once).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window every limit is counted over.
pub const WINDOW: Duration = Duration::from_secs(60);

/// What kind of disruptive operation a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// RestartService/Restart.
    Restart,
    /// Issuing device commands (one command or one rollout).
    Command,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Restart => "server restart",
            Class::Command => "device command",
        }
    }
}

/// Sliding-window counters keyed by (principal, class).
#[derive(Debug, Default)]
pub struct RateLimiter {
    seen: Mutex<HashMap<(String, Class), VecDeque<Instant>>>,
}

impl RateLimiter {
    /// Count a call of `class` by `principal` at `now` if fewer than `per_minute` were
    /// admitted in the last [`WINDOW`]; otherwise return how long until one more is allowed.
    /// `per_minute == 0` means unlimited.
    pub fn check(
        &self,
        principal: &str,
        class: Class,
        per_minute: u32,
        now: Instant,
    ) -> Result<(), Duration> {
        if per_minute == 0 {
            return Ok(());
        }
        let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Forget callers whose window has passed, so the map holds only recent principals.
        seen.retain(|_, times| {
            while times.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
                times.pop_front();
            }
            !times.is_empty()
        });
        let times = seen.entry((principal.to_owned(), class)).or_default();
        if times.len() >= per_minute as usize {
            let oldest = times[times.len() - per_minute as usize];
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_per_minute_per_principal_and_class() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        assert!(limiter.check("ops", Class::Restart, 1, t0).is_ok());
        let wait = limiter.check("ops", Class::Restart, 1, t0 + Duration::from_secs(20));
        assert_eq!(wait, Err(Duration::from_secs(40)));
        assert!(limiter.check("other", Class::Restart, 1, t0).is_ok(), "per principal");
        assert!(limiter.check("ops", Class::Command, 1, t0).is_ok(), "per class");
        assert!(limiter.check("ops", Class::Restart, 1, t0 + WINDOW).is_ok(), "window slid");
    }

    #[test]
    fn zero_is_unlimited_and_refusals_are_not_counted() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..100 {
            assert!(limiter.check("ops", Class::Command, 0, t0).is_ok());
        }
        assert!(limiter.check("ops", Class::Command, 2, t0).is_ok());
        assert!(limiter.check("ops", Class::Command, 2, t0 + Duration::from_secs(1)).is_ok());
        for _ in 0..5 {
            assert!(limiter.check("ops", Class::Command, 2, t0 + Duration::from_secs(2)).is_err());
        }
        // The first of the two admitted calls leaves the window after 60s.
        assert!(limiter.check("ops", Class::Command, 2, t0 + WINDOW).is_ok());
    }
}
