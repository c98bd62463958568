//! The live feed and the broker's memory, measured on a broker in a process of its own
//! ([`BrokerProcess`]).
//!
//! - idle: the broker's resident set after it started and served a few calls;
//! - idle streams: the resident set with [`IDLE_STREAMS`] WatchEvents streams open and quiet;
//! - following: [`FOLLOWING_STREAMS`] streams open while ACKNOWLEDGE transitions are made at an
//!   offered rate; each event's delivery is counted from its own time (the broker's clock when it
//!   decided the transition, before writing it) to its arrival on the stream (this machine's clock,
//!   the same one), so it holds the write, the commit's signal and the delivery.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use mla_proto::v1 as pb;
use mla_tests::{RequestServiceClient, action, authed};
use tonic::transport::Channel;

use crate::load::Figures;
use crate::process::BrokerProcess;
use crate::workloads::Target;

/// Quiet streams open at once, as partners' systems and staff tools waiting for news keep them.
pub const IDLE_STREAMS: usize = 1_000;
/// Streams per connection: a system watching for several users shares its connection.
const STREAMS_PER_CONNECTION: usize = 10;
/// Streams following the writes.
pub const FOLLOWING_STREAMS: usize = 100;
/// Writes in flight at most while the rate is offered: beyond it, the broker sets the pace.
const IN_FLIGHT: usize = 32;

/// What the feed workload measured on one backend.
#[derive(Debug)]
pub struct FeedFigures {
    pub idle_mib: f64,
    pub idle_streams_mib: f64,
    pub offered_per_second: f64,
    pub written_per_second: f64,
    /// Delivery of each event to each following stream, from the event's time.
    pub delivery: Figures,
    /// Deliveries expected (events × streams) that did not arrive.
    pub missing: usize,
    pub peak_following_mib: f64,
}

/// Opens `count` WatchEvents streams after `cursor`, [`STREAMS_PER_CONNECTION`] to a connection.
async fn open_streams(
    url: &str,
    token: &str,
    cursor: &str,
    count: usize,
) -> anyhow::Result<Vec<tonic::Streaming<pb::Event>>> {
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count.div_ceil(STREAMS_PER_CONNECTION) {
        let channel = Channel::from_shared(url.to_owned())?.connect().await?;
        for _ in 0..STREAMS_PER_CONNECTION.min(count - streams.len()) {
            let watch = pb::WatchEventsRequest { after_cursor: cursor.to_owned() };
            let mut client = RequestServiceClient::new(channel.clone());
            streams.push(client.watch_events(authed(watch, token)).await?.into_inner());
        }
    }
    Ok(streams)
}

/// The cursor of the last event of request `id`: where streams that only want what follows start.
async fn last_cursor(
    client: &mut RequestServiceClient<Channel>,
    token: &str,
    id: &str,
) -> anyhow::Result<String> {
    let list = pb::ListRequestEventsRequest { id: id.to_owned(), page_size: 100, page_token: String::new() };
    let events = client.list_request_events(authed(list, token)).await?.into_inner().events;
    Ok(events.last().context("a request has events")?.cursor.to_string())
}

