//! Full lifecycles over a real gRPC client against a broker booted on port 0: the paths a request
//! takes in practice, each party acting with its own token.

use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_tests::*;
use pb::Action as A;

struct Parties {
    judge: String,
    registrar: String,
    legal: String,
    evidence: String,
    france: String,
}

impl Parties {
    fn of(broker: &Broker) -> Parties {
        Parties {
            judge: broker.staff("judge-1", &[Role::Judge]),
            registrar: broker.staff("registrar-1", &[Role::Registrar]),
            legal: broker.staff("legal-1", &[Role::LegalOfficer]),
            evidence: broker.staff("evidence-1", &[Role::EvidenceOfficer]),
            france: broker.partner("FR-MOJ"),
        }
    }
}

async fn setup(backend: Backend) -> Option<(Broker, Parties)> {
    let broker = Broker::start(backend).await?;
    broker.register_partners(&["FR-MOJ", "DE-BJ"]).await;
    let parties = Parties::of(&broker);
    Some((broker, parties))
}

/// France asks Iraq for evidence: an INCOMING request, submitted and received.
async fn incoming_under_review(broker: &Broker, p: &Parties) -> pb::Request {
    let mut client = broker.requests().await;
    let create = pb::CreateRequestRequest {
        request: Some(complete_request("", "Witness W-17")),
        request_id: String::new(),
        ..Default::default()
    };
    let draft = client.create_request(authed(create, &p.france)).await.unwrap().into_inner();
    assert_eq!(draft.direction, pb::Direction::Incoming as i32);
    assert!(draft.reference.starts_with("IN-"), "{}", draft.reference);
    assert_eq!(draft.partner_code, "FR-MOJ");
    let steps = [(A::Submit, &p.france), (A::Acknowledge, &p.registrar), (A::StartReview, &p.legal)];
    let mut request = draft;
    for (step, token) in steps {
        request =
            client.transition_request(authed(action(&request.id, step), token)).await.unwrap().into_inner();
    }
    assert_eq!(request.state, pb::State::UnderReview as i32);
    assert!(request.due_time.is_some(), "the clock started at acknowledgement");
    request
}

async fn an_incoming_request_goes_from_draft_to_closed(backend: Backend) {
    let Some((broker, p)) = setup(backend).await else { return };
    let mut client = broker.requests().await;
    let request = incoming_under_review(&broker, &p).await;

    let proposed = pb::TransitionRequestRequest {
        conditions: vec![pb::Condition {
            kind: pb::ConditionKind::DeathPenaltyNonImposition as i32,
            ..Default::default()
        }],
        ..action(&request.id, A::ProposeConditions)
    };
    let r = client.transition_request(authed(proposed, &p.judge)).await.unwrap().into_inner();
    assert_eq!(r.allowed_actions, vec![A::Refuse as i32], "the judge now waits on France, or refuses");
    let r = client
        .transition_request(authed(action(&r.id, A::AcceptConditions), &p.france))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.conditions[0].status, pb::ConditionStatus::Accepted as i32);
    assert_eq!(r.conditions[0].given_by, "FR-MOJ-system");
    let r = client
        .transition_request(authed(action(&r.id, A::StartExecution), &p.evidence))
        .await
        .unwrap()
        .into_inner();
    let complete = pb::TransitionRequestRequest {
        outcome: pb::Outcome::Full as i32,
        ..action(&r.id, A::CompleteExecution)
    };
    let r = client.transition_request(authed(complete, &p.evidence)).await.unwrap().into_inner();
    let r = client.transition_request(authed(action(&r.id, A::Close), &p.france)).await.unwrap().into_inner();
    assert_eq!(r.state, pb::State::Closed as i32);

    let events = client
        .list_request_events(authed(
            pb::ListRequestEventsRequest { id: r.id.clone(), ..Default::default() },
            &p.judge,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "SUBMIT",
            "ACKNOWLEDGE",
            "START_REVIEW",
            "PROPOSE_CONDITIONS",
            "ACCEPT_CONDITIONS",
            "START_EXECUTION",
            "COMPLETE_EXECUTION",
            "CLOSE"
        ],
        "staff see the history from submission on"
    );
    for pair in events.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    assert_eq!(
        mla_store::verify_audit(broker.open_store().await.as_ref()).await.unwrap().unwrap().requests,
        1
    );
    broker.stop().await;
}

