//! What a backend tells the shared SQL: the [`Dialect`] (its storage encodings, its write lock, its
//! cursor, its text search), and the plain sqlx capabilities every driver has, stated once as [`Driver`].

use std::future::Future;

use mla_domain::request::RequestContent;
use mla_domain::{Request, RequestId, Timestamp};
use mla_store::{RequestQuery, StoreResult};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, QueryBuilder, Row, Type};

/// A backend's row type.
pub type DbRow<D> = <<D as Dialect>::Db as Database>::Row;

/// A backend's connection type (what a transaction dereferences to).
pub type DbConnection<D> = <<D as Dialect>::Db as Database>::Connection;

/// What only a backend knows. Everything else about the tables is written once, in this crate.
pub trait Dialect: Send + Sync + Sized + 'static {
    type Db: Driver;

    /// The database system as OpenTelemetry names it (`db.system.name` of the store's spans).
    const SYSTEM: &'static str;

    /// The statement that starts a write: SQLite takes its write lock at once with `BEGIN IMMEDIATE`.
    const BEGIN_WRITE: &'static str;

    /// What follows a boolean column in a `WHERE` to test it, written as the partial indexes are
    /// (`visible_to_ncijc` in PostgreSQL, `visible_to_ncijc = 1` in SQLite), so the planner matches them.
    const IS_TRUE: &'static str;

    /// The due order of requests (the earliest due date first, the undated last, ties by id), as the
    /// index `requests_state_due` (migration 0010) holds it, so that a page reads off the index.
    const DUE_ORDER: &'static str;

    /// The `id` member of an idempotency record's `response` (the request it answered with), as text.
    const RESPONSE_ID: &'static str;

    /// Settings (a statement run first in the read's transaction) for a report's reads, which scan a
    /// period's requests side by side; none where the backend has nothing to tune.
    const REPORT_SETTINGS: Option<&'static str> = None;

    /// Binds an instant (or NULL) in the backend's storage form.
    fn push_time(sql: &mut QueryBuilder<Self::Db>, time: Option<Timestamp>);
    fn push_id(sql: &mut QueryBuilder<Self::Db>, id: RequestId);
    /// Binds JSON, serialized once by the caller, as the backend stores it (JSONB or text).
    fn push_json(sql: &mut QueryBuilder<Self::Db>, json: &RawValue);
    fn push_text_list(sql: &mut QueryBuilder<Self::Db>, list: &[String]);

    fn read_time(row: &DbRow<Self>, column: &str) -> StoreResult<Option<Timestamp>>;
    fn read_id(row: &DbRow<Self>, column: &str) -> StoreResult<RequestId>;
    fn read_json<T: DeserializeOwned>(row: &DbRow<Self>, column: &str) -> StoreResult<Option<T>>;
    fn read_text_list(row: &DbRow<Self>, column: &str) -> StoreResult<Vec<String>>;

    fn rows_affected(result: &<Self::Db as Database>::QueryResult) -> u64;

    /// Whether a database error code means the database will not serve now (worth a retry).
    fn is_unavailable_code(code: &str) -> bool;

    /// Whether an error code says the database's disk is full.
    fn is_full_code(code: &str) -> bool;

    /// The columns the backend keeps beside a request to serve the text query, with their values.
    fn search_columns(content: &RequestContent) -> Vec<(&'static str, Value<'_>)>;

    /// Appends the text query's term: a case-insensitive, literal substring of the title, the
    /// registry reference or the partner's reference.
    fn push_text_match(sql: &mut QueryBuilder<Self::Db>, text: &str);

    /// Takes the cursor of the event about to be appended.
    fn next_cursor(conn: &mut DbConnection<Self>) -> impl Future<Output = StoreResult<i64>> + Send;

    /// Announces an appended event to other processes when the write commits (or does nothing).
    fn announce(conn: &mut DbConnection<Self>, cursor: i64) -> impl Future<Output = StoreResult<()>> + Send;

    /// Appends to the feed's `WHERE` what keeps it in cursor order where cursors may commit out of
    /// order: only the cursors that are final (no smaller one can commit later). Nothing where cursors
    /// commit in order (SQLite's single writer).
    fn push_settled(_sql: &mut QueryBuilder<Self::Db>) {}

    /// The largest cursor in `(after_cursor, through]` that has committed but is not final yet (a
    /// write still in flight may commit a smaller one), which the feed waits for; `None` where every
    /// committed event is final.
    fn unsettled(
        _reader: &Pool<Self::Db>,
        _after_cursor: i64,
        _through: i64,
    ) -> impl Future<Output = StoreResult<Option<i64>>> + Send {
        std::future::ready(Ok(None))
    }

    /// Days, with their fraction, from the instant in column `from` to the one in `to` (NULL when
    /// either is), as a floating-point expression.
    fn days_between(from: &str, to: &str) -> String;

    /// A table to join each request to the elements of its JSON array `array`, named `alias`, with
    /// each element's text in its column `value` (a string's text, an object's JSON).
    fn json_elements(array: &str, alias: &str) -> String;

    /// The text of member `key` of `json`, an expression that is a JSON object's text.
    fn json_member(json: &str, key: &str) -> String;

    /// As [`json_elements`](Dialect::json_elements), for the JSON array that is member `key` of
    /// `json` (an expression that is a JSON object's text); no rows when there is no such member.
    fn json_member_elements(json: &str, key: &str, alias: &str) -> String;

    /// Appends a query of one row that gives, for each of `stages` (columns of the query that
    /// `durations` appends, NULL where a request did not reach it), how many are not NULL
    /// (`{stage}_requests`), their median (`{stage}_median`) and 90th percentile (`{stage}_p90`),
    /// each interpolated between the two nearest values as `percentile_cont` does, NULL when none,
    /// and the counts their distribution is made from
    /// ([`distribution_columns`](crate::statistics::distribution_columns)).
    fn push_percentiles(
        sql: &mut QueryBuilder<Self::Db>,
        stages: &[&str],
        durations: impl FnOnce(&mut QueryBuilder<Self::Db>),
    );

    /// One page of requests; a backend with a better plan for some filter overrides it.
    fn list_requests(
        reader: &Pool<Self::Db>,
        query: &RequestQuery,
    ) -> impl Future<Output = StoreResult<Vec<Request>>> + Send {
        crate::requests::list_page::<Self>(reader, query)
    }
}

