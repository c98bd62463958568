//! The SQLite backend of the mla-broker store: one database file for a single-node deployment.
//!
//! SQLite allows one writer at a time, so this store serializes its writes itself instead of letting
//! them collide: every write goes through a pool of exactly one connection and starts with
//! `BEGIN IMMEDIATE`, so it holds the write lock from its first statement and never has to upgrade a
//! read lock (the upgrade is what fails with `database is locked` whatever the busy timeout). Reads
//! use a separate pool and, in WAL mode, never wait for the writer. Because writes are serialized,
//! event cursors are given in commit order simply as the largest cursor plus one.
//!
//! Storage forms: times are INTEGER microseconds since the Unix epoch (UTC); request ids are
//! hyphenated lower-case UUID text (whose byte order is UUIDv7 time order); content, conditions, legal
//! bases and actor roles are JSON text; event details are stored exactly as hashed.

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
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, Transaction};
use tokio::sync::watch;

/// The schema, embedded so that the binary migrates without the source tree.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How long a statement waits for a lock held by another process before giving up. Within this
/// process writes never wait on SQLite's lock (they queue for the one write connection instead), so
/// this only matters when another process (an operator's `sqlite3` shell, a backup) holds it.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Readers in parallel: enough for a small node with two cores, and each is a file handle.
const READ_CONNECTIONS: u32 = 4;

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

/// Maps a driver error to the store's terms: an unreachable or busy database is worth a retry,
/// anything else is a fault.
fn db_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        // SQLITE_BUSY and SQLITE_LOCKED with their extended codes (the low byte is the primary code):
        // another process held the lock for longer than the busy timeout.
        sqlx::Error::Database(db)
            if db
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .is_some_and(|code| matches!(code & 0xff, 5 | 6)) =>
        {
            StoreError::Unavailable(error.to_string())
        }
        _ => StoreError::Internal(Box::new(error)),
    }
}

/// Like [`db_error`], but a unique violation means the thing already exists.
fn insert_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists,
        _ => db_error(error),
    }
}

/// The storage form of an instant. Callers pass times truncated to microseconds; anything finer is
/// dropped here, as the audit hash drops it.
fn micros(time: Timestamp) -> i64 {
    time.timestamp_micros()
}

fn from_micros(value: i64) -> StoreResult<Timestamp> {
    Timestamp::from_timestamp_micros(value).ok_or_else(|| corrupt("time", value))
}

fn opt_from_micros(value: Option<i64>) -> StoreResult<Option<Timestamp>> {
    value.map(from_micros).transpose()
}

/// The instant as it reads back from storage.
fn truncated(time: Timestamp) -> Timestamp {
    Timestamp::from_timestamp_micros(time.timestamp_micros()).unwrap_or(time)
}

fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(Box::new(e)))
}

