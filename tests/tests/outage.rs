//! A PostgreSQL outage under load, made by closing a gate between the broker and the database (every
//! connection cut, new ones dropped, as when the server stops): calls answer UNAVAILABLE promptly
//! with a retry hint, never INTERNAL and never a wait until the caller's deadline; health and
//! readiness say so; once the database is back the broker serves again within seconds without a
//! restart, the event feed resumes from its cursor without a gap, and no acknowledged write is lost.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use mla_proto::v1 as pb;
use mla_tests::gate::{Gate, authority_of};
use mla_tests::*;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_types::StatusExt;

/// The longest a call may take to say the database is down (the pool's wait, 3 s, and some room).
const PROMPT: Duration = Duration::from_secs(5);
/// How long the database stays away.
const OUTAGE: Duration = Duration::from_secs(8);

/// What the load saw: the requests whose creation was acknowledged, and every call that failed, with
/// its code and how long it took.
#[derive(Debug, Default)]
struct Seen {
    acknowledged: Vec<String>,
    failed: Vec<(Code, Duration)>,
}

async fn health(broker: &Broker) -> Option<ServingStatus> {
    let mut client = HealthClient::new(broker.channel().await);
    let answer = client.check(HealthCheckRequest { service: "mla.v1.RequestService".into() }).await.ok()?;
    ServingStatus::try_from(answer.into_inner().status).ok()
}

async fn until_health_is(broker: &Broker, wanted: ServingStatus) -> Duration {
    let started = Instant::now();
    within("health to follow the database", async {
        while health(broker).await != Some(wanted) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    started.elapsed()
}

#[tokio::test]
async fn a_database_outage_is_unavailable_at_once_and_over_without_a_restart() {
    let admin = std::env::var("MLA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let gate = Arc::new(Gate::to(authority_of(&admin)).await);
    let through = gate.clone();
    let configure = move |config: &mut mla_broker::Config| {
        config.database_url = config.database_url.as_deref().map(|url| through.url_through(url));
    };
    let Some(broker) = Broker::start_with(Backend::Postgres, configure).await else { return };
    broker.register_partners(&["FR-MOJ"]).await;
    let france = broker.partner("FR-MOJ");
    let registrar = broker.token_for("registrar");
    let before = broker.submitted_by("FR-MOJ", "Before the outage").await;

    // France follows its feed from the start.
    let mut feed = broker
        .requests()
        .await
        .watch_events(authed(pb::WatchEventsRequest { after_cursor: String::new() }, &france))
        .await
        .expect("a feed")
        .into_inner();
    let mut followed: Vec<pb::Event> = Vec::new();
    while followed.iter().all(|e| e.request_id != before.id || e.action != "SUBMIT") {
        followed.push(within("the feed", feed.next()).await.expect("an event").expect("an event"));
    }

    // The load: France creating requests all along, each call with a 10 s deadline.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = tokio_util::sync::CancellationToken::new();
    let load = {
        let (seen, stop, mut client) = (seen.clone(), stop.clone(), broker.requests().await);
        let france = france.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.is_cancelled() {
                n += 1;
                let create = pb::CreateRequestRequest {
                    request: Some(complete_request("", &format!("Under load {n}"))),
                    ..Default::default()
                };
                let mut call = authed(create, &france);
                call.set_timeout(Duration::from_secs(10));
                let started = Instant::now();
                match client.create_request(call).await {
                    Ok(created) => seen.lock().unwrap().acknowledged.push(created.into_inner().id),
                    Err(status) => seen.lock().unwrap().failed.push((status.code(), started.elapsed())),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    gate.close();
    let outage = Instant::now();
    let noticed = until_health_is(&broker, ServingStatus::NotServing).await;
    assert!(noticed < PROMPT, "health said NOT_SERVING after {noticed:?}");

    // A read and a write now: UNAVAILABLE, promptly, with a retry hint.
    let mut client = broker.requests().await;
    let mut read = authed(pb::GetRequestRequest { id: before.id.clone() }, &registrar);
    read.set_timeout(Duration::from_secs(10));
    let started = Instant::now();
    let status = client.get_request(read).await.expect_err("the database is down");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(started.elapsed() < PROMPT, "answered after {:?}", started.elapsed());
    let retry = status.get_details_retry_info().and_then(|info| info.retry_delay);
    assert!(retry.is_some_and(|delay| delay > Duration::ZERO), "a retry hint: {status:?}");

    let http = http_client();
    let started = Instant::now();
    let answer = http
        .get(format!("{}/v1/requests/{}", broker.http_url, before.id))
        .bearer_auth(&registrar)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 503);
    assert!(started.elapsed() < PROMPT, "answered after {:?}", started.elapsed());
    assert!(answer.headers().contains_key("retry-after"), "{:?}", answer.headers());
    let ready = http.get(format!("{}/readyz", broker.http_url)).send().await.expect("an answer");
    assert!(!ready.status().is_success(), "not ready while the database is down");

    // The feed either waits or ends with a status a follower resumes from.
    let ended = tokio::time::timeout(Duration::from_secs(1), feed.next()).await;
    if let Ok(Some(Err(status))) = &ended {
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }

    tokio::time::sleep(OUTAGE.saturating_sub(outage.elapsed())).await;
    gate.open();
    let back = until_health_is(&broker, ServingStatus::Serving).await;
    assert!(back < PROMPT, "serving again after {back:?}");
    let after = broker.submitted_by("FR-MOJ", "After the outage").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    load.await.expect("the load ends");

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(!seen.failed.is_empty(), "the outage was felt by the load");
    for (code, took) in &seen.failed {
        assert_eq!(*code, Code::Unavailable, "every failure is UNAVAILABLE: {:?}", seen.failed);
        assert!(*took < PROMPT, "a call waited {took:?}");
    }
    // Nothing acknowledged is lost.
    let store = broker.open_store().await;
    for id in &seen.acknowledged {
        let id = mla_domain::RequestId::parse(id).expect("an id");
        assert!(store.get_request(id).await.expect("read").is_some(), "acknowledged {id} is there");
    }
    assert!(mla_store::verify_audit(store.as_ref()).await.expect("read").is_ok());

    // The feed, resumed from the last cursor its follower saw, goes on without a gap.
    let last = followed.last().map(|e| e.cursor).unwrap_or_default();
    let mut resumed = broker
        .requests()
        .await
        .watch_events(authed(pb::WatchEventsRequest { after_cursor: last.to_string() }, &france))
        .await
        .expect("a feed")
        .into_inner();
    let mut created = std::collections::HashSet::new();
    let everything = || std::iter::once(&after.id).chain(&seen.acknowledged);
    let carried = async {
        while !everything().all(|id| created.contains(id)) {
            let event = resumed.next().await.expect("an event").expect("an event");
            if event.action == "CREATE" {
                created.insert(event.request_id);
            }
        }
    };
    within("the resumed feed to carry every acknowledged creation", carried).await;
    println!(
        "outage: NOT_SERVING after {noticed:?}, SERVING {back:?} after the database came back; \
         {} writes acknowledged, {} refused as UNAVAILABLE (slowest {:?})",
        seen.acknowledged.len(),
        seen.failed.len(),
        seen.failed.iter().map(|(_, took)| *took).max().unwrap_or_default()
    );
    broker.stop().await;
}
