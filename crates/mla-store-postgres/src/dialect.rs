//! How PostgreSQL stores what the shared SQL writes: times as `timestamptz` (microseconds), ids as
//! `uuid`, JSON as `jsonb`, actor roles as `text[]`; an event's cursor is its writer's transaction id,
//! and the feed reads only the cursors below the oldest transaction still running (see
//! [`PgDialect::push_settled`]); each event is announced with `NOTIFY`; the text query is `ILIKE` on
//! columns with trigram indexes; and overdue lists have a plan of their own.

use mla_domain::request::RequestContent;
use mla_domain::{Request, RequestId, Timestamp};
use mla_store::{Order, RequestQuery, StoreResult};
use mla_store_sql::dialect::{DbConnection, DbRow};
use mla_store_sql::errors::db_error;
use mla_store_sql::requests::{RUNNING, list_page, requests_where};
use mla_store_sql::rows::request_from_row;
use mla_store_sql::statistics::distribution_columns;
use mla_store_sql::{Dialect, Value};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use sqlx::postgres::{PgPool, PgQueryResult};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::EVENTS_CHANNEL;

/// The PostgreSQL dialect of the shared SQL.
#[derive(Debug)]
pub struct PgDialect;

impl Dialect for PgDialect {
    type Db = Postgres;

