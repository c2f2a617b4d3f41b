//! The filtered, keyset-paginated listings of the bookkeeping tables (audit events, recovery
//! reports, restarts) as one query builder per listing, generic over the backend: the
//! conditions and the order are the same SQL on SQLite and PostgreSQL, only the placeholders
//! differ, and [`QueryBuilder`] writes those.

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::RestartQuery;
use super::audit::AuditQuery;

/// `SELECT … WHERE 1 = 1` of a listing; its conditions are added with `AND`.
fn select<DB: Database>(columns: &str, table: &str) -> QueryBuilder<DB> {
    QueryBuilder::new(format!("SELECT {columns} FROM {table} WHERE 1 = 1"))
}

/// Audit events matching `query`, newest first.
pub(super) fn audit_events<DB: Database>(columns: &str, query: &AuditQuery) -> QueryBuilder<DB>
where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    let mut sql = select(columns, "audit_events");
    if let Some(before) = query.before_id {
        sql.push(" AND id < ").push_bind(before);
    }
    if let Some(principal) = &query.principal {
        sql.push(" AND principal = ").push_bind(principal.clone());
    }
    match &query.rpc {
        // A plain prefix comparison: no LIKE wildcards to escape.
        Some(prefix) if prefix.ends_with('/') => {
            sql.push(" AND substr(rpc, 1, CAST(")
                .push_bind(prefix.chars().count() as i64)
                .push(" AS INTEGER)) = ")
                .push_bind(prefix.clone());
        }
        Some(rpc) => {
            sql.push(" AND rpc = ").push_bind(rpc.clone());
        }
        None => {}
    }
    if let Some(since) = query.since {
        sql.push(" AND at_ms >= ").push_bind(since.timestamp_millis());
    }
    if let Some(until) = query.until {
        sql.push(" AND at_ms < ").push_bind(until.timestamp_millis());
    }
    if let Some(outcome) = &query.outcome {
        sql.push(" AND outcome = ").push_bind(outcome.clone());
    }
    sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(query.limit));
    sql
}

/// Recovery reports below `before_id`, newest first, optionally only those whose previous
/// run ended as `previous_run`.
pub(super) fn recovery_reports<DB: Database>(
    columns: &str,
    before_id: Option<i64>,
    limit: u32,
    previous_run: Option<&str>,
) -> QueryBuilder<DB>
where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    let mut sql = select(columns, "recovery_reports");
    if let Some(before) = before_id {
        sql.push(" AND id < ").push_bind(before);
    }
    if let Some(previous) = previous_run {
        sql.push(" AND previous_run = ").push_bind(previous.to_owned());
    }
    sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit));
    sql
}

/// One page of restarts plus one row (to tell whether another page follows), newest first;
/// `limit` is the page size.
pub(super) fn restarts<DB: Database>(
    columns: &str,
    query: &RestartQuery,
    limit: u32,
) -> QueryBuilder<DB>
where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    let mut sql = select(columns, "restart_events");
    if let Some(after) = &query.after {
        sql.push(" AND (started_ms < ")
            .push_bind(after.requested_ms)
            .push(" OR (started_ms = ")
            .push_bind(after.requested_ms)
            .push(" AND restart_id < ")
            .push_bind(after.id.to_string())
            .push("))");
    }
    if !query.outcomes.is_empty() {
        sql.push(" AND (1 = 0");
        for outcome in &query.outcomes {
            match outcome {
                None => sql.push(" OR outcome IS NULL"),
                Some(outcome) => sql.push(" OR outcome = ").push_bind(outcome.as_str().to_owned()),
            };
        }
        sql.push(")");
    }
    sql.push(" ORDER BY started_ms DESC, restart_id DESC LIMIT ").push_bind(i64::from(limit) + 1);
    sql
}
