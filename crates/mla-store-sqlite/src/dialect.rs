//! How SQLite stores what the shared SQL writes: times as INTEGER microseconds since the Unix epoch
//! (UTC), request ids as hyphenated lower-case UUID text (whose byte order is UUIDv7 time order), JSON
//! as text; writes take the lock with `BEGIN IMMEDIATE`; cursors are the largest plus one; and the
//! text query reads columns the store folds itself, since SQLite's `lower()` knows ASCII only, through
//! a trigram index where it narrows the search.

use mla_domain::request::{Request, RequestContent};
use mla_domain::{RequestId, Timestamp};
use mla_store::{Order, RequestQuery, StoreResult};
use mla_store_sql::dialect::{DbConnection, DbRow};
use mla_store_sql::errors::{corrupt, db_error};
use mla_store_sql::requests::{list_page, list_page_where, requests_where};
use mla_store_sql::statistics::distribution_columns;
use mla_store_sql::{Dialect, Value};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use sqlx::sqlite::{SqlitePool, SqliteQueryResult};
use sqlx::{QueryBuilder, Row, Sqlite};

/// The SQLite dialect of the shared SQL.
#[derive(Debug)]
pub struct SqliteDialect;

impl Dialect for SqliteDialect {
    type Db = Sqlite;

    // The write connection takes SQLite's write lock with its first statement, so it never has to
    // upgrade a read lock (the upgrade is what fails with `database is locked` whatever the timeout).
    const SYSTEM: &'static str = "sqlite";
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const IS_TRUE: &'static str = " = 1";
    // SQLite sorts NULLs first: the undated go last by an expression the index holds too.
    const DUE_ORDER: &'static str = "due_at IS NULL, due_at, id";
    const RESPONSE_ID: &'static str = "json_extract(response, '$.id')";

    fn push_time(sql: &mut QueryBuilder<Sqlite>, time: Option<Timestamp>) {
        sql.push_bind(time.map(|time| time.timestamp_micros()));
    }

    fn push_id(sql: &mut QueryBuilder<Sqlite>, id: RequestId) {
        sql.push_bind(id.to_string());
    }

    fn push_json(sql: &mut QueryBuilder<Sqlite>, json: &RawValue) {
        sql.push_bind(json.get().to_owned());
    }

    fn push_text_list(sql: &mut QueryBuilder<Sqlite>, list: &[String]) {
        sql.push_bind(serde_json::Value::from(list.to_vec()).to_string());
    }

    fn read_time(row: &DbRow<Self>, column: &str) -> StoreResult<Option<Timestamp>> {
        let micros: Option<i64> = row.try_get(column).map_err(db_error::<Self>)?;
        micros
            .map(|micros| Timestamp::from_timestamp_micros(micros).ok_or_else(|| corrupt("time", micros)))
            .transpose()
    }

    fn read_id(row: &DbRow<Self>, column: &str) -> StoreResult<RequestId> {
        let id: String = row.try_get(column).map_err(db_error::<Self>)?;
        RequestId::parse(&id).map_err(|e| corrupt("request id", e))
    }

    fn read_json<T: DeserializeOwned>(row: &DbRow<Self>, column: &str) -> StoreResult<Option<T>> {
        let text: Option<String> = row.try_get(column).map_err(db_error::<Self>)?;
        text.map(|text| serde_json::from_str(&text).map_err(|e| corrupt("JSON", e))).transpose()
    }

