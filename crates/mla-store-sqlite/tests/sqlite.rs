//! What only the SQLite backend has to show: it makes its file and directory, keeps its data across
//! reopening, takes URLs, paths and in-memory databases, runs in WAL mode, and never reports a locked
//! database under concurrent writes, even from two stores on one file; and it folds the partner's
//! reference of rows stored before that column existed.

use futures::future::join_all;
use mla_domain::Scope;
use mla_domain::clock::SlaPolicy;
use mla_domain::lifecycle::Context;
use mla_domain::{Partner, Principal, Role};
use mla_store::conformance::{at, request_id, sample_content, sample_partner};
use mla_store::{RequestQuery, Store, verify_audit};
use mla_store_sqlite::SqliteStore;
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;

async fn draft(store: &dyn Store, partner: &Partner, title: &str) -> mla_domain::Request {
    let judge = Principal::staff("judge.amira", [Role::Judge]).expect("a principal");
    let ctx = Context::new(at(0), Some(partner), SlaPolicy::default());
    let new =
        mla_domain::create(request_id(), Some(partner.code.clone()), sample_content(title), &judge, &ctx)
            .expect("decided");
    store.create_request(new, None).await.expect("stored")
}

#[tokio::test]
async fn the_file_and_its_directory_are_made_and_the_data_survives_reopening() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("a").join("b").join("mla.db");
    let path_text = path.to_str().expect("UTF-8").to_owned();
    let store = SqliteStore::open(&path_text).await.expect("opens");
    let partner = store.create_partner(sample_partner("FR-MOJ", "Ministry"), None).await.expect("stored");
    let request = draft(&store, &partner, "Kept").await;
    store.close().await;
    assert!(path.exists());

    mla_store_sqlite::migrate(&path_text).await.expect("migrating again changes nothing");
    let reopened = SqliteStore::open(&format!("sqlite://{path_text}")).await.expect("reopens by URL");
    assert_eq!(reopened.get_request(request.id).await.expect("read"), Some(request));
    assert_eq!(*reopened.event_signal().borrow(), 1, "the signal starts from the stored newest cursor");
    reopened.close().await;

    let mut conn = SqliteConnection::connect(&format!("sqlite://{path_text}")).await.expect("opens");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.expect("read");
    assert_eq!(mode, "wal");
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .expect("read");
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
}

#[tokio::test]
async fn an_in_memory_database_works_for_reads_and_writes() {
    let store = SqliteStore::open("sqlite::memory:").await.expect("opens");
    let partner = store.create_partner(sample_partner("FR-MOJ", "Ministry"), None).await.expect("stored");
    let request = draft(&store, &partner, "In memory").await;
    assert_eq!(store.get_request(request.id).await.expect("read"), Some(request));
    assert_eq!(store.list_requests(&RequestQuery::new(Scope::Ncijc, 10)).await.expect("read").len(), 1);
    store.close().await;
}

/// Two stores on one file stand for two processes: each serializes its own writes, and SQLite's lock
/// (with the busy timeout) serializes the two. Nothing reports `database is locked`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_and_readers_never_see_a_locked_database() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("mla.db");
    let path = path.to_str().expect("UTF-8");
    let one = SqliteStore::open(path).await.expect("opens");
    let two = SqliteStore::open(path).await.expect("opens");
    let partner = one.create_partner(sample_partner("FR-MOJ", "Ministry"), None).await.expect("stored");
    let writes = (0..120).map(|i| {
        let store: &dyn Store = if i % 2 == 0 { &one } else { &two };
        let partner = &partner;
        async move { draft(store, partner, &format!("Load {i}")).await }
    });
    let reads = (0..60).map(|i| {
        let store: &dyn Store = if i % 2 == 0 { &two } else { &one };
        async move { store.list_requests(&RequestQuery::new(Scope::Ncijc, 50)).await.expect("read").len() }
    });
    let (written, _) = futures::join!(join_all(writes), join_all(reads));
    let mut numbers: Vec<u32> = written.iter().map(|r| r.reference.number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=120).collect::<Vec<_>>());
    let report = verify_audit(&one).await.expect("read").expect("sound");
    assert_eq!(report.events, 120);
    one.close().await;
    two.close().await;
}

/// A database stored before the partner's reference had a folded column holds NULL there; the store
/// folds those rows when it opens the file, so the text query finds them like every other.
#[tokio::test]
async fn rows_stored_before_the_folded_partner_reference_are_folded_on_opening() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("mla.db");
    let path = path.to_str().expect("UTF-8");
    let store = SqliteStore::open(path).await.expect("opens");
    let partner = store.create_partner(sample_partner("FR-MOJ", "Ministry"), None).await.expect("stored");
    let request = draft(&store, &partner, "Stored long ago").await;
    store.close().await;
    let mut conn = SqliteConnection::connect(&format!("sqlite://{path}")).await.expect("opens");
    sqlx::query("UPDATE requests SET partner_reference_folded = NULL")
        .execute(&mut conn)
        .await
        .expect("unfolded");
    conn.close().await.expect("closed");

    let reopened = SqliteStore::open(path).await.expect("reopens");
    let query = RequestQuery { text: Some("pr-2026/118".into()), ..RequestQuery::new(Scope::Ncijc, 10) };
    let found = reopened.list_requests(&query).await.expect("read");
    assert_eq!(found.iter().map(|r| r.id).collect::<Vec<_>>(), [request.id]);
    reopened.close().await;
}
