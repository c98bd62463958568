//! What only the PostgreSQL backend has to show: the database refuses to rewrite the audit trail,
//! the feed holds later cursors back while a smaller one is in flight, a database restored into a
//! server whose transaction ids are behind its cursors is refused, events committed by another
//! replica wake this one, a lost listener reconnects and wakes its watchers, text search has its
//! trigram indexes, and connection failures are "unavailable".

use std::time::Duration;

use mla_domain::clock::SlaPolicy;
use mla_domain::lifecycle::Context;
use mla_domain::{Principal, Role, Scope};
use mla_store::conformance::{at, request_id, sample_content, sample_partner};
use mla_store::{EventReader, Store, StoreError};
use mla_store_postgres::PostgresStore;
use mla_store_postgres::testing::TestDatabase;
use sqlx::Row;

/// Registers a partner and drafts one outgoing request through `store`; returns the new event's cursor.
async fn write_something(store: &PostgresStore, partner_code: &str) -> i64 {
    let partner = store.create_partner(sample_partner(partner_code, "Ministry"), None).await.expect("stored");
    let judge = Principal::staff("judge.amira", [Role::Judge]).expect("a principal");
    let ctx = Context::new(at(0), Some(&partner), SlaPolicy::default());
    let new = mla_domain::create(
        request_id(),
        Some(partner.code.clone()),
        sample_content("Replicated"),
        &judge,
        &ctx,
    )
    .expect("decided");
    let request = store.create_request(new, None).await.expect("stored");
    let events = store.request_events(request.id, &EventReader::Verifier, 0, 10).await.expect("read");
    events[0].cursor
}

