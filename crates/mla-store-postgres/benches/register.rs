//! The register benchmark on PostgreSQL: bulk-loads a synthetic register (default 1,000,000 requests,
//! `MLA_BENCH_REQUESTS` to change) into a fresh database, then measures list-page latency under each
//! filter, the statistics of a period, and stored transitions per second from 8 concurrent tasks. Run it with
//! `cargo bench -p mla-store-postgres --bench register`; it is not part of `cargo test`. The database
//! comes from `MLA_TEST_DATABASE_URL` like the tests' and is dropped at the end, unless
//! `MLA_BENCH_KEEP=1` keeps it for inspection.

#[path = "../../mla-store/benches/support/register.rs"]
mod measure;

use std::sync::Arc;
use std::time::Instant;

use mla_store::Store;
use mla_store::conformance::sample_partner;
use mla_store_postgres::PostgresStore;
use sqlx::postgres::PgConnection;

/// Rows per INSERT statement: each is its own transaction, so progress shows and WAL stays bounded.
const BATCH: u64 = 100_000;

/// Writes rows `from..=to` of the synthetic register (see the shape in `measure`) with one statement
/// that generates them in the database: the benchmark measures the queries, not the loading.
async fn load_batch(conn: &mut PgConnection, from: u64, to: u64) {
    sqlx::query(
        "INSERT INTO requests (id, direction, year, number, reference, partner_code, state, version, request_type, \
           title, partner_reference, assignee, due_at, clock_stopped_at, create_time, update_time, submit_time, \
           received_time, decided_time, executed_time, refusal_grounds, strictly_confidential, content, conditions) \
         SELECT \
           (lpad(to_hex($1::bigint + g), 12, '0') || '70008' || lpad(to_hex(g), 15, '0'))::uuid, \
           dir, 2026, g / 2 + 1, \
           (CASE dir WHEN 'INCOMING' THEN 'IN' ELSE 'OUT' END) || '-2026-' || lpad((g / 2 + 1)::text, 6, '0'), \
           ($2::text[])[g % 20 + 1], st, 1, typ, title, 'PR-' || g, \
           CASE WHEN g % 2 = 0 THEN 'officer-' || (g % 50) ELSE '' END, \
           CASE WHEN received THEN ct + interval '90 days' END, \
           CASE WHEN st = 'CLARIFICATION_REQUESTED' THEN ct + interval '1 day' END, \
           ct, ct, CASE WHEN st <> 'DRAFT' THEN ct END, \
           CASE WHEN received THEN ct + (g % 5) * interval '1 day' END, \
           CASE WHEN decided THEN ct + (10 + g % 60) * interval '1 day' END, \
           CASE WHEN st IN ('EXECUTED', 'CLOSED') THEN ct + (30 + g % 120) * interval '1 day' END, \
           CASE WHEN st <> 'REFUSED' THEN '[]'::jsonb WHEN g % 2 = 0 THEN jsonb_build_array('INSUFFICIENT_INFORMATION') \
             ELSE jsonb_build_array('NO_DUAL_CRIMINALITY', 'DATA_PROTECTION') END, \
           g % 1000 = 0, \
           jsonb_build_object( \
             'request_type', typ, 'priority', 'NORMAL', 'urgency_reason', '', \
             'requesting_authority', 'Investigative Court of Karkh', 'partner_reference', 'PR-' || g, \
             'title', title, \
             'summary_of_facts', 'Funds embezzled from a public contract were moved through accounts abroad.', \
             'offences', jsonb_build_array('Embezzlement (Penal Code art. 315)'), \
             'measures', jsonb_build_array('Bank records of the accounts named', 'Witness hearing'), \
             'purpose', 'Criminal proceedings before the investigative court', 'legal_basis', 'UNCAC art. 46', \
             'persons', jsonb_build_array(jsonb_build_object( \
               'name', 'A. B.', 'role', 'SUSPECT', 'nationality', 'IQ', 'protected', false)), \
             'confidentiality', CASE WHEN g % 1000 = 0 THEN 'STRICTLY_CONFIDENTIAL' ELSE 'STANDARD' END), \
           CASE WHEN decided AND st <> 'REFUSED' AND g % 10 = 3 THEN jsonb_build_array(jsonb_build_object( \
             'kind', 'FAIR_TRIAL', 'text', 'A fair trial', 'status', 'ACCEPTED', 'given_by', 'partner-system', \
             'given_time', NULL)) ELSE '[]'::jsonb END \
         FROM ( \
           SELECT g, \
             CASE WHEN g % 2 = 0 THEN 'INCOMING' ELSE 'OUTGOING' END AS dir, \
             ($3::text[])[(g / 7) % 10 + 1] AS st, \
             ($4::text[])[g % 10 + 1] AS typ, \
             'Request ' || g || ' concerning ' || ($5::text[])[g % 8 + 1] AS title, \
             $6::timestamptz + g * interval '30 seconds' AS ct, \
             ($3::text[])[(g / 7) % 10 + 1] NOT IN ('SUBMITTED', 'DRAFT') AS received, \
             ($3::text[])[(g / 7) % 10 + 1] IN ('ACCEPTED', 'IN_EXECUTION', 'EXECUTED', 'CLOSED', 'REFUSED') AS decided \
           FROM generate_series($7::bigint, $8::bigint) AS g \
         ) AS rows",
    )
    .bind(measure::base_millis())
    .bind(measure::partner_codes())
    .bind(measure::STATES.to_vec())
    .bind(measure::TYPES.to_vec())
    .bind(measure::WORDS.to_vec())
    .bind(measure::base_time())
    .bind(from as i64)
    .bind(to as i64)
    .execute(conn)
    .await
    .expect("a batch is loaded");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = measure::requests_from_env(1_000_000);
    let Some(database) = mla_store_postgres::testing::TestDatabase::create().await else { return };
    let store = PostgresStore::connect_with(database.options(), 10).await.expect("the store connects");
    for code in measure::partner_codes() {
        store
            .create_partner(sample_partner(&code, &format!("Ministry {code}")), None)
            .await
            .expect("registered");
    }

    let started = Instant::now();
    let mut conn = database.connect().await;
    sqlx::query("SET synchronous_commit = off").execute(&mut conn).await.expect("set");
    sqlx::query("SET maintenance_work_mem = '256MB'").execute(&mut conn).await.expect("set");
    let mut from = 0;
    while from < n {
        let to = (from + BATCH).min(n) - 1;
        load_batch(&mut conn, from, to).await;
        eprintln!("loaded {} of {n} requests ({:.0} s)", to + 1, started.elapsed().as_secs_f64());
        from = to + 1;
    }
    // The next registrations continue after the loaded numbers.
    sqlx::query(
        "INSERT INTO reference_counters (direction, year, last) \
         SELECT direction, year, max(number) FROM requests GROUP BY direction, year \
         ON CONFLICT (direction, year) DO UPDATE SET last = excluded.last",
    )
    .execute(&mut conn)
    .await
    .expect("counters set");
    sqlx::query("VACUUM (ANALYZE) requests").execute(&mut conn).await.expect("analyzed");
    let load = started.elapsed();
    let probe =
        store.get_request(mla_domain::RequestId::from_uuid(measure::row_id(n / 2))).await.expect("read");
    assert!(probe.is_some(), "the loader and the benchmark disagree on ids");

    let mut lists = measure::measure_lists(&store, n, 200).await;
    lists.extend(measure::measure_statistics(&store, n, 20).await);
    let store: Arc<dyn Store> = Arc::new(store);
    let transitions = measure::measure_transitions(store.clone(), 8, 250).await;
    measure::print_report("PostgreSQL", n, load, &lists, transitions, 8);
    drop(store);
    drop(conn);
    if std::env::var("MLA_BENCH_KEEP").is_ok_and(|v| v == "1") {
        // Left for inspection (EXPLAIN in psql); drop it by hand afterwards.
        eprintln!("kept the database {} (MLA_BENCH_KEEP=1)", database.name());
        std::mem::forget(database);
    }
}
