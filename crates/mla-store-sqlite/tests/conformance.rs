//! Runs every storage conformance scenario against the SQLite backend, each on a fresh database file
//! in a temporary directory of its own.

use async_trait::async_trait;
use mla_store::Store;
use mla_store::conformance::{Harness, Tamper};
use mla_store_sqlite::SqliteStore;
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;

struct SqliteHarness {
    store: SqliteStore,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SqliteHarness {
    /// A connection of its own, outside the store: what an intruder with the file would use.
    async fn intruder(&self) -> SqliteConnection {
        let url = format!("sqlite://{}", self.path.display());
        SqliteConnection::connect(&url).await.expect("the database file opens")
    }
}

#[async_trait]
impl Harness for SqliteHarness {
    async fn start() -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        // A subdirectory that does not exist yet: opening the store creates it.
        let path = dir.path().join("data").join("mla.db");
        let store = SqliteStore::open(path.to_str().expect("a UTF-8 path")).await.expect("the store opens");
        Some(SqliteHarness { store, path, _dir: dir })
    }

    fn store(&self) -> &dyn Store {
        &self.store
    }

    async fn finish(self) {
        self.store.close().await;
    }
}

#[async_trait]
impl Tamper for SqliteHarness {
    async fn try_rewrite_event_details(&self, cursor: i64, details: &str) -> Result<(), String> {
        let mut conn = self.intruder().await;
        sqlx::query("UPDATE events SET details = ? WHERE cursor = ?")
            .bind(details)
            .bind(cursor)
            .execute(&mut conn)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn force_rewrite_event_details(&self, cursor: i64, details: &str) {
        let mut conn = self.intruder().await;
        // A deliberate schema change: drop the append-only guard, then rewrite.
        sqlx::query("DROP TRIGGER events_no_update").execute(&mut conn).await.expect("the guard is dropped");
        let changed = sqlx::query("UPDATE events SET details = ? WHERE cursor = ?")
            .bind(details)
            .bind(cursor)
            .execute(&mut conn)
            .await
            .expect("the event is rewritten")
            .rows_affected();
        assert_eq!(changed, 1);
    }
}

mla_store::conformance_tests!(SqliteHarness);
