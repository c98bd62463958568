//! The PostgreSQL backend of the mla-broker store: one database shared by every replica of the service.
//!
//! Concurrency is the database's: a change updates its row only `WHERE version = expected`; a
//! registration takes its (direction, year) counter row with an upsert and holds it until commit; an
//! idempotent write claims its key first, so a racing retry waits on the key's unique index and then
//! replays. Event cursors are taken from a sequence under a transaction-scoped advisory lock held to
//! commit, so that cursor order is commit order across replicas: a feed reader that has seen cursor n
//! never later finds a smaller cursor committed late. Each event is announced with `NOTIFY` on commit,
//! and a listener task turns the announcements (from any replica) into this store's event signal.
//!
//! Storage forms: times are `timestamptz` (microseconds); ids are `uuid`; content, conditions and
//! legal bases are `jsonb`; event details are `text`, exactly as hashed.

#[cfg(feature = "testing")]
pub mod testing;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Datelike;
use mla_domain::audit::{Actor, Audience, Event, EventDraft};
use mla_domain::clock::Clock;
use mla_domain::request::Direction;
use mla_domain::{
    NewRequest, Partner, PartnerCode, PartnerKind, Reference, Request, RequestId, Scope, ShortText, State,
    Timestamp, Transition,
};
use mla_store::{EventReader, Idempotency, RequestQuery, Store, StoreError, StoreResult};
use serde::de::DeserializeOwned;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Connection, PgConnection, Postgres, QueryBuilder, Row, Transaction};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The schema, embedded so that the binary migrates without the source tree.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// The channel on which committed event cursors are announced to every replica.
pub const EVENTS_CHANNEL: &str = "mla_events";

/// The advisory lock that serializes event appends from their cursor to their commit ("mla_evts").
const EVENT_APPEND_LOCK: i64 = 0x6d6c_615f_6576_7473;

/// Connections per store: requests are short, and PostgreSQL's default limit is 100 for all replicas.
const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// A row that the store cannot turn back into a domain value: the database was changed behind the
/// store's back, or by a newer version of it.
#[derive(Debug, thiserror::Error)]
#[error("stored {what} is not valid: {detail}")]
struct CorruptRow {
    what: &'static str,
    detail: String,
}

fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(Box::new(CorruptRow { what, detail: detail.to_string() }))
}

/// Whether a driver error means the database cannot be reached or will not serve now (worth a retry).
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // Class 08: connection exceptions; 57P01-03: shutting down or starting up; 53300: too many
        // connections.
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// Maps a driver error to the store's terms.
fn db_error(error: sqlx::Error) -> StoreError {
    if is_unavailable(&error) {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Internal(Box::new(error))
    }
}

/// Like [`db_error`], but a unique violation means the thing already exists.
fn insert_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists,
        _ => db_error(error),
    }
}

/// The instant as PostgreSQL stores it: microseconds. Callers pass times truncated to microseconds;
/// anything finer is dropped here, as the audit hash drops it.
fn truncated(time: Timestamp) -> Timestamp {
    Timestamp::from_timestamp_micros(time.timestamp_micros()).unwrap_or(time)
}

/// The request as it reads back: its stored times at microsecond precision.
fn as_stored(mut request: Request) -> Request {
    request.create_time = truncated(request.create_time);
    request.update_time = truncated(request.update_time);
    request.submit_time = request.submit_time.map(truncated);
    request.received_time = request.received_time.map(truncated);
    request.clock.due_at = request.clock.due_at.map(truncated);
    request.clock.stopped_at = request.clock.stopped_at.map(truncated);
    request
}

fn to_json_value<T: serde::Serialize>(value: &T) -> StoreResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| StoreError::Internal(Box::new(e)))
}

/// The columns of `requests` that [`request_from_row`] reads, in a form `concat!` accepts.
macro_rules! request_columns {
    () => {
        "id, direction, year, number, partner_code, state, version, assignee, due_at, clock_stopped_at, \
         create_time, update_time, submit_time, received_time, content, conditions"
    };
}

macro_rules! event_columns {
    () => {
        "cursor, request_id, partner_code, seq, time, actor_subject, actor_roles, actor_partner_code, action, \
         from_state, to_state, details, visible_to_ncijc, visible_to_partner, prev_hash, hash"
    };
}

