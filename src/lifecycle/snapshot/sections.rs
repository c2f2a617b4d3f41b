//! The extensible part of the snapshot: named sections that components contribute.
//!
//! A component with volatile state worth carrying over a hot restart (MQTT session
//! bookkeeping, caches, the restart statistics themselves) registers a [`SnapshotSection`]
//! with the server's [`StateSections`] at start-up. At `serializing_state` (loops suspended)
//! every section is captured as JSON under its name; in the successor the component asks
//! [`StateSections::take_restored`] for what its predecessor saved. A section missing from
//! the snapshot (older binary, no snapshot) must be handled as "start from the store".

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Volatile state one component carries over a restart.
pub trait SnapshotSection: Send + Sync + 'static {
    /// Stable, unique name (e.g. `"mqtt.sessions"`); the key in the snapshot.
    fn name(&self) -> &'static str;

    /// The state to hand over, called while background loops are suspended. An `Err`
    /// fails the restart in `serializing_state` (the old process resumes).
    fn capture(&self) -> Result<Value, String>;
}

/// Registry of sections, and what the predecessor's snapshot held. Cheap to clone.
#[derive(Clone, Default)]
pub struct StateSections {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    sections: Mutex<Vec<Arc<dyn SnapshotSection>>>,
    restored: Mutex<BTreeMap<String, Value>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Why the sections could not be captured.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CaptureError {
    #[error("snapshot section {0:?} is registered twice")]
    Duplicate(String),
    #[error("snapshot section {name:?}: {reason}")]
    Failed { name: String, reason: String },
}

impl StateSections {
    /// Contribute a section to every later snapshot.
    pub fn register(&self, section: Arc<dyn SnapshotSection>) {
        lock(&self.inner.sections).push(section);
    }

    /// What the predecessor saved under `name`, handed out once; `None` after a cold start,
    /// when the snapshot was missing or discarded, or when it had no such section.
    pub fn take_restored(&self, name: &str) -> Option<Value> {
        lock(&self.inner.restored).remove(name)
    }

    /// Names of the registered sections, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        lock(&self.inner.sections).iter().map(|s| s.name()).collect()
    }

    /// Capture every registered section.
    pub(crate) fn capture(&self) -> Result<BTreeMap<String, Value>, CaptureError> {
        let sections = lock(&self.inner.sections).clone();
        let mut captured = BTreeMap::new();
        for section in sections {
            let name = section.name().to_owned();
            let value = section
                .capture()
                .map_err(|reason| CaptureError::Failed { name: name.clone(), reason })?;
            if captured.insert(name.clone(), value).is_some() {
                return Err(CaptureError::Duplicate(name));
            }
        }
        Ok(captured)
    }

    /// Install the sections of a verified snapshot (successor start-up).
    pub(crate) fn set_restored(&self, sections: BTreeMap<String, Value>) {
        *lock(&self.inner.restored) = sections;
    }
}

impl std::fmt::Debug for StateSections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StateSections").field(&self.names()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Fixed(&'static str, Result<Value, String>);

    impl SnapshotSection for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn capture(&self) -> Result<Value, String> {
            self.1.clone()
        }
    }

    #[test]
    fn captures_every_section_and_hands_restored_ones_out_once() {
        let sections = StateSections::default();
        sections.register(Arc::new(Fixed("a", Ok(json!({"n": 1})))));
        sections.register(Arc::new(Fixed("b", Ok(json!([1, 2])))));
        let captured = sections.capture().unwrap();
        assert_eq!(captured.len(), 2);
        sections.set_restored(captured);
        assert_eq!(sections.take_restored("a"), Some(json!({"n": 1})));
        assert_eq!(sections.take_restored("a"), None);
        assert_eq!(sections.take_restored("missing"), None);
    }

    #[test]
    fn a_failing_or_duplicate_section_fails_the_capture() {
        let sections = StateSections::default();
        sections.register(Arc::new(Fixed("a", Err("busy".into()))));
        let err = sections.capture().unwrap_err();
        assert_eq!(err.to_string(), "snapshot section \"a\": busy");
        let sections = StateSections::default();
        sections.register(Arc::new(Fixed("a", Ok(json!(1)))));
        sections.register(Arc::new(Fixed("a", Ok(json!(2)))));
        assert_eq!(sections.capture().unwrap_err(), CaptureError::Duplicate("a".into()));
    }
}
