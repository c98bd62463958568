//! The register benchmark on SQLite: bulk-loads a synthetic register (default 200,000 requests,
//! `MLA_BENCH_REQUESTS` to change) into a fresh database file, then measures list-page latency under
//! each filter, the statistics of a period, and stored transitions per second from 8 concurrent tasks. Run it with
//! `cargo bench -p mla-store-sqlite --bench register`; it is not part of `cargo test`.

#[path = "../../mla-store/benches/support/register.rs"]
mod measure;

use std::sync::Arc;
use std::time::Instant;

use mla_store::Store;
use mla_store::conformance::sample_partner;
use mla_store_sqlite::SqliteStore;
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;

/// Rows per INSERT statement (each its own transaction), so that progress shows.
const BATCH: u64 = 50_000;

fn json_list(items: &[&str]) -> String {
    serde_json::to_string(items).expect("JSON")
}

/// Writes rows `from..=to` of the synthetic register (see the shape in `measure`) with one statement
/// that generates them in the database: the benchmark measures the queries, not the loading.
async fn load_batch(conn: &mut SqliteConnection, from: u64, to: u64) {
    let codes = measure::partner_codes();
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    sqlx::query(
        "WITH RECURSIVE s(g) AS (SELECT ?1 UNION ALL SELECT g + 1 FROM s WHERE g < ?2), \
         r AS (SELECT g, \
             CASE WHEN g % 2 = 0 THEN 'INCOMING' ELSE 'OUTGOING' END AS dir, \
             json_extract(?3, '$[' || ((g / 7) % 10) || ']') AS st, \
             json_extract(?4, '$[' || (g % 10) || ']') AS typ, \
             'Request ' || g || ' concerning ' || json_extract(?5, '$[' || (g % 8) || ']') AS title, \
             ?6 + g * 30000000 AS ct \
           FROM s), \
         d AS (SELECT *, st IN ('ACCEPTED', 'IN_EXECUTION', 'EXECUTED', 'CLOSED', 'REFUSED') AS decided FROM r) \
         INSERT INTO requests (id, direction, year, number, reference, partner_code, state, version, request_type, \
           title, title_folded, partner_reference_folded, assignee, due_at, clock_stopped_at, create_time, update_time, submit_time, \
           received_time, decided_time, executed_time, refusal_grounds, strictly_confidential, content, conditions) \
         SELECT \
           printf('%08x-%04x-7000-8%03x-%012x', (?7 + g) >> 16, (?7 + g) & 65535, g >> 48, g & 281474976710655), \
           dir, 2026, g / 2 + 1, \
           (CASE dir WHEN 'INCOMING' THEN 'IN' ELSE 'OUT' END) || '-2026-' || printf('%06d', g / 2 + 1), \
           json_extract(?8, '$[' || (g % 20) || ']'), st, 1, typ, title, lower(title), 'pr-' || g, \
           CASE WHEN g % 2 = 0 THEN 'officer-' || (g % 50) ELSE '' END, \
           CASE WHEN st NOT IN ('SUBMITTED', 'DRAFT') THEN ct + 90 * 86400000000 END, \
           CASE WHEN st = 'CLARIFICATION_REQUESTED' THEN ct + 86400000000 END, \
           ct, ct, CASE WHEN st <> 'DRAFT' THEN ct END, \
           CASE WHEN st NOT IN ('SUBMITTED', 'DRAFT') THEN ct + (g % 5) * 86400000000 END, \
           CASE WHEN decided THEN ct + (10 + g % 60) * 86400000000 END, \
           CASE WHEN st IN ('EXECUTED', 'CLOSED') THEN ct + (30 + g % 120) * 86400000000 END, \
           CASE WHEN st <> 'REFUSED' THEN '[]' WHEN g % 2 = 0 THEN json_array('INSUFFICIENT_INFORMATION') \
             ELSE json_array('NO_DUAL_CRIMINALITY', 'DATA_PROTECTION') END, \
           g % 1000 = 0, \
           json_object( \
             'request_type', typ, 'priority', 'NORMAL', 'urgency_reason', '', \
             'requesting_authority', 'Investigative Court of Karkh', 'partner_reference', 'PR-' || g, \
             'title', title, \
             'summary_of_facts', 'Funds embezzled from a public contract were moved through accounts abroad.', \
             'offences', json_array('Embezzlement (Penal Code art. 315)'), \
             'measures', json_array('Bank records of the accounts named', 'Witness hearing'), \
             'purpose', 'Criminal proceedings before the investigative court', 'legal_basis', 'UNCAC art. 46', \
             'persons', json_array(json_object( \
               'name', 'A. B.', 'role', 'SUSPECT', 'nationality', 'IQ', 'protected', json('false'))), \
             'confidentiality', CASE WHEN g % 1000 = 0 THEN 'STRICTLY_CONFIDENTIAL' ELSE 'STANDARD' END), \
           CASE WHEN decided AND st <> 'REFUSED' AND g % 10 = 3 THEN json_array(json_object( \
             'kind', 'FAIR_TRIAL', 'text', 'A fair trial', 'status', 'ACCEPTED', 'given_by', 'partner-system', \
             'given_time', NULL)) ELSE '[]' END \
         FROM d",
    )
    .bind(from as i64)
    .bind(to as i64)
    .bind(json_list(&measure::STATES))
    .bind(json_list(&measure::TYPES))
    .bind(json_list(&measure::WORDS))
    .bind(measure::base_time().timestamp_micros())
    .bind(measure::base_millis())
    .bind(json_list(&codes))
    .execute(conn)
    .await
    .expect("a batch is loaded");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = measure::requests_from_env(200_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("register.db");
    let path = path.to_str().expect("a UTF-8 path").to_owned();
    let store = SqliteStore::open(&path).await.expect("the store opens");
    for code in measure::partner_codes() {
        store
            .create_partner(sample_partner(&code, &format!("Ministry {code}")), None)
            .await
            .expect("registered");
    }

    let started = Instant::now();
    let mut conn = SqliteConnection::connect(&format!("sqlite://{path}")).await.expect("the loader connects");
    let mut from = 0;
    while from < n {
        let to = (from + BATCH).min(n) - 1;
        load_batch(&mut conn, from, to).await;
        eprintln!("loaded {} of {n} requests ({:.0} s)", to + 1, started.elapsed().as_secs_f64());
        from = to + 1;
    }
    sqlx::query(
        "INSERT INTO reference_counters (direction, year, last) \
         SELECT direction, year, max(number) FROM requests GROUP BY direction, year \
         ON CONFLICT (direction, year) DO UPDATE SET last = excluded.last",
    )
    .execute(&mut conn)
    .await
    .expect("counters set");
    sqlx::query("ANALYZE").execute(&mut conn).await.expect("analyzed");
    conn.close().await.expect("closed");
    let load = started.elapsed();
    // The store's read connections were opened before ANALYZE: reopen so the planner sees the statistics.
    store.close().await;
    let store = SqliteStore::open(&path).await.expect("the store reopens");
    let probe =
        store.get_request(mla_domain::RequestId::from_uuid(measure::row_id(n / 2))).await.expect("read");
    assert!(probe.is_some(), "the loader and the benchmark disagree on ids");

    let mut lists = measure::measure_lists(&store, n, 200).await;
    lists.extend(measure::measure_statistics(&store, n, 20).await);
    let store: Arc<dyn Store> = Arc::new(store);
    let transitions = measure::measure_transitions(store.clone(), 8, 250).await;
    measure::print_report("SQLite", n, load, &lists, transitions, 8);
}
