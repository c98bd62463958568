//! Limits per caller, on a broker booted with small ones: a partner over its rate, with too many calls
//! in flight or too many event streams open is refused (RESOURCE_EXHAUSTED over gRPC, 429 over REST)
//! with the limit's reason and how long to wait, while other partners and staff go on being served;
//! and under load, one partner flooding the broker does not starve another.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use mla_proto::v1 as pb;
use mla_tests::*;
use pb::upload_document_request::Part;
use serde_json::Value;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

/// The first page of the caller's register: a cheap call that any principal may make.
fn list() -> pb::ListRequestsRequest {
    pb::ListRequestsRequest { page_size: 1, ..Default::default() }
}

/// How long a refused call was asked to wait (`RetryInfo`).
fn retry_after(status: &tonic::Status) -> Duration {
    status.get_details_retry_info().and_then(|info| info.retry_delay).unwrap_or_default()
}

/// Asserts that `answer` was refused for `reason`, with a wait to retry after, and returns the wait.
fn refused_for<T: std::fmt::Debug>(answer: Result<T, tonic::Status>, reason: &str) -> Duration {
    let status = answer.expect_err("the call is over the limit");
    assert_eq!((status.code(), reason_of(&status).as_str()), (Code::ResourceExhausted, reason), "{status:?}");
    let wait = retry_after(&status);
    assert!(wait > Duration::ZERO, "a refusal says when to retry: {status:?}");
    wait
}

/// A REST call's status and problem body (JSON, or Null).
async fn rest_get(broker: &Broker, path: &str, token: &str) -> (u16, Value) {
    let answer = http_client()
        .get(format!("{}{path}", broker.gateway_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("the gateway answers");
    let status = answer.status().as_u16();
    // An event stream that was admitted never ends: its status is all there is to read.
    if status != 429 {
        return (status, Value::Null);
    }
    // A refusal over a limit always says when to try again.
    let retry_after = answer.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|seconds| seconds >= 1), "429 with Retry-After: {:?}", answer.headers());
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn over_its_rate_a_partner_is_told_to_wait_while_others_are_served() {
    // One call a second, in bursts of three.
    let broker = Broker::sqlite_with(|config| {
        without_limits(config);
        config.rate_limit_per_second = 1;
        config.rate_limit_burst = 3;
    })
    .await;
    let (france, germany) = (broker.partner("FR-MOJ"), broker.partner("DE-BJ"));
    let registrar = broker.token_for("registrar");
    let mut client = broker.requests().await;

    // The burst goes through, the next call is refused with the wait governor computed: under the
    // second it takes to earn a call back.
    for call in 1..=3 {
        client.list_requests(authed(list(), &france)).await.unwrap_or_else(|e| panic!("call {call}: {e:?}"));
    }
    let refused = client.list_requests(authed(list(), &france)).await;
    let limit =
        refused.as_ref().err().and_then(|s| s.get_details_error_info()).map(|i| i.metadata["limit"].clone());
    let wait = refused_for(refused, "RATE_LIMITED");
    assert!(wait <= Duration::from_secs(1), "{wait:?}");
    assert_eq!(limit.as_deref(), Some("1"), "the refusal names the limit");

    // Another partner and a staff member have allowances of their own.
    client.list_requests(authed(list(), &germany)).await.expect("Germany is served");
    client.list_requests(authed(list(), &registrar)).await.expect("the registrar is served");

    // The gateway's calls count against the same allowance: France is refused there too, 429 with
    // the reason and Retry-After.
    let (status, problem) = rest_get(&broker, "/v1/requests?page_size=1", &france).await;
    assert_eq!((status, problem["reason"].as_str()), (429, Some("RATE_LIMITED")), "{problem:#}");
    // And a staff member over REST alone is limited the same way.
    let legal_officer = broker.token_for("legal_officer");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(rest_get(&broker, "/v1/requests?page_size=1", &legal_officer).await);
    }
    assert_eq!(statuses.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [200, 200, 200, 429]);
    assert_eq!(statuses[3].1["reason"], "RATE_LIMITED", "{:#}", statuses[3].1);

    // The wait is the real one: once it has passed, France's next call goes through.
    let client = broker.requests().await;
    let wait = until_refused("RATE_LIMITED", || {
        let mut client = client.clone();
        let france = france.clone();
        async move { client.list_requests(authed(list(), &france)).await }
    })
    .await;
    let mut client = client.clone();
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    client.list_requests(authed(list(), &france)).await.expect("served again after the wait");
    broker.stop().await;
}

