//! `/metrics` on a broker driven over both doors: gRPC calls counted per method and code (the REST
//! gateway's under their own door), REST calls per route template and status, the register's figures
//! read at scrape time, open event streams, the pools and the build; and a database that does not
//! answer leaves its figures out without failing the page.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use mla_proto::v1 as pb;
use mla_tests::gate::{Gate, authority_of};
use mla_tests::*;
use tonic::Code;

/// One sample of the page: its metric's name and labels.
type Series = (String, BTreeMap<String, String>);

/// The samples of a Prometheus text page (comments skipped), by name and labels.
fn parse(page: &str) -> BTreeMap<Series, f64> {
    let mut samples = BTreeMap::new();
    for line in page.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, labels(rest.strip_suffix('}').expect("labels end with }"))),
            None => (series, BTreeMap::new()),
        };
        samples.insert((name.to_owned(), labels), value);
    }
    samples
}

/// `a="x",b="y"` as a map; values may hold `{`, `}`, `,` and escaped quotes.
fn labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some((name, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("a closing quote") {
                (_, '\\') => value.push(chars.next().expect("an escaped character").1),
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        labels.insert(name.trim_start_matches(',').to_owned(), value);
        rest = &after[end + 1..];
    }
    labels
}

/// A sample's value; `None` when the page does not have it.
fn sample(page: &BTreeMap<Series, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    page.get(&(name.to_owned(), labels)).copied()
}

async fn scrape(broker: &Broker) -> BTreeMap<Series, f64> {
    let answer =
        http_client().get(format!("{}/metrics", broker.gateway_url())).send().await.expect("scraped");
    assert_eq!(answer.status(), 200, "no token needed");
    let content_type = answer.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = answer.text().await.expect("a page");
    // For deploy/test/promtool.sh, which checks a real page with Prometheus's own linter.
    if let Ok(path) = std::env::var("MLA_METRICS_DUMP") {
        std::fs::write(path, &text).expect("the page is written");
    }
    parse(&text)
}

fn grpc(door: &str, service: &str, method: &str, code: &str) -> [(&'static str, String); 4] {
    [("door", door.into()), ("service", service.into()), ("method", method.into()), ("code", code.into())]
}

fn calls(page: &BTreeMap<Series, f64>, labels: [(&'static str, String); 4]) -> f64 {
    let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sample(page, "mla_grpc_calls_total", &labels).unwrap_or(0.0)
}

const REQUESTS: &str = "mla.v1.RequestService";

async fn the_page_counts_both_doors_and_reads_the_register(backend: Backend) {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().unwrap();
    let Some((broker, clock)) = Broker::start_at(backend, t0).await else { return };
    broker.register_partners(&["FR-MOJ"]).await;
    let submitted = broker.submitted_by("FR-MOJ", "Bank records").await;
    let registrar = broker.staff("registrar-1", &[mla_domain::Role::Registrar]);
    let mut requests = broker.requests().await;
    requests
        .transition_request(authed(action(&submitted.id, pb::Action::Acknowledge), &registrar))
        .await
        .expect("acknowledged: received, its clock running");
    broker.submitted_by("FR-MOJ", "Still waiting").await;
    // Two failures over gRPC: an unknown request, and no token at all.
    let unknown = "01890000-0000-7000-8000-000000000000";
    let missing = requests
        .get_request(authed(pb::GetRequestRequest { id: unknown.into() }, &registrar))
        .await
        .expect_err("no such request");
    assert_eq!(missing.code(), Code::NotFound);
    let anonymous = requests.list_requests(pb::ListRequestsRequest::default()).await.expect_err("no token");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    // REST: the request twice, an unknown one, and a path no route has.
    let rest = http_client();
    let get =
        |path: String| rest.get(format!("{}{path}", broker.gateway_url())).bearer_auth(&registrar).send();
    for _ in 0..2 {
        assert_eq!(get(format!("/v1/requests/{}", submitted.id)).await.unwrap().status(), 200);
    }
    assert_eq!(get(format!("/v1/requests/{unknown}")).await.unwrap().status(), 404);
    assert_eq!(get("/v1/no-such-thing/42".into()).await.unwrap().status(), 404);
    // A live feed, followed over gRPC.
    let feed = requests
        .watch_events(authed(pb::WatchEventsRequest::default(), &registrar))
        .await
        .expect("a stream")
        .into_inner();

    let page = scrape(&broker).await;
    for (method, code, count) in [
        ("CreateRequest", "OK", 2.0),
        ("TransitionRequest", "OK", 3.0),
        ("GetRequest", "NOT_FOUND", 1.0),
        ("ListRequests", "UNAUTHENTICATED", 1.0),
        ("WatchEvents", "OK", 1.0),
    ] {
        assert_eq!(calls(&page, grpc("grpc", REQUESTS, method, code)), count, "{method} {code}");
    }
    assert_eq!(calls(&page, grpc("grpc", "mla.v1.PartnerService", "CreatePartner", "OK")), 1.0);
    let timed = [("door", "grpc"), ("service", REQUESTS), ("method", "TransitionRequest")];
    assert_eq!(sample(&page, "mla_grpc_call_duration_seconds_count", &timed), Some(3.0));
    // The REST calls became gRPC calls through the in-process door, counted there and only there.
    assert_eq!(calls(&page, grpc("gateway", REQUESTS, "GetRequest", "OK")), 2.0);
    assert_eq!(calls(&page, grpc("gateway", REQUESTS, "GetRequest", "NOT_FOUND")), 1.0);
    assert_eq!(calls(&page, grpc("grpc", REQUESTS, "GetRequest", "OK")), 0.0);
    // REST by route template, never by the path asked for.
    let route =
        |status: &'static str| [("method", "GET"), ("route", "/v1/requests/{id}"), ("status", status)];
    assert_eq!(sample(&page, "mla_http_requests_total", &route("200")), Some(2.0));
    assert_eq!(sample(&page, "mla_http_requests_total", &route("404")), Some(1.0));
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert_eq!(sample(&page, "mla_http_requests_total", &unmatched), Some(1.0));
    let timed = [("method", "GET"), ("route", "/v1/requests/{id}")];
    assert_eq!(sample(&page, "mla_http_request_duration_seconds_count", &timed), Some(3.0));
    assert!(
        !page.keys().any(|(_, labels)| labels.values().any(|v| v.contains(&submitted.id))),
        "no request id in a label"
    );
    // The register, read at scrape time.
    let state = |direction: &'static str, state: &'static str| [("direction", direction), ("state", state)];
    assert_eq!(sample(&page, "mla_requests", &state("INCOMING", "RECEIVED")), Some(1.0));
    assert_eq!(sample(&page, "mla_requests", &state("INCOMING", "SUBMITTED")), Some(1.0));
    assert_eq!(sample(&page, "mla_requests", &state("OUTGOING", "DRAFT")), Some(0.0));
    assert_eq!(sample(&page, "mla_requests_overdue", &[]), Some(0.0), "not due yet");
    assert_eq!(sample(&page, "mla_database_up", &[]), Some(1.0));
    assert_eq!(sample(&page, "mla_watch_streams_open", &[]), Some(1.0));
    let pools = match backend {
        Backend::Sqlite => ["write", "read"],
        Backend::Postgres => ["main", "listen"],
    };
    for pool in pools {
        let max = sample(&page, "mla_database_connections_max", &[("pool", pool)]).expect("a pool's size");
        let used = sample(&page, "mla_database_connections_in_use", &[("pool", pool)]).unwrap();
        let idle = sample(&page, "mla_database_connections_idle", &[("pool", pool)]).unwrap();
        assert!(max >= 1.0 && used + idle <= max, "{pool}: {used} + {idle} of {max}");
    }
    let build = [
        ("version", env!("CARGO_PKG_VERSION")),
        ("commit", option_env!("MLA_BUILD_COMMIT").unwrap_or("unknown")),
    ];
    assert_eq!(sample(&page, "mla_build_info", &build), Some(1.0));

    // Past the request's due date it is overdue; the follower gone, its stream is closed.
    clock.advance(Duration::days(100));
    drop(feed);
    let page = within("the stream's place to be given back", async {
        loop {
            let page = scrape(&broker).await;
            if sample(&page, "mla_watch_streams_open", &[]) == Some(0.0) {
                break page;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(sample(&page, "mla_requests_overdue", &[]), Some(1.0));
    let scrapes = [("method", "GET"), ("route", "/metrics"), ("status", "200")];
    assert!(
        sample(&page, "mla_http_requests_total", &scrapes).is_some_and(|n| n >= 1.0),
        "scrapes count too"
    );
    broker.stop().await;
}

on_both_backends!(the_page_counts_both_doors_and_reads_the_register);

#[tokio::test]
async fn a_database_that_does_not_answer_leaves_its_figures_out_of_a_page_still_served() {
    let admin = std::env::var("MLA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let gate = Arc::new(Gate::to(authority_of(&admin)).await);
    let through = gate.clone();
    let configure = move |config: &mut mla_broker::Config| {
        config.database_url = config.database_url.as_deref().map(|url| through.url_through(url));
    };
    let Some(broker) = Broker::start_with(Backend::Postgres, configure).await else { return };
    broker.register_partners(&["FR-MOJ"]).await;
    let page = scrape(&broker).await;
    assert_eq!(sample(&page, "mla_database_up", &[]), Some(1.0));
    assert_eq!(sample(&page, "mla_requests", &[("direction", "INCOMING"), ("state", "DRAFT")]), Some(0.0));

    gate.close();
    let page = within("a scrape while the database is away", scrape(&broker)).await;
    assert_eq!(sample(&page, "mla_database_up", &[]), Some(0.0));
    assert!(
        !page.keys().any(|(name, _)| name == "mla_requests" || name == "mla_requests_overdue"),
        "{page:?}"
    );
    assert_eq!(
        calls(&page, grpc("grpc", "mla.v1.PartnerService", "CreatePartner", "OK")),
        1.0,
        "calls still counted"
    );
    assert!(
        sample(&page, "mla_database_connections_max", &[("pool", "main")]).is_some(),
        "pools still shown"
    );

    gate.open();
    let page = within("the figures to come back", async {
        loop {
            let page = scrape(&broker).await;
            if sample(&page, "mla_database_up", &[]) == Some(1.0) {
                break page;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    })
    .await;
    assert_eq!(sample(&page, "mla_requests", &[("direction", "INCOMING"), ("state", "DRAFT")]), Some(0.0));
    broker.stop().await;
}

#[test]
fn the_parser_reads_labels_with_braces_commas_and_quotes() {
    let page = parse(
        "# HELP x y\nx{route=\"/v1/requests/{id}\",status=\"200\"} 2\nx_q{v=\"a,\\\"b\\\"\"} 1\nup 0\n",
    );
    assert_eq!(sample(&page, "x", &[("route", "/v1/requests/{id}"), ("status", "200")]), Some(2.0));
    assert_eq!(sample(&page, "x_q", &[("v", "a,\"b\"")]), Some(1.0));
    assert_eq!(sample(&page, "up", &[]), Some(0.0));
}
