//! Device commands and their events: the records of the `commands` and `command_events`
//! tables in backend-neutral types, with the states and sources a transition names.
//!
//! Plain data: which transitions are legal is decided by the command domain
//! (`crate::commands`), and how the records are stored by the store. Nothing here does I/O.

use uuid::Uuid;

use crate::contract::Action;
use crate::macros::text_enum;

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

/// Filters of the store's `CommandStore::list_commands`; they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CommandFilter {
    pub client_uuid: Option<Uuid>,
    /// Empty: any state.
    pub states: Vec<CommandState>,
    pub action: Option<Action>,
    pub rollout_id: Option<Uuid>,
    pub origin: Option<Origin>,
}

/// How many commands are in one state, how many of them are due (their timer ran out: the
/// expiry of a queued or published command, the ack deadline of an accepted or started one),
/// and some ids of those that are not due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCount {
    pub state: CommandState,
    pub count: u64,
    pub due: u64,
    pub ids: Vec<Uuid>,
}
