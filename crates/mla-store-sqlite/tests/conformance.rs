//! Runs every storage conformance scenario against the SQLite backend, each on a fresh database file
//! in a temporary directory of its own.

use async_trait::async_trait;
use mla_store::Store;
use mla_store::conformance::{Harness, Tamper};
use mla_store::content::{ContentStore, FileContent};
use mla_store_sqlite::SqliteStore;
use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Connection};

struct SqliteHarness {
    store: SqliteStore,
    content: FileContent,
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
        let content = FileContent::open(dir.path().join("data").join("content")).expect("the content opens");
        Some(SqliteHarness { store, content, path, _dir: dir })
    }

    fn store(&self) -> &dyn Store {
        &self.store
    }

    fn content(&self) -> &dyn ContentStore {
        &self.content
    }

    async fn finish(self) {
        self.store.close().await;
    }
}

#[async_trait]
impl Tamper for SqliteHarness {
    async fn execute(&self, sql: &str) -> Result<u64, String> {
        let mut conn = self.intruder().await;
        let result = sqlx::query(AssertSqlSafe(sql.to_owned())).execute(&mut conn).await;
        result.map(|done| done.rows_affected()).map_err(|e| e.to_string())
    }

    async fn force(&self, sql: &str) -> u64 {
        let mut conn = self.intruder().await;
        // Schema changes an intruder with the file can make: drop the append-only guards; and foreign
        // keys are a setting of each connection in SQLite, which the intruder's own switches off.
        for guard_off in [
            "DROP TRIGGER IF EXISTS events_no_update",
            "DROP TRIGGER IF EXISTS events_no_delete",
            "PRAGMA foreign_keys = OFF",
        ] {
            sqlx::query(guard_off).execute(&mut conn).await.expect("a guard is switched off");
        }
        let done =
            sqlx::query(AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.expect("the tampering runs");
        done.rows_affected()
    }
}

mla_store::conformance_tests!(SqliteHarness);