/// A document of `bytes` bytes that `partner` uploads to a request of its own.
async fn uploaded(broker: &Broker, partner: &str, bytes: usize) -> String {
    let request = broker.submitted_by(partner, "Held downloads").await;
    let metadata = pb::DocumentMetadata {
        request_id: request.id,
        kind: pb::DocumentKind::SupportingDocument as i32,
        title: "A large annex".into(),
        file_name: "annex.bin".into(),
        ..Default::default()
    };
    let first = pb::UploadDocumentRequest { part: Some(Part::Metadata(metadata)) };
    let content = vec![7u8; bytes];
    let chunks: Vec<_> = content
        .chunks(1024 * 1024)
        .map(|c| pb::UploadDocumentRequest { part: Some(Part::Chunk(c.to_vec())) })
        .collect();
    let messages = futures::stream::iter(std::iter::once(first).chain(chunks));
    let mut documents = broker.documents().await;
    let token = broker.partner(partner);
    documents.upload_document(authed(messages, &token)).await.expect("uploaded").into_inner().id
}

/// A download whose first message has arrived and whose rest is left unread: the broker cannot
/// send it all past HTTP/2 flow control, so the call stays in flight until it is dropped.
async fn held_download(
    broker: &Broker,
    token: &str,
    id: &str,
) -> tonic::Streaming<pb::DownloadDocumentResponse> {
    // A connection of its own, so that the held downloads do not share one connection's window.
    let mut documents = broker.documents().await;
    let call = pb::DownloadDocumentRequest { id: id.into(), offset: 0 };
    let mut download =
        documents.download_document(authed(call, token)).await.expect("a download").into_inner();
    within("a download's first message", download.next()).await.expect("a message").expect("not an error");
    download
}

/// Calls `call` until it is refused for `reason` (calls from other tasks may still be arriving at
/// the broker), and returns the refusal's wait.
async fn until_refused<T, F, Fut>(reason: &str, mut call: F) -> Duration
where
    T: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    within(&format!("a call refused for {reason}"), async {
        loop {
            match call().await {
                Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                Err(status) => return refused_for(Err::<T, _>(status), reason),
            }
        }
    })
    .await
}

