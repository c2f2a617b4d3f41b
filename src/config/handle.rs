//! The live configuration: an atomically swappable snapshot that readers load without locks,
//! plus the observer interface components use to follow reloads.
//!
//! Readers call [`ConfigHandle::load`] and get a consistent `Arc<LoadedConfig>`: always the
//! old or the new configuration, never a mix. Only the reload manager swaps it.

use super::LoadedConfig;
use super::model::Config;
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Shared handle to the current configuration. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ConfigHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    current: ArcSwap<Current>,
    next_version: AtomicU64,
}

/// The configuration in force and its version counter (1 at start, +1 per applied reload).
#[derive(Debug)]
pub struct Current {
    pub loaded: LoadedConfig,
    pub version: u64,
    pub loaded_at: std::time::SystemTime,
}

impl ConfigHandle {
    pub fn new(loaded: LoadedConfig) -> Self {
        let current = Current { loaded, version: 1, loaded_at: std::time::SystemTime::now() };
        Self {
            inner: Arc::new(Inner {
                current: ArcSwap::from_pointee(current),
                next_version: AtomicU64::new(2),
            }),
        }
    }

    /// The configuration in force now. Lock-free; hold the `Arc` as long as needed.
    pub fn load(&self) -> Arc<Current> {
        self.inner.current.load_full()
    }

    /// Shortcut for `load().loaded.config` when only the values matter.
    pub fn config(&self) -> Config {
        self.inner.current.load().loaded.config.clone()
    }

    /// Install `loaded` as the new configuration and return its version. Reload manager only.
    pub fn swap(&self, loaded: LoadedConfig) -> u64 {
        let version = self.inner.next_version.fetch_add(1, Ordering::SeqCst);
        self.inner.current.store(Arc::new(Current {
            loaded,
            version,
            loaded_at: std::time::SystemTime::now(),
        }));
        version
    }

    /// Put back a previous configuration (rollback), keeping its version number.
    pub fn restore(&self, previous: Arc<Current>) {
        self.inner.current.store(previous);
    }
}

/// A component that follows configuration changes (log level, scheduler intervals, safety
/// limits, MQTT settings, …).
///
/// `apply` is called after the new configuration is validated and swapped in, with the old
/// and new values. Returning an error (or panicking) rolls the whole reload back: every
/// observer that already applied the change is called again with `(new, old)`.
pub trait ConfigObserver: Send + Sync + 'static {
    /// Stable name, recorded in reload events when this observer fails.
    fn name(&self) -> &'static str;

    /// Apply the change; `Err` with a reason refuses it.
    fn apply(&self, old: &Config, new: &Config) -> Result<(), String>;

    /// A reload found the configuration itself unchanged: re-read the files it points to
    /// (tokens, certificates), which may have changed on their own. `Err` refuses the reload
    /// and the observer keeps what it had. Most observers have no files: the default does
    /// nothing.
    fn refresh(&self, _config: &Config) -> Result<(), String> {
        Ok(())
    }
}

/// An observer that loads files the configuration names (tokens, certificates) on every
/// reload, whether the configuration changed or not; `load` gets the new configuration and
/// must leave its previous state in place when it fails.
pub fn file_observer<F>(name: &'static str, load: F) -> Arc<dyn ConfigObserver>
where
    F: Fn(&Config) -> Result<(), String> + Send + Sync + 'static,
{
    Arc::new(FileObserver { name, load })
}

struct FileObserver<F> {
    name: &'static str,
    load: F,
}

impl<F> ConfigObserver for FileObserver<F>
where
    F: Fn(&Config) -> Result<(), String> + Send + Sync + 'static,
{
    fn name(&self) -> &'static str {
        self.name
    }

    fn apply(&self, _old: &Config, new: &Config) -> Result<(), String> {
        (self.load)(new)
    }

    fn refresh(&self, config: &Config) -> Result<(), String> {
        (self.load)(config)
    }
}

/// The observers registered so far, in registration order (the order they are notified).
#[derive(Clone, Default)]
pub struct Observers {
    list: Arc<std::sync::Mutex<Vec<Arc<dyn ConfigObserver>>>>,
}

impl Observers {
    /// Add an observer; it is notified of every reload from now on.
    pub fn register(&self, observer: Arc<dyn ConfigObserver>) {
        self.list.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(observer);
    }

    /// The registered observers, in order.
    pub fn all(&self) -> Vec<Arc<dyn ConfigObserver>> {
        self.list.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

impl std::fmt::Debug for Observers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.all().iter().map(|o| o.name()).collect();
        f.debug_tuple("Observers").field(&names).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Source, parse_str};

    #[test]
    fn swap_bumps_the_version_and_restore_puts_back_the_old_snapshot() {
        let handle = ConfigHandle::new(crate::config::load(None, []).unwrap());
        let before = handle.load();
        assert_eq!(before.version, 1);
        let next =
            parse_str("version = 1\n[server]\nreflection = false\n", Source::Inline, []).unwrap();
        assert_eq!(handle.swap(next), 2);
        assert!(!handle.config().server.reflection);
        handle.restore(before);
        assert_eq!(handle.load().version, 1);
        assert!(handle.config().server.reflection);
    }
}