fn from_json<T: DeserializeOwned>(what: &'static str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
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

fn request_from_row(row: &SqliteRow) -> StoreResult<Request> {
    let get_text = |name: &str| row.try_get::<String, _>(name).map_err(db_error);
    let id = get_text("id")?;
    let direction = get_text("direction")?;
    let direction = Direction::parse(&direction).ok_or_else(|| corrupt("direction", &direction))?;
    let year: i64 = row.try_get("year").map_err(db_error)?;
    let number: i64 = row.try_get("number").map_err(db_error)?;
    let state = get_text("state")?;
    let partner_code = get_text("partner_code")?;
    let assignee = get_text("assignee")?;
    Ok(Request {
        id: RequestId::parse(&id).map_err(|e| corrupt("request id", e))?,
        reference: Reference {
            direction,
            year: i32::try_from(year).map_err(|e| corrupt("reference year", e))?,
            number: u32::try_from(number).map_err(|e| corrupt("reference number", e))?,
        },
        direction,
        partner_code: PartnerCode::parse(&partner_code).map_err(|e| corrupt("partner code", e))?,
        state: State::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        version: row.try_get("version").map_err(db_error)?,
        content: from_json("request content", &get_text("content")?)?,
        conditions: from_json("conditions", &get_text("conditions")?)?,
        assignee: ShortText::parse(assignee).map_err(|e| corrupt("assignee", e))?,
        clock: Clock {
            due_at: opt_from_micros(row.try_get("due_at").map_err(db_error)?)?,
            stopped_at: opt_from_micros(row.try_get("clock_stopped_at").map_err(db_error)?)?,
        },
        create_time: from_micros(row.try_get("create_time").map_err(db_error)?)?,
        update_time: from_micros(row.try_get("update_time").map_err(db_error)?)?,
        submit_time: opt_from_micros(row.try_get("submit_time").map_err(db_error)?)?,
        received_time: opt_from_micros(row.try_get("received_time").map_err(db_error)?)?,
    })
}

fn event_from_row(row: &SqliteRow) -> StoreResult<Event> {
    let get_text = |name: &str| row.try_get::<String, _>(name).map_err(db_error);
    let state = |raw: String| State::parse(&raw).ok_or_else(|| corrupt("event state", raw));
    let request_id = get_text("request_id")?;
    let partner_code = get_text("partner_code")?;
    let from_state: Option<String> = row.try_get("from_state").map_err(db_error)?;
    Ok(Event {
        cursor: row.try_get("cursor").map_err(db_error)?,
        request_id: RequestId::parse(&request_id).map_err(|e| corrupt("event request id", e))?,
        partner_code: PartnerCode::parse(&partner_code).map_err(|e| corrupt("event partner code", e))?,
        seq: row.try_get("seq").map_err(db_error)?,
        time: from_micros(row.try_get("time").map_err(db_error)?)?,
        actor: Actor {
            subject: get_text("actor_subject")?,
            roles: from_json("actor roles", &get_text("actor_roles")?)?,
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

fn partner_from_row(row: &SqliteRow) -> StoreResult<Partner> {
    let get_text = |name: &str| row.try_get::<String, _>(name).map_err(db_error);
    let code = get_text("code")?;
    let kind = get_text("kind")?;
    Ok(Partner {
        code: PartnerCode::parse(&code).map_err(|e| corrupt("partner code", e))?,
        name: ShortText::parse(get_text("name")?).map_err(|e| corrupt("partner name", e))?,
        country: get_text("country")?,
        kind: PartnerKind::parse(&kind).ok_or_else(|| corrupt("partner kind", &kind))?,
        legal_bases: from_json("legal bases", &get_text("legal_bases")?)?,
        active: row.try_get("active").map_err(db_error)?,
        version: row.try_get("version").map_err(db_error)?,
        create_time: from_micros(row.try_get("create_time").map_err(db_error)?)?,
        update_time: from_micros(row.try_get("update_time").map_err(db_error)?)?,
    })
}

/// The SQLite store. Cloning shares the pools and the event signal.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: the in-process queue for SQLite's single write lock.
    writer: SqlitePool,
    reader: SqlitePool,
    signal: Arc<watch::Sender<i64>>,
}

/// Applies the schema migrations to the database at `url_or_path` (creating it if needed).
pub async fn migrate(url_or_path: &str) -> StoreResult<()> {
    let store = SqliteStore::open(url_or_path).await?;
    store.close().await;
    Ok(())
}

/// Connection options for a `sqlite:` URL or a plain file path, with the settings every connection
/// of this store needs.
fn connect_options(url_or_path: &str) -> StoreResult<SqliteConnectOptions> {
    let options = if url_or_path.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url_or_path).map_err(|e| StoreError::Internal(Box::new(e)))?
    } else {
        SqliteConnectOptions::new().filename(url_or_path)
    };
    Ok(options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL is durable in WAL mode except for the last transactions before a power loss, which
        // is the usual trade for a register that also keeps its events in the same commit.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true))
}

impl SqliteStore {
    /// Opens (creating the file and its parent directory if needed) the database at `url_or_path`, a
    /// `sqlite:` URL or a file path, and brings its schema up to date.
    pub async fn open(url_or_path: &str) -> StoreResult<SqliteStore> {
        let options = connect_options(url_or_path)?;
        let in_memory = url_or_path.contains(":memory:") || url_or_path.contains("mode=memory");
        if !in_memory
            && let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!("cannot create the directory {}: {e}", parent.display()))
            })?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(if in_memory { 1 } else { 0 })
            // Writers queue here rather than on SQLite's lock; a long queue is load, not failure.
            .acquire_timeout(Duration::from_secs(60))
            // An in-memory database lives as long as a connection to it: keep the one forever.
            .idle_timeout(if in_memory { None } else { Some(Duration::from_secs(600)) })
            .max_lifetime(if in_memory { None } else { Some(Duration::from_secs(1800)) })
            .connect_with(options.clone())
            .await
            .map_err(db_error)?;
        MIGRATOR.run(&writer).await.map_err(|e| StoreError::Internal(Box::new(e)))?;
        // An in-memory database shares its cache between connections with table locks, not WAL:
        // reading through the one writer connection is the only way that never reports a lock.
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READ_CONNECTIONS)
                .connect_with(options)
                .await
                .map_err(db_error)?
        };
        let newest: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(cursor), 0) FROM events")
            .fetch_one(&reader)
            .await
            .map_err(db_error)?;
        let (signal, _) = watch::channel(newest);
        Ok(SqliteStore { writer, reader, signal: Arc::new(signal) })
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// Starts a write: waits for the one write connection, then takes SQLite's write lock at once.
    async fn begin_write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)
    }

    /// Commits a write that appended the event at `cursor`, then wakes the watchers.
    async fn commit(&self, tx: Transaction<'static, Sqlite>, cursor: Option<i64>) -> StoreResult<()> {
        tx.commit().await.map_err(db_error)?;
        if let Some(cursor) = cursor {
            self.signal.send_if_modified(|newest| {
                let advanced = cursor > *newest;
                *newest = (*newest).max(cursor);
                advanced
            });
        }
        Ok(())
    }

    /// The outcome recorded for a key that another call claimed first.
    async fn recorded<T: DeserializeOwned>(&self, idempotency: &Idempotency) -> StoreResult<T> {
        match self.replay(idempotency).await? {
            Some(outcome) => serde_json::from_value(outcome).map_err(|e| corrupt("idempotent outcome", e)),
            None => Err(corrupt("idempotency key", "claimed, but no outcome was recorded")),
        }
    }
}