/// Calls `call` until it is served (a place given back is noticed by the broker a moment later).
async fn until_served<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    within(what, async {
        loop {
            match call().await {
                Ok(answer) => return answer,
                Err(status) => {
                    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    })
    .await
}

#[tokio::test]
async fn calls_in_flight_are_limited_per_caller() {
    let broker = Broker::sqlite_with(|config| {
        without_limits(config);
        config.max_concurrent_calls = 3;
    })
    .await;
    broker.register_partners(&["FR-MOJ", "DE-BJ"]).await;
    let (france, germany) = (broker.partner("FR-MOJ"), broker.partner("DE-BJ"));
    // Well past what HTTP/2 lets a server send ahead of a reader (a few MiB).
    let document = uploaded(&broker, "FR-MOJ", 16 * 1024 * 1024).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(held_download(&broker, &france, &document).await);
    }

    // With three downloads in flight (under way, not finished), France's fourth call is refused, with
    // a short wait.
    let mut client = broker.requests().await;
    let wait = refused_for(client.list_requests(authed(list(), &france)).await, "TOO_MANY_CONCURRENT_CALLS");
    assert!(wait <= Duration::from_secs(1), "{wait:?}");
    let (status, problem) = rest_get(&broker, "/v1/requests?page_size=1", &france).await;
    assert_eq!((status, problem["reason"].as_str()), (429, Some("TOO_MANY_CONCURRENT_CALLS")), "{problem:#}");

    // Others are served meanwhile.
    client.list_requests(authed(list(), &germany)).await.expect("Germany is served");
    client.list_requests(authed(list(), &broker.token_for("judge"))).await.expect("a judge is served");

    // A download given up frees its place: France is served again, and only within the limit.
    drop(held.pop());
    until_served("France's call after a download was dropped", || {
        let mut client = client.clone();
        let france = france.clone();
        async move { client.list_requests(authed(list(), &france)).await }
    })
    .await;
    held.push(held_download(&broker, &france, &document).await);
    refused_for(client.list_requests(authed(list(), &france)).await, "TOO_MANY_CONCURRENT_CALLS");

    // A download read to its end gives its place back too.
    let mut finished = held.pop().expect("a held download");
    while let Some(message) = within("the rest of a download", finished.next()).await {
        message.expect("a chunk");
    }
    until_served("France's call after a download finished", || {
        let mut client = client.clone();
        let france = france.clone();
        async move { client.list_requests(authed(list(), &france)).await }
    })
    .await;
    drop(held);
    broker.stop().await;
}

async fn watch(
    client: &mut RequestServiceClient<Channel>,
    token: &str,
) -> Result<tonic::Streaming<pb::Event>, tonic::Status> {
    client.watch_events(authed(pb::WatchEventsRequest::default(), token)).await.map(|r| r.into_inner())
}

async fn open_streams_are_limited_per_caller_and_do_not_hold_calls(backend: Backend) {
    let Some(broker) = Broker::start_with(backend, |config| {
        without_limits(config);
        config.max_streams = 3;
        // Fewer than the streams: were a stream counted as a call for its whole life, France could
        // call nothing while it follows the feed.
        config.max_concurrent_calls = 2;
    })
    .await
    else {
        return;
    };
    broker.register_partners(&["FR-MOJ", "DE-BJ"]).await;
    let (france, germany) = (broker.partner("FR-MOJ"), broker.partner("DE-BJ"));
    let mut client = broker.requests().await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(watch(&mut client, &france).await.expect("a stream within the limit"));
    }
    let wait = refused_for(watch(&mut client, &france).await, "TOO_MANY_STREAMS");
    assert!(wait <= Duration::from_secs(10), "{wait:?}");
    let (status, problem) = rest_get(&broker, "/v1/events", &france).await;
    assert_eq!((status, problem["reason"].as_str()), (429, Some("TOO_MANY_STREAMS")), "{problem:#}");

    // Following the feed holds no call: France still calls, two at once.
    let (mut one, mut two) = (client.clone(), client.clone());
    let (a, b) =
        tokio::join!(one.list_requests(authed(list(), &france)), two.list_requests(authed(list(), &france)));
    a.expect("a call beside the streams");
    b.expect("a second call beside the streams");
    // Germany has streams of its own.
    let _germany_stream = watch(&mut client, &germany).await.expect("Germany follows the feed");

    // A follower that goes away gives its place back.
    drop(streams.pop());
    let mut reopened = until_served("a stream after one was dropped", || {
        let mut client = client.clone();
        let france = france.clone();
        async move { watch(&mut client, &france).await }
    })
    .await;
    refused_for(watch(&mut client, &france).await, "TOO_MANY_STREAMS");

    // The stream admitted in its place follows the feed as any other.
    broker.submitted_by("FR-MOJ", "Followed").await;
    let event = within("France's event", reopened.next()).await.expect("an event").expect("not an error");
    assert_eq!(event.action, "CREATE");
    broker.stop().await;
}

/// The figures of one side of the load test.
#[derive(Debug, Default)]
struct Tally {
    served: AtomicUsize,
    rate_limited: AtomicUsize,
    too_many_calls: AtomicUsize,
    failed: AtomicUsize,
}

