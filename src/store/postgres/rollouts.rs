//! PostgreSQL implementation of [`RolloutStore`]: rollout reads and progress counters (the
//! counters are kept up to date by each [`super::fleet_tx::PgFleetTx`] that changes them).

use std::sync::LazyLock;

use sqlx::postgres::PgRow;
use sqlx::{FromRow, Postgres, QueryBuilder};
use uuid::Uuid;

use super::PostgresStore;
use super::device_rows::{count_members, fetch, push_any, select_rollouts};
use crate::contract::Action;
use crate::model::rollouts::{RolloutCounters, RolloutMember, RolloutRecord, RolloutState};
use crate::store::StoreError;
use crate::store::rollouts::RolloutStore;
use crate::store::sqlite::progress::{self, SLOTS};
use crate::store::sqlite::rows::{ROLLOUT_COLUMNS, RolloutRow};

/// Rollouts with their counter rows' columns after their own (a left join: `NULL`s for a
/// rollout without one); conditions follow as ` AND …`.
static JOINED: LazyLock<String> = LazyLock::new(|| {
    let list: Vec<_> = progress::columns().map(|c| format!("p.{c}")).collect();
    format!(
        "SELECT {ROLLOUT_COLUMNS}, {} FROM rollouts LEFT JOIN rollout_progress p \
         USING (rollout_id) WHERE 1 = 1",
        list.join(", ")
    )
});

/// The rollouts `builder` (on [`JOINED`]) selects, each with its counters: stored, or
/// counted from the members for a rollout without a counter row.
async fn fetch_with_counters(
    store: &PostgresStore,
    mut builder: QueryBuilder<Postgres>,
    op: &'static str,
) -> Result<Vec<(RolloutRecord, RolloutCounters)>, StoreError> {
    let rows = builder.build().fetch_all(store.pool()).await.map_err(StoreError::query(op))?;
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        let record = RolloutRow::from_row(row).map_err(StoreError::query(op))?.into_record(op)?;
        let values = match stored_values(row, op)? {
            Some(values) => values,
            None => count_members(store.pool(), record.rollout_id, None).await?,
        };
        found.push((record, progress::counters(&values)));
    }
    Ok(found)
}

/// The counter columns of a joined row; `None` when the rollout has no counter row.
fn stored_values(row: &PgRow, op: &'static str) -> Result<Option<progress::Row>, StoreError> {
    let mut values = [0; SLOTS];
    for (value, column) in values.iter_mut().zip(progress::columns()) {
        match sqlx::Row::try_get::<Option<i64>, _>(row, column).map_err(StoreError::query(op))? {
            Some(stored) => *value = stored,
            None => return Ok(None),
        }
    }
    Ok(Some(values))
}

#[async_trait::async_trait]
impl RolloutStore for PostgresStore {
    async fn rollout(&self, id: Uuid) -> Result<Option<RolloutRecord>, StoreError> {
        let mut builder = select_rollouts();
        builder.push(" AND rollout_id = ").push_bind(id.to_string());
        let found = fetch(self.pool(), builder, RolloutRow::into_record, "rollout").await?;
        Ok(found.into_iter().next())
    }

    async fn list_rollouts(
        &self,
        states: &[RolloutState],
        action: Option<Action>,
        after: Option<(i64, Uuid)>,
        limit: u32,
    ) -> Result<Vec<(RolloutRecord, RolloutCounters)>, StoreError> {
        let mut builder = QueryBuilder::new(JOINED.as_str());
        if !states.is_empty() {
            let states = states.iter().map(|s| s.as_str().to_owned()).collect();
            push_any(&mut builder, "state", states);
        }
        if let Some(action) = action {
            builder.push(" AND action = ").push_bind(action.as_str());
        }
        if let Some((created_ms, id)) = after {
            builder
                .push(" AND (created_ms, rollout_id) < (")
                .push_bind(created_ms)
                .push(", ")
                .push_bind(id.to_string())
                .push(")");
        }
        builder
            .push(" ORDER BY created_ms DESC, rollout_id DESC LIMIT ")
            .push_bind(i64::from(limit));
        fetch_with_counters(self, builder, "list_rollouts").await
    }

    async fn active_rollouts(&self) -> Result<Vec<RolloutRecord>, StoreError> {
        let mut builder = select_rollouts();
        builder.push(" AND state IN ('pending', 'canary', 'running') ORDER BY created_ms");
        fetch(self.pool(), builder, RolloutRow::into_record, "active_rollouts").await
    }

    async fn rollout_with_counters(
        &self,
        id: Uuid,
    ) -> Result<Option<(RolloutRecord, RolloutCounters)>, StoreError> {
        let mut builder = QueryBuilder::new(JOINED.as_str());
        builder.push(" AND rollout_id = ").push_bind(id.to_string());
        Ok(fetch_with_counters(self, builder, "rollout_with_counters").await?.into_iter().next())
    }

    async fn rollout_counters(
        &self,
        id: Uuid,
        wave: Option<i64>,
    ) -> Result<RolloutCounters, StoreError> {
        const OP: &str = "rollout_progress";
        let stored = match wave {
            Some(_) => None,
            None => {
                let mut builder = QueryBuilder::new(JOINED.as_str());
                builder.push(" AND rollout_id = ").push_bind(id.to_string());
                let row = builder
                    .build()
                    .fetch_optional(self.pool())
                    .await
                    .map_err(StoreError::query(OP))?;
                match row {
                    Some(row) => stored_values(&row, OP)?,
                    None => None,
                }
            }
        };
        let values = match stored {
            Some(values) => values,
            None => count_members(self.pool(), id, wave).await?,
        };
        Ok(progress::counters(&values))
    }

    async fn unissued_members(
        &self,
        id: Uuid,
        limit: u32,
    ) -> Result<Vec<RolloutMember>, StoreError> {
        const OP: &str = "unissued_members";
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT client_uuid, wave FROM rollout_members \
             WHERE rollout_id = $1 AND command_id IS NULL ORDER BY wave, client_uuid LIMIT $2",
        )
        .bind(id.to_string())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::query(OP))?;
        crate::store::sqlite::rows::members(rows, OP)
    }

    async fn unaccepted_rollout_commands(&self, id: Uuid) -> Result<Vec<Uuid>, StoreError> {
        const OP: &str = "unaccepted_rollout_commands";
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT command_id FROM commands WHERE rollout_id = $1 \
             AND state IN ('queued', 'published') ORDER BY issued_ms",
        )
        .bind(id.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::query(OP))?;
        crate::store::sqlite::rows::uuids(&ids, OP)
    }
}