    const SYSTEM: &'static str = "postgresql";
    const BEGIN_WRITE: &'static str = "BEGIN";
    const IS_TRUE: &'static str = "";
    // PostgreSQL's ascending indexes put NULLs last already.
    const DUE_ORDER: &'static str = "due_at ASC NULLS LAST, id ASC";
    const RESPONSE_ID: &'static str = "response ->> 'id'";
    // A report's reads run side by side, each scanning the period once: no parallel workers on top of
    // them, no JIT compilation (it costs more than it saves on these), and room to sort the durations
    // in memory (each percentile sorts the period's values; 4 MB would spill them to disk).
    const REPORT_SETTINGS: Option<&'static str> = Some(
        "SELECT set_config('max_parallel_workers_per_gather', '0', true), set_config('jit', 'off', true), \
         set_config('work_mem', '64MB', true)",
    );

    fn push_time(sql: &mut QueryBuilder<Postgres>, time: Option<Timestamp>) {
        sql.push_bind(time);
    }

    fn push_id(sql: &mut QueryBuilder<Postgres>, id: RequestId) {
        sql.push_bind(id.as_uuid());
    }

    fn push_json(sql: &mut QueryBuilder<Postgres>, json: &RawValue) {
        sql.push_bind(Json(json));
    }

    fn push_text_list(sql: &mut QueryBuilder<Postgres>, list: &[String]) {
        sql.push_bind(list);
    }

    fn read_time(row: &DbRow<Self>, column: &str) -> StoreResult<Option<Timestamp>> {
        row.try_get(column).map_err(db_error::<Self>)
    }

    fn read_id(row: &DbRow<Self>, column: &str) -> StoreResult<RequestId> {
        let id: Uuid = row.try_get(column).map_err(db_error::<Self>)?;
        Ok(RequestId::from_uuid(id))
    }

    fn read_json<T: DeserializeOwned>(row: &DbRow<Self>, column: &str) -> StoreResult<Option<T>> {
        let json: Option<Json<T>> = row.try_get(column).map_err(db_error::<Self>)?;
        Ok(json.map(|Json(value)| value))
    }

    fn read_text_list(row: &DbRow<Self>, column: &str) -> StoreResult<Vec<String>> {
        row.try_get(column).map_err(db_error::<Self>)
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    /// Class 08: connection exceptions; 57P01-03: shutting down or starting up; 53300: too many
    /// connections.
    fn is_unavailable_code(code: &str) -> bool {
        code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
    }

    /// `disk_full`.
    fn is_full_code(code: &str) -> bool {
        code == "53100"
    }

    fn search_columns(content: &RequestContent) -> Vec<(&'static str, Value<'_>)> {
        vec![("partner_reference", Value::Text(content.partner_reference.as_str()))]
    }

    /// The title and the partner's reference are matched in their search form (migration 0004's
    /// `mla_search_form`, the same mapping as `unify_arabic`), case-insensitively, through trigram
    /// indexes; the registry reference is ASCII.
    fn push_text_match(sql: &mut QueryBuilder<Postgres>, text: &str) {
        let pattern = contains_pattern(&mla_domain::search::unify_arabic(text));
        sql.push("(title_search ILIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR reference ILIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR partner_reference_search ILIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }

    /// The cursor is this transaction's id (which it has already: the request's row is written first;
    /// and one event per transaction, so cursors are unique), offset by the base that puts it after the
    /// cursors the former sequence gave. No lock: cursors commit out of order, and the feed keeps them
    /// in order (`push_settled`). The announcement is queued in the same statement: `NOTIFY` is
    /// delivered only when (and if) the write commits.
    async fn next_cursor(conn: &mut DbConnection<Self>) -> StoreResult<i64> {
        sqlx::query_scalar(
            "SELECT cursor FROM (SELECT pg_current_xact_id()::text::bigint + event_cursor_base()) AS own (cursor), \
             pg_notify($1, cursor::text)",
        )
        .bind(EVENTS_CHANNEL)
        .fetch_one(conn)
        .await
        .map_err(db_error::<Self>)
    }

    /// Announced already, with the cursor.
    async fn announce(_conn: &mut DbConnection<Self>, _cursor: i64) -> StoreResult<()> {
        Ok(())
    }

    /// Only the cursors below the reader's horizon: the `xmin` of its snapshot, the oldest transaction
    /// still running (or, if none is, the next to start).
    ///
    /// Why the feed stays in cursor order. A cursor is its writer's transaction id. Every transaction
    /// with an id below `xmin` has ended: its event is in the snapshot, or never will be. Every
    /// transaction still running, or yet to start, has an id at or above `xmin` (a running one is either
    /// in the snapshot's list or above its `xmax`, and new ids are above that too). So the events below
    /// the horizon are final, and the horizon only rises (from one snapshot to the next, an id below the
    /// former `xmin` cannot be running again): a reader that has returned cursor n never finds a cursor
    /// below n committed later. A plain filter is enough because cursor order is transaction-id order.
    /// (Stamping a sequence's cursors with their writer's transaction id would not do: a write may take
    /// its id first and its cursor last, so an event with an old id may follow, in cursor order, one
    /// still uncommitted, which no reader can see and so cannot stop at.)
    ///
    /// The reader pool reads in autocommit, so the snapshot is the statement's and the reader has no
    /// transaction id of its own (a reader inside a transaction with an id would count itself in
    /// `xmin`, and see no event above its own id until it ended). The horizon is the cluster's: a write
    /// transaction running anywhere on the server, in any database, holds back the events of the
    /// transactions that took their ids after it, until it ends; the feed waits a bounded while for
    /// those (`unsettled`).
    fn push_settled(sql: &mut QueryBuilder<Postgres>) {
        sql.push(format!(" AND cursor < {HORIZON}"));
    }

    async fn unsettled(reader: &PgPool, after_cursor: i64, through: i64) -> StoreResult<Option<i64>> {
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT max(cursor) FROM events WHERE cursor >= {HORIZON} AND cursor > $1 AND cursor <= $2"
        )))
        .bind(after_cursor)
        .bind(through)
        .fetch_one(reader)
        .await
        .map_err(db_error::<Self>)
    }

    fn days_between(from: &str, to: &str) -> String {
        // `date_part` answers double precision (`extract`, numeric).
        format!("date_part('epoch', {to} - {from}) / 86400")
    }

    fn json_elements(array: &str, alias: &str) -> String {
        format!("jsonb_array_elements_text({array}) AS {alias}(value)")
    }

    fn json_member(json: &str, key: &str) -> String {
        format!("({json}::jsonb ->> '{key}')")
    }

    fn json_member_elements(json: &str, key: &str, alias: &str) -> String {
        format!("jsonb_array_elements_text({json}::jsonb -> '{key}') AS {alias}(value)")
    }

    /// `percentile_cont` and the distribution's counts, in one pass over the durations.
    fn push_percentiles(
        sql: &mut QueryBuilder<Postgres>,
        stages: &[&str],
        durations: impl FnOnce(&mut QueryBuilder<Postgres>),
    ) {
        let columns: Vec<String> = stages
            .iter()
            .map(|s| {
                format!(
                    "COUNT({s}) AS {s}_requests, \
                     percentile_cont(0.5) WITHIN GROUP (ORDER BY {s}) AS {s}_median, \
                     percentile_cont(0.9) WITHIN GROUP (ORDER BY {s}) AS {s}_p90, {}",
                    distribution_columns(s, s)
                )
            })
            .collect();
        sql.push(format!("SELECT {} FROM (", columns.join(", ")));
        durations(sql);
        // OFFSET 0 keeps the derived table from being flattened into the aggregate, which would
        // compute each day count again for every aggregate that reads it (the distribution's counts
        // made the query three times slower so).
        sql.push(" OFFSET 0) AS durations");
    }

    async fn list_requests(reader: &PgPool, query: &RequestQuery) -> StoreResult<Vec<Request>> {
        match (query.overdue_at, query.order) {
            (Some(overdue_at), Order::Newest) => list_overdue(reader, query, overdue_at).await,
            _ => list_page::<Self>(reader, query).await,
        }
    }
}