/// Claims an idempotency key as the first statement of a write. `false`: the key was already
/// recorded (by an earlier, committed call), so the caller rolls back and replays that outcome.
async fn claim_key(conn: &mut SqliteConnection, idempotency: &Idempotency) -> StoreResult<bool> {
    let claimed = sqlx::query(
        "INSERT INTO idempotency (scope, key, fingerprint, response, create_time) VALUES (?, ?, ?, NULL, ?) \
         ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(&idempotency.scope)
    .bind(&idempotency.key)
    .bind(&idempotency.fingerprint)
    .bind(micros(chrono::Utc::now()))
    .execute(conn)
    .await
    .map_err(db_error)?
    .rows_affected();
    Ok(claimed == 1)
}

/// Records the outcome of the write that claimed the key, in that write's transaction.
async fn record_outcome<T: serde::Serialize>(
    conn: &mut SqliteConnection,
    idempotency: &Idempotency,
    outcome: &T,
) -> StoreResult<()> {
    sqlx::query("UPDATE idempotency SET response = ? WHERE scope = ? AND key = ?")
        .bind(to_json(outcome)?)
        .bind(&idempotency.scope)
        .bind(&idempotency.key)
        .execute(conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Appends a change's event to its request's chain and returns its cursor. Runs inside the write
/// transaction, so the cursor (largest plus one) is given in commit order.
async fn append_event(
    conn: &mut SqliteConnection,
    mut draft: EventDraft,
    request_id: RequestId,
    partner_code: &PartnerCode,
) -> StoreResult<i64> {
    let previous: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM events WHERE request_id = ? ORDER BY seq DESC LIMIT 1")
            .bind(request_id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
    let cursor: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(cursor), 0) + 1 FROM events")
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
    let (seq, prev_hash) = previous.map_or((1, String::new()), |(seq, hash)| (seq + 1, hash));
    draft.time = truncated(draft.time);
    let event = Event::chain(draft, request_id, partner_code.clone(), cursor, seq, prev_hash);
    sqlx::query(concat!(
        "INSERT INTO events (",
        event_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(event.cursor)
    .bind(event.request_id.to_string())
    .bind(event.partner_code.as_str())
    .bind(event.seq)
    .bind(micros(event.time))
    .bind(&event.actor.subject)
    .bind(to_json(&event.actor.roles)?)
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
    Ok(cursor)
}

/// The states in which a request is not active (see `State::is_active`), as SQL.
const INACTIVE_STATES: &str = "('DRAFT', 'EXECUTED', 'REFUSED', 'WITHDRAWN', 'CLOSED')";

#[async_trait]
impl Store for SqliteStore {
    async fn create_request(
        &self,
        new: NewRequest,
        idempotency: Option<&Idempotency>,
    ) -> StoreResult<Request> {
        let mut tx = self.begin_write().await?;
        if let Some(key) = idempotency
            && !claim_key(&mut tx, key).await?
        {
            tx.rollback().await.map_err(db_error)?;
            return self.recorded(key).await;
        }
        let year = new.create_time.year();
        let number: i64 = sqlx::query_scalar(
            "INSERT INTO reference_counters (direction, year, last) VALUES (?, ?, 1) \
             ON CONFLICT (direction, year) DO UPDATE SET last = last + 1 RETURNING last",
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
            ", reference, request_type, title, title_folded) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(request.id.to_string())
        .bind(request.direction.as_str())
        .bind(year)
        .bind(number)
        .bind(request.partner_code.as_str())
        .bind(request.state.as_str())
        .bind(request.version)
        .bind(request.assignee.as_str())
        .bind(request.clock.due_at.map(micros))
        .bind(request.clock.stopped_at.map(micros))
        .bind(micros(request.create_time))
        .bind(micros(request.update_time))
        .bind(request.submit_time.map(micros))
        .bind(request.received_time.map(micros))
        .bind(to_json(&request.content)?)
        .bind(to_json(&request.conditions)?)
        .bind(request.reference.to_string())
        .bind(request.content.request_type.map(|t| t.as_str()))
        .bind(request.content.title.as_str())
        .bind(request.content.title.as_str().to_lowercase())
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
        let row = sqlx::query(concat!("SELECT ", request_columns!(), " FROM requests WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_error)?;
        row.as_ref().map(request_from_row).transpose()
    }

    async fn list_requests(&self, query: &RequestQuery) -> StoreResult<Vec<Request>> {
        let mut sql =
            QueryBuilder::<Sqlite>::new(concat!("SELECT ", request_columns!(), " FROM requests WHERE "));
        // The caller's visibility comes first and always: no filter below can widen it.
        match &query.scope {
            Scope::Nothing => return Ok(Vec::new()),
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
            // The same terms as the partial index `requests_overdue`, so that SQLite may use it.
            sql.push(" AND clock_stopped_at IS NULL AND due_at IS NOT NULL AND state NOT IN ")
                .push(INACTIVE_STATES)
                .push(" AND due_at < ")
                .push_bind(micros(at));
        }
        if let Some(text) = &query.text {
            // instr() matches the text literally (no wildcard to escape); the title is folded with
            // Unicode rules when stored, the reference is ASCII.
            let needle = text.to_lowercase();
            sql.push(" AND (instr(title_folded, ")
                .push_bind(needle.clone())
                .push(") > 0 OR instr(lower(reference), ")
                .push_bind(needle)
                .push(") > 0)");
        }
        if let Some(after) = query.after {
            sql.push(" AND id < ").push_bind(after.to_string());
        }
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(query.limit));
        let rows = sql.build().fetch_all(&self.reader).await.map_err(db_error)?;
        rows.iter().map(request_from_row).collect()
    }

    async fn save_change(
        &self,
        expected_version: i64,
        change: Transition,
        idempotency: Option<&Idempotency>,
    ) -> StoreResult<Request> {
        let mut tx = self.begin_write().await?;
        if let Some(key) = idempotency
            && !claim_key(&mut tx, key).await?
        {
            tx.rollback().await.map_err(db_error)?;
            return self.recorded(key).await;
        }
        let mut request = as_stored(change.request);
        request.version = expected_version + 1;
        let updated = sqlx::query(
            "UPDATE requests SET state = ?, version = version + 1, request_type = ?, title = ?, title_folded = ?, \
             assignee = ?, due_at = ?, clock_stopped_at = ?, update_time = ?, submit_time = ?, received_time = ?, \
             content = ?, conditions = ? \
             WHERE id = ? AND version = ?",
        )
        .bind(request.state.as_str())
        .bind(request.content.request_type.map(|t| t.as_str()))
        .bind(request.content.title.as_str())
        .bind(request.content.title.as_str().to_lowercase())
        .bind(request.assignee.as_str())
        .bind(request.clock.due_at.map(micros))
        .bind(request.clock.stopped_at.map(micros))
        .bind(micros(request.update_time))
        .bind(request.submit_time.map(micros))
        .bind(request.received_time.map(micros))
        .bind(to_json(&request.content)?)
        .bind(to_json(&request.conditions)?)
        .bind(request.id.to_string())
        .bind(expected_version)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if updated == 0 {
            let current: Option<i64> = sqlx::query_scalar("SELECT version FROM requests WHERE id = ?")
                .bind(request.id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
            tx.rollback().await.map_err(db_error)?;
            return Err(match current {
                Some(current) => StoreError::VersionConflict { current },
                None => StoreError::NotFound,
            });
        }
        // The row's direction, partner and reference never change; reading them back is not needed.
        if let Some(key) = idempotency {
            record_outcome(&mut tx, key, &request).await?;
        }
        let cursor = append_event(&mut tx, change.event, request.id, &request.partner_code).await?;
        self.commit(tx, Some(cursor)).await?;
        Ok(request)
    }

    async fn replay(&self, idempotency: &Idempotency) -> StoreResult<Option<serde_json::Value>> {
        let row: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT fingerprint, response FROM idempotency WHERE scope = ? AND key = ?")
                .bind(&idempotency.scope)
                .bind(&idempotency.key)
                .fetch_optional(&self.reader)
                .await
                .map_err(db_error)?;
        match row {
            None => Ok(None),
            Some((fingerprint, _)) if fingerprint != idempotency.fingerprint => {
                Err(StoreError::IdempotencyMismatch)
            }
            Some((_, Some(response))) => from_json("idempotent outcome", &response).map(Some),
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
                    " FROM events WHERE request_id = ? AND seq > ? ORDER BY seq LIMIT ?"
                ))
                .bind(id.to_string())
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await
            }
            EventReader::Scope(Scope::Ncijc) => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE request_id = ? AND seq > ? AND visible_to_ncijc = 1 ORDER BY seq LIMIT ?"
                ))
                .bind(id.to_string())
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await
            }
            EventReader::Scope(Scope::Partner(code)) => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE request_id = ? AND seq > ? AND partner_code = ? AND visible_to_partner = 1 \
                     ORDER BY seq LIMIT ?"
                ))
                .bind(id.to_string())
                .bind(after_seq)
                .bind(code.as_str())
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
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
                    " FROM events WHERE cursor > ? ORDER BY cursor LIMIT ?"
                ))
                .bind(after_cursor)
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await
            }
            EventReader::Scope(Scope::Ncijc) => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE visible_to_ncijc = 1 AND cursor > ? ORDER BY cursor LIMIT ?"
                ))
                .bind(after_cursor)
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await
            }
            EventReader::Scope(Scope::Partner(code)) => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE visible_to_partner = 1 AND partner_code = ? AND cursor > ? \
                     ORDER BY cursor LIMIT ?"
                ))
                .bind(code.as_str())
                .bind(after_cursor)
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
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
        let mut tx = self.begin_write().await?;
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
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(partner.code.as_str())
        .bind(partner.name.as_str())
        .bind(&partner.country)
        .bind(partner.kind.as_str())
        .bind(to_json(&partner.legal_bases)?)
        .bind(partner.active)
        .bind(partner.version)
        .bind(micros(partner.create_time))
        .bind(micros(partner.update_time))
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
        let row = sqlx::query(concat!("SELECT ", partner_columns!(), " FROM partners WHERE code = ?"))
            .bind(code.as_str())
            .fetch_optional(&self.reader)
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
            " FROM partners WHERE (? OR active = 1) AND code > ? ORDER BY code LIMIT ?"
        ))
        .bind(include_inactive)
        .bind(after.map_or("", PartnerCode::as_str))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
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
        let mut tx = self.begin_write().await?;
        if let Some(key) = idempotency
            && !claim_key(&mut tx, key).await?
        {
            tx.rollback().await.map_err(db_error)?;
            return self.recorded(key).await;
        }
        let created: Option<i64> = sqlx::query_scalar(
            "UPDATE partners SET name = ?, country = ?, kind = ?, legal_bases = ?, active = ?, \
             version = version + 1, update_time = ? WHERE code = ? AND version = ? RETURNING create_time",
        )
        .bind(partner.name.as_str())
        .bind(&partner.country)
        .bind(partner.kind.as_str())
        .bind(to_json(&partner.legal_bases)?)
        .bind(partner.active)
        .bind(micros(partner.update_time))
        .bind(partner.code.as_str())
        .bind(expected_version)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(created) = created else {
            let current: Option<i64> = sqlx::query_scalar("SELECT version FROM partners WHERE code = ?")
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
            create_time: from_micros(created)?,
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
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(db_error)?;
        Ok(())
    }
}
