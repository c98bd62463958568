//! The commands on PostgreSQL, through the real binary: `migrate`, `demo` (twice) and `audit verify`
//! on a fresh database made for the test from `MLA_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). An unreachable server fails the test with
//! instructions, unless `MLA_SKIP_POSTGRES=1` says to skip it on purpose.

mod common;

use common::Scratch;
use sqlx::{AssertSqlSafe, Connection as _, PgConnection};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database made for one test and dropped at its end (`WITH (FORCE)`, so that a connection left
/// open cannot keep it alive).
struct TestDatabase {
    server_url: String,
    name: String,
}

impl TestDatabase {
    async fn create() -> Option<TestDatabase> {
        if std::env::var("MLA_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
            eprintln!("skipped: MLA_SKIP_POSTGRES=1 is set, so the PostgreSQL tests do not run");
            return None;
        }
        let server_url = std::env::var("MLA_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let mut admin = PgConnection::connect(&server_url).await.unwrap_or_else(|error| {
            panic!(
                "PostgreSQL is not reachable at {server_url}: {error}\n\
                 Start one (e.g. `docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:17`) \
                 and point MLA_TEST_DATABASE_URL at it, or set MLA_SKIP_POSTGRES=1 to skip these tests on purpose."
            )
        });
        let name = format!("mla_broker_test_{}", uuid::Uuid::now_v7().simple());
        // The name is made here of hex digits: safe to splice into the statement.
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
        admin.close().await.ok();
        Some(TestDatabase { server_url, name })
    }

    /// The test database's URL: the server's URL with the database name replaced.
    fn url(&self) -> String {
        let (base, query) = match self.server_url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (self.server_url.as_str(), None),
        };
        let authority = base.find("://").map_or(0, |i| i + 3);
        let server = base[authority..].find('/').map_or(base, |slash| &base[..authority + slash]);
        match query {
            Some(query) => format!("{server}/{}?{query}", self.name),
            None => format!("{server}/{}", self.name),
        }
    }
}

impl Drop for TestDatabase {
    // Dropped whether the test passed or panicked; `Drop` cannot await, so the statement runs on a
    // thread with a runtime of its own.
    fn drop(&mut self) {
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&server_url).await?;
                sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut admin)
                    .await?;
                admin.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

#[tokio::test]
async fn migrate_demo_and_audit_verify_work_on_postgres() {
    let Some(database) = TestDatabase::create().await else { return };
    let scratch = Scratch::fresh();
    let run = |args: &[&str]| {
        let mut command = scratch.broker(args);
        command.env("MLA_DATABASE_URL", database.url());
        scratch.run_command(command)
    };

    run(&["migrate"]).ok();
    let first = run(&["demo"]).ok();
    assert!(first.contains("demo partners registered by this run: 4"), "{first}");
    let verified = run(&["audit", "verify"]).ok();
    assert!(verified.contains("8 requests"), "{verified}");
    let second = run(&["demo"]).ok();
    assert!(second.contains("demo partners registered by this run: 0"), "{second}");
    assert_eq!(run(&["audit", "verify"]).ok(), verified, "a second demo adds nothing");
    assert!(!scratch.data_dir().join("broker.db").exists(), "no SQLite file when PostgreSQL is configured");
}
