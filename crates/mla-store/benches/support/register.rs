//! The measuring half of the `register` benchmark, shared by the backends' benches (each includes this
//! file by path and brings its own bulk loader): list-page latency under each filter, the statistics
//! of a period, and stored transitions per second from concurrent tasks.
//!
//! The bulk loaders write a synthetic register whose shape this file relies on; [`Shape`] is that
//! agreement: row `g` (from 0) of `n` is INCOMING when `g` is even, belongs to partner `g % 20`, is in
//! state `STATES[(g / 7) % 10]`, has type `TYPES[g % 10]` and the title
//! `Request {g} concerning {WORDS[g % 8]}`, was created `30 s × g` after 2026-01-01, and (once
//! acknowledged) is due 90 days after creation, with a stopped clock in CLARIFICATION_REQUESTED.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, TimeZone, Utc};
use mla_domain::clock::SlaPolicy;
use mla_domain::lifecycle::{Command, Context};
use mla_domain::request::{Action, Direction, State};
use mla_domain::{PartnerCode, Principal, RequestId, Role, Scope, Timestamp};
use mla_store::{Order, RequestQuery, Store};

/// The partner codes of the synthetic register.
pub fn partner_codes() -> Vec<String> {
    (0..20).map(|i| format!("P{i:02}-MOJ")).collect()
}

pub const STATES: [&str; 10] = [
    "SUBMITTED",
    "RECEIVED",
    "UNDER_REVIEW",
    "CLARIFICATION_REQUESTED",
    "ACCEPTED",
    "IN_EXECUTION",
    "EXECUTED",
    "CLOSED",
    "DRAFT",
    "REFUSED",
];

pub const TYPES: [&str; 10] = [
    "EVIDENCE",
    "SEARCH_AND_SEIZURE",
    "SERVICE_OF_DOCUMENTS",
    "ASSET_FREEZE",
    "EXTRADITION",
    "TRANSFER_OF_PROCEEDINGS",
    "TRANSFER_OF_SENTENCED_PERSON",
    "SPONTANEOUS_INFORMATION",
    "DIGITAL_EVIDENCE",
    "OTHER",
];

pub const WORDS: [&str; 8] = [
    "fraud",
    "corruption",
    "money laundering",
    "terrorism financing",
    "human trafficking",
    "cybercrime",
    "antiquities smuggling",
    "kidnapping",
];

/// The first request's creation instant; row `g` was created `30 s × g` later.
pub fn base_time() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("a valid date")
}

/// The id time of row `g` (milliseconds since the epoch): one millisecond apart, in row order.
pub fn base_millis() -> i64 {
    base_time().timestamp_millis()
}

/// How many requests to load: `MLA_BENCH_REQUESTS`, else the backend's default.
pub fn requests_from_env(default: u64) -> u64 {
    match std::env::var("MLA_BENCH_REQUESTS") {
        Ok(raw) => {
            raw.replace('_', "").parse().unwrap_or_else(|_| panic!("MLA_BENCH_REQUESTS={raw} is not a count"))
        }
        Err(_) => default,
    }
}

/// Latency percentiles of one measured operation.
#[derive(Debug, Clone)]
pub struct Latency {
    pub name: String,
    pub rows: usize,
    pub p50: StdDuration,
    pub p99: StdDuration,
    pub max: StdDuration,
}

fn percentiles(name: &str, rows: usize, mut samples: Vec<StdDuration>) -> Latency {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Latency { name: name.to_owned(), rows, p50: at(0.50), p99: at(0.99), max: at(1.0) }
}

