//! A full disk, the storage fault a broker must answer for itself. On SQLite the broker's data
//! directory is on a small tmpfs of the test's own; on PostgreSQL every table and index of the
//! broker's database is moved to a tablespace on one (the write-ahead log stays on the server's own
//! disk: a full WAL disk stops the whole server, which is an outage, tested in `outage.rs`). A write
//! that does not fit is refused with RESOURCE_EXHAUSTED `STORAGE_FULL` and a retry hint (507 with
//! `Retry-After` over REST), never INTERNAL; every acknowledged write stays readable; once there is
//! room again the same broker writes again without a restart; and the audit trail verifies (and, on
//! SQLite, the database file passes its integrity check).
//!
//! Mounting needs root. Without it the test says so and passes, unless `MLA_TEST_REQUIRE_ROOT=1`
//! (as `.ci/run` sets it), which turns the missing privilege into a failure.

use std::path::Path;
use std::process::Command;

use mla_proto::v1 as pb;
use mla_store_postgres::testing;
use mla_tests::*;
use sqlx::{AssertSqlSafe, Connection as _, PgConnection};
use tonic::Code;
use tonic_types::StatusExt as _;

/// Room for the migrated database and a few hundred requests, then none.
const SMALL: &str = "3m";
const ROOMY: &str = "64m";
/// Creations before the disk must have filled: a bound, so that a broken mount fails the test.
const AT_MOST: usize = 20_000;

