//! How PostgreSQL stores what the shared SQL writes: times as `timestamptz` (microseconds), ids as
//! `uuid`, JSON as `jsonb`, actor roles as `text[]`; cursors come from a sequence under an advisory
//! lock held to commit, each event is announced with `NOTIFY`; the text query is `ILIKE` on columns with
//! trigram indexes; and overdue lists have a plan of their own.

use mla_domain::request::RequestContent;
use mla_domain::{Request, RequestId, Timestamp};
use mla_store::{RequestQuery, StoreResult};
use mla_store_sql::dialect::{DbConnection, DbRow};
use mla_store_sql::errors::db_error;
use mla_store_sql::requests::{RUNNING, list_page, requests_where};
use mla_store_sql::rows::request_from_row;
use mla_store_sql::{Dialect, Value};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use sqlx::postgres::{PgPool, PgQueryResult};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::EVENTS_CHANNEL;

/// The advisory lock that serializes event appends from their cursor to their commit ("mla_evts").
const EVENT_APPEND_LOCK: i64 = 0x6d6c_615f_6576_7473;

/// The PostgreSQL dialect of the shared SQL.
#[derive(Debug)]
pub struct PgDialect;

impl Dialect for PgDialect {
    type Db = Postgres;

    const BEGIN_WRITE: &'static str = "BEGIN";
    const IS_TRUE: &'static str = "";

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

    fn search_columns(content: &RequestContent) -> Vec<(&'static str, Value<'_>)> {
        vec![("partner_reference", Value::Text(content.partner_reference.as_str()))]
    }

    fn push_text_match(sql: &mut QueryBuilder<Postgres>, text: &str) {
        let pattern = contains_pattern(text);
        sql.push("(title ILIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR reference ILIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR partner_reference ILIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }

    /// From the advisory lock on, every event append in the database waits for this transaction to
    /// end, which is what makes cursor order commit order across replicas.
    async fn next_cursor(conn: &mut DbConnection<Self>) -> StoreResult<i64> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(EVENT_APPEND_LOCK)
            .execute(&mut *conn)
            .await
            .map_err(db_error::<Self>)?;
        sqlx::query_scalar("SELECT nextval('events_cursor')").fetch_one(conn).await.map_err(db_error::<Self>)
    }

    /// Delivered to every listener when (and only if) the write commits.
    async fn announce(conn: &mut DbConnection<Self>, cursor: i64) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(EVENTS_CHANNEL)
            .bind(cursor.to_string())
            .execute(conn)
            .await
            .map_err(db_error::<Self>)?;
        Ok(())
    }

    async fn list_requests(reader: &PgPool, query: &RequestQuery) -> StoreResult<Vec<Request>> {
        match query.overdue_at {
            Some(overdue_at) => list_overdue(reader, query, overdue_at).await,
            None => list_page::<Self>(reader, query).await,
        }
    }
}

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
