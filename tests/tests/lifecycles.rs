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

async fn setup(backend: Backend) -> Option<(Broker, Parties)> {
    let broker = Broker::start(backend).await?;
    broker.register_partners(&["FR-MOJ", "DE-BJ"]).await;
    let parties = Parties {
        judge: broker.staff("judge-1", &[Role::Judge]),
        registrar: broker.staff("registrar-1", &[Role::Registrar]),
        legal: broker.staff("legal-1", &[Role::LegalOfficer]),
        evidence: broker.staff("evidence-1", &[Role::EvidenceOfficer]),
        france: broker.partner("FR-MOJ"),
    };
    Some((broker, parties))
}

/// France asks Iraq for evidence: an INCOMING request, submitted and received.
async fn incoming_under_review(broker: &Broker, p: &Parties) -> pb::Request {
    let mut client = broker.requests().await;
    let create = pb::CreateRequestRequest {
        request: Some(complete_request("", "Witness W-17")),
        request_id: String::new(),
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
    assert_eq!(mla_store::verify_audit(broker.store.as_ref()).await.unwrap().unwrap().requests, 1);
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

async fn clarification_loops_and_postponement_stop_the_clock(backend: Backend) {
    let Some((broker, p)) = setup(backend).await else { return };
    let mut client = broker.requests().await;
    let request = incoming_under_review(&broker, &p).await;
    let due_before = request.due_time.unwrap();

    let ask = action_with_reason(&request.id, A::RequestClarification, "Which bank accounts?");
    let r = client.transition_request(authed(ask, &p.legal)).await.unwrap().into_inner();
    assert_eq!(r.state, pb::State::ClarificationRequested as i32);
    let missing = action(&request.id, A::ProvideClarification);
    let status = client.transition_request(authed(missing, &p.france)).await.unwrap_err();
    assert_eq!(
        (status.code(), reason_of(&status).as_str()),
        (tonic::Code::InvalidArgument, "REASON_REQUIRED")
    );
    let answer = action_with_reason(&request.id, A::ProvideClarification, "Accounts 1 and 2");
    let r = client.transition_request(authed(answer, &p.france)).await.unwrap().into_inner();
    assert_eq!(r.state, pb::State::UnderReview as i32);
    let due_after = r.due_time.unwrap();
    assert!(
        (due_after.seconds, due_after.nanos) >= (due_before.seconds, due_before.nanos),
        "the due date moved out by the time stopped"
    );

    let r = client.transition_request(authed(action(&r.id, A::Accept), &p.judge)).await.unwrap().into_inner();
    let r = client
        .transition_request(authed(action(&r.id, A::StartExecution), &p.legal))
        .await
        .unwrap()
        .into_inner();
    let postpone = action_with_reason(&r.id, A::Postpone, "Ongoing domestic investigation");
    let r = client.transition_request(authed(postpone, &p.judge)).await.unwrap().into_inner();
    assert_eq!(r.state, pb::State::Postponed as i32);
    assert!(!r.overdue);
    let r =
        client.transition_request(authed(action(&r.id, A::Resume), &p.evidence)).await.unwrap().into_inner();
    assert_eq!(r.state, pb::State::InExecution as i32);
    broker.stop().await;
}

async fn an_outgoing_request_can_be_withdrawn_by_the_ncijc(backend: Backend) {
    let Some((broker, p)) = setup(backend).await else { return };
    let mut client = broker.requests().await;
    let create = pb::CreateRequestRequest {
        request: Some(complete_request("DE-BJ", "Bank records")),
        request_id: String::new(),
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
