//! Who may do what, over the wire: every RPC × every role × own or other partner, each cell asserted
//! to its exact outcome, plus the calls that carry no valid token at all.

use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_tests::*;
use tonic::Code;

const OK: Code = Code::Ok;
const NF: Code = Code::NotFound;
const PD: Code = Code::PermissionDenied;
const IA: Code = Code::InvalidArgument;

fn code_of<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Code {
    result.map_or_else(|s| s.code(), |_| Code::Ok)
}

async fn every_rpc_answers_every_principal_as_the_rules_say(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    broker.register_partners(&["FR-MOJ", "DE-BJ"]).await;
    let mut requests = broker.requests().await;
    let mut partners = broker.partners().await;
    let shared = broker.submitted_by("FR-MOJ", "Matrix").await.id;

    let rows: [(&str, [Code; 9]); 9] = [
        ("GetRequest", [OK, OK, OK, OK, OK, OK, NF, OK, NF]),
        ("ListRequestEvents", [OK, OK, OK, OK, OK, OK, NF, OK, NF]),
        ("TransitionRequest ACKNOWLEDGE", [OK, PD, PD, PD, OK, PD, NF, PD, NF]),
        ("UpdateRequest assignee", [OK, PD, PD, PD, OK, PD, NF, PD, NF]),
        ("CreateRequest to FR-MOJ", [OK, OK, OK, PD, OK, PD, PD, OK, IA]),
        ("CreatePartner", [PD, PD, PD, PD, PD, PD, OK, PD, PD]),
        ("UpdatePartner", [PD, PD, PD, PD, PD, PD, OK, PD, PD]),
        ("GetPartner", [OK, OK, OK, OK, OK, OK, OK, OK, OK]),
        ("ListPartners", [OK, OK, OK, OK, OK, OK, OK, OK, OK]),
    ];
    for (rpc, expected) in rows {
        for (who, want) in PRINCIPALS.iter().zip(expected) {
            let t = broker.token_for(who);
            let got = match rpc {
                "GetRequest" => code_of(
                    requests.get_request(authed(pb::GetRequestRequest { id: shared.clone() }, &t)).await,
                ),
                "ListRequestEvents" => {
                    let m = pb::ListRequestEventsRequest { id: shared.clone(), ..Default::default() };
                    code_of(requests.list_request_events(authed(m, &t)).await)
                }
                "TransitionRequest ACKNOWLEDGE" => {
                    let id = broker.submitted_by("FR-MOJ", "Matrix").await.id;
                    code_of(
                        requests.transition_request(authed(action(&id, pb::Action::Acknowledge), &t)).await,
                    )
                }
                "UpdateRequest assignee" => {
                    let m = pb::UpdateRequestRequest {
                        request: Some(pb::Request {
                            id: shared.clone(),
                            assignee: "officer-7".into(),
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask { paths: vec!["assignee".into()] }),
                        ..Default::default()
                    };
                    code_of(requests.update_request(authed(m, &t)).await)
                }
                "CreateRequest to FR-MOJ" => {
                    let m = pb::CreateRequestRequest {
                        request: Some(complete_request("FR-MOJ", "x")),
                        request_id: String::new(),
                        ..Default::default()
                    };
                    code_of(requests.create_request(authed(m, &t)).await)
                }
                "CreatePartner" => {
                    let partner = pb::Partner {
                        code: format!("NEW-{}", who.len()),
                        name: "New partner".into(),
                        kind: pb::PartnerKind::InternationalMechanism as i32,
                        active: true,
                        ..Default::default()
                    };
                    let m = pb::CreatePartnerRequest { partner: Some(partner), request_id: String::new() };
                    code_of(partners.create_partner(authed(m, &t)).await)
                }
                "UpdatePartner" => {
                    let partner = pb::Partner {
                        code: "DE-BJ".into(),
                        name: format!("Renamed by {who}"),
                        ..Default::default()
                    };
                    let mask = prost_types::FieldMask { paths: vec!["name".into()] };
                    let m = pb::UpdatePartnerRequest {
                        partner: Some(partner),
                        update_mask: Some(mask),
                        ..Default::default()
                    };
                    code_of(partners.update_partner(authed(m, &t)).await)
                }
                "GetPartner" => code_of(
                    partners.get_partner(authed(pb::GetPartnerRequest { code: "FR-MOJ".into() }, &t)).await,
                ),
                "ListPartners" => {
                    code_of(partners.list_partners(authed(pb::ListPartnersRequest::default(), &t)).await)
                }
                other => unreachable!("{other}"),
            };
            assert_eq!(got, want, "{rpc} by {who}");
        }
    }
    broker.stop().await;
}

async fn lists_hold_only_what_the_caller_may_see(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    broker.register_partners(&["FR-MOJ", "DE-BJ"]).await;
    let mut client = broker.requests().await;
    broker.submitted_by("FR-MOJ", "Matrix").await;
    // A French draft (invisible to staff) and an NCIJC draft to Germany (invisible to Germany).
    let french_draft = pb::CreateRequestRequest {
        request: Some(complete_request("", "Draft")),
        request_id: String::new(),
        ..Default::default()
    };
    client.create_request(authed(french_draft, &broker.partner("FR-MOJ"))).await.unwrap();
    let ncijc_draft = pb::CreateRequestRequest {
        request: Some(complete_request("DE-BJ", "Draft")),
        request_id: String::new(),
        ..Default::default()
    };
    client.create_request(authed(ncijc_draft, &broker.staff("j", &[Role::Judge]))).await.unwrap();

    let count = |who: &'static str| {
        let t = broker.token_for(who);
        let mut client = client.clone();
        async move {
            client
                .list_requests(authed(pb::ListRequestsRequest::default(), &t))
                .await
                .unwrap()
                .into_inner()
                .requests
                .len()
        }
    };
    assert_eq!(count("auditor").await, 2, "the submitted French request and the NCIJC draft");
    assert_eq!(count("FR-MOJ").await, 2, "its submitted request and its own draft");
    assert_eq!(count("DE-BJ").await, 0, "nothing of France's, and not the NCIJC's draft");
    assert_eq!(count("admin").await, 0);
    let filtered = pb::ListRequestsRequest { partner_code: "FR-MOJ".into(), ..Default::default() };
    let germany =
        client.list_requests(authed(filtered, &broker.partner("DE-BJ"))).await.unwrap().into_inner();
    assert!(germany.requests.is_empty(), "filtering on another partner's code yields an empty page");
    broker.stop().await;
}