impl Tally {
    fn count(&self, answer: &Result<impl Sized, tonic::Status>) {
        let counter = match answer {
            Ok(_) => &self.served,
            Err(status) if reason_of(status) == "RATE_LIMITED" => &self.rate_limited,
            Err(status) if reason_of(status) == "TOO_MANY_CONCURRENT_CALLS" => &self.too_many_calls,
            Err(_) => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::Relaxed)
    }
}

/// The abusive partner's clients, each on a connection of its own.
const FLOOD_CLIENTS: usize = 32;
/// How long the well-behaved callers are measured alone, then while the flood goes on.
const ALONE: Duration = Duration::from_millis(1500);
const MEASURED: Duration = Duration::from_secs(4);
/// The well-behaved partner's pace: a create and a read, and a registrar's list, every 150 ms.
const STEADY_EVERY: Duration = Duration::from_millis(150);
/// The abusive partner's allowance.
const RATE: u32 = 20;
const BURST: u32 = 20;
/// The bound on the well-behaved callers' 99th percentile under the flood, in heavy writes: with
/// France held to 2 calls at a time, a steady call waits for at most those 2 and its own turn;
/// unlimited, it queues behind the flood's 32. A bound in the machine's own pace, measured in the same
/// run, since a busy machine slows every write alike.
const P99_IN_HEAVY_WRITES: u32 = 8;
/// A floor under that bound, where latencies are too small for the ratio to mean anything.
const P99_FLOOR: Duration = Duration::from_millis(200);

/// The load tests of both backends take turns: each measures latencies, which the other's flood
/// would skew on a small machine.
static ONE_LOAD_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A well-behaved partner's creates and reads and a registrar's lists, at a steady pace for `span`:
/// their answers counted and their latencies returned, sorted.
async fn steady_work(broker: &Broker, span: Duration, tally: &Tally) -> Vec<Duration> {
    let (germany, registrar) = (broker.partner("DE-BJ"), broker.token_for("registrar"));
    let mut client = broker.requests().await;
    let mut latencies = Vec::new();
    let from = Instant::now();
    while from.elapsed() < span {
        let tick = Instant::now();
        let create =
            pb::CreateRequestRequest { request: Some(complete_request("", "Steady")), ..Default::default() };
        let created = client.create_request(authed(create, &germany)).await;
        latencies.push(tick.elapsed());
        tally.count(&created);
        if let Ok(created) = created {
            let t = Instant::now();
            let read = client
                .get_request(authed(pb::GetRequestRequest { id: created.into_inner().id }, &germany))
                .await;
            latencies.push(t.elapsed());
            tally.count(&read);
        }
        let t = Instant::now();
        let listed = client.list_requests(authed(list(), &registrar)).await;
        latencies.push(t.elapsed());
        tally.count(&listed);
        tokio::time::sleep(STEADY_EVERY.saturating_sub(tick.elapsed())).await;
    }
    latencies.sort();
    latencies
}

/// The `p`th quantile of sorted latencies.
fn quantile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