/// The feed's horizon as a cursor: the `xmin` of the statement's snapshot (see `push_settled`).
const HORIZON: &str = "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint + event_cursor_base())";

/// Overdue requests are the old ones, so the planner's guess for `ORDER BY id DESC LIMIT n` (that they
/// are spread evenly) sends it down the primary key through every newer request. Instead: page through
/// the overdue ids newest first, index-only on `requests_running`, in growing chunks, and fetch the rows
/// that pass every filter from each chunk.
async fn list_overdue(
    reader: &PgPool,
    query: &RequestQuery,
    overdue_at: Timestamp,
) -> StoreResult<Vec<Request>> {
    let limit = query.limit as usize;
    let mut found: Vec<Request> = Vec::with_capacity(limit);
    let mut below = query.after.map(|id| id.as_uuid());
    let mut chunk = i64::from(query.limit).max(50) * 4;
    loop {
        let candidates: Vec<Uuid> = match below {
            None => sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT id FROM requests WHERE {RUNNING} AND due_at < $1 ORDER BY id DESC LIMIT $2"
            )))
            .bind(overdue_at)
            .bind(chunk),
            Some(below) => sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT id FROM requests WHERE {RUNNING} AND due_at < $1 AND id < $2 ORDER BY id DESC LIMIT $3"
            )))
            .bind(overdue_at)
            .bind(below)
            .bind(chunk),
        }
        .fetch_all(reader)
        .await
        .map_err(db_error::<PgDialect>)?;
        let Some(&last) = candidates.last() else { break };
        let exhausted = (candidates.len() as i64) < chunk;
        // Every filter again, overdue included: a request may have changed since its id was read.
        let mut sql = requests_where::<PgDialect>(query);
        sql.push(" AND id = ANY(").push_bind(candidates).push(")");
        sql.push(" ORDER BY id DESC LIMIT ").push_bind((limit - found.len()) as i64);
        let rows = sql.build().fetch_all(reader).await.map_err(db_error::<PgDialect>)?;
        for row in &rows {
            found.push(request_from_row::<PgDialect>(row)?);
        }
        if found.len() >= limit || exhausted {
            break;
        }
        below = Some(last);
        chunk = (chunk * 4).min(100_000);
    }
    Ok(found)
}

/// A `LIKE` pattern matching `text` literally anywhere (with `ESCAPE '\'`).
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_query_matches_wildcards_literally() {
        assert_eq!(contains_pattern("fraud"), "%fraud%");
        assert_eq!(contains_pattern(r"100%_\x"), r"%100\%\_\\x%");
        assert_eq!(contains_pattern(""), "%%");
    }
}
