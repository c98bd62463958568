//! Runs every storage conformance scenario against the PostgreSQL backend, each on a fresh database
//! that is dropped when the scenario ends, passed or failed.

use async_trait::async_trait;
use mla_store::Store;
use mla_store::conformance::{Harness, Tamper};
use mla_store_postgres::PostgresStore;
use mla_store_postgres::testing::TestDatabase;

struct PostgresHarness {
    store: PostgresStore,
    // Declared after the store: fields drop in order, so the store's connections go first.
    database: TestDatabase,
}

#[async_trait]
impl Harness for PostgresHarness {
    async fn start() -> Option<Self> {
        let database = TestDatabase::create().await?;
        let store = PostgresStore::connect_with(database.options(), 10).await.expect("the store connects");
        Some(PostgresHarness { store, database })
    }

    fn store(&self) -> &dyn Store {
        &self.store
    }

    async fn finish(self) {
        self.store.close().await;
        // Dropping `self.database` drops the database.
    }
}

#[async_trait]
impl Tamper for PostgresHarness {
    async fn try_rewrite_event_details(&self, cursor: i64, details: &str) -> Result<(), String> {
        let mut conn = self.database.connect().await;
        sqlx::query("UPDATE events SET details = $1 WHERE cursor = $2")
            .bind(details)
            .bind(cursor)
            .execute(&mut conn)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn force_rewrite_event_details(&self, cursor: i64, details: &str) {
        let mut conn = self.database.connect().await;
        // A deliberate schema change: switch the append-only guard off, rewrite, switch it back on.
        sqlx::query("ALTER TABLE events DISABLE TRIGGER events_no_update_or_delete")
            .execute(&mut conn)
            .await
            .expect("the guard is disabled");
        let changed = sqlx::query("UPDATE events SET details = $1 WHERE cursor = $2")
            .bind(details)
            .bind(cursor)
            .execute(&mut conn)
            .await
            .expect("the event is rewritten")
            .rows_affected();
        assert_eq!(changed, 1);
        sqlx::query("ALTER TABLE events ENABLE TRIGGER events_no_update_or_delete")
            .execute(&mut conn)
            .await
            .expect("the guard is enabled again");
    }
}

mla_store::conformance_tests!(PostgresHarness);
