//! Device commands, their events, and the write transaction of the device area.
//!
//! The records mirror the `commands` and `command_events` tables in backend-neutral types
//! (no sqlx here). Which transitions are legal is not decided here: the command domain
//! (`crate::commands`) reads records, decides, and writes them back through a [`FleetTx`],
//! so that a state change and its event commit together.

use std::collections::HashMap;

use uuid::Uuid;

use super::StoreError;
use super::audit::AuditRow;
use super::clients::ClientRecord;
use super::rollouts::{RolloutMember, RolloutRecord};

pub use crate::contract::Action;
pub(crate) use crate::macros::text_enum;

text_enum! {
    /// State of a command (the contract's lifecycle).
    CommandState {
        Queued = "queued",
        Published = "published",
        Accepted = "accepted",
        ExecutionStarted = "execution_started",
        Completed = "completed",
        Failed = "failed",
        TimedOut = "timed_out",
        Expired = "expired",
        Canceled = "canceled",
        Rejected = "rejected",
    }
}

impl CommandState {
    /// No transition leaves a terminal state.
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            CommandState::Queued
                | CommandState::Published
                | CommandState::Accepted
                | CommandState::ExecutionStarted
        )
    }

    /// Position on the forward path; terminal states share the last rank.
    pub fn rank(self) -> u8 {
        match self {
            CommandState::Queued => 0,
            CommandState::Published => 1,
            CommandState::Accepted => 2,
            CommandState::ExecutionStarted => 3,
            _ => 4,
        }
    }
}

text_enum! {
    /// What caused a transition.
    EventSource { Api = "api", Mqtt = "mqtt", Scheduler = "scheduler", Recovery = "recovery" }
}

text_enum! {
    /// Why a command exists (stored in `commands.source`).
    Origin { Api = "api", Rollout = "rollout", CrashRecovery = "crash_recovery" }
}

text_enum! {
    /// What proved completion.
    Evidence {
        Ack = "ack",
        BootIdChanged = "boot_id_changed",
        Reconnected = "reconnected",
        WentOffline = "went_offline",
    }
}

text_enum! {
    /// Which topic carried an ack.
    AckTopic { Canonical = "canonical", Alias = "alias" }
}

/// A terminal ack that arrived after `timed_out`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateOutcome {
    /// `completed` or `failed`.
    pub state: CommandState,
    pub received_ms: i64,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub boot_id: Option<String>,
}

/// One row of `commands`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    pub command_id: Uuid,
    pub client_uuid: Uuid,
    pub action: Action,
    pub state: CommandState,
    pub reason: Option<String>,
    pub requested_by: Option<i64>,
    pub origin: Origin,
    /// Idempotency: the same id with the same hash is the same command.
    pub params_hash: String,
    pub principal: String,
    pub issued_ms: i64,
    pub expires_ms: i64,
    pub published_ms: Option<i64>,
    pub accepted_ms: Option<i64>,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// Terminal ack due by (set at execution_started).
    pub deadline_ms: Option<i64>,
    /// The device went offline after this command was published (reboot / shutdown proof).
    pub offline_seen_ms: Option<i64>,
    pub boot_id_at_issue: Option<String>,
    pub boot_id_at_completion: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub late_outcome: Option<LateOutcome>,
    pub completion_evidence: Option<Evidence>,
    pub ignored_acks: i64,
    pub rollout_id: Option<Uuid>,
    pub trace_parent: Option<String>,
    pub last_ack_topic: Option<AckTopic>,
    pub updated_ms: i64,
}

impl CommandRecord {
    /// A `queued` command with nothing happened to it yet.
    pub fn new(
        command_id: Uuid,
        client_uuid: Uuid,
        action: Action,
        origin: Origin,
        issued_ms: i64,
        expires_ms: i64,
    ) -> Self {
        Self {
            command_id,
            client_uuid,
            action,
            state: CommandState::Queued,
            reason: None,
            requested_by: None,
            origin,
            params_hash: String::new(),
            principal: String::new(),
            issued_ms,
            expires_ms,
            published_ms: None,
            accepted_ms: None,
            started_ms: None,
            finished_ms: None,
            deadline_ms: None,
            offline_seen_ms: None,
            boot_id_at_issue: None,
            boot_id_at_completion: None,
            error_code: None,
            error_message: None,
            late_outcome: None,
            completion_evidence: None,
            ignored_acks: 0,
            rollout_id: None,
            trace_parent: None,
            last_ack_topic: None,
            updated_ms: issued_ms,
        }
    }
}

/// One row of `command_events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandEvent {
    pub id: i64,
    pub command_id: Uuid,
    pub at_ms: i64,
    /// `None` for the creating event.
    pub from_state: Option<CommandState>,
    pub to_state: CommandState,
    pub source: EventSource,
    pub detail: String,
}

/// Filters of [`CommandStore::list_commands`]; they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CommandFilter {
    pub client_uuid: Option<Uuid>,
    /// Empty: any state.
    pub states: Vec<CommandState>,
    pub action: Option<Action>,
    pub rollout_id: Option<Uuid>,
    pub origin: Option<Origin>,
}

/// How many commands are in one state, with some of their ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCount {
    pub state: CommandState,
    pub count: u64,
    pub ids: Vec<Uuid>,
}

/// Position after which a newest-first listing continues: (issued_ms, command_id).
pub type CommandCursor = (i64, Uuid);

/// Reads of the command area, outside any write transaction.
#[async_trait::async_trait]
pub trait CommandStore {
    /// Starts a write transaction of the device area (commands, clients, rollouts). It holds
    /// the write lock from its first statement, so read-decide-write inside it is atomic.
    /// The store may hand a transaction the rows earlier ones of this process read and wrote
    /// (without reading them again) as long as nobody else wrote in between.
    async fn fleet_tx(&self) -> Result<Box<dyn FleetTx>, StoreError>;

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

    /// The non-terminal commands, per state (only states that have some): the exact count
    /// and the ids of at most `max_ids` of them. Start-up recovery reports with it.
    async fn open_command_summary(&self, max_ids: u32) -> Result<Vec<StateCount>, StoreError>;

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
    /// Inserts or replaces the rollout row.
    async fn put_rollout(&mut self, rollout: &RolloutRecord) -> Result<(), StoreError>;
    async fn insert_members(
        &mut self,
        rollout_id: Uuid,
        members: &[RolloutMember],
    ) -> Result<(), StoreError>;
    /// Records the command issued to one member.
    async fn set_member_command(
        &mut self,
        rollout_id: Uuid,
        client: Uuid,
        command_id: Uuid,
    ) -> Result<(), StoreError>;

    /// Stores the audit row of the call making this change, so that it commits with it.
    async fn insert_audit(&mut self, row: &AuditRow) -> Result<(), StoreError>;

    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}
