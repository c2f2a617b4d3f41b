//! SQLite implementation of [`ClientStore`]: reads of the device registry.

use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

use super::SqliteStore;
use super::rows::{CLIENT_COLUMNS, ClientRow};
use crate::model::clients::{ClientCounts, ClientFilter, ClientRecord, CrashFilter};
use crate::store::StoreError;
use crate::store::clients::ClientStore;

async fn fetch_clients(
    pool: &sqlx::SqlitePool,
    mut builder: QueryBuilder<Sqlite>,
    op: &'static str,
) -> Result<Vec<ClientRecord>, StoreError> {
    let rows: Vec<ClientRow> =
        builder.build_query_as().fetch_all(pool).await.map_err(StoreError::query(op))?;
    rows.into_iter().map(|r| r.into_record(op)).collect()
}

fn select_clients() -> QueryBuilder<Sqlite> {
    QueryBuilder::new(format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE 1 = 1"))
}

/// Stale: a heartbeat older than the bound, not crashed, and not shut down on purpose (the
/// same SQL on both backends).
pub(in crate::store) const STALE: &str = " AND COALESCE(process_status, '') <> 'crashed' \
    AND shut_down_ms IS NULL AND last_health_ms < ";

/// Pushes ` AND …` for each filter of `filter`, then the page strictly after `after`, by
/// client_uuid, at most `limit`: [`ClientStore::list_clients`] on either backend.
pub(in crate::store) fn push_client_page<DB: sqlx::Database>(
    builder: &mut QueryBuilder<DB>,
    filter: &ClientFilter,
    after: Option<Uuid>,
    limit: u32,
) where
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    push_client_filter(builder, filter);
    if let Some(after) = after {
        builder.push(" AND client_uuid > ").push_bind(after.to_string());
    }
    builder.push(" ORDER BY client_uuid LIMIT ").push_bind(i64::from(limit));
}

/// Pushes ` AND …` for each filter of `filter`, to a query that ends in a `WHERE` clause
/// (either backend).
pub(in crate::store) fn push_client_filter<DB: sqlx::Database>(
    builder: &mut QueryBuilder<DB>,
    filter: &ClientFilter,
) where
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    if let Some(group) = &filter.group {
        builder.push(" AND group_name = ").push_bind(group.clone());
    }
    if let Some(prefix) = &filter.uuid_prefix {
        // Hex digits and dashes only (the API checks), so no LIKE wildcard inside.
        builder.push(" AND client_uuid LIKE ").push_bind(format!("{prefix}%"));
    }
    if let Some(online) = filter.online {
        builder
            .push(" AND (last_online_ms IS NOT NULL OR last_offline_ms IS NOT NULL)")
            .push(" AND online = ")
            .push_bind(i64::from(online));
    }
    if let Some(attention) = filter.needs_attention {
        builder.push(" AND needs_attention = ").push_bind(i64::from(attention));
    }
    match filter.service_failed {
        Some(true) => {
            builder.push(" AND service_failed_unit IS NOT NULL");
        }
        Some(false) => {
            builder.push(" AND service_failed_unit IS NULL");
        }
        None => {}
    }
    if let Some(tier) = filter.capability_tier {
        builder
            .push(" AND COALESCE(capability_tier, 'basic') = ")
            .push_bind(tier.as_str().to_owned());
    }
    match filter.crash {
        Some((CrashFilter::Crashed, _)) => {
            builder.push(" AND process_status = 'crashed'");
        }
        Some((CrashFilter::Stale, bound)) => {
            builder.push(STALE).push_bind(bound);
        }
        Some((CrashFilter::Healthy, bound)) => {
            builder
                .push(" AND last_health_ms IS NOT NULL")
                .push(" AND COALESCE(process_status, '') <> 'crashed'")
                .push(" AND (shut_down_ms IS NOT NULL OR last_health_ms >= ")
                .push_bind(bound)
                .push(")");
        }
        None => {}
    }
}

/// The states [`ClientStore::client_counts`] counts, in the order of its columns after
/// `COUNT(*)`: the conditions of the `online`, `crash` and `service_failed` filters above.
const COUNTED_STATES: [&str; 4] = [
    "(last_online_ms IS NOT NULL OR last_offline_ms IS NOT NULL) AND online = 1",
    "(last_online_ms IS NOT NULL OR last_offline_ms IS NOT NULL) AND online = 0",
    "process_status = 'crashed'",
    "service_failed_unit IS NOT NULL",
];

/// The grouped query of [`ClientStore::client_counts`] on either backend: `COUNT(*)` and one
/// column per state of [`COUNTED_STATES`], each the backend's `counted(condition)`, over the
/// devices `filter` selects.
pub(in crate::store) fn count_states<DB: sqlx::Database>(
    counted: fn(&str) -> String,
    filter: &ClientFilter,
) -> QueryBuilder<DB>
where
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let columns: Vec<String> = COUNTED_STATES.iter().map(|state| counted(state)).collect();
    let mut builder = QueryBuilder::new(format!(
        "SELECT COUNT(*), {} FROM clients WHERE 1 = 1",
        columns.join(", ")
    ));
    push_client_filter(&mut builder, filter);
    builder
}

/// A row of [`count_states`] as counts.
pub(in crate::store) fn counts_of(row: (i64, i64, i64, i64, i64)) -> ClientCounts {
    let count = |n: i64| n.max(0) as u64;
    ClientCounts {
        total: count(row.0),
        online: count(row.1),
        offline: count(row.2),
        crashed: count(row.3),
        service_failed: count(row.4),
    }
}

#[async_trait::async_trait]
impl ClientStore for SqliteStore {
    async fn client(&self, uuid: Uuid) -> Result<Option<ClientRecord>, StoreError> {
        let mut builder = select_clients();
        builder.push(" AND client_uuid = ").push_bind(uuid.to_string());
        Ok(fetch_clients(&self.pool, builder, "client").await?.into_iter().next())
    }

    async fn list_clients(
        &self,
        filter: &ClientFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ClientRecord>, StoreError> {
        let mut builder = select_clients();
        push_client_page(&mut builder, filter, after, limit);
        fetch_clients(&self.pool, builder, "list_clients").await
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
        fetch_clients(&self.pool, builder, "crash_candidates").await
    }

    async fn count_clients(&self, filter: &ClientFilter) -> Result<u64, StoreError> {
        const OP: &str = "count_clients";
        let mut builder = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM clients WHERE 1 = 1");
        push_client_filter(&mut builder, filter);
        let count: i64 = builder
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        Ok(count.max(0) as u64)
    }

    async fn client_counts(&self, filter: &ClientFilter) -> Result<ClientCounts, StoreError> {
        // SUM is NULL over no rows.
        let counted =
            |state: &str| format!("COALESCE(SUM(CASE WHEN {state} THEN 1 ELSE 0 END), 0)");
        let mut builder = count_states::<Sqlite>(counted, filter);
        let row = builder
            .build_query_as()
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("client_counts"))?;
        Ok(counts_of(row))
    }

    async fn client_uuids(&self, group: Option<&str>) -> Result<Vec<Uuid>, StoreError> {
        const OP: &str = "client_uuids";
        let mut builder = QueryBuilder::<Sqlite>::new("SELECT client_uuid FROM clients");
        if let Some(group) = group {
            builder.push(" WHERE group_name = ").push_bind(group.to_owned());
        }
        builder.push(" ORDER BY client_uuid");
        let ids: Vec<String> = builder
            .build_query_scalar()
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        super::rows::uuids(&ids, OP)
    }
}
