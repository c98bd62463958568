//! Races and retries over the wire: parallel transitions of one request, retried creates with one
//! idempotency key, and the live feed's seam between replay and live events.

use std::collections::HashSet;

use futures::StreamExt;
use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_tests::*;

async fn of_parallel_transitions_on_one_request_exactly_one_wins(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    broker.register_partners(&["FR-MOJ"]).await;
    let request = broker.submitted_by("FR-MOJ", "Race").await;
    let registrar = broker.staff("registrar-1", &[Role::Registrar]);
    let client = broker.requests().await;
    let attempts = (0..16).map(|_| {
        let mut client = client.clone();
        let call = pb::TransitionRequestRequest {
            etag: request.etag.clone(),
            ..action(&request.id, pb::Action::Acknowledge)
        };
        let token = registrar.clone();
        tokio::spawn(async move { client.transition_request(authed(call, &token)).await })
    });
    let results: Vec<_> = within("the racing transitions", futures::future::join_all(attempts))
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let wins = results.iter().filter(|r| r.is_ok()).count();
    let aborted =
        results.iter().filter(|r| r.as_ref().is_err_and(|s| s.code() == tonic::Code::Aborted)).count();
    assert_eq!((wins, aborted), (1, 15), "{results:?}");
    for status in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(reason_of(status), "ETAG_MISMATCH");
    }
    let mut client = broker.requests().await;
    let events = client
        .list_request_events(authed(
            pb::ListRequestEventsRequest { id: request.id.clone(), ..Default::default() },
            &registrar,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(events.iter().filter(|e| e.action == "ACKNOWLEDGE").count(), 1);
    broker.stop().await;
}

async fn retried_creates_with_one_key_register_one_request(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    broker.register_partners(&["FR-MOJ"]).await;
    let judge = broker.staff("judge-1", &[Role::Judge]);
    let client = broker.requests().await;
    let create = pb::CreateRequestRequest {
        request: Some(complete_request("FR-MOJ", "Retried")),
        request_id: "0b3f5a4e-retry-key".into(),
        ..Default::default()
    };
    let retries = (0..10).map(|_| {
        let (mut client, call, token) = (client.clone(), create.clone(), judge.clone());
        tokio::spawn(
            async move { client.create_request(authed(call, &token)).await.map(|r| r.into_inner().id) },
        )
    });
    let ids: HashSet<String> = within("the retried creates", futures::future::join_all(retries))
        .await
        .into_iter()
        .map(|r| r.unwrap().expect("each retry succeeds"))
        .collect();
    assert_eq!(ids.len(), 1, "every retry answers with the one request");

    let mut client = broker.requests().await;
    let listed =
        client.list_requests(authed(pb::ListRequestsRequest::default(), &judge)).await.unwrap().into_inner();
    assert_eq!(listed.requests.len(), 1);

    let mut changed = create.clone();
    changed.request.as_mut().unwrap().title = "Another payload".into();
    let reused = client.create_request(authed(changed, &judge)).await.unwrap_err();
    assert_eq!(
        (reused.code(), reason_of(&reused).as_str()),
        (tonic::Code::InvalidArgument, "IDEMPOTENCY_KEY_REUSED")
    );
    broker.stop().await;
}

async fn the_live_feed_replays_then_follows_with_no_gap_and_no_duplicate(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    broker.register_partners(&["FR-MOJ", "DE-BJ"]).await;
    let auditor = broker.staff("auditor-1", &[Role::Auditor]);
    let before = broker.submitted_by("FR-MOJ", "Race").await;

    let mut client = broker.requests().await;
    let mut feed = client
        .watch_events(authed(pb::WatchEventsRequest { after_cursor: String::new() }, &auditor))
        .await
        .unwrap()
        .into_inner();
    let mut germany_feed = client
        .watch_events(authed(pb::WatchEventsRequest::default(), &broker.partner("DE-BJ")))
        .await
        .unwrap()
        .into_inner();
    let replayed = within("the replayed SUBMIT", feed.next()).await.unwrap().unwrap();
    assert_eq!((replayed.action.as_str(), replayed.request_id.as_str()), ("SUBMIT", before.id.as_str()));

    // Writes while the watcher is live: each must arrive once, in cursor order.
    let registrar = broker.staff("registrar-1", &[Role::Registrar]);
    let mut live = Vec::new();
    for _ in 0..5 {
        let r = broker.submitted_by("FR-MOJ", "Race").await;
        client.transition_request(authed(action(&r.id, pb::Action::Acknowledge), &registrar)).await.unwrap();
        live.push(r.id);
    }
    let mut seen = vec![replayed.cursor];
    while seen.len() < 11 {
        let event = within("the next live event", feed.next()).await.unwrap().unwrap();
        seen.push(event.cursor);
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "strictly increasing cursors: {seen:?}");

    // Resuming after the last cursor seen replays nothing twice.
    let resume = pb::WatchEventsRequest { after_cursor: seen[5].to_string() };
    let mut resumed = client.watch_events(authed(resume, &auditor)).await.unwrap().into_inner();
    let next = within("the first event after the cursor", resumed.next()).await.unwrap().unwrap();
    assert_eq!(next.cursor, seen[6]);

    // Germany saw none of it: its stream has nothing to say, and ends with the broker.
    broker.stop().await;
    let germany_saw = within("Germany's feed to end", germany_feed.next()).await;
    assert!(germany_saw.and_then(|r| r.ok()).is_none(), "no French event reached Germany");
}

on_both_backends!(
    of_parallel_transitions_on_one_request_exactly_one_wins,
    retried_creates_with_one_key_register_one_request,
    the_live_feed_replays_then_follows_with_no_gap_and_no_duplicate,
);

/// Two replicas on one PostgreSQL database: a watcher on one sees, live and in order, what is
/// written through the other.
#[tokio::test]
async fn the_live_feed_follows_writes_made_on_another_replica() {
    let Some(first) = Broker::start(Backend::Postgres).await else { return };
    let second = first.replica().await;
    first.register_partners(&["FR-MOJ"]).await;
    let auditor = first.staff("auditor-1", &[Role::Auditor]);
    let mut watcher = first.requests().await;
    let mut feed =
        watcher.watch_events(authed(pb::WatchEventsRequest::default(), &auditor)).await.unwrap().into_inner();

    let mut written = Vec::new();
    for _ in 0..3 {
        written.push(second.submitted_by("FR-MOJ", "Race").await.id);
    }
    let mut seen = Vec::new();
    while seen.len() < written.len() {
        let event = within("the other replica's event", feed.next())
            .await
            .expect("the feed stays open")
            .expect("an event");
        assert_eq!(event.action, "SUBMIT");
        seen.push(event.request_id);
    }
    assert_eq!(seen, written, "every event written on the other replica, once, in order");
    second.stop().await;
    first.stop().await;
}
