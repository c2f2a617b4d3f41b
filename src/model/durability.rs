//! When a store commit counts as done: the `store.durability` setting, read by the config and
//! applied by the store backends.

use serde::Serialize;

/// When a commit counts as done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Every commit is on disk before it returns: survives kill -9 and power loss.
    #[default]
    Full,
    /// Commits survive kill -9 of the server; the last ones may be lost on power loss or
    /// a kernel crash. Much cheaper per commit (see docs/benchmarks.md).
    Normal,
}