macro_rules! partner_columns {
    () => {
        "code, name, country, kind, legal_bases, active, version, create_time, update_time"
    };
}

fn request_from_row(row: &PgRow) -> StoreResult<Request> {
    let get_text = |name: &str| row.try_get::<String, _>(name).map_err(db_error);
    let id: Uuid = row.try_get("id").map_err(db_error)?;
    let direction = get_text("direction")?;
    let direction = Direction::parse(&direction).ok_or_else(|| corrupt("direction", &direction))?;
    let year: i32 = row.try_get("year").map_err(db_error)?;
    let number: i32 = row.try_get("number").map_err(db_error)?;
    let state = get_text("state")?;
    let partner_code = get_text("partner_code")?;
    let Json(content) = row.try_get("content").map_err(db_error)?;
    let Json(conditions) = row.try_get("conditions").map_err(db_error)?;
    Ok(Request {
        id: RequestId::from_uuid(id),
        reference: Reference {
            direction,
            year,
            number: u32::try_from(number).map_err(|e| corrupt("reference number", e))?,
        },
        direction,
        partner_code: PartnerCode::parse(&partner_code).map_err(|e| corrupt("partner code", e))?,
        state: State::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        version: row.try_get("version").map_err(db_error)?,
        content,
        conditions,
        assignee: ShortText::parse(get_text("assignee")?).map_err(|e| corrupt("assignee", e))?,
        clock: Clock {
            due_at: row.try_get("due_at").map_err(db_error)?,
            stopped_at: row.try_get("clock_stopped_at").map_err(db_error)?,
        },
        create_time: row.try_get("create_time").map_err(db_error)?,
        update_time: row.try_get("update_time").map_err(db_error)?,
        submit_time: row.try_get("submit_time").map_err(db_error)?,
        received_time: row.try_get("received_time").map_err(db_error)?,
    })
}

fn event_from_row(row: &PgRow) -> StoreResult<Event> {
    let get_text = |name: &str| row.try_get::<String, _>(name).map_err(db_error);
    let state = |raw: String| State::parse(&raw).ok_or_else(|| corrupt("event state", raw));
    let request_id: Uuid = row.try_get("request_id").map_err(db_error)?;
    let partner_code = get_text("partner_code")?;
    let from_state: Option<String> = row.try_get("from_state").map_err(db_error)?;
    Ok(Event {
        cursor: row.try_get("cursor").map_err(db_error)?,
        request_id: RequestId::from_uuid(request_id),
        partner_code: PartnerCode::parse(&partner_code).map_err(|e| corrupt("event partner code", e))?,
        seq: row.try_get("seq").map_err(db_error)?,
        time: row.try_get("time").map_err(db_error)?,
        actor: Actor {
            subject: get_text("actor_subject")?,
            roles: row.try_get("actor_roles").map_err(db_error)?,
            partner_code: row.try_get("actor_partner_code").map_err(db_error)?,
        },
        action: get_text("action")?,
        from_state: from_state.map(state).transpose()?,
        to_state: state(get_text("to_state")?)?,
        details: get_text("details")?,
        audience: Audience {
            ncijc: row.try_get("visible_to_ncijc").map_err(db_error)?,
            partner: row.try_get("visible_to_partner").map_err(db_error)?,
        },
        prev_hash: get_text("prev_hash")?,
        hash: get_text("hash")?,
    })
}

fn partner_from_row(row: &PgRow) -> StoreResult<Partner> {
    let get_text = |name: &str| row.try_get::<String, _>(name).map_err(db_error);
    let code = get_text("code")?;
    let kind = get_text("kind")?;
    let Json(legal_bases) = row.try_get("legal_bases").map_err(db_error)?;
    Ok(Partner {
        code: PartnerCode::parse(&code).map_err(|e| corrupt("partner code", e))?,
        name: ShortText::parse(get_text("name")?).map_err(|e| corrupt("partner name", e))?,
        country: get_text("country")?,
        kind: PartnerKind::parse(&kind).ok_or_else(|| corrupt("partner kind", &kind))?,
        legal_bases,
        active: row.try_get("active").map_err(db_error)?,
        version: row.try_get("version").map_err(db_error)?,
        create_time: row.try_get("create_time").map_err(db_error)?,
        update_time: row.try_get("update_time").map_err(db_error)?,
    })
}

