//! The two server streams: WatchCommands (one message per stored transition) and
//! WatchRollout (coalesced snapshots). Both subscribe to the domain's change bus before
//! reading the current state, so nothing falls between the two; both stop by themselves
//! when the server drains (the RPC layer then ends the call with UNAVAILABLE), when the
//! client goes away (the stream is dropped), or when what they watch is finished.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tonic::Status;

use super::{convert, fields};
use crate::commands::{CommandChange, Fleet, is_settled};
use crate::contract::Action;
use crate::error::{Error, Result};
use crate::lifecycle::Drain;
use crate::model::commands::{CommandRecord, CommandState};
use crate::proto::v1 as pb;

pub type BoxStream<T> = Pin<Box<dyn Stream<Item = std::result::Result<T, Status>> + Send>>;

/// At most this many rollout snapshots per second (proto: 4).
const ROLLOUT_MIN_INTERVAL: Duration = Duration::from_millis(250);
/// A rollout is re-read at least this often even without a change notice.
const ROLLOUT_REFRESH: Duration = Duration::from_secs(5);
/// Most commands sent for include_current.
const CURRENT_LIMIT: u32 = 10_000;

const NON_TERMINAL: [CommandState; 4] = [
    CommandState::Queued,
    CommandState::Published,
    CommandState::Accepted,
    CommandState::ExecutionStarted,
];

fn lagged() -> Status {
    Status::from(Error::Unavailable("watcher fell behind the change stream; call again".into()))
}

fn missed() -> Status {
    Status::from(Error::Unavailable(
        "changes made by another replica were missed (database connection lost); call again".into(),
    ))
}

/// Filters of one WatchCommands call.
struct CommandWatch {
    command_id: Option<uuid::Uuid>,
    client_uuid: Option<uuid::Uuid>,
    states: Vec<CommandState>,
    action: Option<Action>,
    rollout_id: Option<uuid::Uuid>,
}

impl CommandWatch {
    fn matches(&self, c: &CommandRecord) -> bool {
        self.command_id.is_none_or(|id| id == c.command_id)
            && self.client_uuid.is_none_or(|id| id == c.client_uuid)
            && self.action.is_none_or(|a| a == c.action)
            && self.rollout_id.is_none_or(|id| c.rollout_id == Some(id))
    }

    fn matches_change(&self, change: &CommandChange) -> bool {
        self.matches(&change.command)
            && (self.states.is_empty() || self.states.contains(&change.event.to_state))
    }
}

pub async fn commands(
    fleet: Arc<Fleet>,
    drain: Drain,
    r: pb::WatchCommandsRequest,
) -> Result<BoxStream<pb::WatchCommandsResponse>> {
    let watch = CommandWatch {
        command_id: fields::optional_uuid("command_id", &r.command_id)?,
        client_uuid: fields::optional_uuid("client_uuid", &r.client_uuid)?,
        states: fields::command_states("states", &r.states)?,
        action: fields::action("action", r.action)?,
        rollout_id: fields::optional_uuid("rollout_id", &r.rollout_id)?,
    };
    let mut rx = fleet.subscribe_commands();
    let mut gaps = fleet.subscribe_gaps();
    let mut current = Vec::new();
    let mut finished = false;
    if let Some(id) = watch.command_id {
        let (command, events) = fleet.command(id).await?;
        finished = command.state.is_terminal();
        if r.include_current {
            current.push(convert::command(&command, if r.include_events { &events } else { &[] }));
        }
    } else if r.include_current {
        for command in fleet.store().commands_in_states(&NON_TERMINAL, CURRENT_LIMIT).await? {
            if watch.matches(&command) {
                let events = if r.include_events {
                    fleet.store().command_events(command.command_id).await?
                } else {
                    Vec::new()
                };
                current.push(convert::command(&command, &events));
            }
        }
    }
    let include_events = r.include_events;
    let stream = async_stream::try_stream! {
        for command in current {
            yield pb::WatchCommandsResponse { command: Some(command), event: None };
        }
        if finished {
            return;
        }
        let closed = drain.streams_closed();
        tokio::pin!(closed);
        loop {
            let mut gap = false;
            let next = tokio::select! {
                _ = &mut closed => None,
                _ = gaps.changed() => {
                    gap = true;
                    None
                }
                change = rx.recv() => Some(change),
            };
            if gap {
                Err(missed())?;
            }
            let change = match next {
                None | Some(Err(RecvError::Closed)) => return,
                Some(Err(RecvError::Lagged(_))) => Err(lagged())?,
                Some(Ok(change)) => change,
            };
            if !watch.matches_change(&change) {
                continue;
            }
            let events = if include_events {
                fleet.store().command_events(change.command.command_id).await.map_err(|e| Status::from(Error::from(e)))?
            } else {
                Vec::new()
            };
            yield pb::WatchCommandsResponse {
                command: Some(convert::command(&change.command, &events)),
                event: Some(convert::event(&change.event)),
            };
            if watch.command_id.is_some() && change.command.state.is_terminal() {
                return;
            }
        }
    };
    Ok(Box::pin(stream))
}

pub async fn rollout(
    fleet: Arc<Fleet>,
    drain: Drain,
    r: pb::WatchRolloutRequest,
) -> Result<BoxStream<pb::WatchRolloutResponse>> {
    let id = fields::uuid("rollout_id", &r.rollout_id)?;
    let mut rx = fleet.subscribe_rollouts();
    let (record, counters) = fleet.rollout(id).await?;
    let stream = async_stream::try_stream! {
        let mut last = convert::rollout(&record, counters, false);
        yield pb::WatchRolloutResponse { rollout: Some(last.clone()) };
        if is_settled(&record, &counters) {
            return;
        }
        let closed = drain.streams_closed();
        tokio::pin!(closed);
        loop {
            // Wait for a notice about this rollout (or the periodic refresh).
            let refresh = tokio::time::sleep(ROLLOUT_REFRESH);
            tokio::pin!(refresh);
            loop {
                tokio::select! {
                    _ = &mut closed => return,
                    _ = &mut refresh => break,
                    notice = rx.recv() => match notice {
                        Ok(changed) if changed == id || changed.is_nil() => break,
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return,
                    },
                }
            }
            // Coalesce: whatever else changes in the next interval goes into one snapshot.
            tokio::select! {
                _ = &mut closed => return,
                _ = tokio::time::sleep(ROLLOUT_MIN_INTERVAL) => {}
            }
            // The snapshot below covers every notice queued meanwhile.
            while !matches!(rx.try_recv(), Err(TryRecvError::Empty | TryRecvError::Closed)) {}
            let (record, counters) = fleet.rollout(id).await.map_err(Status::from)?;
            let snapshot = convert::rollout(&record, counters, false);
            if snapshot != last {
                last = snapshot.clone();
                yield pb::WatchRolloutResponse { rollout: Some(snapshot) };
            }
            if is_settled(&record, &counters) {
                return;
            }
        }
    };
    Ok(Box::pin(stream))
}
