//! A fresh PostgreSQL database per test: made from `MLA_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), dropped when the test ends, passed or failed.
//! Shared by every test suite that runs against PostgreSQL (feature `testing`).

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The server the tests make their databases on (`MLA_TEST_DATABASE_URL`, or the local default).
pub fn server_url() -> String {
    std::env::var("MLA_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// Whether PostgreSQL is skipped on purpose (`MLA_SKIP_POSTGRES=1`).
pub fn skipped() -> bool {
    std::env::var("MLA_SKIP_POSTGRES").is_ok_and(|v| v == "1")
}

/// A database made for one test. Dropping it drops the database (`WITH (FORCE)`, so connections
/// still open cannot keep it alive), from a thread of its own since `Drop` cannot await.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// Makes a new, empty database; `None` when PostgreSQL is skipped on purpose
    /// (`MLA_SKIP_POSTGRES=1`). An unreachable server otherwise fails the test with instructions.
    pub async fn create() -> Option<TestDatabase> {
        if skipped() {
            eprintln!("skipped: MLA_SKIP_POSTGRES=1 is set, so the PostgreSQL tests do not run");
            return None;
        }
        let admin_url = server_url();
        let mut admin = match PgConnection::connect(&admin_url).await {
            Ok(conn) => conn,
            Err(error) => panic!(
                "PostgreSQL is not reachable at {admin_url}: {error}\n\
                 The PostgreSQL backend's tests need a server where they may create databases. Start one, e.g.\n  \
                 apt-get install -y postgresql && pg_ctlcluster 15 main start   (trust auth for 127.0.0.1), or\n  \
                 docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16\n\
                 and point MLA_TEST_DATABASE_URL at it, or set MLA_SKIP_POSTGRES=1 to skip these tests on purpose."
            ),
        };
        let name = format!("mla_test_{}", uuid::Uuid::now_v7().simple());
        // The name is made here of hex digits: safe to splice into the statement.
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("the test database is created");
        admin.close().await.ok();
        Some(TestDatabase { admin_url, name })
    }

    /// Connection options for the test database.
    pub fn options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(&self.admin_url).expect("a valid URL").database(&self.name)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The test database's URL: the server's URL with the database name replaced.
    pub fn url(&self) -> String {
        let (base, query) =
            self.admin_url.split_once('?').map_or((self.admin_url.as_str(), None), |(b, q)| (b, Some(q)));
        let authority_end = base.find("://").map_or(0, |i| i + 3);
        let server = match base[authority_end..].find('/') {
            Some(slash) => &base[..authority_end + slash],
            None => base,
        };
        match query {
            Some(query) => format!("{server}/{}?{query}", self.name),
            None => format!("{server}/{}", self.name),
        }
    }

    /// A connection of its own to the test database, outside any store.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect_with(&self.options()).await.expect("the test database accepts connections")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await?;
                sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("could not drop the test database {}: {error}", self.name),
            Err(_) => {
                eprintln!("could not drop the test database {}: the dropping thread panicked", self.name)
            }
        }
    }
}