/// Stops the listener task when the last clone of the store goes away.
#[derive(Debug)]
struct ListenerTask(JoinHandle<()>);

impl Drop for ListenerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The PostgreSQL store. Cloning shares the pool, the listener and the event signal.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// One connection, held by the listener task for `LISTEN`; closing it ends the task.
    listener_pool: PgPool,
    signal: Arc<watch::Sender<i64>>,
    _listener: Arc<ListenerTask>,
}

/// Applies the schema migrations to the database at `url`.
pub async fn migrate(url: &str) -> StoreResult<()> {
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Internal(Box::new(e)))?;
    PgConnection::connect_with(&options).await.map_err(db_error)?.close().await.map_err(db_error)?;
    let pool = PgPoolOptions::new().max_connections(1).connect_with(options).await.map_err(db_error)?;
    // The migrator takes an advisory lock of its own, so replicas that migrate at once take turns.
    let result = MIGRATOR.run(&pool).await;
    pool.close().await;
    result.map_err(|e| match e {
        sqlx::migrate::MigrateError::Execute(inner) => db_error(inner),
        other => StoreError::Internal(Box::new(other)),
    })
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://...`), brings its schema up to date and starts
    /// following the event announcements. Needs a Tokio runtime.
    pub async fn connect(url: &str) -> StoreResult<PostgresStore> {
        let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Internal(Box::new(e)))?;
        Self::connect_with(options, DEFAULT_MAX_CONNECTIONS).await
    }

    /// Like [`PostgresStore::connect`], with options built by the caller (tests pick a database by
    /// name this way) and a pool size.
    pub async fn connect_with(options: PgConnectOptions, max_connections: u32) -> StoreResult<PostgresStore> {
        let options = options.application_name("mla-broker");
        // One direct connection first: an unreachable server is reported at once, where the pool
        // would keep retrying until its acquire timeout.
        PgConnection::connect_with(&options).await.map_err(db_error)?.close().await.map_err(db_error)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(db_error)?;
        MIGRATOR.run(&pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(inner) => db_error(inner),
            other => StoreError::Internal(Box::new(other)),
        })?;
        let listener_pool = PgPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(options);
        let newest = newest_cursor(&pool).await?;
        let (signal, _) = watch::channel(newest);
        let signal = Arc::new(signal);
        // Subscribe before returning, so that no event committed after `connect` goes unannounced.
        let listener = subscribe(&listener_pool).await.map_err(db_error)?;
        let task =
            tokio::spawn(follow_announcements(listener, listener_pool.clone(), pool.clone(), signal.clone()));
        Ok(PostgresStore { pool, listener_pool, signal, _listener: Arc::new(ListenerTask(task)) })
    }

    /// Closes the pools (which also ends the listener task), waiting for connections in use.
    pub async fn close(&self) {
        self.listener_pool.close().await;
        self.pool.close().await;
    }

    /// The outcome recorded for a key that another call claimed first.
    async fn recorded<T: DeserializeOwned>(&self, idempotency: &Idempotency) -> StoreResult<T> {
        match self.replay(idempotency).await? {
            Some(outcome) => serde_json::from_value(outcome).map_err(|e| corrupt("idempotent outcome", e)),
            None => Err(corrupt("idempotency key", "claimed, but no outcome was recorded")),
        }
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db_error)
    }

    /// Commits a write that appended the event at `cursor`, then wakes this process's watchers at once
    /// (the announcement reaches the other replicas through `NOTIFY`).
    async fn commit(&self, tx: Transaction<'static, Postgres>, cursor: Option<i64>) -> StoreResult<()> {
        tx.commit().await.map_err(db_error)?;
        if let Some(cursor) = cursor {
            advance(&self.signal, cursor);
        }
        Ok(())
    }
}

async fn newest_cursor(pool: &PgPool) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(cursor), 0) FROM events").fetch_one(pool).await.map_err(db_error)
}