    fn read_text_list(row: &DbRow<Self>, column: &str) -> StoreResult<Vec<String>> {
        Self::read_json(row, column)?.ok_or_else(|| corrupt("list", format!("{column} is NULL")))
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    /// SQLITE_BUSY and SQLITE_LOCKED with their extended codes (the low byte is the primary code):
    /// another process held the lock for longer than the busy timeout.
    fn is_unavailable_code(code: &str) -> bool {
        code.parse::<i32>().is_ok_and(|code| matches!(code & 0xff, 5 | 6))
    }

    /// `SQLITE_FULL`, with its extended codes.
    fn is_full_code(code: &str) -> bool {
        code.parse::<i32>().is_ok_and(|code| code & 0xff == 13)
    }

    fn search_columns(content: &RequestContent) -> Vec<(&'static str, Value<'_>)> {
        vec![
            ("title_folded", Value::OwnedText(fold(content.title.as_str()))),
            ("partner_reference_folded", Value::OwnedText(fold(content.partner_reference.as_str()))),
        ]
    }

    /// The exact comparison; [`list_requests`](Dialect::list_requests) adds the index's candidates
    /// where they are few.
    fn push_text_match(sql: &mut QueryBuilder<Sqlite>, text: &str) {
        // instr() matches the text literally (no wildcard to escape); the stored columns and the
        // needle are in the same search form, the registry reference is ASCII.
        let needle = fold(text);
        sql.push("(instr(title_folded, ")
            .push_bind(needle.clone())
            .push(") > 0 OR instr(lower(reference), ")
            .push_bind(needle.clone())
            .push(") > 0 OR instr(partner_reference_folded, ")
            .push_bind(needle)
            .push(") > 0)");
    }

    fn days_between(from: &str, to: &str) -> String {
        format!("({to} - {from}) / 86400000000.0")
    }

    fn json_elements(array: &str, alias: &str) -> String {
        format!("json_each({array}) AS {alias}")
    }

    fn json_member(json: &str, key: &str) -> String {
        format!("json_extract({json}, '$.{key}')")
    }

    fn json_member_elements(json: &str, key: &str, alias: &str) -> String {
        format!("json_each({json}, '$.{key}') AS {alias}")
    }

    /// SQLite has no `percentile_cont`: each stage's durations are ranked by a window function and
    /// the two values around the percentile's position are picked and interpolated.
    fn push_percentiles(
        sql: &mut QueryBuilder<Sqlite>,
        stages: &[&str],
        durations: impl FnOnce(&mut QueryBuilder<Sqlite>),
    ) {
        sql.push("WITH durations AS (");
        durations(sql);
        let ranked: Vec<String> = stages
            .iter()
            .map(|s| {
                format!(
                    "(SELECT COUNT(*) AS {s}_requests, {} AS {s}_median, {} AS {s}_p90, {} FROM (\
                       SELECT {s} AS days, ROW_NUMBER() OVER (ORDER BY {s}) - 1 AS i, COUNT(*) OVER () AS n \
                       FROM durations WHERE {s} IS NOT NULL)) AS {s}",
                    percentile(0.5),
                    percentile(0.9),
                    distribution_columns("days", s)
                )
            })
            .collect();
        sql.push(format!(") SELECT * FROM {}", ranked.join(", ")));
    }

    async fn list_requests(reader: &SqlitePool, query: &RequestQuery) -> StoreResult<Vec<Request>> {
        match (&query.text, query.order) {
            (Some(text), Order::Newest) => list_text_matches(reader, query, text).await,
            _ => list_page::<Self>(reader, query).await,
        }
    }

    /// Writes are serialized (one write connection, `BEGIN IMMEDIATE`), so the largest cursor plus one
    /// is given in commit order.
    async fn next_cursor(conn: &mut DbConnection<Self>) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COALESCE(MAX(cursor), 0) + 1 FROM events")
            .fetch_one(conn)
            .await
            .map_err(db_error::<Self>)
    }

    /// The event signal is this process's alone: nothing to announce to anyone else.
    async fn announce(_conn: &mut DbConnection<Self>, _cursor: i64) -> StoreResult<()> {
        Ok(())
    }
}

/// Matching rows the trigram index may hand over for a page: more, and reading the register newest
/// first finds a page of them sooner than fetching and sorting them all. Fetching a candidate costs
/// about what reading one row of the scan does, and a page of 50 among `n` evenly spread matches of
/// `N` rows takes `50 N / n` rows of scan: the two meet near `sqrt(50 N)`, 7,000 for a million.
const FEW_CANDIDATES: i64 = 5_000;

/// A page of requests matching the text query. Where the trigram index (migration 0005) holds few
/// candidates, only those are read and compared; where it holds many, the register is read newest
/// first and compared row by row, which meets a page of matches early. Both compare exactly (the
/// index also matches across case and spelling folds of its own), so they give the same page.
async fn list_text_matches(
    reader: &SqlitePool,
    query: &RequestQuery,
    text: &str,
) -> StoreResult<Vec<Request>> {
    let needle = fold(text);
    // Fewer than three characters make no trigram: nothing for the index to narrow.
    if needle.chars().count() < 3 {
        return list_page::<SqliteDialect>(reader, query).await;
    }
    let phrase = fts_phrase(&needle);
    let candidates: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT rowid FROM request_search WHERE request_search MATCH ? LIMIT ?)",
    )
    .bind(&phrase)
    .bind(FEW_CANDIDATES + 1)
    .fetch_one(reader)
    .await
    .map_err(db_error::<SqliteDialect>)?;
    if candidates > FEW_CANDIDATES {
        return list_page::<SqliteDialect>(reader, query).await;
    }
    let mut sql = requests_where::<SqliteDialect>(query);
    sql.push(" AND rowid IN (SELECT rowid FROM request_search WHERE request_search MATCH ")
        .push_bind(phrase)
        .push(")");
    list_page_where::<SqliteDialect>(reader, sql, query).await
}

/// The needle as one FTS5 phrase: quoted, its own quotes doubled, so that no character of it is
/// query syntax. With the trigram tokenizer a phrase matches where the text contains it.
fn fts_phrase(needle: &str) -> String {
    format!("\"{}\"", needle.replace('"', "\"\""))
}

/// Text as the search columns hold it: the domain's search form (Arabic spellings unified, lower
/// case with Unicode rules).
pub use mla_domain::search::fold;

/// The percentile `p` of the `days` ranked `i` (from 0) of `n`, as `percentile_cont` computes it: at
/// the position p × (n − 1), interpolated between the values ranked below and above it.
fn percentile(p: f64) -> String {
    let position = format!("{p} * (n - 1)");
    let below = format!("CAST({position} AS INTEGER)");
    format!(
        "SUM(CASE WHEN i = {below} THEN days * (1 - ({position} - {below})) \
         WHEN i = {below} + 1 THEN days * ({position} - {below}) END)"
    )
}
