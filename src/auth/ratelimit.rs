//! Per-principal rate limits on disruptive operations (server restarts, device command
//! issuance): at most N admitted calls per principal in any sliding minute.
//!
//! Pure bookkeeping over timestamps handed in by the caller; it knows nothing of gRPC and
//! reads no configuration itself (the limit comes with each check, so reloads apply at once).
//! [`RateLimiter::export`] and [`RateLimiter::import`] turn the window into wall-clock
//! admissions and back, so `carry` can hand it to the next process through the store.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window every limit is counted over.
pub const WINDOW: Duration = Duration::from_secs(60);

/// How far apart the same admission may land when it crosses to another process twice
/// (wall-clock milliseconds are rounded on each export).
const SAME_ADMISSION: Duration = Duration::from_millis(2);

fn abs_diff(a: Instant, b: Instant) -> Duration {
    a.duration_since(b).max(b.duration_since(a))
}

/// What kind of disruptive operation a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// RestartService/Restart.
    Restart,
    /// Issuing device commands (one command or one rollout).
    Command,
}

impl Class {
    const ALL: [Class; 2] = [Class::Restart, Class::Command];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Restart => "server restart",
            Class::Command => "device command",
        }
    }

    /// The stored name (`restart`, `command`).
    pub fn name(self) -> &'static str {
        match self {
            Class::Restart => "restart",
            Class::Command => "command",
        }
    }

    /// The class a stored name stands for.
    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|class| class.name() == name)
    }
}

/// One admitted call on the wall clock (unix milliseconds), as it crosses to another process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    pub key: String,
    pub class: Class,
    pub at_ms: i64,
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

    /// Every admission still inside the window at `now` (which is `now_ms` on the wall
    /// clock), oldest first per key.
    pub fn export(&self, now: Instant, now_ms: i64) -> Vec<Admitted> {
        let seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut admitted = Vec::new();
        for ((key, class), times) in seen.iter() {
            for time in times.iter().filter(|t| now.duration_since(**t) < WINDOW) {
                let age = i64::try_from(now.duration_since(*time).as_millis()).unwrap_or(i64::MAX);
                admitted.push(Admitted {
                    key: key.clone(),
                    class: *class,
                    at_ms: now_ms.saturating_sub(age),
                });
            }
        }
        admitted
    }

    /// Count admissions another process made (see [`RateLimiter::export`]) as if made here;
    /// those outside the window at `now` (`now_ms`) are skipped. A time in the future (a
    /// clock that stepped back) counts as now. An admission within [`SAME_ADMISSION`] of one
    /// already counted for the same key is that one (imported before), not another.
    pub fn import(&self, admitted: &[Admitted], now: Instant, now_ms: i64) {
        let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for entry in admitted {
            let age = Duration::from_millis(u64::try_from(now_ms - entry.at_ms).unwrap_or(0));
            if age >= WINDOW {
                continue;
            }
            // Shortly after boot the monotonic clock may not reach back that far: count
            // the call as recent (stricter, never looser).
            let at = now.checked_sub(age).unwrap_or(now);
            let times = seen.entry((entry.key.clone(), entry.class)).or_default();
            let position = times.partition_point(|t| *t <= at);
            let near = |i: usize| times.get(i).is_some_and(|t| abs_diff(*t, at) <= SAME_ADMISSION);
            if position.checked_sub(1).is_some_and(near) || near(position) {
                continue;
            }
            times.insert(position, at);
        }
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
    fn an_exported_window_imported_elsewhere_keeps_limiting() {
        let old = RateLimiter::default();
        let t0 = Instant::now();
        assert!(old.check("ops", Class::Restart, 1, t0).is_ok());
        assert!(old.check("ops", Class::Command, 5, t0).is_ok());
        let exported = old.export(t0 + Duration::from_secs(10), 1_000_000);
        assert_eq!(exported.len(), 2);
        assert!(exported.iter().all(|a| a.at_ms == 990_000), "{exported:?}");

        // Another process, 5 s of wall-clock time later, with a different monotonic clock.
        let new = RateLimiter::default();
        let t1 = Instant::now() + Duration::from_secs(1000);
        new.import(&exported, t1, 1_005_000);
        let wait = new.check("ops", Class::Restart, 1, t1);
        assert_eq!(wait, Err(Duration::from_secs(45)), "15 s of the window are gone");
        assert!(new.check("other", Class::Restart, 1, t1).is_ok(), "per principal still");
        assert!(new.check("ops", Class::Restart, 1, t1 + Duration::from_secs(45)).is_ok());
        // An admission older than the window, and one "from the future", on import.
        let late = RateLimiter::default();
        let stale = Admitted { key: "ops".into(), class: Class::Restart, at_ms: 0 };
        let future = Admitted { key: "ci".into(), class: Class::Restart, at_ms: 2_000_000 };
        late.import(&[stale, future], t1, 1_005_000);
        assert!(late.check("ops", Class::Restart, 1, t1).is_ok(), "stale is skipped");
        assert!(late.check("ci", Class::Restart, 1, t1).is_err(), "future counts as now");
        assert_eq!(Class::from_name(Class::Command.name()), Some(Class::Command));
    }

    #[test]
    fn importing_the_same_admissions_again_counts_them_once() {
        let old = RateLimiter::default();
        let t0 = Instant::now();
        assert!(old.check("ops", Class::Command, 3, t0).is_ok());
        let first = old.export(t0 + Duration::from_millis(400), 1_000_400);
        // Later, the old process admits one more and exports everything again (its own
        // rounding may move the first admission by a millisecond).
        assert!(old.check("ops", Class::Command, 3, t0 + Duration::from_millis(500)).is_ok());
        let mut last = old.export(t0 + Duration::from_millis(900), 1_000_901);
        assert_eq!(last.len(), 2);
        let new = RateLimiter::default();
        let t1 = Instant::now() + Duration::from_secs(100);
        new.import(&first, t1, 1_001_000);
        last.sort_by_key(|a| a.at_ms);
        new.import(&last, t1, 1_001_000);
        // Two admissions known: one more fits the budget of 3, a fourth does not.
        assert!(new.check("ops", Class::Command, 3, t1).is_ok());
        assert!(new.check("ops", Class::Command, 3, t1).is_err());
        assert_eq!(Class::from_name("reboot"), None);
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