async fn one_abusive_partner_cannot_starve_another(backend: Backend) {
    let _turn = ONE_LOAD_AT_A_TIME.lock().await;
    let Some(broker) = Broker::start_with(backend, |config| {
        config.rate_limit_per_second = RATE;
        config.rate_limit_burst = BURST;
        config.max_concurrent_calls = 2;
    })
    .await
    else {
        return;
    };
    broker.register_partners(&["FR-MOJ", "DE-BJ"]).await;
    let france = broker.partner("FR-MOJ");
    // Each of France's drafts is about as large as a request may be: the most work a call can ask of
    // the broker's one writer (SQLite) or its pool (PostgreSQL). How long one takes alone, here, now:
    let heavy = pb::Request {
        summary_of_facts: "Facts. ".repeat(2_800),
        purpose: "Proceedings. ".repeat(1_500),
        measures: (0..20).map(|i| format!("Measure {i}: {}", "hear the witness ".repeat(25))).collect(),
        ..complete_request("", "Flood")
    };
    let mut client = broker.requests().await;
    let mut heavy_alone = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let create = pb::CreateRequestRequest { request: Some(heavy.clone()), ..Default::default() };
        client.create_request(authed(create, &france)).await.expect("a heavy draft alone");
        heavy_alone.push(t.elapsed());
    }
    heavy_alone.sort();
    tokio::time::sleep(Duration::from_secs(1)).await; // France's allowance refills.
    let steady = Tally::default();
    let alone = steady_work(&broker, ALONE, &steady).await;

    // France floods from many clients that never wait, until the measurement ends (each client
    // bounded in calls too).
    let flood = Arc::new(Tally::default());
    let started = Instant::now();
    let flood_ends = started + MEASURED + Duration::from_millis(500);
    let mut flooders = Vec::new();
    for _ in 0..FLOOD_CLIENTS {
        let mut client = RequestServiceClient::new(broker.channel().await);
        let (flood, france, heavy) = (flood.clone(), france.clone(), heavy.clone());
        flooders.push(tokio::spawn(async move {
            for _ in 0..5_000 {
                if Instant::now() >= flood_ends {
                    break;
                }
                let create = pb::CreateRequestRequest { request: Some(heavy.clone()), ..Default::default() };
                flood.count(&client.create_request(authed(create, &france)).await);
            }
        }));
    }

    // Germany and a registrar go on at their steady pace meanwhile.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let flooded = steady_work(&broker, MEASURED, &steady).await;
    for flooder in flooders {
        within("the flood to end", flooder).await.expect("a flooding client");
    }
    let flooded_for = started.elapsed();

    let (p99_alone, p50, p99, max) =
        (quantile(&alone, 0.99), quantile(&flooded, 0.5), quantile(&flooded, 0.99), quantile(&flooded, 1.0));
    let heavy_write = quantile(&heavy_alone, 0.5);
    let bound = (heavy_write * P99_IN_HEAVY_WRITES).max(P99_FLOOR);
    let steady_calls = alone.len() + flooded.len();
    let served = Tally::get(&steady.served);
    let flood_served = Tally::get(&flood.served);
    let flood_refused = Tally::get(&flood.rate_limited) + Tally::get(&flood.too_many_calls);
    println!(
        "limits {backend:?}: abusive FR-MOJ, {FLOOD_CLIENTS} clients for {flooded_for:.1?}: {} calls, {flood_served} \
         served ({:.0}/s), {} RATE_LIMITED, {} TOO_MANY_CONCURRENT_CALLS, {} failed otherwise",
        flood_served + flood_refused + Tally::get(&flood.failed),
        flood_served as f64 / flooded_for.as_secs_f64(),
        Tally::get(&flood.rate_limited),
        Tally::get(&flood.too_many_calls),
        Tally::get(&flood.failed),
    );
    println!(
        "limits {backend:?}: well-behaved DE-BJ and a registrar: {served}/{steady_calls} served ({:.1}%); \
         alone p99 {p99_alone:.1?}; under the flood p50 {p50:.1?}, p99 {p99:.1?}, max {max:.1?} (bound on p99: \
         {bound:.1?}, {P99_IN_HEAVY_WRITES} heavy writes of {heavy_write:.1?} or {P99_FLOOR:?})",
        100.0 * served as f64 / steady_calls as f64,
    );

    // Every well-behaved call was served, without queueing behind the flood.
    assert_eq!((served, Tally::get(&steady.failed)), (steady_calls, 0), "{steady:?}");
    assert!(p99 <= bound, "p99 {p99:?} under the flood, over {bound:?}");
    // The flood was held to France's allowance: refused for it, and served no more than it allows.
    assert!(flood_refused > 0 && Tally::get(&flood.failed) == 0, "{flood:?}");
    let allowance = (f64::from(RATE) * flooded_for.as_secs_f64()) as usize + BURST as usize;
    assert!(flood_served <= allowance, "{flood_served} served over an allowance of {allowance}");
    broker.stop().await;
}

on_both_backends!(
    open_streams_are_limited_per_caller_and_do_not_hold_calls,
    one_abusive_partner_cannot_starve_another
);