/// Moves the signal forward to `cursor` (never back), waking watchers only when it moved.
fn advance(signal: &watch::Sender<i64>, cursor: i64) {
    signal.send_if_modified(|newest| {
        let advanced = cursor > *newest;
        *newest = (*newest).max(cursor);
        advanced
    });
}

async fn subscribe(listener_pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(listener_pool).await?;
    listener.listen(EVENTS_CHANNEL).await?;
    Ok(listener)
}

/// Follows the announcements of committed events (from every replica) into the signal. Announcements
/// are lost while the connection is down, so after every reconnection the signal is bumped with the
/// table's newest cursor, and watchers re-read: the table is the truth, the signal only a wake-up.
async fn follow_announcements(
    mut listener: PgListener,
    listener_pool: PgPool,
    pool: PgPool,
    signal: Arc<watch::Sender<i64>>,
) {
    let mut failures: u32 = 0;
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                failures = 0;
                match notification.payload().parse::<i64>() {
                    Ok(cursor) => advance(&signal, cursor),
                    Err(_) => tracing::warn!(
                        payload = notification.payload(),
                        "ignoring a malformed event announcement"
                    ),
                }
            }
            // The connection was lost; the listener has reconnected and listens again (or will try on
            // the next call). Whatever was announced meanwhile is in the table.
            Ok(None) => {
                tracing::warn!("the event listener lost its connection; re-reading the newest cursor");
                bump(&pool, &signal).await;
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => {
                failures = failures.saturating_add(1);
                let pause = Duration::from_millis(200u64.saturating_mul(1 << failures.min(5)));
                tracing::warn!(%error, ?pause, "the event listener failed; reconnecting");
                tokio::time::sleep(pause).await;
                if listener_pool.is_closed() {
                    return;
                }
                match subscribe(&listener_pool).await {
                    Ok(fresh) => {
                        listener = fresh;
                        bump(&pool, &signal).await;
                    }
                    Err(sqlx::Error::PoolClosed) => return,
                    Err(error) => tracing::warn!(%error, "the event listener cannot reconnect yet"),
                }
            }
        }
    }
}

/// Wakes every watcher with the table's newest cursor, even if it did not move.
async fn bump(pool: &PgPool, signal: &watch::Sender<i64>) {
    match newest_cursor(pool).await {
        Ok(newest) => signal.send_modify(|current| *current = (*current).max(newest)),
        Err(error) => {
            tracing::warn!(%error, "cannot read the newest cursor; waking the watchers anyway");
            signal.send_modify(|_| {});
        }
    }
}

