//! PostgreSQL implementation of [`ClusterStore`]: the `replicas` heartbeats, the one-row
//! `cluster_lease` and the owners of queued commands.
//!
//! Semantics, and why:
//! - **Database time only.** Heartbeats, expiries and liveness compare against `now()`, so
//!   replicas whose clocks disagree still agree on who holds the lease.
//! - **Plain row updates, no advisory locks.** A takeover is one `UPDATE … WHERE holder IS
//!   NULL OR expires_at <= now()` that adds one to the epoch; a renewal only matches the
//!   holder, the epoch and an unexpired lease. Both are safe behind a pooler.
//! - **Fencing.** A leader's write transaction share-locks the lease row at its epoch
//!   ([`FENCE`], run by [`super::fleet_tx`]); a takeover's `UPDATE` of that row waits until
//!   the transaction ends, so no write of an old epoch can commit after a new epoch exists.
//! - **Release wakes the others at once**: the release and a `NOTIFY` on [`CHANNEL`] commit
//!   together, and every replica `LISTEN`s on it (one dedicated connection, [`PgListener`]).

use std::time::Duration;

use sqlx::postgres::PgListener;
use uuid::Uuid;

use super::PostgresStore;
use crate::store::StoreError;
use crate::store::cluster::{ClusterStore, Fence, LeaseEvents, ReplicaBeat, ReplicaRow};

/// The `NOTIFY` channel of lease releases.
const CHANNEL: &str = "rebound_lease";

/// The check a fenced transaction makes (`$1` epoch, `$2` holder): the lease row, share-locked
/// until the transaction ends, or no row when the lease moved on.
pub(super) const FENCE: &str = "SELECT epoch FROM cluster_lease \
     WHERE id = 1 AND epoch = $1 AND holder = $2 AND expires_at > now() FOR SHARE";

/// Checks `fence` inside the open transaction `conn` (see [`FENCE`]).
pub(super) async fn check_fence(
    conn: &mut sqlx::PgConnection,
    fence: &Fence,
) -> Result<(), StoreError> {
    let found: Option<i64> = sqlx::query_scalar(FENCE)
        .bind(fence.epoch)
        .bind(&fence.holder)
        .fetch_optional(conn)
        .await
        .map_err(StoreError::query("tx.fence"))?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::Fenced { holder: fence.holder.clone(), epoch: fence.epoch }),
    }
}

fn seconds(ttl: Duration) -> f64 {
    ttl.as_secs_f64()
}

#[async_trait::async_trait]
impl ClusterStore for PostgresStore {
    async fn heartbeat(&self, me: &ReplicaBeat) -> Result<(), StoreError> {
        const OP: &str = "cluster.heartbeat";
        let generation = i64::try_from(me.generation).map_err(|e| StoreError::encode(OP, e))?;
        sqlx::query(
            "INSERT INTO replicas (replica_id, listen, pid, generation) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (replica_id) DO UPDATE SET listen = EXCLUDED.listen, \
                 pid = EXCLUDED.pid, generation = EXCLUDED.generation, heartbeat_at = now()",
        )
        .bind(&me.replica_id)
        .bind(&me.listen)
        .bind(i64::from(me.pid))
        .bind(generation)
        .execute(self.pool())
        .await
        .map(drop)
        .map_err(StoreError::query(OP))
    }

    async fn leave(&self, replica_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM replicas WHERE replica_id = $1")
            .bind(replica_id)
            .execute(self.pool())
            .await
            .map(drop)
            .map_err(StoreError::query("cluster.leave"))
    }

