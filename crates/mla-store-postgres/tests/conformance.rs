//! Runs every storage conformance scenario against the PostgreSQL backend, each on a fresh database
//! that is dropped when the scenario ends, passed or failed.

use async_trait::async_trait;
use mla_store::Store;
use mla_store::conformance::{Harness, Tamper};
use mla_store::content::ContentStore;
use mla_store_postgres::PostgresStore;
use mla_store_postgres::content::PgContent;
use mla_store_postgres::testing::TestDatabase;
use sqlx::AssertSqlSafe;

struct PostgresHarness {
    store: PostgresStore,
    content: PgContent,
    // Declared after the store: fields drop in order, so the store's connections go first.
    database: TestDatabase,
}

#[async_trait]
impl Harness for PostgresHarness {
    async fn start() -> Option<Self> {
        let database = TestDatabase::create().await?;
        let store = PostgresStore::connect_with(database.options(), 10).await.expect("the store connects");
        let content = store.content().await.expect("the content store opens");
        Some(PostgresHarness { store, content, database })
    }

    fn store(&self) -> &dyn Store {
        &self.store
    }

    fn content(&self) -> &dyn ContentStore {
        &self.content
    }

    async fn finish(self) {
        self.store.close().await;
        // Dropping `self.database` drops the database.
    }
}

#[async_trait]
impl Tamper for PostgresHarness {
    async fn execute(&self, sql: &str) -> Result<u64, String> {
        let mut conn = self.database.connect().await;
        let result = sqlx::query(AssertSqlSafe(sql.to_owned())).execute(&mut conn).await;
        result.map(|done| done.rows_affected()).map_err(|e| e.to_string())
    }

    async fn force(&self, sql: &str) -> u64 {
        let mut conn = self.database.connect().await;
        // Deliberate schema changes: switch the append-only guard off and drop the foreign key from
        // events to requests, tamper, then switch the guard back on.
        for statement in [
            "ALTER TABLE events DISABLE TRIGGER events_no_update_or_delete",
            "ALTER TABLE events DROP CONSTRAINT IF EXISTS events_request_id_fkey",
        ] {
            sqlx::query(statement).execute(&mut conn).await.expect("a guard is switched off");
        }
        let done =
            sqlx::query(AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.expect("the tampering runs");
        sqlx::query("ALTER TABLE events ENABLE TRIGGER events_no_update_or_delete")
            .execute(&mut conn)
            .await
            .expect("the guard is switched on again");
        done.rows_affected()
    }
}

mla_store::conformance_tests!(PostgresHarness);
