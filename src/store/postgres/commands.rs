//! PostgreSQL implementation of [`CommandStore`]: command reads and the entry to
//! [`FleetTx`] (see `fleet_tx.rs` for its semantics).

use std::collections::HashMap;

use sqlx::{AssertSqlSafe, Postgres, QueryBuilder};
use tracing::instrument;
use uuid::Uuid;

use super::PostgresStore;
use super::device_rows::{self, fetch, push_any, select_commands};
use super::fleet_tx::PgFleetTx;
use crate::model::commands::{
    CommandEvent, CommandFilter, CommandRecord, CommandState, StateCount,
};
use crate::store::StoreError;
use crate::store::commands::{CommandCursor, CommandStore, FleetTx};
use crate::store::sqlite::commands::push_command_page;
use crate::store::sqlite::rows::{
    COMMAND_COLUMNS, CommandRow, EventRow, open_ids_sql, open_summary_sql, state_count,
};

/// The text of each state.
fn state_texts(states: &[CommandState]) -> Vec<String> {
    states.iter().map(|s| s.as_str().to_owned()).collect()
}

async fn fetch_commands(
    store: &PostgresStore,
    builder: QueryBuilder<Postgres>,
    op: &'static str,
) -> Result<Vec<CommandRecord>, StoreError> {
    fetch(store.pool(), builder, CommandRow::into_record, op).await
}

#[async_trait::async_trait]
impl CommandStore for PostgresStore {
    async fn fleet_tx(&self) -> Result<Box<dyn FleetTx>, StoreError> {
        Ok(Box::new(PgFleetTx::begin(self, false).await?))
    }

    async fn fleet_tx_whole(&self) -> Result<Box<dyn FleetTx>, StoreError> {
        Ok(Box::new(PgFleetTx::begin(self, true).await?))
    }

    #[instrument(skip_all, name = "store.command", fields(command.id = %id))]
    async fn command(&self, id: Uuid) -> Result<Option<CommandRecord>, StoreError> {
        let mut builder = select_commands();
        builder.push(" AND command_id = ").push_bind(id.to_string());
        Ok(fetch_commands(self, builder, "command").await?.into_iter().next())
    }

    async fn command_events(&self, id: Uuid) -> Result<Vec<CommandEvent>, StoreError> {
        const OP: &str = "command_events";
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT id, command_id, at_ms, from_state, to_state, source, detail \
             FROM command_events WHERE command_id = $1 ORDER BY id",
        )
        .bind(id.to_string())
        .fetch_all(self.pool())
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
        fetch_commands(self, builder, "list_commands").await
    }

    async fn commands_in_states(
        &self,
        states: &[CommandState],
        limit: u32,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        let mut builder = select_commands();
        push_any(&mut builder, "state", state_texts(states));
        builder.push(" ORDER BY issued_ms, command_id LIMIT ").push_bind(i64::from(limit));
        fetch_commands(self, builder, "commands_in_states").await
    }

    async fn due_commands(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        // Each branch matches a partial timer index (commands_expiry, commands_deadline).
        let mut builder = QueryBuilder::new(format!(
            "(SELECT {COMMAND_COLUMNS} FROM commands \
             WHERE state IN ('queued', 'published') AND expires_ms <= "
        ));
        builder.push_bind(now_ms);
        builder.push(format!(
            ") UNION ALL (SELECT {COMMAND_COLUMNS} FROM commands \
             WHERE state IN ('accepted', 'execution_started') AND deadline_ms <= "
        ));
        builder.push_bind(now_ms);
        builder.push(") LIMIT ").push_bind(i64::from(limit));
        fetch_commands(self, builder, "due_commands").await
    }

    #[instrument(skip_all, name = "store.open_command_summary")]
    async fn open_command_summary(
        &self,
        max_ids: u32,
        now_ms: i64,
    ) -> Result<Vec<StateCount>, StoreError> {
        const OP: &str = "open_command_summary";
        let counts: Vec<(String, i64, i64)> = sqlx::query_as(AssertSqlSafe(open_summary_sql("$1")))
            .bind(now_ms)
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::query(OP))?;
        let mut summary = Vec::with_capacity(counts.len());
        for (state, count, due) in counts {
            let ids: Vec<String> =
                sqlx::query_scalar(AssertSqlSafe(open_ids_sql("$1", "$2", "$3")))
                    .bind(&state)
                    .bind(now_ms)
                    .bind(i64::from(max_ids))
                    .fetch_all(self.pool())
                    .await
                    .map_err(StoreError::query(OP))?;
            summary.push(state_count(&state, (count, due), &ids, OP)?);
        }
        Ok(summary)
    }

    async fn lockout_entries_of(
        &self,
        clients: &[Uuid],
        since_ms: i64,
    ) -> Result<HashMap<Uuid, Vec<i64>>, StoreError> {
        let found = device_rows::lockout(self.pool(), clients, since_ms, "lockout_entries").await?;
        let mut entries: HashMap<Uuid, Vec<i64>> = HashMap::new();
        for (client, issued_ms) in found {
            entries.entry(client).or_default().push(issued_ms);
        }
        Ok(entries)
    }
}