/// Measures `iterations` list pages of 50 for each kind of query a caller makes.
pub async fn measure_lists(store: &dyn Store, n: u64, iterations: usize) -> Vec<Latency> {
    let codes: Vec<PartnerCode> =
        partner_codes().iter().map(|c| PartnerCode::parse(c).expect("a valid code")).collect();
    let overdue_at = base_time() + Duration::days(200);
    // A week in the middle of the register's span (rows are 30 s apart).
    let received_from = base_time() + Duration::seconds((n as i64 / 2) * 30);
    let deep_after = RequestId::from_uuid(row_id(n / 10));
    // One title, but every word of it is in every title: the worst case for a trigram index.
    let rare = format!("Request {} concerning", n / 3);
    // A distinctive number, as people search for a reference or a name: a handful of matches.
    let digits = format!("{}", n / 3);
    type Make = Box<dyn Fn(usize) -> RequestQuery>;
    let page = 50;
    let cases: Vec<(&str, Make)> = vec![
        ("staff, no filter", Box::new(move |_| RequestQuery::new(Scope::Ncijc, page))),
        (
            "partner scope",
            Box::new(move |i| RequestQuery::new(Scope::Partner(codes[i % codes.len()].clone()), page)),
        ),
        (
            "state = UNDER_REVIEW",
            Box::new(move |_| RequestQuery {
                state: Some(State::UnderReview),
                ..RequestQuery::new(Scope::Ncijc, page)
            }),
        ),
        (
            "overdue",
            Box::new(move |_| RequestQuery {
                overdue_at: Some(overdue_at),
                ..RequestQuery::new(Scope::Ncijc, page)
            }),
        ),
        (
            "queue: registrar (awaiting)",
            Box::new(move |_| RequestQuery {
                awaiting: Some(mla_domain::lifecycle::awaiting(mla_domain::Role::Registrar)),
                ..RequestQuery::new(Scope::Ncijc, page)
            }),
        ),
        (
            "queue: judge (awaiting)",
            Box::new(move |_| RequestQuery {
                awaiting: Some(mla_domain::lifecycle::awaiting(mla_domain::Role::Judge)),
                ..RequestQuery::new(Scope::Ncijc, page)
            }),
        ),
        (
            "queue: registrar, due first",
            Box::new(move |_| RequestQuery {
                awaiting: Some(mla_domain::lifecycle::awaiting(mla_domain::Role::Registrar)),
                order: Order::DueFirst,
                ..RequestQuery::new(Scope::Ncijc, page)
            }),
        ),
        (
            "queue: judge, due first",
            Box::new(move |_| RequestQuery {
                awaiting: Some(mla_domain::lifecycle::awaiting(mla_domain::Role::Judge)),
                order: Order::DueFirst,
                ..RequestQuery::new(Scope::Ncijc, page)
            }),
        ),
        (
            "a handler's register (strict ones aside)",
            Box::new(move |i| RequestQuery::new(Scope::NcijcAssigned(format!("officer-{}", i % 50)), page)),
        ),
        (
            "queue: mine, received in a week",
            Box::new(move |i| RequestQuery {
                assignee: Some(format!("officer-{}", (i * 2) % 50)),
                received_from: Some(received_from),
                received_until: Some(received_from + Duration::days(7)),
                ..RequestQuery::new(Scope::Ncijc, page)
            }),
        ),
        (
            "text, common (\"smuggling\")",
            Box::new(move |_| RequestQuery {
                text: Some("smuggling".into()),
                ..RequestQuery::new(Scope::Ncijc, page)
            }),
        ),
        (
            "text, one title (common words)",
            Box::new(move |_| RequestQuery {
                text: Some(rare.clone()),
                ..RequestQuery::new(Scope::Ncijc, page)
            }),
        ),
        (
            "text, distinctive digits",
            Box::new(move |_| RequestQuery {
                text: Some(digits.clone()),
                ..RequestQuery::new(Scope::Ncijc, page)
            }),
        ),
        (
            "deep keyset page (90%)",
            Box::new(move |_| RequestQuery {
                after: Some(deep_after),
                ..RequestQuery::new(Scope::Ncijc, page)
            }),
        ),
    ];
    let mut results = Vec::new();
    for (name, make) in cases {
        // One unmeasured round warms the caches and the prepared statements.
        let rows = store.list_requests(&make(0)).await.expect("the list is read").len();
        let mut samples = Vec::with_capacity(iterations);
        for i in 0..iterations {
            let query = make(i);
            let started = Instant::now();
            let page = store.list_requests(&query).await.expect("the list is read");
            samples.push(started.elapsed());
            std::hint::black_box(page);
        }
        results.push(percentiles(name, rows, samples));
    }
    results
}