async fn calls_without_a_valid_token_are_unauthenticated_but_health_stays_open(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let mut client = broker.requests().await;
    let get = || pb::GetRequestRequest { id: "0192f0c1-7a3e-7cc0-8000-000000000001".into() };
    let missing = client.get_request(get()).await.unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated);
    assert!(missing.metadata().get("www-authenticate").is_some());
    for bad in ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", &"x".repeat(9_000)] {
        let status = client.get_request(authed(get(), bad)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "token {:?}", &bad[..bad.len().min(20)]);
    }
    // A header beyond HTTP/2's header-list limit is refused by the transport before any parsing.
    let huge = client.get_request(authed(get(), &"x".repeat(40_000))).await.unwrap_err();
    assert_ne!(huge.code(), Code::Ok);
    let mut partners = broker.partners().await;
    let status = partners.list_partners(pb::ListPartnersRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let valid = broker.staff("auditor-1", &[Role::Auditor]);
    partners.list_partners(authed(pb::ListPartnersRequest::default(), &valid)).await.expect("still serving");
    // Health needs no token at all: load balancers probe it bare.
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let mut health = HealthClient::new(broker.channel().await);
    for service in ["", "mla.v1.RequestService", "mla.v1.PartnerService"] {
        let answer = health.check(HealthCheckRequest { service: service.into() }).await;
        let answer =
            answer.unwrap_or_else(|status| panic!("health of {service:?} without a token: {status:?}"));
        assert_eq!(answer.into_inner().status, ServingStatus::Serving as i32, "{service:?}");
    }
    broker.stop().await;
}

