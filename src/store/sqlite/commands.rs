//! SQLite implementation of [`CommandStore`]: command reads and the entry to [`FleetTx`].

use std::collections::HashMap;

use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite};
use tracing::instrument;
use uuid::Uuid;

use super::SqliteStore;
use super::fleet_tx::SqliteFleetTx;
use super::rows::{COMMAND_COLUMNS, CommandRow, EventRow};
use crate::model::commands::{
    CommandEvent, CommandFilter, CommandRecord, CommandState, StateCount,
};
use crate::store::StoreError;
use crate::store::commands::{CommandCursor, CommandStore, FleetTx};

/// Pushes ` AND column IN (?, …)` for text values (either backend).
pub(in crate::store) fn push_in<DB: sqlx::Database>(
    builder: &mut QueryBuilder<DB>,
    column: &str,
    values: impl IntoIterator<Item = &'static str>,
) where
    for<'t> &'static str: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    builder.push(format!(" AND {column} IN ("));
    let mut list = builder.separated(", ");
    for value in values {
        list.push_bind(value);
    }
    list.push_unseparated(")");
}

/// Pushes the filters of [`CommandStore::list_commands`], the page strictly after `after`,
/// newest first, at most `limit` (either backend).
pub(in crate::store) fn push_command_page<DB: sqlx::Database>(
    builder: &mut QueryBuilder<DB>,
    filter: &CommandFilter,
    after: Option<CommandCursor>,
    limit: u32,
) where
    for<'t> &'static str: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    if let Some(client) = filter.client_uuid {
        builder.push(" AND client_uuid = ").push_bind(client.to_string());
    }
    if !filter.states.is_empty() {
        push_in(builder, "state", filter.states.iter().map(|s| s.as_str()));
    }
    if let Some(action) = filter.action {
        builder.push(" AND action = ").push_bind(action.as_str());
    }
    if let Some(rollout) = filter.rollout_id {
        builder.push(" AND rollout_id = ").push_bind(rollout.to_string());
    }
    if let Some(origin) = filter.origin {
        builder.push(" AND source = ").push_bind(origin.as_str());
    }
    if let Some((issued_ms, id)) = after {
        builder
            .push(" AND (issued_ms < ")
            .push_bind(issued_ms)
            .push(" OR (issued_ms = ")
            .push_bind(issued_ms)
            .push(" AND command_id < ")
            .push_bind(id.to_string())
            .push("))");
    }
    builder.push(" ORDER BY issued_ms DESC, command_id DESC LIMIT ").push_bind(i64::from(limit));
}

async fn fetch_commands(
    pool: &sqlx::SqlitePool,
    mut builder: QueryBuilder<Sqlite>,
    op: &'static str,
) -> Result<Vec<CommandRecord>, StoreError> {
    let rows: Vec<CommandRow> =
        builder.build_query_as().fetch_all(pool).await.map_err(StoreError::query(op))?;
    rows.into_iter().map(|r| r.into_record(op)).collect()
}

fn select_commands() -> QueryBuilder<Sqlite> {
    QueryBuilder::new(format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE 1 = 1"))
}

#[async_trait::async_trait]
impl CommandStore for SqliteStore {
    async fn fleet_tx(&self) -> Result<Box<dyn FleetTx>, StoreError> {
        let writer = super::writer::WriterTx::begin(self.writer.clone()).await?;
        Ok(Box::new(SqliteFleetTx::new(writer)))
    }

    #[instrument(skip_all, name = "store.command", fields(command.id = %id))]
    async fn command(&self, id: Uuid) -> Result<Option<CommandRecord>, StoreError> {
        const OP: &str = "command";
        let sql = format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE command_id = ?");
        let row: Option<CommandRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        row.map(|r| r.into_record(OP)).transpose()
    }

    async fn command_events(&self, id: Uuid) -> Result<Vec<CommandEvent>, StoreError> {
        const OP: &str = "command_events";
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT id, command_id, at_ms, from_state, to_state, source, detail \
             FROM command_events WHERE command_id = ? ORDER BY id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        rows.into_iter().map(|r| r.into_event(OP)).collect()
    }

    #[instrument(skip_all, name = "store.list_commands")]
    async fn list_commands(
        &self,
        filter: &CommandFilter,
        after: Option<CommandCursor>,
        limit: u32,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        let mut builder = select_commands();
        push_command_page(&mut builder, filter, after, limit);
        fetch_commands(&self.pool, builder, "list_commands").await
    }

    async fn commands_in_states(
        &self,
        states: &[CommandState],
        limit: u32,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        let mut builder = select_commands();
        push_in(&mut builder, "state", states.iter().map(|s| s.as_str()));
        builder.push(" ORDER BY issued_ms, command_id LIMIT ").push_bind(limit);
        fetch_commands(&self.pool, builder, "commands_in_states").await
    }

    async fn due_commands(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        // The partial timer indexes hold only the commands waiting for that timer; without
        // INDEXED BY the planner walks `commands_state` and reads every open command's timer
        // from the table (measured on the recovery benchmark's database, 50,000 open commands
        // and none due: 27 ms per scheduler tick; with the partial indexes under 1 ms).
        let mut builder = QueryBuilder::new(format!(
            "SELECT {COMMAND_COLUMNS} FROM commands INDEXED BY commands_expiry \
             WHERE state IN ('queued', 'published') AND expires_ms <= "
        ));
        builder.push_bind(now_ms);
        builder.push(format!(
            " UNION ALL SELECT {COMMAND_COLUMNS} FROM commands INDEXED BY commands_deadline \
             WHERE state IN ('accepted', 'execution_started') AND deadline_ms <= "
        ));
        builder.push_bind(now_ms);
        builder.push(" LIMIT ").push_bind(limit);
        fetch_commands(&self.pool, builder, "due_commands").await
    }

    #[instrument(skip_all, name = "store.open_command_summary")]
    async fn open_command_summary(
        &self,
        max_ids: u32,
        now_ms: i64,
    ) -> Result<Vec<StateCount>, StoreError> {
        const OP: &str = "open_command_summary";
        let counts: Vec<(String, i64, i64)> =
            sqlx::query_as(sqlx::AssertSqlSafe(super::rows::open_summary_sql("?1")))
                .bind(now_ms)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::query(OP))?;
        let mut summary = Vec::with_capacity(counts.len());
        for (state, count, due) in counts {
            // No ORDER BY: the `commands_state` index gives any `max_ids` rows without a sort.
            let ids: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(
                super::rows::open_ids_sql("?1", "?2", "?3"),
            ))
            .bind(&state)
            .bind(now_ms)
            .bind(max_ids)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
            summary.push(super::rows::state_count(&state, (count, due), &ids, OP)?);
        }
        Ok(summary)
    }

    async fn lockout_entries_of(
        &self,
        clients: &[Uuid],
        since_ms: i64,
    ) -> Result<HashMap<Uuid, Vec<i64>>, StoreError> {
        let mut entries: HashMap<Uuid, Vec<i64>> = HashMap::new();
        for piece in super::shapes::pieces(clients) {
            let sql = super::fleet_cache::LOCKOUT_PIECE.sql(piece.len());
            let query = piece.iter().fold(sqlx::query_as(sql), |q, id| q.bind(id.to_string()));
            let found: Vec<(String, i64)> = query
                .bind(since_ms)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::query("lockout_entries"))?;
            for (client, issued_ms) in found {
                if let Ok(client) = Uuid::parse_str(&client) {
                    entries.entry(client).or_default().push(issued_ms);
                }
            }
        }
        for issued in entries.values_mut() {
            issued.sort_unstable();
        }
        Ok(entries)
    }
}
