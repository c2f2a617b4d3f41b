//! PostgreSQL implementation of [`ClientStore`]: reads of the device registry.

use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::PostgresStore;
use super::device_rows::{fetch, select_clients};
use crate::model::clients::{ClientCounts, ClientFilter, ClientRecord};
use crate::store::StoreError;
use crate::store::clients::ClientStore;
use crate::store::sqlite::clients::{STALE, count_states, counts_of, push_client_page};
use crate::store::sqlite::rows::ClientRow;

async fn fetch_clients(
    store: &PostgresStore,
    builder: QueryBuilder<Postgres>,
    op: &'static str,
) -> Result<Vec<ClientRecord>, StoreError> {
    fetch(store.pool(), builder, ClientRow::into_record, op).await
}

#[async_trait::async_trait]
impl ClientStore for PostgresStore {
    async fn client(&self, uuid: Uuid) -> Result<Option<ClientRecord>, StoreError> {
        let mut builder = select_clients();
        builder.push(" AND client_uuid = ").push_bind(uuid.to_string());
        Ok(fetch_clients(self, builder, "client").await?.into_iter().next())
    }

    async fn list_clients(
        &self,
        filter: &ClientFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ClientRecord>, StoreError> {
        let mut builder = select_clients();
        push_client_page(&mut builder, filter, after, limit);
        fetch_clients(self, builder, "list_clients").await
    }

    async fn crash_candidates(
        &self,
        stale_before_ms: i64,
    ) -> Result<Vec<ClientRecord>, StoreError> {
        let mut builder = select_clients();
        builder
            .push(" AND (process_status = 'crashed' OR recovery_state <> 'idle' OR (1 = 1")
            .push(STALE)
            .push_bind(stale_before_ms)
            .push(")) ORDER BY client_uuid");
        fetch_clients(self, builder, "crash_candidates").await
    }

    async fn client_counts(&self, filter: &ClientFilter) -> Result<ClientCounts, StoreError> {
        let counted = |state: &str| format!("COUNT(*) FILTER (WHERE {state})");
        let mut builder = count_states::<Postgres>(counted, filter);
        let row = builder
            .build_query_as()
            .fetch_one(self.pool())
            .await
            .map_err(StoreError::query("client_counts"))?;
        Ok(counts_of(row))
    }

    async fn client_uuids(&self, group: Option<&str>) -> Result<Vec<Uuid>, StoreError> {
        const OP: &str = "client_uuids";
        let mut builder = QueryBuilder::<Postgres>::new("SELECT client_uuid FROM clients");
        if let Some(group) = group {
            builder.push(" WHERE group_name = ").push_bind(group.to_owned());
        }
        builder.push(" ORDER BY client_uuid");
        let ids: Vec<String> = builder
            .build_query_scalar()
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::query(OP))?;
        crate::store::sqlite::rows::uuids(&ids, OP)
    }
}