/// Measures the feed and the memory on `backend` (`sqlite` or `postgres`), offering `per_second`
/// transitions for `seconds`.
pub async fn measure(backend: &str, per_second: usize, seconds: usize) -> anyhow::Result<FeedFigures> {
    let broker = BrokerProcess::spawn(backend).await?;
    let target = Target::remote(broker.endpoints.clone()).await;
    let url = broker.endpoints.url.clone();

    // Idle, after a few calls.
    target.submitted(10).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_mib = broker.rss_mib()?;

    // Quiet streams.
    let streams = open_streams(&url, &broker.watcher, "", IDLE_STREAMS).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_streams_mib = broker.rss_mib()?;
    drop(streams);

    // Following streams, from the last event of the requests prepared for the writes.
    let writes = per_second * seconds;
    let ids = target.submitted(writes).await;
    let cursor =
        last_cursor(&mut target.requests(), &broker.watcher, ids.last().context("prepared")?).await?;
    let streams = open_streams(&url, &broker.watcher, &cursor, FOLLOWING_STREAMS).await?;
    let followers: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let mut delays = Vec::with_capacity(writes);
                while delays.len() < writes {
                    let next = tokio::time::timeout(Duration::from_secs(10), stream.message()).await;
                    let Ok(Ok(Some(event))) = next else { break };
                    if event.action == "ACKNOWLEDGE" {
                        delays.push(since(&event.time.expect("an event has its time")));
                    }
                }
                delays
            })
        })
        .collect();

    // The writes, offered at the rate; the broker's memory sampled meanwhile.
    let started = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second as f64));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut calls = Vec::with_capacity(writes);
    let mut peak_following_mib = 0f64;
    for (i, id) in ids.into_iter().enumerate() {
        ticks.tick().await;
        if i % per_second.div_ceil(5).max(1) == 0 {
            peak_following_mib = peak_following_mib.max(broker.rss_mib()?);
        }
        let slot = slots.clone().acquire_owned().await?;
        let (mut client, token) = (target.requests(), broker.endpoints.registrar.clone());
        calls.push(tokio::spawn(async move {
            let message = pb::TransitionRequestRequest {
                request_id: format!("ack-{id}"),
                ..action(&id, pb::Action::Acknowledge)
            };
            client.transition_request(authed(message, &token)).await.expect("acknowledged");
            drop(slot);
        }));
    }
    futures::future::try_join_all(calls).await?;
    let written_per_second = writes as f64 / started.elapsed().as_secs_f64();
    let mut delays = Vec::with_capacity(writes * FOLLOWING_STREAMS);
    for follower in followers {
        delays.extend(follower.await?);
    }
    peak_following_mib = peak_following_mib.max(broker.rss_mib()?);
    let missing = writes * FOLLOWING_STREAMS - delays.len();
    anyhow::ensure!(!delays.is_empty(), "no stream received any event");
    let delivery = Figures::of(started.elapsed(), delays);
    broker.stop().await?;
    Ok(FeedFigures {
        idle_mib,
        idle_streams_mib,
        offered_per_second: per_second as f64,
        written_per_second,
        delivery,
        missing,
        peak_following_mib,
    })
}

/// How long ago `time` was, by this machine's clock (the broker's too).
fn since(time: &prost_types::Timestamp) -> Duration {
    let at = SystemTime::UNIX_EPOCH + Duration::new(time.seconds as u64, time.nanos as u32);
    SystemTime::now().duration_since(at).unwrap_or_default()
}

/// The feed's figures beside the targets of issue 10.
pub fn print(backend: &str, figures: &FeedFigures) {
    let met = |ok: bool| if ok { "yes" } else { "NO" };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "feed        {backend:<8} broker idle: {:.1} MiB (target < 50: {})",
        figures.idle_mib,
        met(figures.idle_mib < 50.0)
    );
    println!(
        "feed        {backend:<8} {IDLE_STREAMS} idle streams: {:.1} MiB (target < 200: {})",
        figures.idle_streams_mib,
        met(figures.idle_streams_mib < 200.0)
    );
    println!(
        "feed        {backend:<8} {FOLLOWING_STREAMS} streams following {:.0} writes/s offered, {:.0}/s made: \
         delivery from the event's time p50 {:.1} ms, p99 {:.1} ms (target p99 < 100 ms: {}); \
         {} deliveries missing; peak {:.1} MiB",
        figures.offered_per_second,
        figures.written_per_second,
        ms(figures.delivery.p50),
        ms(figures.delivery.p99),
        met(figures.delivery.p99 < Duration::from_millis(100) && figures.missing == 0),
        figures.missing,
        figures.peak_following_mib
    );
}
