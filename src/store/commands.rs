//! Reads of device commands and their events, and the write transaction of the device area.
//!
//! The records are the model's (`crate::model::commands`). Which transitions are legal is not
//! decided here: the command domain (`crate::commands`) reads records, decides, and writes them
//! back through a [`FleetTx`], so that a state change and its event commit together.

use std::collections::HashMap;

use uuid::Uuid;

use super::StoreError;
use super::audit::AuditRow;
use crate::model::clients::ClientRecord;
use crate::model::commands::{
    CommandEvent, CommandFilter, CommandRecord, CommandState, EventSource, StateCount,
};
use crate::model::rollouts::{RolloutMember, RolloutRecord};

/// Position after which a newest-first listing continues: (issued_ms, command_id).
pub type CommandCursor = (i64, Uuid);

/// Reads of the command area, outside any write transaction.
#[async_trait::async_trait]
pub trait CommandStore {
    /// Starts a write transaction of some devices (their commands, events and client rows,
    /// and the rollout rows those touch). A device's rows are locked before the transaction
    /// reads them, so read-decide-write on a device inside it is atomic; transactions of
    /// other devices may run beside it (PostgreSQL) or not (SQLite, one writer). Name the
    /// devices up front with [`FleetTx::prefetch`] when there are several.
    /// The store may hand a transaction the rows earlier ones of this process read and wrote
    /// (without reading them again) as long as nobody else wrote in between.
    async fn fleet_tx(&self) -> Result<Box<dyn FleetTx>, StoreError>;

    /// Starts a write transaction of the whole device area, which no other runs beside: for
    /// what reads or changes rows of devices it cannot name up front (starting a rollout,
    /// an abort cancelling a rollout's commands). A store with one writer has nothing more
    /// to do than [`CommandStore::fleet_tx`].
    async fn fleet_tx_whole(&self) -> Result<Box<dyn FleetTx>, StoreError> {
        self.fleet_tx().await
    }

    async fn command(&self, id: Uuid) -> Result<Option<CommandRecord>, StoreError>;

    /// Events of one command, oldest first.
    async fn command_events(&self, id: Uuid) -> Result<Vec<CommandEvent>, StoreError>;

    /// Commands matching `filter`, newest first by (issued_ms, command_id), strictly after
    /// `after`, at most `limit`.
    async fn list_commands(
        &self,
        filter: &CommandFilter,
        after: Option<CommandCursor>,
        limit: u32,
    ) -> Result<Vec<CommandRecord>, StoreError>;

    /// Commands in one of `states`, oldest first, at most `limit`.
    async fn commands_in_states(
        &self,
        states: &[CommandState],
        limit: u32,
    ) -> Result<Vec<CommandRecord>, StoreError>;

    /// Commands whose timer ran out at `now_ms`: queued or published past `expires_ms`, and
    /// accepted or started past `deadline_ms`. At most `limit`, oldest deadline first.
    async fn due_commands(&self, now_ms: i64, limit: u32)
    -> Result<Vec<CommandRecord>, StoreError>;

    /// The non-terminal commands, per state (only states that have some): the exact count,
    /// how many of them are due at `now_ms` (as [`CommandStore::due_commands`] would return
    /// them), and the ids of at most `max_ids` of those not due. Start-up recovery reports
    /// with it.
    async fn open_command_summary(
        &self,
        max_ids: u32,
        now_ms: i64,
    ) -> Result<Vec<StateCount>, StoreError>;

    /// [`FleetTx::lockout_entries`] of each of `clients` (in bulk, outside a transaction, for
    /// reporting); a client without entries has none in the map.
    async fn lockout_entries_of(
        &self,
        clients: &[Uuid],
        since_ms: i64,
    ) -> Result<HashMap<Uuid, Vec<i64>>, StoreError>;
}