/// The NCIJC's internal fields (the assignee, the internal due date and what derives from it) never
/// reach the partner: not in answers or lists over gRPC or REST, not as filters, not in the CSV
/// export, not in its events or its live feed.
async fn internal_fields_never_reach_a_partner(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    broker.register_partners(&["FR-MOJ"]).await;
    let mut client = broker.requests().await;
    let france = broker.partner("FR-MOJ");
    let supervisor = broker.staff("supervisor-1", &[Role::Supervisor]);
    let request = broker.submitted_by("FR-MOJ", "Internal fields").await;
    let id = request.id.clone();
    client.transition_request(authed(action(&id, pb::Action::Acknowledge), &supervisor)).await.unwrap();
    let assign = pb::UpdateRequestRequest {
        request: Some(pb::Request { id: id.clone(), assignee: "officer-layla".into(), ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["assignee".into()] }),
        ..Default::default()
    };
    let staff_view = client.update_request(authed(assign, &supervisor)).await.unwrap().into_inner();
    assert_eq!(staff_view.assignee, "officer-layla");
    assert!(staff_view.due_time.is_some());

    // Answers and lists over gRPC.
    let get = || authed(pb::GetRequestRequest { id: id.clone() }, &france);
    let seen = client.get_request(get()).await.unwrap().into_inner();
    assert_eq!((seen.assignee.as_str(), seen.due_time, seen.overdue), ("", None, false));
    let listed = client.list_requests(authed(pb::ListRequestsRequest::default(), &france)).await.unwrap();
    for r in listed.into_inner().requests {
        assert_eq!((r.assignee.as_str(), r.due_time), ("", None));
    }
    // Filters on internal fields are refused whatever their value, so they answer nothing.
    for filter in [
        pb::ListRequestsRequest { assignee: "officer-layla".into(), ..Default::default() },
        pb::ListRequestsRequest { assignee: "nobody".into(), ..Default::default() },
        pb::ListRequestsRequest { overdue: true, ..Default::default() },
    ] {
        let refused = client.list_requests(authed(filter, &france)).await.unwrap_err();
        assert_eq!(refused.code(), IA, "{refused:?}");
    }
    // Its events: the assignment is not among them, and no shared event carries the due date.
    let reader = client.clone();
    let trail = || {
        let mut client = reader.clone();
        let call = authed(pb::ListRequestEventsRequest { id: id.clone(), ..Default::default() }, &france);
        async move { client.list_request_events(call).await.unwrap().into_inner().events }
    };
    let events = trail().await;
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["CREATE", "SUBMIT", "ACKNOWLEDGE"]);
    // The next shared event keeps its place in the whole trail: France sees the gap where the
    // internal assignment sits, as Event.seq documents.
    let legal = broker.staff("legal-1", &[Role::LegalOfficer]);
    client.transition_request(authed(action(&id, pb::Action::StartReview), &legal)).await.unwrap();
    let seqs: Vec<i64> = trail().await.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 5]);
    let mut feed =
        client.watch_events(authed(pb::WatchEventsRequest::default(), &france)).await.unwrap().into_inner();
    let mut fed = Vec::new();
    while fed.len() < seqs.len() {
        fed.push(within("France's feed", futures::StreamExt::next(&mut feed)).await.unwrap().unwrap());
    }
    for event in events.iter().chain(&fed) {
        assert!(!event.details.contains("officer-layla") && !event.details.contains("due_time"), "{event:?}");
    }
    assert_eq!(fed.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs, "the feed shows France the same events");

    // The same over REST: the answer, the list and the CSV export.
    let http = http_client();
    let rest = |path: &str| http.get(format!("{}{path}", broker.gateway_url())).bearer_auth(&france).send();
    let answer: serde_json::Value = rest(&format!("/v1/requests/{id}")).await.unwrap().json().await.unwrap();
    assert_eq!(
        (&answer["assignee"], &answer["due_time"]),
        (&serde_json::json!(""), &serde_json::Value::Null)
    );
    let list = rest("/v1/requests").await.unwrap().text().await.unwrap();
    let csv = rest("/v1/requests.csv").await.unwrap().text().await.unwrap();
    for body in [list, csv] {
        assert!(!body.contains("officer-layla"), "{body}");
    }
    let filtered = rest("/v1/requests?assignee=officer-layla").await.unwrap();
    assert_eq!(filtered.status(), reqwest::StatusCode::BAD_REQUEST);
    broker.stop().await;
}

on_both_backends!(
    every_rpc_answers_every_principal_as_the_rules_say,
    lists_hold_only_what_the_caller_may_see,
    calls_without_a_valid_token_are_unauthenticated_but_health_stays_open,
    internal_fields_never_reach_a_partner,
);
