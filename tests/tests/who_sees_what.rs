//! Who sees what, end to end on both backends (`casework.md`): a strictly confidential request and
//! protected persons, through every door (gRPC answers, lists, search, trails, messages, documents,
//! the live feed; REST answers, lists and CSV) for each staff role, assignee or not, and for the own
//! and a foreign partner; a protection officer's decision; an erasure that leaves every chain sound
//! and no live row with the erased name.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_tests::*;
use tonic::Code;

const STRICT_TITLE: &str = "Strict matter";
const PROTECTED: &str = "Layla Hassan";
const STRICT_PROTECTED: &str = "Ahmed Saleh";

fn person(name: &str, protected: bool) -> pb::Person {
    pb::Person {
        name: name.into(),
        role: pb::PersonRole::Witness as i32,
        nationality: "IQ".into(),
        protected,
    }
}

/// What one principal may see of the two requests.
struct Expect {
    who: &'static str,
    token: String,
    /// Sees the strictly confidential request at all.
    strict: bool,
    /// Sees the protected identities on the standard request (`None`: does not see that request).
    identities: Option<bool>,
}

async fn who_sees_what(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    broker.register_partners(&["FR-MOJ", "DE-BJ"]).await;
    let mut client = broker.requests().await;
    let france = broker.partner("FR-MOJ");
    let supervisor = broker.staff("supervisor-1", &[Role::Supervisor]);
    let registrar = broker.staff("registrar-1", &[Role::Registrar]);
    let protection = broker.staff("protection-1", &[Role::ProtectionOfficer]);

    let creator = client.clone();
    let create = |mut request: pb::Request, key: &str| {
        let mut client = creator.clone();
        let france = france.clone();
        request.partner_code = String::new();
        let call =
            pb::CreateRequestRequest { request: Some(request), request_id: key.into(), ..Default::default() };
        async move {
            let id = client.create_request(authed(call, &france)).await.expect("created").into_inner().id;
            client
                .transition_request(authed(action(&id, pb::Action::Submit), &france))
                .await
                .expect("submitted");
            id
        }
    };
    let mut strict = complete_request("", STRICT_TITLE);
    strict.confidentiality = pb::Confidentiality::StrictlyConfidential as i32;
    strict.persons = vec![person(STRICT_PROTECTED, true)];
    let strict = create(strict, "").await;
    let mut witness = complete_request("", "Witness matter");
    witness.persons = vec![person(PROTECTED, true), person("Open Witness", false)];
    // With an idempotency key: the answer kept for replays holds the identity too, until erased.
    let witness = create(witness, "witness-matter-1").await;

    // Unassigned, the strictly confidential request is the supervisors' to give to someone.
    let assign = pb::UpdateRequestRequest {
        request: Some(pb::Request {
            id: strict.clone(),
            assignee: "registrar-1".into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["assignee".into()] }),
        ..Default::default()
    };
    let refused = client.acknowledge_as(&strict, &registrar).await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "not yet assigned: not there for a registrar");
    client.update_request(authed(assign, &supervisor)).await.expect("assigned");
    client.acknowledge_as(&strict, &registrar).await.expect("the assignee acknowledges");
    let marker = create(complete_request("", "Marker"), "").await;

    let expectations = [
        Expect { who: "assignee", token: registrar.clone(), strict: true, identities: Some(false) },
        Expect { who: "supervisor", token: supervisor.clone(), strict: true, identities: Some(false) },
        Expect {
            who: "auditor",
            token: broker.staff("auditor-1", &[Role::Auditor]),
            strict: true,
            identities: Some(false),
        },
        Expect {
            who: "other registrar",
            token: broker.staff("registrar-2", &[Role::Registrar]),
            strict: false,
            identities: Some(false),
        },
        Expect {
            who: "legal officer",
            token: broker.staff("legal-1", &[Role::LegalOfficer]),
            strict: false,
            identities: Some(false),
        },
        Expect {
            who: "evidence officer",
            token: broker.staff("evidence-1", &[Role::EvidenceOfficer]),
            strict: false,
            identities: Some(false),
        },
        Expect {
            who: "judge",
            token: broker.staff("judge-1", &[Role::Judge]),
            strict: false,
            identities: Some(true),
        },
        Expect {
            who: "protection officer",
            token: protection.clone(),
            strict: false,
            identities: Some(true),
        },
        Expect { who: "own partner", token: france.clone(), strict: true, identities: Some(true) },
        Expect { who: "foreign partner", token: broker.partner("DE-BJ"), strict: false, identities: None },
    ];
    let mut documents = broker.documents().await;
    let http = http_client();
    let rest = |path: String, token: &str| {
        http.get(format!("{}{path}", broker.gateway_url())).bearer_auth(token).send()
    };
    let secret_names = [PROTECTED, STRICT_PROTECTED];
    for e in &expectations {
        let who = e.who;
        let hidden = |result: Result<(), tonic::Status>| match result {
            Ok(()) => false,
            Err(status) if status.code() == Code::NotFound => true,
            Err(status) => panic!("{who}: {status:?}"),
        };
        // gRPC: the answer, the trail, messages and documents; lists and search.
        let get = client.get_request(authed(pb::GetRequestRequest { id: strict.clone() }, &e.token)).await;
        assert_eq!(!hidden(get.map(drop)), e.strict, "{who}: GetRequest");
        let trail = pb::ListRequestEventsRequest { id: strict.clone(), ..Default::default() };
        assert_eq!(
            !hidden(client.list_request_events(authed(trail, &e.token)).await.map(drop)),
            e.strict,
            "{who}: events"
        );
        let messages = pb::ListMessagesRequest { request_id: strict.clone(), ..Default::default() };
        assert_eq!(
            !hidden(client.list_messages(authed(messages, &e.token)).await.map(drop)),
            e.strict,
            "{who}: messages"
        );
        let docs = pb::ListDocumentsRequest { request_id: strict.clone(), ..Default::default() };
        assert_eq!(
            !hidden(documents.list_documents(authed(docs, &e.token)).await.map(drop)),
            e.strict,
            "{who}: documents"
        );
        for query in ["", STRICT_TITLE] {
            let list = pb::ListRequestsRequest { page_size: 100, query: query.into(), ..Default::default() };
            let listed = client.list_requests(authed(list, &e.token)).await.expect("listed").into_inner();
            let ids: BTreeSet<_> = listed.requests.iter().map(|r| r.id.clone()).collect();
            assert_eq!(ids.contains(&strict), e.strict, "{who}: list {query:?}");
        }
        // Search never matches a person's name: no oracle for a protected one.
        for name in secret_names {
            let probe = pb::ListRequestsRequest { query: name.into(), ..Default::default() };
            let found = client.list_requests(authed(probe, &e.token)).await.expect("listed").into_inner();
            assert!(found.requests.is_empty(), "{who}: search by {name}");
        }

        // Writes and prints find nothing to act on either (tried where the request is hidden only:
        // where it is seen they would change it).
        if !e.strict {
            let transition = action_with_reason(&strict, pb::Action::Withdraw, "probe");
            assert!(hidden(client.transition_request(authed(transition, &e.token)).await.map(drop)), "{who}");
            let update = pb::UpdateRequestRequest {
                request: Some(pb::Request { id: strict.clone(), assignee: "x".into(), ..Default::default() }),
                update_mask: Some(prost_types::FieldMask { paths: vec!["assignee".into()] }),
                ..Default::default()
            };
            assert!(hidden(client.update_request(authed(update, &e.token)).await.map(drop)), "{who}");
            let note = pb::PostMessageRequest {
                request_id: strict.clone(),
                message: Some(pb::Message {
                    body: "probe".into(),
                    audience: pb::Audience::Shared as i32,
                    ..Default::default()
                }),
                ..Default::default()
            };
            assert!(hidden(client.post_message(authed(note, &e.token)).await.map(drop)), "{who}");
            let letter = pb::PrintLetterRequest { id: strict.clone(), ..Default::default() };
            assert!(hidden(client.print_letter(authed(letter, &e.token)).await.map(drop)), "{who}");
        }

        // REST: the answer, the list and the CSV export.
        for path in ["", "/events", "/messages", "/documents"] {
            let status =
                rest(format!("/v1/requests/{strict}{path}"), &e.token).await.unwrap().status().as_u16();
            assert_eq!(status, if e.strict { 200 } else { 404 }, "{who}: REST get {path}");
        }
        if !e.strict {
            for path in ["/evidence-package", "/letter"] {
                let status = rest(format!("/v1/requests/{strict}{path}"), &e.token).await.unwrap().status();
                assert_eq!(status.as_u16(), 404, "{who}: REST get {path}");
            }
        }
        let list = rest("/v1/requests?page_size=100".into(), &e.token).await.unwrap().text().await.unwrap();
        assert_eq!(list.contains(&strict), e.strict, "{who}: REST list");
        let csv = rest("/v1/requests.csv".into(), &e.token).await.unwrap().text().await.unwrap();
        assert_eq!(csv.contains(STRICT_TITLE), e.strict, "{who}: CSV");

        // Protected persons: the identity or a stable pseudonym, in every answer that carries them.
        let get = client.get_request(authed(pb::GetRequestRequest { id: witness.clone() }, &e.token)).await;
        match e.identities {
            None => assert!(hidden(get.map(drop)), "{who}"),
            Some(sees) => {
                let names: Vec<_> =
                    get.expect("seen").into_inner().persons.into_iter().map(|p| p.name).collect();
                let expected = if sees { PROTECTED } else { "Protected person 1" };
                assert_eq!(names, [expected, "Open Witness"], "{who}");
                let page =
                    rest(format!("/v1/requests/{witness}"), &e.token).await.unwrap().text().await.unwrap();
                assert_eq!(page.contains(PROTECTED), sees, "{who}: REST get");
                assert_eq!(list.contains(PROTECTED), sees, "{who}: REST list");
                assert!(!csv.contains(PROTECTED), "{who}: the CSV lists no persons");
            }
        }
        let strict_names = list.contains(STRICT_PROTECTED);
        let supplier_or_handler = matches!(who, "own partner" | "assignee");
        assert_eq!(strict_names, supplier_or_handler, "{who}: the strict request's witness");

        // The live feed: the strictly confidential request's events for those who see it only, and
        // no identity in any event, for anyone (the trail holds commitments).
        let mut feed = client
            .watch_events(authed(pb::WatchEventsRequest::default(), &e.token))
            .await
            .unwrap()
            .into_inner();
        let mut seen = Vec::new();
        while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(2), feed.next()).await {
            let event = event.expect("an event");
            let done = event.request_id == marker && event.action == "SUBMIT";
            seen.push(event);
            if done {
                break;
            }
        }
        assert_eq!(seen.iter().any(|ev| ev.request_id == strict), e.strict, "{who}: the feed");
        // The same feed as server-sent events.
        let mut sse = rest("/v1/events".into(), &e.token).await.unwrap();
        let mut text = String::new();
        while let Ok(Ok(Some(chunk))) = tokio::time::timeout(Duration::from_millis(1500), sse.chunk()).await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains(&marker) {
                break;
            }
        }
        assert_eq!(text.contains(&strict), e.strict, "{who}: server-sent events");
        assert_ne!(text.contains(&marker), who == "foreign partner", "{who}: the SSE feed was read");
        for event in &seen {
            for name in secret_names {
                assert!(!event.details.contains(name), "{who}: {name} in {}", event.details);
            }
        }
    }

    // The protection unit protects the open witness too; a judge may not.
    let mut persons = vec![person(PROTECTED, true), person("Open Witness", true)];
    let protect = |persons: Vec<pb::Person>| pb::UpdateRequestRequest {
        request: Some(pb::Request { id: witness.clone(), persons, ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["persons".into()] }),
        ..Default::default()
    };
    let judge = &expectations[6].token;
    let refused = client.update_request(authed(protect(persons.clone()), judge)).await.unwrap_err();
    assert_eq!((refused.code(), reason_of(&refused)), (Code::PermissionDenied, "MISSING_ROLE".into()));
    client.update_request(authed(protect(persons.clone()), &protection)).await.expect("protected");
    let other = &expectations[3].token;
    let seen =
        client.get_request(authed(pb::GetRequestRequest { id: witness.clone() }, other)).await.unwrap();
    let names: Vec<_> = seen.into_inner().persons.into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["Protected person 1", "Protected person 2"]);
    persons[1].name = "Renamed".into();
    let edit = client.update_request(authed(protect(persons), &protection)).await.unwrap_err();
    assert_eq!(edit.code(), Code::FailedPrecondition, "more than the flags is an edit of the content");

    // Erasure under a deletion order: administrators only, the chains sound before and after, and
    // the name gone from every live row of the database.
    let store = broker.open_store().await;
    assert!(mla_store::verify_audit(store.as_ref()).await.unwrap().is_ok(), "sound before");
    assert!(broker.live_rows().await.iter().any(|row| row.contains(PROTECTED)), "the name is stored");
    let erase = |token: &str, body: serde_json::Value| {
        http.post(format!("{}/v1/requests/{witness}/erasures", broker.gateway_url()))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let order = serde_json::json!({"person": 0, "legal_reference": "Karkh court order 17/2026"});
    let admin = broker.staff("admin-1", &[Role::Admin]);
    assert_eq!(erase(&supervisor, order.clone()).await.unwrap().status().as_u16(), 403);
    for bad in [
        serde_json::json!({"person": 5, "legal_reference": "Order"}),
        serde_json::json!({"person": -1, "legal_reference": "Order"}),
        serde_json::json!({"person": 0, "legal_reference": " "}),
    ] {
        assert_eq!(erase(&admin, bad.clone()).await.unwrap().status().as_u16(), 400, "{bad}");
    }
    let erased = erase(&admin, order.clone()).await.unwrap();
    assert_eq!(erased.status().as_u16(), 200);
    let answer: serde_json::Value = erased.json().await.unwrap();
    assert!(answer.as_object().unwrap().keys().eq(["etag"]), "nothing of the request: {answer}");
    assert_eq!(erase(&admin, order).await.unwrap().status().as_u16(), 400, "erased already");

    assert!(mla_store::verify_audit(store.as_ref()).await.unwrap().is_ok(), "sound after");
    let leftovers: Vec<_> =
        broker.live_rows().await.into_iter().filter(|row| row.contains(PROTECTED)).collect();
    assert!(leftovers.is_empty(), "{leftovers:#?}");
    let seen =
        client.get_request(authed(pb::GetRequestRequest { id: witness.clone() }, judge)).await.unwrap();
    assert_eq!(seen.into_inner().persons[0].name, "[erased]");
    let trail = broker.events(judge, &witness).await;
    let last = trail.last().unwrap();
    assert_eq!(last.action, "ERASE_PERSONAL_DATA");
    assert!(last.details.contains("Karkh court order 17/2026"));
    broker.stop().await;
}

on_both_backends!(who_sees_what);

trait Acknowledge {
    async fn acknowledge_as(&mut self, id: &str, token: &str) -> Result<pb::Request, tonic::Status>;
}

impl Acknowledge for pb::request_service_client::RequestServiceClient<tonic::transport::Channel> {
    async fn acknowledge_as(&mut self, id: &str, token: &str) -> Result<pb::Request, tonic::Status> {
        Ok(self.transition_request(authed(action(id, pb::Action::Acknowledge), token)).await?.into_inner())
    }
}
