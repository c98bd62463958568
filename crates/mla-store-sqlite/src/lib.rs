//! The SQLite backend of the mla-broker store: one database file for a single-node deployment.
//!
//! SQLite allows one writer at a time, so this store serializes its writes itself instead of letting
//! them collide: every write goes through a pool of exactly one connection and starts with
//! `BEGIN IMMEDIATE`, so it holds the write lock from its first statement. Reads use a separate pool
//! and, in WAL mode, never wait for the writer. Because writes are serialized, event cursors are given
//! in commit order simply as the largest cursor plus one.
//!
//! The tables' SQL is shared with the PostgreSQL backend (`mla-store-sql`); what is SQLite's own is in
//! [`dialect`]: the storage forms, the write lock, the cursor and the folded text search.

pub mod dialect;

use std::str::FromStr;
use std::time::Duration;

use mla_store::{StoreError, StoreResult};
use mla_store_sql::errors::{db_error, migrate_error};
use mla_store_sql::{Dialect, SqlStore};
use sqlx::Connection as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::dialect::{SqliteDialect, fold};

/// The schema, embedded so that the binary migrates without the source tree.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How long a statement waits for a lock held by another process before giving up. Within this
/// process writes never wait on SQLite's lock (they queue for the one write connection instead), so
/// this only matters when another process (an operator's `sqlite3` shell, a backup) holds it.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Readers in parallel: enough for a small node with two cores, and each is a file handle.
const READ_CONNECTIONS: u32 = 4;

/// Rows folded per write transaction when the store opens a database whose search columns are not in
/// the current search form.
const FOLD_BATCH: i64 = 500;

/// The SQLite store. Cloning shares the pools and the event signal.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The writer is exactly one connection: the in-process queue for SQLite's single write lock.
    sql: SqlStore<SqliteDialect>,
}

mla_store_sql::store_through_sql!(SqliteStore, sql);

impl SqliteStore {
    /// The write connection and the readers.
    fn pools(&self) -> Vec<mla_store::PoolUse> {
        self.sql.pool_use()
    }
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
            // A file does not hang up like a server: no ping before each write (a round trip to
            // the connection's thread, as costly as a statement).
            .test_before_acquire(false)
            // SQLite rolls a transaction back by itself on some errors (a full disk, I/O): sqlx
            // still counts it open, its own ROLLBACK fails, and every later BEGIN on the connection
            // would be refused. Such a connection is closed rather than given to the next write.
            // A write that committed left none open; after one that did not, the ping first runs
            // the rollback its dropped transaction queued.
            .after_release(|conn, _| {
                Box::pin(async move {
                    if conn.is_in_transaction() {
                        conn.ping().await?;
                    }
                    Ok(!conn.is_in_transaction())
                })
            })
            .connect_with(options.clone())
            .await
            .map_err(db_error::<SqliteDialect>)?;
        MIGRATOR.run(&writer).await.map_err(migrate_error::<SqliteDialect>)?;
        fold_search_columns(&writer).await?;
        // An in-memory database shares its cache between connections with table locks, not WAL:
        // reading through the one writer connection is the only way that never reports a lock.
        if in_memory {
            return Ok(SqliteStore { sql: SqlStore::one_pool(writer).await? });
        }
        let reader = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(db_error::<SqliteDialect>)?;
        Ok(SqliteStore { sql: SqlStore::new(writer, reader).await? })
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.sql.close().await;
    }
}

/// Folds the search columns of the rows whose partner's reference is not folded yet: rows stored
/// before migration 0002 gave it a folded column, or before 0004 changed the search form (there it is
/// NULL, and the partial index `requests_unfolded` finds those rows at once). The fold is the store's:
/// SQLite's `lower()` knows ASCII only, and nothing of Arabic spelling.
async fn fold_search_columns(writer: &SqlitePool) -> StoreResult<()> {
    loop {
        let mut tx =
            writer.begin_with(SqliteDialect::BEGIN_WRITE).await.map_err(db_error::<SqliteDialect>)?;
        let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, title, json_extract(content, '$.partner_reference') FROM requests \
             WHERE partner_reference_folded IS NULL LIMIT ?",
        )
        .bind(FOLD_BATCH)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error::<SqliteDialect>)?;
        if rows.is_empty() {
            return Ok(());
        }
        for (id, title, reference) in rows {
            sqlx::query("UPDATE requests SET title_folded = ?, partner_reference_folded = ? WHERE id = ?")
                .bind(fold(&title))
                .bind(fold(reference.as_deref().unwrap_or_default()))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_error::<SqliteDialect>)?;
        }
        tx.commit().await.map_err(db_error::<SqliteDialect>)?;
    }
}