    async fn live_replicas(&self, ttl: Duration) -> Result<Vec<ReplicaRow>, StoreError> {
        const OP: &str = "cluster.live_replicas";
        let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT replica_id, listen, pid, generation, \
                 (extract(epoch FROM heartbeat_at) * 1000)::BIGINT \
             FROM replicas WHERE heartbeat_at > now() - make_interval(secs => $1) \
             ORDER BY replica_id",
        )
        .bind(seconds(ttl))
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::query(OP))?;
        rows.into_iter()
            .map(|(replica_id, listen, pid, generation, heartbeat_ms)| {
                Ok(ReplicaRow {
                    beat: ReplicaBeat {
                        replica_id,
                        listen,
                        pid: u32::try_from(pid).map_err(|e| StoreError::decode(OP, e))?,
                        generation: u64::try_from(generation)
                            .map_err(|e| StoreError::decode(OP, e))?,
                    },
                    heartbeat_ms,
                })
            })
            .collect()
    }

    async fn try_acquire(&self, holder: &str, ttl: Duration) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar(
            "UPDATE cluster_lease SET holder = $1, epoch = epoch + 1, \
                 expires_at = now() + make_interval(secs => $2) \
             WHERE id = 1 AND (holder IS NULL OR expires_at <= now()) RETURNING epoch",
        )
        .bind(holder)
        .bind(seconds(ttl))
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::query("cluster.try_acquire"))
    }

    async fn renew(&self, fence: &Fence, ttl: Duration) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE cluster_lease SET expires_at = now() + make_interval(secs => $3) \
             WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires_at > now()",
        )
        .bind(&fence.holder)
        .bind(fence.epoch)
        .bind(seconds(ttl))
        .execute(self.pool())
        .await
        .map_err(StoreError::query("cluster.renew"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn lease_holder(&self) -> Result<Option<Fence>, StoreError> {
        let found: Option<(String, i64)> = sqlx::query_as(
            "SELECT holder, epoch FROM cluster_lease \
             WHERE id = 1 AND holder IS NOT NULL AND expires_at > now()",
        )
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::query("cluster.lease_holder"))?;
        Ok(found.map(|(holder, epoch)| Fence { holder, epoch }))
    }

    async fn release(&self, fence: &Fence) -> Result<(), StoreError> {
        const OP: &str = "cluster.release";
        let mut tx = self.pool().begin().await.map_err(StoreError::query(OP))?;
        let released = sqlx::query(
            "UPDATE cluster_lease SET holder = NULL, expires_at = now() \
             WHERE id = 1 AND holder = $1 AND epoch = $2",
        )
        .bind(&fence.holder)
        .bind(fence.epoch)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        if released.rows_affected() == 1 {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(fence.epoch.to_string())
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;
        }
        tx.commit().await.map_err(StoreError::query(OP))
    }

    async fn lease_events(&self) -> Result<Box<dyn LeaseEvents>, StoreError> {
        const OP: &str = "cluster.listen";
        let mut listener =
            PgListener::connect_with(self.pool()).await.map_err(StoreError::query(OP))?;
        listener.listen(CHANNEL).await.map_err(StoreError::query(OP))?;
        Ok(Box::new(Releases(listener)))
    }

    async fn adopt_orphans(
        &self,
        fence: &Fence,
        ttl: Duration,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<Uuid>, StoreError> {
        const OP: &str = "cluster.adopt_orphans";
        let mut tx = self.pool().begin().await.map_err(StoreError::query(OP))?;
        check_fence(&mut tx, fence).await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE commands SET owner = $1 WHERE command_id IN ( \
                 SELECT command_id FROM commands \
                 WHERE state = 'queued' AND expires_ms > $2 \
                   AND (owner IS NULL OR owner NOT IN ( \
                       SELECT replica_id FROM replicas \
                       WHERE heartbeat_at > now() - make_interval(secs => $3))) \
                 ORDER BY issued_ms LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING command_id",
        )
        .bind(&fence.holder)
        .bind(now_ms)
        .bind(seconds(ttl))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        tx.commit().await.map_err(StoreError::query(OP))?;
        ids.iter().map(|id| Uuid::parse_str(id).map_err(|e| StoreError::decode(OP, e))).collect()
    }

    async fn owned_queued(&self, owner: &str, now_ms: i64) -> Result<Vec<Uuid>, StoreError> {
        const OP: &str = "cluster.owned_queued";
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT command_id FROM commands \
             WHERE state = 'queued' AND expires_ms > $2 AND owner = $1 ORDER BY issued_ms",
        )
        .bind(owner)
        .bind(now_ms)
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::query(OP))?;
        ids.iter().map(|id| Uuid::parse_str(id).map_err(|e| StoreError::decode(OP, e))).collect()
    }
}

/// [`LeaseEvents`] on a `LISTEN` connection.
struct Releases(PgListener);

#[async_trait::async_trait]
impl LeaseEvents for Releases {
    async fn released(&mut self) -> Result<(), StoreError> {
        self.0.recv().await.map(drop).map_err(StoreError::query("cluster.listen"))
    }
}