async fn wait_for_cursor(signal: &mut tokio::sync::watch::Receiver<i64>, cursor: i64) {
    tokio::time::timeout(Duration::from_secs(30), signal.wait_for(|newest| *newest >= cursor))
        .await
        .expect("the signal did not reach the cursor in time")
        .expect("the signal is open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_cannot_be_updated_deleted_or_truncated() {
    let Some(database) = TestDatabase::create().await else { return };
    let store = PostgresStore::connect_with(database.options(), 2).await.expect("connects");
    let cursor = write_something(&store, "FR-MOJ").await;
    let mut conn = database.connect().await;
    for statement in ["UPDATE events SET hash = 'x'", "DELETE FROM events", "TRUNCATE events CASCADE"] {
        let error = sqlx::query(statement).execute(&mut conn).await.expect_err(statement);
        assert!(error.to_string().contains("append-only"), "{statement}: {error}");
    }
    let left = store.events_after(&EventReader::Verifier, 0, 10).await.expect("read");
    assert_eq!(left.iter().map(|e| e.cursor).collect::<Vec<_>>(), [cursor]);
    store.close().await;
}

/// Polls until `done` holds of the store's connections to `database` that wait for a lock, counted
/// by kind: on a row another transaction holds (`transactionid`), and on an advisory lock; for at most
/// 30 seconds.
async fn until_waiting(
    admin: &mut sqlx::PgConnection,
    database: &str,
    what: &str,
    done: impl Fn(i64, i64) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (on_rows, on_advisory): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE wait_event = 'transactionid'), \
                    count(*) FILTER (WHERE wait_event = 'advisory') \
             FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = 'mla-broker' AND wait_event_type = 'Lock'",
        )
        .bind(database)
        .fetch_one(&mut *admin)
        .await
        .expect("read");
        if done(on_rows, on_advisory) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Two writes race while the feed is read: B takes its cursor and is held in flight (its event's
/// `INSERT` waits on an uncommitted row where its event goes), A commits meanwhile, the feed is read,
/// then B commits. Whatever the feed returned while B was in flight must be the start of the final
/// feed: a follower past A's cursor would otherwise never see B's. `a_takes_its_id_first`: A's
/// transaction gets its id before B's (A waits on a lock of its request's row meanwhile), so that a
/// feed filtering a sequence's cursors on their writers' transaction ids would show A's event early;
/// otherwise B's comes first, which a feed without any horizon would show early. (Under the former
/// global append lock A waits for B instead, and the feed holds just as well.)
async fn race_the_feed(a_takes_its_id_first: bool) {
    use mla_domain::lifecycle::Command;
    use mla_domain::request::Action;

    let Some(database) = TestDatabase::create().await else { return };
    let store = PostgresStore::connect_with(database.options(), 4).await.expect("connects");
    let partner = store.create_partner(sample_partner("FR-MOJ", "Ministry"), None).await.expect("stored");
    let judge = Principal::staff("judge.amira", [Role::Judge]).expect("a principal");
    let ctx = Context::new(at(0), Some(&partner), SlaPolicy::default());
    let draft = |title: &str| {
        mla_domain::create(request_id(), Some(partner.code.clone()), sample_content(title), &judge, &ctx)
            .expect("decided")
    };
    let request_a = store.create_request(draft("A"), None).await.expect("stored");
    let request_b = store.create_request(draft("B"), None).await.expect("stored");
    // The feed as staff read it (the verifier reads past the feed's horizon).
    let staff_feed = EventReader::Scope(Scope::Ncijc);
    let start = store.events_after(&staff_feed, 0, 10).await.expect("read").last().expect("events").cursor;
    let submit = |request| {
        mla_domain::transition(request, &Command::new(Action::Submit), &judge, &ctx).expect("decided")
    };
    let (submit_a, submit_b) = (submit(&request_a), submit(&request_b));
    let mut start_a = Some({
        let store = store.clone();
        move || tokio::spawn(async move { store.save_change(request_a.version, submit_a, None).await })
    });

    let mut admin = database.connect().await;
    let mut row_lock = database.connect().await;
    let early_a = if a_takes_its_id_first {
        sqlx::query("BEGIN").execute(&mut row_lock).await.expect("begun");
        sqlx::query("SELECT 1 FROM requests WHERE id = $1 FOR UPDATE")
            .bind(request_a.id.as_uuid())
            .execute(&mut row_lock)
            .await
            .expect("locked");
        let early_a = start_a.take().expect("A starts once")();
        // A's UPDATE has its transaction id, and waits for the row.
        until_waiting(&mut admin, database.name(), "A waits for its row", |on_rows, _| on_rows == 1).await;
        Some(early_a)
    } else {
        None
    };
    let mut event_slot = database.connect().await;
    sqlx::query("BEGIN").execute(&mut event_slot).await.expect("begun");
    sqlx::query(
        "INSERT INTO events (cursor, request_id, partner_code, seq, time, actor_subject, actor_roles, action, \
         to_state, details, visible_to_ncijc, visible_to_partner, prev_hash, hash) \
         VALUES (-1, $1, 'FR-MOJ', 2, now(), 'placeholder', '{}', 'SUBMIT', 'SUBMITTED', '{}', false, false, '', '')",
    )
    .bind(request_b.id.as_uuid())
    .execute(&mut event_slot)
    .await
    .expect("the place of B's event is taken");
    let write_b = tokio::spawn({
        let store = store.clone();
        async move { store.save_change(request_b.version, submit_b, None).await }
    });
    // B has taken its cursor, and its event's INSERT waits for the place.
    let waiting = if a_takes_its_id_first { 2 } else { 1 };
    until_waiting(&mut admin, database.name(), "B waits in flight", |on_rows, _| on_rows == waiting).await;
    let write_a = match early_a {
        Some(write_a) => {
            sqlx::query("ROLLBACK").execute(&mut row_lock).await.expect("A's row is free");
            write_a
        }
        None => start_a.take().expect("A starts once")(),
    };
    // A commits (or, under a global append lock, waits for B).
    until_waiting(&mut admin, database.name(), "A commits or waits for B", |_, on_advisory| {
        write_a.is_finished() || on_advisory == 1
    })
    .await;
    let early = store.events_after(&staff_feed, start, 10).await.expect("read");

    sqlx::query("ROLLBACK").execute(&mut event_slot).await.expect("B's place is free");
    let stored_b = write_b.await.expect("joined").expect("B is stored");
    let stored_a = write_a.await.expect("joined").expect("A is stored");
    let feed = store.events_after(&staff_feed, start, 10).await.expect("read");
    let mut written: Vec<_> = feed.iter().map(|e| (e.request_id, e.seq)).collect();
    written.sort();
    let mut expected = [(stored_a.id, 2), (stored_b.id, 2)];
    expected.sort();
    assert_eq!(written, expected, "the feed has both events");
    assert!(feed.windows(2).all(|pair| pair[0].cursor < pair[1].cursor), "in cursor order");
    let cursors = |events: &[mla_domain::audit::Event]| events.iter().map(|e| e.cursor).collect::<Vec<_>>();
    assert!(
        feed.starts_with(&early),
        "while B was in flight the feed returned {:?}, but the feed is {:?}",
        cursors(&early),
        cursors(&feed)
    );
    assert!(mla_store::verify_audit(&store).await.expect("read").is_ok());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_feed_returns_no_cursor_before_a_smaller_one_commits() {
    race_the_feed(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_feed_returns_no_cursor_before_a_smaller_one_commits_whichever_write_began_first() {
    race_the_feed(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_committed_by_another_replica_wake_this_one() {
    let Some(database) = TestDatabase::create().await else { return };
    let this = PostgresStore::connect_with(database.options(), 2).await.expect("connects");
    let other = PostgresStore::connect_with(database.options(), 2).await.expect("connects");
    let mut signal = this.event_signal();
    assert_eq!(*signal.borrow_and_update(), 0);
    let cursor = write_something(&other, "FR-MOJ").await;
    wait_for_cursor(&mut signal, cursor).await;
    let cursor = write_something(&other, "DE-BJ").await;
    wait_for_cursor(&mut signal, cursor).await;
    let late = PostgresStore::connect_with(database.options(), 2).await.expect("connects");
    assert_eq!(*late.event_signal().borrow(), cursor, "a new replica starts from the newest cursor");
    for store in [this, other, late] {
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_loses_its_connection_reconnects_and_wakes_its_watchers() {
    let Some(database) = TestDatabase::create().await else { return };
    let this = PostgresStore::connect_with(database.options(), 2).await.expect("connects");
    let other = PostgresStore::connect_with(database.options(), 2).await.expect("connects");
    let mut signal = this.event_signal();
    signal.borrow_and_update();
    let mut admin = database.connect().await;
    // Every store listens; end every listening connection (both replicas') as a network cut would.
    let terminated: Vec<bool> = sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'",
    )
    .bind(database.name())
    .fetch_all(&mut admin)
    .await
    .expect("terminated")
    .iter()
    .map(|row| row.get(0))
    .collect();
    assert_eq!(terminated, [true, true], "both listeners were found and ended");
    tokio::time::timeout(Duration::from_secs(30), signal.changed())
        .await
        .expect("the watchers were not woken after the listener lost its connection")
        .expect("the signal is open");
    // The listener listens again: another replica's event still arrives.
    let cursor = write_something(&other, "FR-MOJ").await;
    wait_for_cursor(&mut signal, cursor).await;
    this.close().await;
    other.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_brings_a_database_up_to_date_and_may_run_again() {
    let Some(database) = TestDatabase::create().await else { return };
    mla_store_postgres::migrate(&database.url()).await.expect("migrated");
    mla_store_postgres::migrate(&database.url()).await.expect("migrated again");
    let mut conn = database.connect().await;
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .expect("read");
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    let store = PostgresStore::connect(&database.url()).await.expect("connects to a migrated database");
    store.ping().await.expect("answers");
    store.close().await;
}

/// Cursors are the server's transaction ids: a database whose cursors are ahead of them (restored
/// from another server) would give new events cursors below those its followers hold, so the store
/// refuses to serve it, and says what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_with_cursors_ahead_of_the_servers_transaction_ids_is_refused() {
    let Some(database) = TestDatabase::create().await else { return };
    let store = PostgresStore::connect_with(database.options(), 2).await.expect("connects");
    let cursor = write_something(&store, "FR-MOJ").await;
    store.close().await;
    let mut conn = database.connect().await;
    let ahead = 1_i64 << 50;
    sqlx::query(
        "INSERT INTO events (cursor, request_id, partner_code, seq, time, actor_subject, actor_roles, action, \
         to_state, details, visible_to_ncijc, visible_to_partner, prev_hash, hash) \
         SELECT $1, request_id, partner_code, 2, time, actor_subject, actor_roles, action, to_state, details, \
                visible_to_ncijc, visible_to_partner, hash, hash \
         FROM events WHERE cursor = $2",
    )
    .bind(ahead)
    .bind(cursor)
    .execute(&mut conn)
    .await
    .expect("a cursor from another server is planted");
    let refused = PostgresStore::connect_with(database.options(), 2).await.expect_err("refused");
    assert!(refused.to_string().contains("event_cursor_base()"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_text_query_can_use_trigram_indexes() {
    let Some(database) = TestDatabase::create().await else { return };
    let store = PostgresStore::connect_with(database.options(), 2).await.expect("connects");
    let mut conn = database.connect().await;
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT indexname::text FROM pg_indexes WHERE indexname LIKE '%trgm' ORDER BY 1")
            .fetch_all(&mut conn)
            .await
            .expect("read");
    assert_eq!(
        indexes,
        ["requests_partner_reference_search_trgm", "requests_reference_trgm", "requests_title_search_trgm"],
        "pg_trgm is installed here"
    );
    // With sequential scans and plain index scans priced out (on an empty table the primary key's
    // backward scan is otherwise cheapest), the planner shows that the indexes serve the query's shape.
    for setting in ["SET enable_seqscan = off", "SET enable_indexscan = off"] {
        sqlx::query(setting).execute(&mut conn).await.expect("set");
    }
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT id FROM requests WHERE (title_search ILIKE '%fraud%' ESCAPE '\\' \
         OR reference ILIKE '%fraud%' ESCAPE '\\' OR partner_reference_search ILIKE '%fraud%' ESCAPE '\\') \
         ORDER BY id DESC LIMIT 50",
    )
    .fetch_all(&mut conn)
    .await
    .expect("explained");
    let plan = plan.join("\n");
    for index in
        ["requests_title_search_trgm", "requests_reference_trgm", "requests_partner_reference_search_trgm"]
    {
        assert!(plan.contains(index), "{index} is not in the plan:\n{plan}");
    }
    store.close().await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // Port 1 on the loopback address: nothing listens there.
    let result = PostgresStore::connect("postgres://postgres@127.0.0.1:1/mla?connect_timeout=2").await;
    assert!(matches!(result, Err(StoreError::Unavailable(_))), "got {result:?}");
}

/// The overdue list reads overdue ids in chunks (200 at first); a partner whose few overdue requests
/// are older than a first chunk of another partner's still gets them, and paging covers every one
/// exactly once, newest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_lists_read_past_a_chunk_of_other_requests() {
    use mla_domain::lifecycle::Command;
    use mla_domain::request::Action;
    use mla_domain::{Partner, Request, Scope};
    use mla_store::RequestQuery;

    let Some(database) = TestDatabase::create().await else { return };
    let store = PostgresStore::connect_with(database.options(), 4).await.expect("connects");
    let registrar = Principal::staff("registrar.karim", [Role::Registrar]).expect("a principal");
    let few = store.create_partner(sample_partner("FEW-MOJ", "Few"), None).await.expect("stored");
    let many = store.create_partner(sample_partner("MANY-MOJ", "Many"), None).await.expect("stored");
    // Received requests, oldest first: 5 of `few`, then 210 of `many`; all overdue a year later.
    async fn received(store: &PostgresStore, partner: &Partner, registrar: &Principal, i: i64) -> Request {
        let system = Principal::partner("system", partner.code.clone()).expect("a principal");
        let ctx = |now| Context::new(now, Some(partner), SlaPolicy::default());
        let new =
            mla_domain::create(request_id(), None, sample_content(&format!("No. {i}")), &system, &ctx(at(i)))
                .expect("decided");
        let draft = store.create_request(new, None).await.expect("stored");
        let submit = mla_domain::transition(&draft, &Command::new(Action::Submit), &system, &ctx(at(i)))
            .expect("decided");
        let submitted = store.save_change(draft.version, submit, None).await.expect("stored");
        let ack =
            mla_domain::transition(&submitted, &Command::new(Action::Acknowledge), registrar, &ctx(at(i)))
                .expect("decided");
        store.save_change(submitted.version, ack, None).await.expect("stored")
    }
    let mut few_ids = Vec::new();
    for i in 0..5 {
        few_ids.push(received(&store, &few, &registrar, i).await.id);
    }
    for i in 5..215 {
        received(&store, &many, &registrar, i).await;
    }
    few_ids.reverse();
    let overdue_at = at(0) + chrono::Duration::days(365);
    let query = |limit| RequestQuery {
        overdue_at: Some(overdue_at),
        partner_code: Some(few.code.clone()),
        ..RequestQuery::new(Scope::Ncijc, limit)
    };
    let found: Vec<_> = store.list_requests(&query(50)).await.expect("read").iter().map(|r| r.id).collect();
    assert_eq!(found, few_ids);
    let mut paged = Vec::new();
    let mut page_query = query(2);
    loop {
        let page = store.list_requests(&page_query).await.expect("read");
        let Some(last) = page.last() else { break };
        page_query.after = Some(last.id);
        paged.extend(page.iter().map(|r| r.id));
    }
    assert_eq!(paged, few_ids);
    let all = RequestQuery { overdue_at: Some(overdue_at), ..RequestQuery::new(Scope::Ncijc, 500) };
    assert_eq!(store.list_requests(&all).await.expect("read").len(), 215);
    let one = RequestQuery { overdue_at: Some(overdue_at), ..RequestQuery::new(Scope::Ncijc, 1) };
    assert_eq!(store.list_requests(&one).await.expect("read").len(), 1);
    store.close().await;
}

/// The feed's horizon is the server's oldest running transaction, whatever its database; the audit
/// verifier reads what has committed, so a long transaction elsewhere hides nothing from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_transaction_elsewhere_on_the_server_does_not_hide_events_from_the_verifier() {
    let Some(database) = TestDatabase::create().await else { return };
    let Some(elsewhere) = TestDatabase::create().await else { return };
    let mut long = elsewhere.connect().await;
    sqlx::query("BEGIN").execute(&mut long).await.expect("begun");
    sqlx::query("SELECT pg_current_xact_id()").execute(&mut long).await.expect("a transaction id taken");

    let store = PostgresStore::connect_with(database.options(), 2).await.expect("connects");
    write_something(&store, "FR-MOJ").await;
    let report = mla_store::verify_audit(&store).await.expect("read").expect("every chain verifies");
    assert_eq!(report.requests, 1);

    sqlx::query("ROLLBACK").execute(&mut long).await.expect("rolled back");
    store.close().await;
}
