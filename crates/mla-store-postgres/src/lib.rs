//! The PostgreSQL backend of the mla-broker store: one database shared by every replica of the service.
//!
//! Concurrency is the database's: a change updates its row only `WHERE version = expected`; a
//! registration takes its (direction, year) counter row with an upsert and holds it until commit; an
//! idempotent write claims its key first, so a racing retry waits on the key's unique index and then
//! replays. An event's cursor is the id of the transaction that writes it, taken without a lock, so
//! cursors commit out of order; the feed returns only the cursors below the oldest transaction still
//! running, so that a feed reader that has seen cursor n never later finds a smaller cursor committed
//! late. Each event is announced with `NOTIFY` on commit, and a listener task turns the announcements
//! (from any replica) into this store's event signal.
//!
//! The tables' SQL is shared with the SQLite backend (`mla-store-sql`); what is PostgreSQL's own is in
//! [`dialect`] (storage forms, cursors and the feed's horizon, announcements, trigram text search, the
//! overdue plan) and the listener.

pub mod content;
pub mod dialect;
mod listener;
#[cfg(feature = "testing")]
pub mod testing;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use mla_store::{StoreError, StoreResult};
use mla_store_sql::SqlStore;
use mla_store_sql::errors::{corrupt, db_error, migrate_error};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};
use tokio::task::JoinHandle;

use crate::dialect::PgDialect;
use crate::listener::{follow_announcements, subscribe};

/// The schema, embedded so that the binary migrates without the source tree.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// The channel on which committed event cursors are announced to every replica.
pub const EVENTS_CHANNEL: &str = "mla_events";

/// Connections per store: requests are short, and PostgreSQL's default limit is 100 for all replicas.
const DEFAULT_MAX_CONNECTIONS: u32 = 10;
/// How long a call waits for a connection: past it, the database is down (or the pool exhausted
/// for that long) and the call answers UNAVAILABLE rather than waiting on until its deadline.
const DATABASE_WAIT: Duration = Duration::from_secs(3);

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
    sql: SqlStore<PgDialect>,
    /// The pool the store writes and reads with, which the content store shares.
    pool: PgPool,
    /// One connection, held by the listener task for `LISTEN`; closing it ends the task.
    listener_pool: PgPool,
    _listener: Arc<ListenerTask>,
}

mla_store_sql::store_through_sql!(PostgresStore, sql);

impl PostgresStore {
    /// The pool calls use (and documents' content shares), and the one connection that listens.
    fn pools(&self) -> Vec<mla_store::PoolUse> {
        let mut pools = self.sql.pool_use();
        pools.push(mla_store_sql::pool_use("listen", &self.listener_pool));
        pools
    }
}

/// Opens and closes one direct connection: an unreachable server is reported at once, where a pool
/// would keep retrying until its acquire timeout.
async fn reachable(options: &PgConnectOptions) -> StoreResult<()> {
    let conn = PgConnection::connect_with(options).await.map_err(db_error::<PgDialect>)?;
    conn.close().await.map_err(db_error::<PgDialect>)
}

/// Cursors are transaction ids (offset by a base fixed when the schema was migrated). A database
/// restored into another server, whose transaction ids are behind its cursors, would give new events
/// cursors below those its feed followers hold, and they would never see them: refuse to serve it.
async fn cursors_are_ahead(pool: &PgPool) -> StoreResult<()> {
    let (newest, next_id, base): (i64, i64, i64) = sqlx::query_as(
        "SELECT COALESCE(max(cursor), 0), pg_snapshot_xmax(pg_current_snapshot())::text::bigint, \
                event_cursor_base() \
         FROM events",
    )
    .fetch_one(pool)
    .await
    .map_err(db_error::<PgDialect>)?;
    if newest >= next_id + base {
        return Err(corrupt(
            "event cursors",
            format!(
                "the newest cursor is {newest}, but the next would be about {}: the server's transaction ids \
                 are behind the database's (restored from another server?); with every replica stopped, \
                 recreate the function event_cursor_base() to return {}",
                next_id + base,
                newest + 1 - next_id
            ),
        ));
    }
    Ok(())
}

/// How a replica treats the schema when it connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Bring it up to date (the migrator's advisory lock makes replicas that start at once take turns).
    Migrate,
    /// Leave it to a migration job: connect only to a schema that has every migration this version
    /// embeds (newer ones, from a later version already deployed, are fine: migrations only add).
    Expect,
}