async fn a_refusal_on_a_curable_ground_needs_consultation_first(backend: Backend) {
    let Some((broker, p)) = setup(backend).await else { return };
    let mut client = broker.requests().await;
    let request = incoming_under_review(&broker, &p).await;
    let refuse = pb::TransitionRequestRequest {
        reason: "Risk of the death penalty".into(),
        refusal_grounds: vec![pb::RefusalGround::DeathPenaltyRisk as i32],
        ..action(&request.id, A::Refuse)
    };
    let status = client.transition_request(authed(refuse.clone(), &p.judge)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert_eq!(reason_of(&status), "CONSULTATION_REQUIRED");

    // Consult: propose an assurance; France declines it; now the refusal stands.
    let proposed = pb::TransitionRequestRequest {
        conditions: vec![pb::Condition {
            kind: pb::ConditionKind::DeathPenaltyNonImposition as i32,
            ..Default::default()
        }],
        ..action(&request.id, A::ProposeConditions)
    };
    client.transition_request(authed(proposed, &p.judge)).await.unwrap();
    client.transition_request(authed(action(&request.id, A::DeclineConditions), &p.france)).await.unwrap();
    let refused = client.transition_request(authed(refuse, &p.judge)).await.unwrap().into_inner();
    assert_eq!(refused.state, pb::State::Refused as i32);
    let closed = client
        .transition_request(authed(action(&request.id, A::Close), &p.france))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.state, pb::State::Closed as i32);
    broker.stop().await;
}

/// The wire form of an instant, for exact comparisons with the broker's answers.
fn at(instant: chrono::DateTime<chrono::Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: instant.timestamp(),
        nanos: instant.timestamp_subsec_nanos() as i32,
    })
}

