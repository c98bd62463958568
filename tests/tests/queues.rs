//! Work queues end to end, on both backends: each role's queue is what waits on it, `assignee=me`
//! is the caller, received times bound a range, `order_by=due_time` puts the earliest due first; the
//! REST list and the CSV export follow; a partner cannot ask for the NCIJC's queues or their order.

use chrono::{Duration, TimeZone, Utc};
use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_tests::*;
use pb::Action as A;
use tonic::Code;

fn at(instant: chrono::DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds: instant.timestamp(), nanos: 0 })
}

async fn queues_follow_the_transition_table(backend: Backend) {
    let t0 = Utc.with_ymd_and_hms(2026, 5, 4, 8, 0, 0).unwrap();
    let Some((broker, clock)) = Broker::start_at(backend, t0).await else { return };
    broker.register_partners(&["FR-MOJ"]).await;
    let mut client = broker.requests().await;
    let registrar = broker.staff("registrar-1", &[Role::Registrar]);
    let legal = broker.staff("legal-1", &[Role::LegalOfficer]);
    let judge = broker.staff("judge-1", &[Role::Judge]);
    let france = broker.partner("FR-MOJ");

    let waiting = broker.submitted_by("FR-MOJ", "Awaits acknowledgement").await;
    let received = broker.submitted_by("FR-MOJ", "Awaits review").await;
    client.transition_request(authed(action(&received.id, A::Acknowledge), &registrar)).await.unwrap();
    clock.advance(Duration::days(3));
    let deciding = broker.submitted_by("FR-MOJ", "Awaits a decision").await;
    client.transition_request(authed(action(&deciding.id, A::Acknowledge), &registrar)).await.unwrap();
    client.transition_request(authed(action(&deciding.id, A::StartReview), &legal)).await.unwrap();
    let assign = pb::UpdateRequestRequest {
        request: Some(pb::Request {
            id: deciding.id.clone(),
            assignee: "judge-1".into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["assignee".into()] }),
        ..Default::default()
    };
    let supervisor = broker.staff("supervisor-1", &[Role::Supervisor]);
    client.update_request(authed(assign, &supervisor)).await.unwrap();

    let list = |filter: pb::ListRequestsRequest, token: &str| {
        let mut client = client.clone();
        let call = authed(filter, token);
        async move {
            let page = client.list_requests(call).await?.into_inner();
            Ok::<_, tonic::Status>(page.requests.into_iter().map(|r| r.title).collect::<Vec<_>>())
        }
    };
    let queue = |role: &str| pb::ListRequestsRequest { awaiting_role: role.into(), ..Default::default() };
    assert_eq!(list(queue("registrar"), &registrar).await.unwrap(), std::slice::from_ref(&waiting.title));
    assert_eq!(list(queue("legal_officer"), &legal).await.unwrap(), ["Awaits a decision", "Awaits review"]);
    assert_eq!(list(queue("evidence_officer"), &legal).await.unwrap(), Vec::<String>::new());
    let mine = pb::ListRequestsRequest { assignee: "me".into(), ..Default::default() };
    assert_eq!(list(mine.clone(), &judge).await.unwrap(), ["Awaits a decision"]);
    assert_eq!(list(mine, &legal).await.unwrap(), Vec::<String>::new(), "`me` is the caller");
    let since = pb::ListRequestsRequest { received_after: at(t0 + Duration::days(1)), ..Default::default() };
    assert_eq!(list(since, &judge).await.unwrap(), ["Awaits a decision"]);
    let before =
        pb::ListRequestsRequest { received_before: at(t0 + Duration::days(1)), ..Default::default() };
    assert_eq!(list(before, &judge).await.unwrap(), ["Awaits review"]);

    // Oldest due first, page by page; a partner may not order by a date it may not read.
    let due_first = |page_token: String| pb::ListRequestsRequest {
        awaiting_role: "legal_officer".into(),
        order_by: "due_time".into(),
        page_size: 1,
        page_token,
        ..Default::default()
    };
    let mut titles = Vec::new();
    let mut token = String::new();
    loop {
        let page = client.clone().list_requests(authed(due_first(token), &legal)).await.unwrap().into_inner();
        titles.extend(page.requests.into_iter().map(|r| r.title));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(titles, ["Awaits review", "Awaits a decision"]);
    let ordered =
        |order_by: &str| pb::ListRequestsRequest { order_by: order_by.into(), ..Default::default() };
    let refused = list(ordered("due_time"), &france).await.unwrap_err();
    assert_eq!((refused.code(), fields_of(&refused)), (Code::InvalidArgument, vec!["order_by".to_owned()]));
    let refused = list(ordered("title"), &judge).await.unwrap_err();
    assert_eq!(fields_of(&refused), ["order_by"]);

    // A partner has no NCIJC queue, and a queue is an NCIJC role's.
    let refused = list(queue("registrar"), &france).await.unwrap_err();
    assert_eq!(
        (refused.code(), fields_of(&refused)),
        (Code::InvalidArgument, vec!["awaiting_role".to_owned()])
    );
    for bad in ["partner", "clerk"] {
        let refused = list(queue(bad), &judge).await.unwrap_err();
        assert_eq!(fields_of(&refused), ["awaiting_role"], "{bad}");
    }

    // REST and the CSV export read the same filters.
    let http = http_client();
    let get = |path: String, accept: &'static str| {
        http.get(format!("{}{path}", broker.gateway_url()))
            .bearer_auth(&legal)
            .header("accept", accept)
            .send()
    };
    let page: serde_json::Value = get("/v1/requests?awaiting_role=legal_officer".into(), "application/json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let titles: Vec<_> = page["requests"].as_array().unwrap().iter().map(|r| r["title"].clone()).collect();
    assert_eq!(titles, ["Awaits a decision", "Awaits review"]);
    let path = "/v1/requests?awaiting_role=legal_officer&order_by=due_time";
    let page: serde_json::Value = get(path.into(), "application/json").await.unwrap().json().await.unwrap();
    let titles: Vec<_> = page["requests"].as_array().unwrap().iter().map(|r| r["title"].clone()).collect();
    assert_eq!(titles, ["Awaits review", "Awaits a decision"]);
    let csv = get(format!("{path}&page_size=1"), "text/csv").await.unwrap().text().await.unwrap();
    let review = csv.find("Awaits review").expect("in the export");
    assert!(review < csv.find("Awaits a decision").expect("in the export"), "{csv}");
    let csv = get("/v1/requests.csv?received_after=2026-05-05T00:00:00Z".into(), "text/csv").await.unwrap();
    let csv = csv.text().await.unwrap();
    assert!(csv.contains("Awaits a decision") && !csv.contains("Awaits review"), "{csv}");
    let bad = get("/v1/requests?received_before=yesterday".into(), "application/json").await.unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let problem: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(problem["violations"][0]["field"], "received_before");

    // Closed (or withdrawn) times bound a range too, and every request tells its own.
    clock.advance(Duration::days(1));
    let closed_at = t0 + Duration::days(4);
    let withdrawn = client
        .clone()
        .transition_request(authed(action_with_reason(&waiting.id, A::Withdraw, "Settled at home"), &france))
        .await
        .unwrap();
    assert_eq!(withdrawn.into_inner().close_time, at(closed_at));
    let closed = |after, before| pb::ListRequestsRequest {
        closed_after: after,
        closed_before: before,
        ..Default::default()
    };
    assert_eq!(
        list(closed(at(closed_at), None), &judge).await.unwrap(),
        std::slice::from_ref(&waiting.title)
    );
    assert_eq!(list(closed(None, at(closed_at)), &judge).await.unwrap(), Vec::<String>::new());
    let csv = get("/v1/requests.csv?closed_after=2026-05-08T00:00:00Z".into(), "text/csv").await.unwrap();
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains(&waiting.title) && csv.contains("2026-05-08T08:00:00Z"), "{csv}");
    broker.stop().await;
}

on_both_backends!(queues_follow_the_transition_table);
