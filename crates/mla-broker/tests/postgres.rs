//! The commands on PostgreSQL, through the real binary: `migrate`, `demo` (twice) and `audit verify`
//! on a fresh database made for the test from `MLA_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). An unreachable server fails the test with
//! instructions, unless `MLA_SKIP_POSTGRES=1` says to skip it on purpose.

mod common;

use common::Scratch;
use mla_store_postgres::testing::TestDatabase;

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
    assert!(first.contains("demo partners registered by this run: 5"), "{first}");
    let verified = run(&["audit", "verify"]).ok();
    assert!(verified.contains("9 requests"), "{verified}");
    let second = run(&["demo"]).ok();
    assert!(second.contains("demo partners registered by this run: 0"), "{second}");
    assert_eq!(run(&["audit", "verify"]).ok(), verified, "a second demo adds nothing");
    assert!(!scratch.data_dir().join("broker.db").exists(), "no SQLite file when PostgreSQL is configured");
}
