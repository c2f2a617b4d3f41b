//! SQLite implementation of [`RolloutStore`]: rollout reads and progress counters (the
//! counters themselves are kept by [`progress`]).

use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

use super::SqliteStore;
use super::commands::push_in;
use super::progress;
use super::rows::{ROLLOUT_COLUMNS, RolloutRow};
use crate::contract::Action;
use crate::model::rollouts::{RolloutCounters, RolloutMember, RolloutRecord, RolloutState};
use crate::store::StoreError;
use crate::store::rollouts::RolloutStore;

async fn fetch_rollouts(
    pool: &sqlx::SqlitePool,
    mut builder: QueryBuilder<Sqlite>,
    op: &'static str,
) -> Result<Vec<RolloutRecord>, StoreError> {
    let rows: Vec<RolloutRow> =
        builder.build_query_as().fetch_all(pool).await.map_err(StoreError::query(op))?;
    rows.into_iter().map(|r| r.into_record(op)).collect()
}

fn select_rollouts() -> QueryBuilder<Sqlite> {
    QueryBuilder::new(format!("SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE 1 = 1"))
}

#[async_trait::async_trait]
impl RolloutStore for SqliteStore {
    async fn rollout(&self, id: Uuid) -> Result<Option<RolloutRecord>, StoreError> {
        let mut builder = select_rollouts();
        builder.push(" AND rollout_id = ").push_bind(id.to_string());
        Ok(fetch_rollouts(&self.pool, builder, "rollout").await?.into_iter().next())
    }

    async fn list_rollouts(
        &self,
        states: &[RolloutState],
        action: Option<Action>,
        after: Option<(i64, Uuid)>,
        limit: u32,
    ) -> Result<Vec<(RolloutRecord, RolloutCounters)>, StoreError> {
        let mut builder = progress::select_with_counters();
        if !states.is_empty() {
            push_in(&mut builder, "state", states.iter().map(|s| s.as_str()));
        }
        if let Some(action) = action {
            builder.push(" AND action = ").push_bind(action.as_str());
        }
        if let Some((created_ms, id)) = after {
            builder
                .push(" AND (created_ms < ")
                .push_bind(created_ms)
                .push(" OR (created_ms = ")
                .push_bind(created_ms)
                .push(" AND rollout_id < ")
                .push_bind(id.to_string())
                .push("))");
        }
        builder.push(" ORDER BY created_ms DESC, rollout_id DESC LIMIT ").push_bind(limit);
        progress::fetch_with_counters(&self.pool, builder, "list_rollouts").await
    }

    async fn active_rollouts(&self) -> Result<Vec<RolloutRecord>, StoreError> {
        let mut builder = select_rollouts();
        builder.push(" AND state IN ('pending', 'canary', 'running') ORDER BY created_ms");
        fetch_rollouts(&self.pool, builder, "active_rollouts").await
    }

    async fn rollout_with_counters(
        &self,
        id: Uuid,
    ) -> Result<Option<(RolloutRecord, RolloutCounters)>, StoreError> {
        progress::rollout_with_counters(&self.pool, id).await
    }

    async fn rollout_counters(
        &self,
        id: Uuid,
        wave: Option<i64>,
    ) -> Result<RolloutCounters, StoreError> {
        match wave {
            None => progress::rollout_counters(&self.pool, id).await,
            Some(wave) => progress::count_wave(&self.pool, id, wave).await,
        }
    }

    async fn unissued_members(
        &self,
        id: Uuid,
        limit: u32,
    ) -> Result<Vec<RolloutMember>, StoreError> {
        const OP: &str = "unissued_members";
        // INDEXED BY: the partial index holds just the unissued members in this order, so a
        // read costs what it returns (through `rollout_members_wave` every step walked all
        // members issued so far and sorted all those left: O(N²) over a paced rollout).
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT client_uuid, wave FROM rollout_members INDEXED BY rollout_members_unissued \
             WHERE rollout_id = ? AND command_id IS NULL ORDER BY wave, client_uuid LIMIT ?",
        )
        .bind(id.to_string())
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        super::rows::members(rows, OP)
    }

    async fn unaccepted_rollout_commands(&self, id: Uuid) -> Result<Vec<Uuid>, StoreError> {
        const OP: &str = "unaccepted_rollout_commands";
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT command_id FROM commands WHERE rollout_id = ? \
             AND state IN ('queued', 'published') ORDER BY issued_ms",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        super::rows::uuids(&ids, OP)
    }
}