/// One write transaction of the device area. Dropping it without [`FleetTx::commit`] rolls
/// everything back.
///
/// A backend may hold writes back and send them together (multi-row statements) before any
/// read that depends on them and at commit; reads inside the transaction always see its own
/// writes. Errors of held-back writes surface at the latest from `commit`.
#[async_trait::async_trait]
pub trait FleetTx: Send {
    /// Load these commands and clients in bulk, so that the `command` and `client` reads of
    /// them that follow cost no statement each (a hint; reads are correct without it).
    async fn prefetch(&mut self, commands: &[Uuid], clients: &[Uuid]) -> Result<(), StoreError>;
    /// Load the lockout entries of these clients since `since_ms` in bulk (a hint, as above).
    async fn prefetch_lockout(&mut self, clients: &[Uuid], since_ms: i64)
    -> Result<(), StoreError>;
    async fn command(&mut self, id: Uuid) -> Result<Option<CommandRecord>, StoreError>;
    async fn insert_command(&mut self, command: &CommandRecord) -> Result<(), StoreError>;
    /// Stores `command` (found by its id): every column a transition may change. A store may
    /// write only the columns that differ from the stored row.
    async fn update_command(&mut self, command: &CommandRecord) -> Result<(), StoreError>;
    /// Appends an event to `command_id`'s history and returns it with its id.
    async fn insert_event(
        &mut self,
        command_id: Uuid,
        at_ms: i64,
        from_state: Option<CommandState>,
        to_state: CommandState,
        source: EventSource,
        detail: &str,
    ) -> Result<CommandEvent, StoreError>;
    /// `issued_ms` of the commands of `client` issued at or after `since_ms` that count
    /// towards the safety lockout (not rejected, and not canceled or expired before they
    /// were ever published), ascending.
    async fn lockout_entries(
        &mut self,
        client: Uuid,
        since_ms: i64,
    ) -> Result<Vec<i64>, StoreError>;

    /// Non-terminal commands of one device that were published (or further), oldest first.
    async fn sent_commands_for(&mut self, client: Uuid) -> Result<Vec<CommandRecord>, StoreError>;

    async fn client(&mut self, uuid: Uuid) -> Result<Option<ClientRecord>, StoreError>;
    /// Inserts or replaces the client row.
    async fn put_client(&mut self, client: &ClientRecord) -> Result<(), StoreError>;

    async fn rollout(&mut self, id: Uuid) -> Result<Option<RolloutRecord>, StoreError>;
    /// The rollouts other than `id` that are not terminal, oldest first, as the transaction
    /// sees them: a rollout starts only while no other is active.
    async fn other_active_rollouts(&mut self, id: Uuid) -> Result<Vec<RolloutRecord>, StoreError>;
    /// Inserts or replaces the rollout row.
    async fn put_rollout(&mut self, rollout: &RolloutRecord) -> Result<(), StoreError>;
    async fn insert_members(
        &mut self,
        rollout_id: Uuid,
        members: &[RolloutMember],
    ) -> Result<(), StoreError>;
    /// Those of `clients` that are members of the rollout without a command, as the
    /// transaction sees them (its own assignments included). On PostgreSQL their member rows
    /// stay locked until the transaction ends, so no other transaction, of this process or
    /// another replica, issues them meanwhile: a member read as unissued before the
    /// transaction may have been issued since.
    async fn unissued_members_of(
        &mut self,
        rollout_id: Uuid,
        clients: &[Uuid],
    ) -> Result<crate::ids::IdSet, StoreError>;
    /// Commands of the rollout that the devices have not accepted (queued or published),
    /// oldest first, as the transaction sees them: an abort cancels these, including any
    /// another replica issued since the abort was asked for.
    async fn unaccepted_rollout_commands(
        &mut self,
        rollout_id: Uuid,
    ) -> Result<Vec<CommandRecord>, StoreError>;
    /// Records the command issued to one member.
    async fn set_member_command(
        &mut self,
        rollout_id: Uuid,
        client: Uuid,
        command_id: Uuid,
    ) -> Result<(), StoreError>;

    /// Stores the audit row of the call making this change, so that it commits with it.
    async fn insert_audit(&mut self, row: &AuditRow) -> Result<(), StoreError>;

    /// Counts this process's copies of the device messages of one ingest batch (`digests`,
    /// in arrival order, repeats allowed) and says of each whether it is a copy another
    /// process on the database already counted: every replica receives every device
    /// message, and the k-th copy of a message is the device's k-th send only for the first
    /// process to count it. Copies seen elsewhere change nothing. A backend only one process
    /// uses (SQLite) has nothing elsewhere: the default counts nothing and finds no copy.
    async fn copies_seen_elsewhere(
        &mut self,
        _process: Uuid,
        _now_ms: i64,
        digests: &[String],
    ) -> Result<Vec<bool>, StoreError> {
        Ok(vec![false; digests.len()])
    }

    /// Checks, before this transaction writes anything, that `fence` still holds the cluster
    /// lease, and keeps the lease from moving on until the transaction ends: a leader's loops
    /// call it first. [`StoreError::Fenced`] when the lease moved on. A store without a
    /// cluster area (SQLite, one process, always the leader) has nothing to check.
    async fn fence(&mut self, _fence: &super::Fence) -> Result<(), StoreError> {
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}
