//! Changes committed to the device area, as a store that several processes share reports
//! them, in commit order: which command event or rollout changed, and whether this process
//! made the change. The store only names the change; the command domain re-reads another
//! process's change and puts it on its own change bus, so that Watch streams on every replica
//! see every replica's changes in the order they were committed. A store only one process
//! uses (SQLite) has no feed.

use uuid::Uuid;

use super::StoreError;

/// One committed change. `local`: this process made it (it hears of its own changes too, in
/// the same commit order as of everybody else's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChange {
    /// A command event was stored.
    Event { command_id: Uuid, event_id: i64, local: bool },
    /// A rollout's state or members changed.
    Rollout { id: Uuid, local: bool },
    /// The feed lost its connection and is back: changes made meanwhile were not reported.
    Missed,
}

/// The stream of [`StoreChange`]s, in commit order.
#[async_trait::async_trait]
pub trait ChangeFeed: Send {
    /// Waits for the next changes (connecting first when needed). After an error, the next
    /// call connects again and starts with [`StoreChange::Missed`].
    async fn next(&mut self) -> Result<Vec<StoreChange>, StoreError>;
}