/// A value handed to the backend to bind: the plain ones every driver binds alike, and the ones each
/// backend stores in a form of its own.
#[derive(Debug)]
pub enum Value<'a> {
    Text(&'a str),
    OwnedText(String),
    OptText(Option<&'a str>),
    Int(i64),
    Int32(i32),
    Flag(bool),
    Time(Option<Timestamp>),
    Id(RequestId),
    /// Any other identifier (documents', messages'): a UUID.
    Uuid(Option<uuid::Uuid>),
    Json(Box<RawValue>),
    TextList(&'a [String]),
}

impl Value<'_> {
    /// Binds the value through the dialect `D`.
    pub fn push<D: Dialect>(self, sql: &mut QueryBuilder<D::Db>) {
        match self {
            Value::Text(text) => D::Db::bind_text(sql, Some(text)),
            Value::OwnedText(text) => D::Db::bind_text(sql, Some(&text)),
            Value::OptText(text) => D::Db::bind_text(sql, text),
            Value::Int(n) => D::Db::bind_int(sql, n),
            Value::Int32(n) => D::Db::bind_int32(sql, n),
            Value::Flag(flag) => D::Db::bind_flag(sql, flag),
            Value::Time(time) => D::push_time(sql, time),
            Value::Id(id) => D::push_id(sql, id),
            // Every id is a UUID, stored alike; an absent one is a plain NULL, which needs no type.
            Value::Uuid(Some(id)) => D::push_id(sql, RequestId::from_uuid(id)),
            Value::Uuid(None) => {
                sql.push("NULL");
            }
            Value::Json(json) => D::push_json(sql, &json),
            Value::TextList(list) => D::push_text_list(sql, list),
        }
    }
}

/// The plain capabilities of a sqlx driver that the shared SQL uses: binding and reading text,
/// integers and booleans, and running a built query on a connection. Every sqlx driver has them (the
/// impl below); the trait exists so that the driver bounds are written here once, not on every function.
pub trait Driver: Database {
    fn bind_text(sql: &mut QueryBuilder<Self>, text: Option<&str>);
    fn bind_int(sql: &mut QueryBuilder<Self>, n: i64);
    fn bind_int32(sql: &mut QueryBuilder<Self>, n: i32);
    fn bind_flag(sql: &mut QueryBuilder<Self>, flag: bool);

    fn text(row: &Self::Row, column: &str) -> Result<Option<String>, sqlx::Error>;
    fn int(row: &Self::Row, column: &str) -> Result<i64, sqlx::Error>;
    fn int32(row: &Self::Row, column: &str) -> Result<i32, sqlx::Error>;
    fn flag(row: &Self::Row, column: &str) -> Result<bool, sqlx::Error>;
    fn float(row: &Self::Row, column: &str) -> Result<Option<f64>, sqlx::Error>;

    fn execute(
        conn: &mut Self::Connection,
        sql: QueryBuilder<Self>,
    ) -> impl Future<Output = Result<Self::QueryResult, sqlx::Error>> + Send;
    fn fetch_all(
        conn: &mut Self::Connection,
        sql: QueryBuilder<Self>,
    ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send;
    fn fetch_optional(
        conn: &mut Self::Connection,
        sql: QueryBuilder<Self>,
    ) -> impl Future<Output = Result<Option<Self::Row>, sqlx::Error>> + Send;
}

impl<DB> Driver for DB
where
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'t> Option<&'t str>: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> i32: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'r> Option<String>: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB>,
    for<'r> i32: Decode<'r, DB>,
    for<'r> bool: Decode<'r, DB>,
    for<'r> Option<f64>: Decode<'r, DB> + Type<DB>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
{
    fn bind_text(sql: &mut QueryBuilder<Self>, text: Option<&str>) {
        sql.push_bind(text);
    }

    fn bind_int(sql: &mut QueryBuilder<Self>, n: i64) {
        sql.push_bind(n);
    }

    fn bind_int32(sql: &mut QueryBuilder<Self>, n: i32) {
        sql.push_bind(n);
    }

    fn bind_flag(sql: &mut QueryBuilder<Self>, flag: bool) {
        sql.push_bind(flag);
    }

    fn text(row: &Self::Row, column: &str) -> Result<Option<String>, sqlx::Error> {
        row.try_get(column)
    }

    fn int(row: &Self::Row, column: &str) -> Result<i64, sqlx::Error> {
        row.try_get(column)
    }

    fn int32(row: &Self::Row, column: &str) -> Result<i32, sqlx::Error> {
        row.try_get(column)
    }

    fn flag(row: &Self::Row, column: &str) -> Result<bool, sqlx::Error> {
        row.try_get(column)
    }

    fn float(row: &Self::Row, column: &str) -> Result<Option<f64>, sqlx::Error> {
        row.try_get(column)
    }

    async fn execute(
        conn: &mut Self::Connection,
        mut sql: QueryBuilder<Self>,
    ) -> Result<Self::QueryResult, sqlx::Error> {
        sql.build().execute(conn).await
    }

    async fn fetch_all(
        conn: &mut Self::Connection,
        mut sql: QueryBuilder<Self>,
    ) -> Result<Vec<Self::Row>, sqlx::Error> {
        sql.build().fetch_all(conn).await
    }

    async fn fetch_optional(
        conn: &mut Self::Connection,
        mut sql: QueryBuilder<Self>,
    ) -> Result<Option<Self::Row>, sqlx::Error> {
        sql.build().fetch_optional(conn).await
    }
}