/// Claims an idempotency key as the first statement of a write. A concurrent claim of the same key
/// waits on the unique index until the first commits (then this finds it taken) or rolls back (then
/// this claims it). `false`: the caller rolls back and replays the recorded outcome.
async fn claim_key(conn: &mut PgConnection, idempotency: &Idempotency) -> StoreResult<bool> {
    let claimed = sqlx::query(
        "INSERT INTO idempotency (scope, key, fingerprint) VALUES ($1, $2, $3) ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(&idempotency.scope)
    .bind(&idempotency.key)
    .bind(&idempotency.fingerprint)
    .execute(conn)
    .await
    .map_err(db_error)?
    .rows_affected();
    Ok(claimed == 1)
}

/// Records the outcome of the write that claimed the key, in that write's transaction.
async fn record_outcome<T: serde::Serialize>(
    conn: &mut PgConnection,
    idempotency: &Idempotency,
    outcome: &T,
) -> StoreResult<()> {
    sqlx::query("UPDATE idempotency SET response = $1 WHERE scope = $2 AND key = $3")
        .bind(to_json_value(outcome)?)
        .bind(&idempotency.scope)
        .bind(&idempotency.key)
        .execute(conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Appends a change's event to its request's chain, announces it, and returns its cursor. Call it as
/// the last step before commit: from the advisory lock on, every event append in the database waits
/// for this transaction to end, which is what makes cursor order commit order.
async fn append_event(
    conn: &mut PgConnection,
    mut draft: EventDraft,
    request_id: RequestId,
    partner_code: &PartnerCode,
) -> StoreResult<i64> {
    // The request's row is locked by this transaction (inserted or updated), so its chain cannot move.
    let previous: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM events WHERE request_id = $1 ORDER BY seq DESC LIMIT 1")
            .bind(request_id.as_uuid())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(EVENT_APPEND_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    let cursor: i64 = sqlx::query_scalar("SELECT nextval('events_cursor')")
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
    let (seq, prev_hash) = previous.map_or((1, String::new()), |(seq, hash)| (seq + 1, hash));
    draft.time = truncated(draft.time);
    let event = Event::chain(draft, request_id, partner_code.clone(), cursor, seq, prev_hash);
    sqlx::query(concat!(
        "INSERT INTO events (",
        event_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    ))
    .bind(event.cursor)
    .bind(event.request_id.as_uuid())
    .bind(event.partner_code.as_str())
    .bind(event.seq)
    .bind(event.time)
    .bind(&event.actor.subject)
    .bind(&event.actor.roles)
    .bind(&event.actor.partner_code)
    .bind(&event.action)
    .bind(event.from_state.map(State::as_str))
    .bind(event.to_state.as_str())
    .bind(&event.details)
    .bind(event.audience.ncijc)
    .bind(event.audience.partner)
    .bind(&event.prev_hash)
    .bind(&event.hash)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    // Delivered to every listener when (and only if) this transaction commits.
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(EVENTS_CHANNEL)
        .bind(cursor.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(cursor)
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

/// The terms that make a request's clock run while it is active, exactly as in the partial indexes
/// `requests_overdue` and `requests_running` (the planner matches them textually).
macro_rules! running_predicate {
    () => {
        "clock_stopped_at IS NULL AND due_at IS NOT NULL \
         AND state NOT IN ('DRAFT', 'EXECUTED', 'REFUSED', 'WITHDRAWN', 'CLOSED')"
    };
}

/// `SELECT <request columns> FROM requests WHERE` the caller's scope and every filter of `query`
/// except the page position (`after`), ready for more terms.
fn requests_where(query: &RequestQuery) -> QueryBuilder<Postgres> {
    let mut sql =
        QueryBuilder::<Postgres>::new(concat!("SELECT ", request_columns!(), " FROM requests WHERE "));
    // The caller's visibility comes first and always: no filter below can widen it.
    match &query.scope {
        // Callers return early for `Nothing`; should one not, it still reads nothing.
        Scope::Nothing => {
            sql.push("FALSE");
        }
        Scope::Ncijc => {
            sql.push("NOT (direction = 'INCOMING' AND state = 'DRAFT')");
        }
        Scope::Partner(code) => {
            sql.push("partner_code = ")
                .push_bind(code.as_str().to_owned())
                .push(" AND NOT (direction = 'OUTGOING' AND state = 'DRAFT')");
        }
    }
    if let Some(state) = query.state {
        sql.push(" AND state = ").push_bind(state.as_str());
    }
    if let Some(direction) = query.direction {
        sql.push(" AND direction = ").push_bind(direction.as_str());
    }
    if let Some(code) = &query.partner_code {
        sql.push(" AND partner_code = ").push_bind(code.as_str().to_owned());
    }
    if let Some(request_type) = query.request_type {
        sql.push(" AND request_type = ").push_bind(request_type.as_str());
    }
    if let Some(assignee) = &query.assignee {
        sql.push(" AND assignee = ").push_bind(assignee.clone());
    }
    if let Some(at) = query.overdue_at {
        sql.push(concat!(" AND ", running_predicate!(), " AND due_at < ")).push_bind(at);
    }
    if let Some(text) = &query.text {
        let pattern = contains_pattern(text);
        sql.push(" AND (title ILIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR reference ILIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }
    sql
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_request(
        &self,
        new: NewRequest,
        idempotency: Option<&Idempotency>,
    ) -> StoreResult<Request> {
        let mut tx = self.begin().await?;
        if let Some(key) = idempotency
            && !claim_key(&mut tx, key).await?
        {
            tx.rollback().await.map_err(db_error)?;
            return self.recorded(key).await;
        }
        let year = new.create_time.year();
        let number: i32 = sqlx::query_scalar(
            "INSERT INTO reference_counters (direction, year, last) VALUES ($1, $2, 1) \
             ON CONFLICT (direction, year) DO UPDATE SET last = reference_counters.last + 1 RETURNING last",
        )
        .bind(new.direction.as_str())
        .bind(year)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let request = as_stored(Request {
            id: new.id,
            reference: Reference {
                direction: new.direction,
                year,
                number: u32::try_from(number).map_err(|e| corrupt("reference number", e))?,
            },
            direction: new.direction,
            partner_code: new.partner_code,
            state: State::Draft,
            version: 1,
            content: new.content,
            conditions: Vec::new(),
            assignee: ShortText::default(),
            clock: Clock::default(),
            create_time: new.create_time,
            update_time: new.create_time,
            submit_time: None,
            received_time: None,
        });
        sqlx::query(concat!(
            "INSERT INTO requests (",
            request_columns!(),
            ", reference, request_type, title) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        ))
        .bind(request.id.as_uuid())
        .bind(request.direction.as_str())
        .bind(year)
        .bind(number)
        .bind(request.partner_code.as_str())
        .bind(request.state.as_str())
        .bind(request.version)
        .bind(request.assignee.as_str())
        .bind(request.clock.due_at)
        .bind(request.clock.stopped_at)
        .bind(request.create_time)
        .bind(request.update_time)
        .bind(request.submit_time)
        .bind(request.received_time)
        .bind(Json(&request.content))
        .bind(Json(&request.conditions))
        .bind(request.reference.to_string())
        .bind(request.content.request_type.map(|t| t.as_str()))
        .bind(request.content.title.as_str())
        .execute(&mut *tx)
        .await
        .map_err(insert_error)?;
        if let Some(key) = idempotency {
            record_outcome(&mut tx, key, &request).await?;
        }
        let cursor = append_event(&mut tx, new.event, request.id, &request.partner_code).await?;
        self.commit(tx, Some(cursor)).await?;
        Ok(request)
    }

    async fn get_request(&self, id: RequestId) -> StoreResult<Option<Request>> {
        let row = sqlx::query(concat!("SELECT ", request_columns!(), " FROM requests WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(request_from_row).transpose()
    }

    async fn list_requests(&self, query: &RequestQuery) -> StoreResult<Vec<Request>> {
        if query.scope == Scope::Nothing || query.limit == 0 {
            return Ok(Vec::new());
        }
        let Some(overdue_at) = query.overdue_at else {
            let mut sql = requests_where(query);
            if let Some(after) = query.after {
                sql.push(" AND id < ").push_bind(after.as_uuid());
            }
            sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(query.limit));
            let rows = sql.build().fetch_all(&self.pool).await.map_err(db_error)?;
            return rows.iter().map(request_from_row).collect();
        };
        // Overdue requests are the old ones, so the planner's guess for `ORDER BY id DESC LIMIT n`
        // (that they are spread evenly) sends it down the primary key through every newer request.
        // Instead: page through the overdue ids newest first, index-only on `requests_running`, in
        // growing chunks, and fetch the rows that pass every filter from each chunk.
        let limit = query.limit as usize;
        let mut found: Vec<Request> = Vec::with_capacity(limit);
        let mut below = query.after.map(|id| id.as_uuid());
        let mut chunk = i64::from(query.limit).max(50) * 4;
        loop {
            let candidates: Vec<Uuid> = match below {
                None => sqlx::query_scalar(concat!(
                    "SELECT id FROM requests WHERE ",
                    running_predicate!(),
                    " AND due_at < $1 ORDER BY id DESC LIMIT $2"
                ))
                .bind(overdue_at)
                .bind(chunk),
                Some(below) => sqlx::query_scalar(concat!(
                    "SELECT id FROM requests WHERE ",
                    running_predicate!(),
                    " AND due_at < $1 AND id < $2 ORDER BY id DESC LIMIT $3"
                ))
                .bind(overdue_at)
                .bind(below)
                .bind(chunk),
            }
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
            let Some(&last) = candidates.last() else { break };
            let exhausted = (candidates.len() as i64) < chunk;
            // Every filter again, overdue included: a request may have changed since its id was read.
            let mut sql = requests_where(query);
            sql.push(" AND id = ANY(").push_bind(candidates).push(")");
            sql.push(" ORDER BY id DESC LIMIT ").push_bind((limit - found.len()) as i64);
            let rows = sql.build().fetch_all(&self.pool).await.map_err(db_error)?;
            for row in &rows {
                found.push(request_from_row(row)?);
            }
            if found.len() >= limit || exhausted {
                break;
            }
            below = Some(last);
            chunk = (chunk * 4).min(100_000);
        }
        Ok(found)
    }

    async fn save_change(
        &self,
        expected_version: i64,
        change: Transition,
        idempotency: Option<&Idempotency>,
    ) -> StoreResult<Request> {
        let mut tx = self.begin().await?;
        if let Some(key) = idempotency
            && !claim_key(&mut tx, key).await?
        {
            tx.rollback().await.map_err(db_error)?;
            return self.recorded(key).await;
        }
        let mut request = as_stored(change.request);
        request.version = expected_version + 1;
        let updated = sqlx::query(
            "UPDATE requests SET state = $1, version = version + 1, request_type = $2, title = $3, assignee = $4, \
             due_at = $5, clock_stopped_at = $6, update_time = $7, submit_time = $8, received_time = $9, \
             content = $10, conditions = $11 \
             WHERE id = $12 AND version = $13",
        )
        .bind(request.state.as_str())
        .bind(request.content.request_type.map(|t| t.as_str()))
        .bind(request.content.title.as_str())
        .bind(request.assignee.as_str())
        .bind(request.clock.due_at)
        .bind(request.clock.stopped_at)
        .bind(request.update_time)
        .bind(request.submit_time)
        .bind(request.received_time)
        .bind(Json(&request.content))
        .bind(Json(&request.conditions))
        .bind(request.id.as_uuid())
        .bind(expected_version)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if updated == 0 {
            let current: Option<i64> = sqlx::query_scalar("SELECT version FROM requests WHERE id = $1")
                .bind(request.id.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
            tx.rollback().await.map_err(db_error)?;
            return Err(match current {
                Some(current) => StoreError::VersionConflict { current },
                None => StoreError::NotFound,
            });
        }
        if let Some(key) = idempotency {
            record_outcome(&mut tx, key, &request).await?;
        }
        let cursor = append_event(&mut tx, change.event, request.id, &request.partner_code).await?;
        self.commit(tx, Some(cursor)).await?;
        Ok(request)
    }

    async fn replay(&self, idempotency: &Idempotency) -> StoreResult<Option<serde_json::Value>> {
        let row: Option<(String, Option<serde_json::Value>)> =
            sqlx::query_as("SELECT fingerprint, response FROM idempotency WHERE scope = $1 AND key = $2")
                .bind(&idempotency.scope)
                .bind(&idempotency.key)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
        match row {
            None => Ok(None),
            Some((fingerprint, _)) if fingerprint != idempotency.fingerprint => {
                Err(StoreError::IdempotencyMismatch)
            }
            Some((_, Some(response))) => Ok(Some(response)),
            Some((_, None)) => Err(corrupt("idempotency key", "committed without an outcome")),
        }
    }

    async fn request_events(
        &self,
        id: RequestId,
        reader: &EventReader,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        let rows = match reader {
            EventReader::Scope(Scope::Nothing) => return Ok(Vec::new()),
            EventReader::Verifier => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE request_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
                ))
                .bind(id.as_uuid())
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
            }
            EventReader::Scope(Scope::Ncijc) => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE request_id = $1 AND seq > $2 AND visible_to_ncijc ORDER BY seq LIMIT $3"
                ))
                .bind(id.as_uuid())
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
            }
            EventReader::Scope(Scope::Partner(code)) => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE request_id = $1 AND seq > $2 AND partner_code = $3 AND visible_to_partner \
                     ORDER BY seq LIMIT $4"
                ))
                .bind(id.as_uuid())
                .bind(after_seq)
                .bind(code.as_str())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(db_error)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn events_after(
        &self,
        reader: &EventReader,
        after_cursor: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        let rows = match reader {
            EventReader::Scope(Scope::Nothing) => return Ok(Vec::new()),
            EventReader::Verifier => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE cursor > $1 ORDER BY cursor LIMIT $2"
                ))
                .bind(after_cursor)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
            }
            EventReader::Scope(Scope::Ncijc) => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE visible_to_ncijc AND cursor > $1 ORDER BY cursor LIMIT $2"
                ))
                .bind(after_cursor)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
            }
            EventReader::Scope(Scope::Partner(code)) => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE visible_to_partner AND partner_code = $1 AND cursor > $2 \
                     ORDER BY cursor LIMIT $3"
                ))
                .bind(code.as_str())
                .bind(after_cursor)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(db_error)?;
        rows.iter().map(event_from_row).collect()
    }

    fn event_signal(&self) -> watch::Receiver<i64> {
        self.signal.subscribe()
    }

    async fn create_partner(
        &self,
        partner: Partner,
        idempotency: Option<&Idempotency>,
    ) -> StoreResult<Partner> {
        let mut tx = self.begin().await?;
        if let Some(key) = idempotency
            && !claim_key(&mut tx, key).await?
        {
            tx.rollback().await.map_err(db_error)?;
            return self.recorded(key).await;
        }
        let partner = Partner {
            version: 1,
            create_time: truncated(partner.create_time),
            update_time: truncated(partner.update_time),
            ..partner
        };
        sqlx::query(concat!(
            "INSERT INTO partners (",
            partner_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(partner.code.as_str())
        .bind(partner.name.as_str())
        .bind(&partner.country)
        .bind(partner.kind.as_str())
        .bind(Json(&partner.legal_bases))
        .bind(partner.active)
        .bind(partner.version)
        .bind(partner.create_time)
        .bind(partner.update_time)
        .execute(&mut *tx)
        .await
        .map_err(insert_error)?;
        if let Some(key) = idempotency {
            record_outcome(&mut tx, key, &partner).await?;
        }
        self.commit(tx, None).await?;
        Ok(partner)
    }

    async fn get_partner(&self, code: &PartnerCode) -> StoreResult<Option<Partner>> {
        let row = sqlx::query(concat!("SELECT ", partner_columns!(), " FROM partners WHERE code = $1"))
            .bind(code.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(partner_from_row).transpose()
    }

    async fn list_partners(
        &self,
        include_inactive: bool,
        after: Option<&PartnerCode>,
        limit: u32,
    ) -> StoreResult<Vec<Partner>> {
        // Every code is non-empty, so "after the empty string" is the first page.
        let rows = sqlx::query(concat!(
            "SELECT ",
            partner_columns!(),
            " FROM partners WHERE ($1 OR active) AND code > $2 ORDER BY code LIMIT $3"
        ))
        .bind(include_inactive)
        .bind(after.map_or("", PartnerCode::as_str))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(partner_from_row).collect()
    }

    async fn update_partner(
        &self,
        partner: Partner,
        expected_version: i64,
        idempotency: Option<&Idempotency>,
    ) -> StoreResult<Partner> {
        let mut tx = self.begin().await?;
        if let Some(key) = idempotency
            && !claim_key(&mut tx, key).await?
        {
            tx.rollback().await.map_err(db_error)?;
            return self.recorded(key).await;
        }
        let created: Option<Timestamp> = sqlx::query_scalar(
            "UPDATE partners SET name = $1, country = $2, kind = $3, legal_bases = $4, active = $5, \
             version = version + 1, update_time = $6 WHERE code = $7 AND version = $8 RETURNING create_time",
        )
        .bind(partner.name.as_str())
        .bind(&partner.country)
        .bind(partner.kind.as_str())
        .bind(Json(&partner.legal_bases))
        .bind(partner.active)
        .bind(partner.update_time)
        .bind(partner.code.as_str())
        .bind(expected_version)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(created) = created else {
            let current: Option<i64> = sqlx::query_scalar("SELECT version FROM partners WHERE code = $1")
                .bind(partner.code.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
            tx.rollback().await.map_err(db_error)?;
            return Err(match current {
                Some(current) => StoreError::VersionConflict { current },
                None => StoreError::NotFound,
            });
        };
        let partner = Partner {
            version: expected_version + 1,
            create_time: created,
            update_time: truncated(partner.update_time),
            ..partner
        };
        if let Some(key) = idempotency {
            record_outcome(&mut tx, key, &partner).await?;
        }
        self.commit(tx, None).await?;
        Ok(partner)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db_error)?;
        Ok(())
    }
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
