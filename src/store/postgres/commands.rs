//! PostgreSQL implementation of [`crate::store::CommandStore`] (placeholder: being written).
#![allow(unused_variables, unused_imports)]

use std::collections::HashMap;
use uuid::Uuid;
use crate::store::commands::*;
use crate::store::StoreError;

use super::PostgresStore;

#[async_trait::async_trait]
impl crate::store::CommandStore for PostgresStore {
    async fn fleet_tx(&self) -> Result<Box<dyn FleetTx>, StoreError> {
        todo!("postgres: commands")
    }

    async fn command(&self, id: Uuid) -> Result<Option<CommandRecord>, StoreError> {
        todo!("postgres: commands")
    }

    async fn command_events(&self, id: Uuid) -> Result<Vec<CommandEvent>, StoreError> {
        todo!("postgres: commands")
    }

    async fn list_commands(
        &self,
        filter: &CommandFilter,
        after: Option<CommandCursor>,
        limit: u32,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        todo!("postgres: commands")
    }

    async fn commands_in_states(
        &self,
        states: &[CommandState],
        limit: u32,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        todo!("postgres: commands")
    }

    async fn due_commands(&self, now_ms: i64, limit: u32)
    -> Result<Vec<CommandRecord>, StoreError> {
        todo!("postgres: commands")
    }

    async fn open_command_summary(&self, max_ids: u32) -> Result<Vec<StateCount>, StoreError> {
        todo!("postgres: commands")
    }

    async fn lockout_entries_of(
        &self,
        clients: &[Uuid],
        since_ms: i64,
    ) -> Result<HashMap<Uuid, Vec<i64>>, StoreError> {
        todo!("postgres: commands")
    }

}