/// Measures `iterations` statistics of a period for each kind of report: the whole register (every
/// row is in its first year) and one month, for the cleared and for a handler, whose scope leaves
/// the strictly confidential requests of others out. The rows are the requests counted.
pub async fn measure_statistics(store: &dyn Store, n: u64, iterations: usize) -> Vec<Latency> {
    let year = (base_time(), base_time() + Duration::days(366));
    let month = (base_time() + Duration::days(60), base_time() + Duration::days(90));
    let now = base_time() + Duration::days(200);
    let cases = [
        ("statistics: a year, cleared", Scope::Ncijc, year),
        ("statistics: a year, a handler", Scope::NcijcAssigned("officer-2".into()), year),
        ("statistics: a month, cleared", Scope::Ncijc, month),
    ];
    let mut results = Vec::new();
    for (name, scope, (from, until)) in cases {
        let query = RequestQuery {
            submitted_from: Some(from),
            submitted_until: Some(until),
            ..RequestQuery::new(scope, 0)
        };
        // One unmeasured round warms the caches.
        let figures = store.request_statistics(&query, now).await.expect("the statistics are computed");
        assert!(figures.requests <= n);
        let mut samples = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let started = Instant::now();
            std::hint::black_box(store.request_statistics(&query, now).await.expect("computed"));
            samples.push(started.elapsed());
        }
        results.push(percentiles(name, figures.requests as usize, samples));
    }
    results
}

/// The id of synthetic row `g`, as the loaders make it.
pub fn row_id(g: u64) -> uuid::Uuid {
    // 12 hex digits of milliseconds, version 7, variant 8, then the row number: ids sort by row.
    let text = format!("{:012x}70008{:015x}", base_millis() as u64 + g, g);
    uuid::Uuid::parse_str(&text).expect("a valid uuid")
}

/// Stores `tasks × per_task` ACCEPT transitions (UNDER_REVIEW → ACCEPTED, decided by the domain for a
/// judge) on distinct incoming requests, from `tasks` concurrent tasks. Returns (count, elapsed).
pub async fn measure_transitions(
    store: Arc<dyn Store>,
    tasks: usize,
    per_task: usize,
) -> (usize, StdDuration) {
    let wanted = tasks * per_task;
    // The requests the judge sees: the strictly confidential ones are not theirs.
    let mut query = RequestQuery {
        state: Some(State::UnderReview),
        direction: Some(Direction::Incoming),
        ..RequestQuery::new(Scope::NcijcAssigned("judge.bench".into()), 500)
    };
    let mut requests = Vec::with_capacity(wanted);
    while requests.len() < wanted {
        let page = store.list_requests(&query).await.expect("the list is read");
        let Some(last) = page.last() else { break };
        query.after = Some(last.id);
        requests.extend(page);
    }
    requests.truncate(wanted);
    assert_eq!(requests.len(), wanted, "the register has too few requests under review: load more");
    let judge = Principal::staff("judge.bench", [Role::Judge]).expect("a principal");
    let now = base_time() + Duration::days(365);
    let changes: Vec<_> = requests
        .iter()
        .map(|request| {
            let ctx = Context::new(now, None, SlaPolicy::default());
            let change = mla_domain::transition(request, &Command::new(Action::Accept), &judge, &ctx)
                .expect("the domain accepts ACCEPT");
            (request.version, change)
        })
        .collect();
    let mut batches: Vec<Vec<_>> = (0..tasks).map(|_| Vec::with_capacity(per_task)).collect();
    for (i, change) in changes.into_iter().enumerate() {
        batches[i % tasks].push(change);
    }
    let started = Instant::now();
    let handles: Vec<_> = batches
        .into_iter()
        .map(|batch| {
            let store = store.clone();
            tokio::spawn(async move {
                for (version, change) in batch {
                    store.save_change(version, change, None).await.expect("the transition is stored");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("the task finished");
    }
    (wanted, started.elapsed())
}

fn ms(d: StdDuration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Prints the results as a table.
pub fn print_report(
    backend: &str,
    n: u64,
    load: StdDuration,
    lists: &[Latency],
    transitions: (usize, StdDuration),
    tasks: usize,
) {
    println!();
    println!(
        "register benchmark: {backend}, {n} requests (loaded in {:.1} s), pages of 50",
        load.as_secs_f64()
    );
    println!("{:<32} {:>8} {:>10} {:>10} {:>10}", "list_requests", "rows", "p50 ms", "p99 ms", "max ms");
    for l in lists {
        println!("{:<32} {:>8} {:>10} {:>10} {:>10}", l.name, l.rows, ms(l.p50), ms(l.p99), ms(l.max));
    }
    let (count, elapsed) = transitions;
    println!(
        "save_change (ACCEPT, {tasks} tasks): {count} transitions in {:.2} s = {:.0} transitions/s",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
}