/// The migrations this version embeds that the database at `url` has not applied: none once its
/// schema is current, or ahead. A replica that does not migrate waits on this before it serves.
pub async fn pending_migrations(url: &str) -> StoreResult<usize> {
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Internal(Box::new(e)))?;
    let mut conn = PgConnection::connect_with(&options).await.map_err(db_error::<PgDialect>)?;
    let pending = pending_on(&mut conn).await;
    let _ = conn.close().await;
    pending
}

async fn pending_on(conn: &mut PgConnection) -> StoreResult<usize> {
    let migrated: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error::<PgDialect>)?;
    let applied: Vec<i64> = if migrated {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error::<PgDialect>)?
    } else {
        Vec::new()
    };
    Ok(MIGRATOR
        .iter()
        .filter(|migration| !migration.migration_type.is_down_migration())
        .filter(|migration| !applied.contains(&migration.version))
        .count())
}

/// Applies the schema migrations to the database at `url`.
pub async fn migrate(url: &str) -> StoreResult<()> {
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Internal(Box::new(e)))?;
    reachable(&options).await?;
    let pool =
        PgPoolOptions::new().max_connections(1).connect_with(options).await.map_err(db_error::<PgDialect>)?;
    // The migrator takes an advisory lock of its own, so replicas that migrate at once take turns.
    let result = MIGRATOR.run(&pool).await;
    pool.close().await;
    result.map_err(migrate_error::<PgDialect>)
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://...`), brings its schema up to date and starts
    /// following the event announcements. Needs a Tokio runtime.
    pub async fn connect(url: &str) -> StoreResult<PostgresStore> {
        Self::open(url, Schema::Migrate).await
    }

    /// Connects to the database at `url`, treating its schema as `schema` says: with
    /// [`Schema::Expect`], a schema behind this version is an error naming the pending migrations.
    pub async fn open(url: &str, schema: Schema) -> StoreResult<PostgresStore> {
        let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Internal(Box::new(e)))?;
        Self::connect_with_schema(options, DEFAULT_MAX_CONNECTIONS, schema).await
    }

    /// Like [`PostgresStore::connect`], with options built by the caller (tests pick a database by
    /// name this way) and a pool size.
    pub async fn connect_with(options: PgConnectOptions, max_connections: u32) -> StoreResult<PostgresStore> {
        Self::connect_with_schema(options, max_connections, Schema::Migrate).await
    }

    async fn connect_with_schema(
        options: PgConnectOptions,
        max_connections: u32,
        schema: Schema,
    ) -> StoreResult<PostgresStore> {
        let options = options.application_name("mla-broker");
        reachable(&options).await?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(DATABASE_WAIT)
            .connect_with(options.clone())
            .await
            .map_err(db_error::<PgDialect>)?;
        match schema {
            Schema::Migrate => MIGRATOR.run(&pool).await.map_err(migrate_error::<PgDialect>)?,
            Schema::Expect => {
                let mut conn = pool.acquire().await.map_err(db_error::<PgDialect>)?;
                let pending = pending_on(&mut conn).await?;
                if pending > 0 {
                    return Err(StoreError::Unavailable(format!(
                        "the database schema lacks {pending} migration(s) of this version: run `mla-broker migrate`"
                    )));
                }
            }
        }
        cursors_are_ahead(&pool).await?;
        let listener_pool = PgPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(options);
        let sql = SqlStore::one_pool(pool.clone()).await?;
        // Subscribe before returning, so that no event committed after `connect` goes unannounced.
        let listener = subscribe(&listener_pool).await.map_err(db_error::<PgDialect>)?;
        let task = tokio::spawn(follow_announcements(
            listener,
            listener_pool.clone(),
            pool.clone(),
            sql.signal().clone(),
        ));
        Ok(PostgresStore { sql, pool, listener_pool, _listener: Arc::new(ListenerTask(task)) })
    }

    /// The documents' content in this database, shared by every replica.
    pub async fn content(&self) -> mla_store::content::ContentResult<content::PgContent> {
        content::PgContent::open(self.pool.clone()).await
    }

    /// Closes the pools (which also ends the listener task), waiting for connections in use.
    pub async fn close(&self) {
        self.listener_pool.close().await;
        self.sql.close().await;
    }
}