/// The deadline clock end to end, on a clock the test moves: it starts at acknowledgement, stops
/// while France is asked for clarification and while execution is postponed, and the due date moves
/// out by exactly the time stopped; the request is overdue exactly after it.
async fn clarification_loops_and_postponement_stop_the_clock(backend: Backend) {
    use chrono::{Duration, TimeZone, Utc};
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
    let Some((broker, clock)) = Broker::start_at(backend, t0).await else { return };
    broker.register_partners(&["FR-MOJ"]).await;
    let p = Parties::of(&broker);
    let mut client = broker.requests().await;
    let base = client.clone();
    let step = |token: &str, call: pb::TransitionRequestRequest| {
        let mut client = base.clone();
        let call = authed(call, token);
        async move { client.transition_request(call).await.unwrap().into_inner() }
    };
    let create = pb::CreateRequestRequest {
        request: Some(complete_request("", "Clock")),
        request_id: String::new(),
        ..Default::default()
    };
    let draft = client.create_request(authed(create, &p.france)).await.unwrap().into_inner();
    let id = draft.id.clone();
    step(&p.france, action(&id, A::Submit)).await;

    // Acknowledged an hour later: NORMAL priority has 90 days from then.
    clock.advance(Duration::hours(1));
    let acknowledged = t0 + Duration::hours(1);
    let r = step(&p.registrar, action(&id, A::Acknowledge)).await;
    assert_eq!(r.received_time, at(acknowledged));
    assert_eq!(r.due_time, at(acknowledged + Duration::days(90)));

    // Two days of review, then ten days waiting on France: the clock stands still meanwhile.
    clock.advance(Duration::days(2));
    step(&p.legal, action(&id, A::StartReview)).await;
    let r = step(&p.legal, action_with_reason(&id, A::RequestClarification, "Which bank accounts?")).await;
    assert_eq!(r.due_time, at(acknowledged + Duration::days(90)), "stopping does not move the date yet");
    clock.advance(Duration::days(10));
    let r = step(&p.france, action_with_reason(&id, A::ProvideClarification, "Accounts 1 and 2")).await;
    assert_eq!(r.state, pb::State::UnderReview as i32);
    assert_eq!(r.due_time, None, "the due date is internal to the NCIJC: France's answer has none");
    let get = |token: &str| authed(pb::GetRequestRequest { id: id.clone() }, token);
    let r = client.get_request(get(&p.judge)).await.unwrap().into_inner();
    assert_eq!(r.due_time, at(acknowledged + Duration::days(100)), "moved out by exactly the ten days");

    // Accepted and executing; postponed for a week and half an hour.
    step(&p.judge, action(&id, A::Accept)).await;
    step(&p.legal, action(&id, A::StartExecution)).await;
    clock.advance(Duration::days(5));
    let r = step(&p.judge, action_with_reason(&id, A::Postpone, "Ongoing domestic investigation")).await;
    assert_eq!(r.state, pb::State::Postponed as i32);
    let postponed_for = Duration::days(7) + Duration::minutes(30);
    clock.advance(postponed_for);
    let r = step(&p.evidence, action(&id, A::Resume)).await;
    assert_eq!(r.state, pb::State::InExecution as i32);
    let due = acknowledged + Duration::days(100) + postponed_for;
    assert_eq!(r.due_time, at(due));

    // Overdue exactly after the due date, and only then.
    clock.set(due);
    assert!(!client.get_request(get(&p.judge)).await.unwrap().into_inner().overdue);
    clock.set(due + Duration::microseconds(1));
    assert!(client.get_request(get(&p.judge)).await.unwrap().into_inner().overdue);
    let overdue = pb::ListRequestsRequest { overdue: true, ..Default::default() };
    let listed = client.list_requests(authed(overdue, &p.judge)).await.unwrap().into_inner().requests;
    assert_eq!(listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    broker.stop().await;
}

async fn an_outgoing_request_can_be_withdrawn_by_the_ncijc(backend: Backend) {
    let Some((broker, p)) = setup(backend).await else { return };
    let mut client = broker.requests().await;
    let create = pb::CreateRequestRequest {
        request: Some(complete_request("DE-BJ", "Bank records")),
        request_id: String::new(),
        ..Default::default()
    };
    let draft = client.create_request(authed(create, &p.judge)).await.unwrap().into_inner();
    assert!(draft.reference.starts_with("OUT-"));
    let germany = broker.partner("DE-BJ");
    let hidden = client
        .get_request(authed(pb::GetRequestRequest { id: draft.id.clone() }, &germany))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), tonic::Code::NotFound, "a partner never sees the NCIJC's drafts");

    let r =
        client.transition_request(authed(action(&draft.id, A::Submit), &p.judge)).await.unwrap().into_inner();
    let seen = client
        .get_request(authed(pb::GetRequestRequest { id: r.id.clone() }, &germany))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.allowed_actions, vec![A::Acknowledge as i32]);
    let no_reason =
        client.transition_request(authed(action(&r.id, A::Withdraw), &p.judge)).await.unwrap_err();
    assert_eq!(reason_of(&no_reason), "REASON_REQUIRED");
    let withdraw = action_with_reason(&r.id, A::Withdraw, "The suspect was arrested in Iraq");
    let r = client.transition_request(authed(withdraw, &p.judge)).await.unwrap().into_inner();
    assert_eq!(r.state, pb::State::Withdrawn as i32);
    assert!(r.allowed_actions.is_empty());
    broker.stop().await;
}

on_both_backends!(
    an_incoming_request_goes_from_draft_to_closed,
    a_refusal_on_a_curable_ground_needs_consultation_first,
    clarification_loops_and_postponement_stop_the_clock,
    an_outgoing_request_can_be_withdrawn_by_the_ncijc,
);