/// A tmpfs mounted on a temporary folder, unmounted when dropped.
struct Tmpfs {
    folder: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` when this process may not mount (not root) and the test may skip.
    fn mount(size: &str) -> Option<Tmpfs> {
        let root = Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.trim_ascii() == b"0");
        if !root {
            assert!(
                std::env::var("MLA_TEST_REQUIRE_ROOT").as_deref() != Ok("1"),
                "MLA_TEST_REQUIRE_ROOT=1, but the disk-full test cannot mount a tmpfs without root"
            );
            eprintln!("disk_full: SKIPPED, mounting a tmpfs needs root");
            return None;
        }
        let folder = tempfile::tempdir().expect("a temporary folder");
        mount(&["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"], folder.path());
        Some(Tmpfs { folder })
    }

    fn path(&self) -> &Path {
        self.folder.path()
    }

    /// Grows (or shrinks) the filesystem in place, its files kept: an operator making room.
    fn resize(&self, size: &str) {
        mount(&["-o", &format!("remount,size={size}")], self.path());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("--lazy").arg(self.path()).status();
    }
}

fn mount(args: &[&str], at: &Path) {
    let status = Command::new("mount").args(args).arg(at).status().expect("mount runs");
    assert!(status.success(), "mount {args:?} {} failed", at.display());
}

/// A PostgreSQL tablespace on a small disk, dropped (after the database in it) with the test.
struct Tablespace {
    name: String,
}

impl Tablespace {
    /// A new tablespace at `disk`, which the server's own user is given.
    async fn on(disk: &Tmpfs) -> Tablespace {
        let status = Command::new("chown").arg("postgres:postgres").arg(disk.path()).status();
        assert!(status.is_ok_and(|status| status.success()), "the server's user owns the small disk");
        let name = format!("mla_small_{}", uuid::Uuid::now_v7().simple());
        // The name is made here of hex digits and the path by the test: safe to splice.
        let sql = format!("CREATE TABLESPACE {name} LOCATION '{}'", disk.path().display());
        let mut server = PgConnection::connect(&testing::server_url()).await.expect("PostgreSQL connects");
        sqlx::query(AssertSqlSafe(sql)).execute(&mut server).await.expect("the tablespace is made");
        Tablespace { name }
    }

    /// Moves every table and index of the database at `url` here.
    async fn hold(&self, url: &str) {
        let mut database = PgConnection::connect(url).await.expect("the broker's database connects");
        for kind in ["TABLE", "INDEX"] {
            let sql = format!("ALTER {kind} ALL IN TABLESPACE pg_default SET TABLESPACE {}", self.name);
            sqlx::query(AssertSqlSafe(sql)).execute(&mut database).await.expect("moved to the small disk");
        }
    }
}

impl Drop for Tablespace {
    fn drop(&mut self) {
        let sql = format!("DROP TABLESPACE IF EXISTS {}", self.name);
        // `Drop` cannot await: a thread of its own with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move {
                let mut server = PgConnection::connect(&testing::server_url()).await?;
                sqlx::query(AssertSqlSafe(sql)).execute(&mut server).await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("disk_full: could not drop the tablespace {}: {dropped:?}", self.name);
        }
    }
}

/// A request with a long statement of facts that does not compress (PostgreSQL compresses long
/// values), so that the disk fills in a few hundred creations.
fn bulky(n: usize) -> pb::CreateRequestRequest {
    let mut request = complete_request("", &format!("Bulky {n}"));
    request.summary_of_facts = bulky_facts();
    pb::CreateRequestRequest { request: Some(request), ..Default::default() }
}

fn bulky_facts() -> String {
    (0..100).map(|_| format!("{} ", uuid::Uuid::new_v4().simple())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_sqlite_refuses_writes_clearly_loses_nothing_and_recovers_without_a_restart() {
    let Some(disk) = Tmpfs::mount(SMALL) else { return };
    let data_dir = disk.path().to_owned();
    let broker = Broker::sqlite_with(|config| config.data_dir = data_dir).await;
    fill_refuse_and_recover(&broker, &disk).await;

    let database = broker.data_dir().join("broker.db");
    broker.stop().await;
    let mut file = sqlx::SqliteConnection::connect(&format!("sqlite://{}", database.display()))
        .await
        .expect("the database file opens");
    let integrity: String =
        sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut file).await.expect("integrity_check");
    assert_eq!(integrity, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_tablespace_under_postgresql_refuses_writes_clearly_loses_nothing_and_recovers() {
    if testing::skipped() {
        return;
    }
    let Some(disk) = Tmpfs::mount(SMALL) else { return };
    // Declared before the broker, so dropped after its database, whatever happens.
    let tablespace = Tablespace::on(&disk).await;
    let broker = Broker::start(Backend::Postgres).await.expect("PostgreSQL is not skipped");
    tablespace.hold(broker.database_url().expect("a PostgreSQL broker")).await;
    fill_refuse_and_recover(&broker, &disk).await;
    broker.stop().await;
}

/// Fills `disk` through `broker`, checks the refusals and the reads, makes room and checks that the
/// same broker writes again, and that nothing acknowledged was lost.
async fn fill_refuse_and_recover(broker: &Broker, disk: &Tmpfs) {
    broker.register_partners(&["FR-MOJ"]).await;
    let partner = broker.partner("FR-MOJ");
    let mut requests = broker.requests().await;

    // Fill the disk: every creation either acknowledged or refused as STORAGE_FULL.
    let mut acknowledged = Vec::new();
    let refusal = loop {
        assert!(acknowledged.len() < AT_MOST, "the disk never filled: is the tmpfs mounted?");
        match requests.create_request(authed(bulky(acknowledged.len()), &partner)).await {
            Ok(created) => acknowledged.push(created.into_inner().id),
            Err(status) => break status,
        }
    };
    assert_eq!(refusal.code(), Code::ResourceExhausted, "{refusal:?}");
    assert_eq!(reason_of(&refusal), "STORAGE_FULL", "{refusal:?}");
    assert!(refusal.get_details_retry_info().and_then(|info| info.retry_delay).is_some(), "{refusal:?}");
    assert!(acknowledged.len() > 10, "the disk filled before any work was done: {}", acknowledged.len());
    println!("disk_full: {} creations acknowledged on a {SMALL} disk, then STORAGE_FULL", acknowledged.len());

    // Still full: the same answer over REST, as HTTP says it. PostgreSQL may still fit a row or two
    // in a page's free space after a refusal, so a write acknowledged here counts like any other.
    let http = http_client();
    let (problem, retry_after) = loop {
        assert!(acknowledged.len() < AT_MOST, "REST never refused on a full disk");
        let answer = http
            .post(format!("{}/v1/requests", broker.http_url))
            .bearer_auth(&partner)
            .json(&serde_json::json!({
                "partner_code": "", "request_type": "EVIDENCE", "priority": "NORMAL",
                "requesting_authority": "Investigating judge", "title": "One too many",
                "summary_of_facts": bulky_facts(), "measures": ["Hear witness W-17"],
                "purpose": "Criminal proceedings", "legal_basis": "UNTOC art. 18",
            }))
            .send()
            .await
            .expect("the gateway answers");
        let (status, retry_after) = (answer.status().as_u16(), answer.headers().contains_key("retry-after"));
        let body: serde_json::Value = answer.json().await.expect("a JSON answer");
        match status {
            201 => acknowledged.push(body["id"].as_str().expect("a created request's id").to_owned()),
            _ => {
                assert_eq!(status, 507, "Insufficient Storage: {body:#}");
                break (body, retry_after);
            }
        }
    };
    assert!(retry_after, "{problem:#}");
    assert_eq!(problem["reason"], "STORAGE_FULL", "{problem:#}");

    // Reads go on, and every acknowledged request is there.
    for id in &acknowledged {
        let read = requests.get_request(authed(pb::GetRequestRequest { id: id.clone() }, &partner)).await;
        assert!(read.is_ok(), "acknowledged request {id} unreadable on a full disk: {read:?}");
    }

    // An operator makes room: the same broker writes again, no restart.
    disk.resize(ROOMY);
    let created = requests.create_request(authed(bulky(AT_MOST), &partner)).await;
    acknowledged.push(created.expect("a creation once there is room again").into_inner().id);
    let last = acknowledged.last().unwrap().clone();
    let submitted = requests.transition_request(authed(action(&last, pb::Action::Submit), &partner)).await;
    assert!(submitted.is_ok(), "{submitted:?}");

    // Nothing acknowledged was lost, and the audit trail verifies.
    let store = broker.open_store().await;
    for id in &acknowledged {
        let id = mla_domain::RequestId::parse(id).expect("a request id");
        assert!(store.get_request(id).await.expect("the store reads").is_some(), "request {id} lost");
    }
    let report = mla_store::verify_audit(&*store).await.expect("the store reads");
    assert!(report.is_ok(), "the audit trail after a full disk: {report:?}");
}
