//! Change notices between the processes sharing a PostgreSQL database: `pg_notify` on
//! [`CHANNEL`] inside the device area's write transaction (PostgreSQL delivers it at commit,
//! never for a rolled-back transaction, and in commit order), and the listening side
//! ([`PgChangeFeed`]), one `LISTEN` connection per process.
//!
//! A notice names what changed, not its content: `<process> e:<command_id>:<event_id> …
//! r:<rollout_id> …`, where `<process>` is the writer's id. A process hears its own notices too:
//! PostgreSQL delivers every transaction's notices in commit order, so the order they arrive
//! in is the order of the changes across every process. Payloads stay under PostgreSQL's 8000-byte limit by splitting
//! a transaction's changes over several notices.

use sqlx::PgPool;
use sqlx::postgres::{PgConnection, PgListener};
use uuid::Uuid;

use crate::store::StoreError;
use crate::store::changes::{ChangeFeed, StoreChange};

/// The channel every rebound process listens on.
pub(super) const CHANNEL: &str = "rebound_changes";
/// Longest payload sent (PostgreSQL refuses 8000 bytes and more).
const MAX_PAYLOAD: usize = 7_000;

/// The changes one transaction made, to announce at its commit.
#[derive(Default)]
pub(super) struct Notices {
    items: Vec<String>,
}

impl Notices {
    pub(super) fn event(&mut self, command_id: Uuid, event_id: i64) {
        self.items.push(format!("e:{command_id}:{event_id}"));
    }

    pub(super) fn rollout(&mut self, id: Uuid) {
        self.items.push(format!("r:{id}"));
    }

    /// The payloads announcing every change, each under [`MAX_PAYLOAD`].
    fn payloads(&self, process: &str) -> Vec<String> {
        let mut payloads = Vec::new();
        let mut current = process.to_owned();
        for item in &self.items {
            if current.len() + 1 + item.len() > MAX_PAYLOAD {
                payloads.push(std::mem::replace(&mut current, process.to_owned()));
            }
            current.push(' ');
            current.push_str(item);
        }
        if current.len() > process.len() {
            payloads.push(current);
        }
        payloads
    }

    /// Queues the notices in the transaction `conn` is in (one statement).
    pub(super) async fn send(
        self,
        conn: &mut PgConnection,
        process: &str,
    ) -> Result<(), StoreError> {
        if self.items.is_empty() {
            return Ok(());
        }
        sqlx::query("SELECT pg_notify($1, p) FROM UNNEST($2::TEXT[]) AS p")
            .bind(CHANNEL)
            .bind(self.payloads(process))
            .execute(conn)
            .await
            .map_err(StoreError::query("tx.notify"))?;
        Ok(())
    }
}

/// The changes a notice announces (`local` when `process` wrote it).
fn parse(payload: &str, process: &str) -> Vec<StoreChange> {
    let mut words = payload.split(' ');
    let local = words.next() == Some(process);
    let change = |word: &str| match word.split(':').collect::<Vec<_>>()[..] {
        ["e", command, event] => Some(StoreChange::Event {
            command_id: command.parse().ok()?,
            event_id: event.parse().ok()?,
            local,
        }),
        ["r", rollout] => Some(StoreChange::Rollout { id: rollout.parse().ok()?, local }),
        _ => None,
    };
    words.filter_map(change).collect()
}

/// This process's `LISTEN` connection.
pub(super) struct PgChangeFeed {
    pool: PgPool,
    process: String,
    listener: Option<PgListener>,
    /// Whether a connection was lost before the one being made.
    lost: bool,
}

impl PgChangeFeed {
    pub(super) fn new(pool: PgPool, process: String) -> Self {
        Self { pool, process, listener: None, lost: false }
    }
}

#[async_trait::async_trait]
impl ChangeFeed for PgChangeFeed {
    async fn next(&mut self) -> Result<Vec<StoreChange>, StoreError> {
        let listener = match &mut self.listener {
            Some(listener) => listener,
            None => {
                let mut listener = PgListener::connect_with(&self.pool)
                    .await
                    .map_err(StoreError::query("changes.listen"))?;
                listener.listen(CHANNEL).await.map_err(StoreError::query("changes.listen"))?;
                self.listener = Some(listener);
                if std::mem::take(&mut self.lost) {
                    return Ok(vec![StoreChange::Missed]);
                }
                self.listener.as_mut().expect("just set")
            }
        };
        match listener.try_recv().await {
            Ok(Some(notice)) => Ok(parse(notice.payload(), &self.process)),
            // The connection dropped and was made again (and LISTENs again).
            Ok(None) => Ok(vec![StoreChange::Missed]),
            Err(err) => {
                self.listener = None;
                self.lost = true;
                Err(StoreError::query("changes.receive")(err))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_name_the_writer_and_split_under_the_limit() {
        let mut notices = Notices::default();
        let ids: Vec<Uuid> = (0..300).map(|_| Uuid::new_v4()).collect();
        for (n, id) in ids.iter().enumerate() {
            notices.event(*id, n as i64);
        }
        notices.rollout(ids[0]);
        let payloads = notices.payloads("writer");
        assert!(payloads.len() > 1 && payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let changes: Vec<StoreChange> = payloads.iter().flat_map(|p| parse(p, "reader")).collect();
        assert_eq!(changes.len(), 301);
        assert_eq!(
            changes[7],
            StoreChange::Event { command_id: ids[7], event_id: 7, local: false }
        );
        assert_eq!(changes[300], StoreChange::Rollout { id: ids[0], local: false });
        let own = parse(&payloads[0], "writer");
        assert!(own.iter().all(|c| matches!(c, StoreChange::Event { local: true, .. })));
    }
}
