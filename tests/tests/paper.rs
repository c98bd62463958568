//! The paper channel end to end, on both backends, over gRPC: a request that a partner without a
//! system sent by diplomatic note, registered and taken to CLOSED by NCIJC staff recording the
//! partner's acts on its behalf, with the deadline clock on the dates the letters arrived; an
//! outgoing request to such a partner printed as a letter and advanced by its recorded answers; and
//! the acts that may not be recorded, refused with nothing written.

use chrono::{DateTime, Duration, TimeZone, Utc};
use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_tests::*;
use pb::Action as A;
use tonic::Code;

fn at(instant: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: instant.timestamp(),
        nanos: instant.timestamp_subsec_nanos() as i32,
    })
}

/// When the broker's clock stands at the start of each scenario.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap()
}

struct Staff {
    registrar: String,
    legal: String,
    judge: String,
    evidence: String,
}

/// A broker at `t0` with FR-MOJ (its own system) and JO-MOJ (on paper) registered; the Jordanian
/// entry is made SYSTEM first and switched to PAPER by an administrator, as a registry correction is.
async fn setup(backend: Backend) -> Option<(Broker, mla_app::ManualClock, Staff)> {
    let (broker, clock) = Broker::start_at(backend, t0()).await?;
    broker.register_partners(&["FR-MOJ", "JO-MOJ"]).await;
    let admin = broker.staff("admin", &[Role::Admin]);
    let mut partners = broker.partners().await;
    let jordan = partners
        .get_partner(authed(pb::GetPartnerRequest { code: "JO-MOJ".into() }, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(jordan.channel, pb::Channel::System as i32, "unset on create means SYSTEM");
    let update = pb::UpdatePartnerRequest {
        partner: Some(pb::Partner { code: "JO-MOJ".into(), channel: pb::Channel::Paper as i32, ..jordan }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["channel".into()] }),
        ..Default::default()
    };
    let jordan = partners.update_partner(authed(update, &admin)).await.unwrap().into_inner();
    assert_eq!(jordan.channel, pb::Channel::Paper as i32);
    let registrar = broker.staff("registrar-1", &[Role::Registrar]);
    let listed = partners
        .list_partners(authed(pb::ListPartnersRequest::default(), &registrar))
        .await
        .unwrap()
        .into_inner()
        .partners;
    let channels: Vec<_> = listed.iter().map(|p| (p.code.as_str(), p.channel)).collect();
    assert_eq!(channels, [("FR-MOJ", pb::Channel::System as i32), ("JO-MOJ", pb::Channel::Paper as i32)]);
    let staff = Staff {
        registrar,
        legal: broker.staff("legal-1", &[Role::LegalOfficer]),
        judge: broker.staff("judge-1", &[Role::Judge]),
        evidence: broker.staff("evidence-1", &[Role::EvidenceOfficer]),
    };
    Some((broker, clock, staff))
}

/// A transition recorded on JO-MOJ's behalf, as it arrived `via` at `effective`.
fn on_behalf(
    call: pb::TransitionRequestRequest,
    via: pb::ReceivedVia,
    effective: Option<DateTime<Utc>>,
) -> pb::TransitionRequestRequest {
    pb::TransitionRequestRequest {
        on_behalf_of_partner: "JO-MOJ".into(),
        received_via: via as i32,
        effective_time: effective.and_then(at),
        ..call
    }
}

/// The scan of a note, uploaded by `token` to the request `id`.
async fn scanned_letter(broker: &Broker, token: &str, id: &str) -> pb::Document {
    use pb::upload_document_request::Part;
    let metadata = pb::DocumentMetadata {
        request_id: id.into(),
        kind: pb::DocumentKind::LetterOfRequest as i32,
        title: "Note verbale 117/2026".into(),
        file_name: "مذكرة شفوية.pdf".into(),
        media_type: "application/pdf".into(),
        ..Default::default()
    };
    let parts = [
        pb::UploadDocumentRequest { part: Some(Part::Metadata(metadata)) },
        pb::UploadDocumentRequest { part: Some(Part::Chunk(b"%PDF-1.7\nscan\n%%EOF\n".to_vec())) },
    ];
    let upload = authed(futures::stream::iter(parts), token);
    broker.documents().await.upload_document(upload).await.expect("uploaded").into_inner()
}

fn details(event: &pb::Event) -> serde_json::Value {
    serde_json::from_str(&event.details).unwrap()
}

/// Jordan's request arrives by diplomatic note on 5 March; the registrar registers it on 10 March
/// and stamps its receipt as of 6 March; a clarification is asked for (with a message beside it) and
/// Jordan's answer arrives by e-mail; the request is executed and Jordan's closing note recorded.
async fn a_request_received_by_diplomatic_note_goes_to_closed(backend: Backend) {
    let Some((broker, clock, staff)) = setup(backend).await else { return };
    let mut client = broker.requests().await;
    let arrived = t0() - Duration::days(5);
    let create = pb::CreateRequestRequest {
        request: Some(complete_request("", "طلب مساعدة قانونية متبادلة")),
        on_behalf_of_partner: "JO-MOJ".into(),
        received_via: pb::ReceivedVia::DiplomaticNote as i32,
        effective_time: at(arrived),
        letter_reference: "NV 117/2026".into(),
        ..Default::default()
    };
    let r = client.create_request(authed(create, &staff.registrar)).await.unwrap().into_inner();
    assert_eq!(r.direction, pb::Direction::Incoming as i32);
    assert_eq!(r.state, pb::State::Submitted as i32, "a letter that arrived is a submitted request");
    assert_eq!(r.partner_code, "JO-MOJ");
    assert!(r.reference.starts_with("IN-"), "{}", r.reference);
    assert_eq!((r.create_time, r.submit_time), (at(arrived), at(arrived)));
    assert_eq!(r.title, "طلب مساعدة قانونية متبادلة");
    let id = r.id.clone();

    // The NCIJC's own act, dated on paper: the receipt stamp of 6 March starts the clock, and the
    // scanned note, uploaded first, is named as its letter.
    let scan = scanned_letter(&broker, &staff.registrar, &id).await;
    let stamped = t0() - Duration::days(4);
    let acknowledge = pb::TransitionRequestRequest {
        effective_time: at(stamped),
        received_via: pb::ReceivedVia::DiplomaticNote as i32,
        letter_document_id: scan.id.clone(),
        ..action(&id, A::Acknowledge)
    };
    let r = client.transition_request(authed(acknowledge, &staff.registrar)).await.unwrap().into_inner();
    assert_eq!(r.received_time, at(stamped));
    assert_eq!(r.due_time, at(stamped + Duration::days(90)));

    clock.advance(Duration::days(1));
    let asked = t0() + Duration::days(1);
    client.transition_request(authed(action(&id, A::StartReview), &staff.legal)).await.unwrap();
    let clarify = action_with_reason(&id, A::RequestClarification, "Which bank accounts?");
    client.transition_request(authed(clarify, &staff.legal)).await.unwrap();
    let message = pb::PostMessageRequest {
        request_id: id.clone(),
        message: Some(pb::Message {
            audience: pb::Audience::Shared as i32,
            body: "يرجى تحديد أرقام الحسابات المصرفية.".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    client.post_message(authed(message, &staff.legal)).await.unwrap();

    // Jordan's answer, e-mailed on 18 March, recorded on the 20th: the clock stood still for the
    // eight days Jordan took, not the ten until it was recorded.
    clock.advance(Duration::days(10));
    let answered = asked + Duration::days(8);
    let provide = on_behalf(
        pb::TransitionRequestRequest {
            letter_reference: "MOJ/JO/5521".into(),
            ..action_with_reason(&id, A::ProvideClarification, "Accounts 1 and 2 at Bank X.")
        },
        pb::ReceivedVia::Email,
        Some(answered),
    );
    let r = client.transition_request(authed(provide, &staff.registrar)).await.unwrap().into_inner();
    assert_eq!(r.state, pb::State::UnderReview as i32);
    assert_eq!(r.due_time, at(stamped + Duration::days(90 + 8)));

    client.transition_request(authed(action(&id, A::Accept), &staff.judge)).await.unwrap();
    client.transition_request(authed(action(&id, A::StartExecution), &staff.evidence)).await.unwrap();
    let complete = pb::TransitionRequestRequest {
        outcome: pb::Outcome::Full as i32,
        ..action(&id, A::CompleteExecution)
    };
    client.transition_request(authed(complete, &staff.evidence)).await.unwrap();
    let close = on_behalf(action(&id, A::Close), pb::ReceivedVia::DiplomaticNote, None);
    let r = client.transition_request(authed(close, &staff.registrar)).await.unwrap().into_inner();
    assert_eq!(r.state, pb::State::Closed as i32);

    let trail = broker.events(&staff.judge, &id).await;
    let actions: Vec<_> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "CREATE",
            "DOCUMENT_ADDED",
            "ACKNOWLEDGE",
            "START_REVIEW",
            "REQUEST_CLARIFICATION",
            "MESSAGE_POSTED",
            "PROVIDE_CLARIFICATION",
            "ACCEPT",
            "START_EXECUTION",
            "COMPLETE_EXECUTION",
            "CLOSE"
        ]
    );
    let acted_for = |e: &pb::Event| {
        let actor = e.actor.clone().unwrap();
        (actor.subject, actor.on_behalf_of_partner, actor.partner_code)
    };
    let create = &trail[0];
    assert_eq!(acted_for(create), ("registrar-1".into(), "JO-MOJ".into(), String::new()));
    assert_eq!(create.time, at(arrived), "the event is dated when the note arrived");
    assert_eq!(create.to_state, pb::State::Submitted as i32);
    let paper = &details(create)["paper"];
    assert_eq!(paper["received_via"], "DIPLOMATIC_NOTE");
    assert_eq!(paper["letter_reference"], "NV 117/2026");
    assert_eq!(paper["recorded_time"], serde_json::json!(t0()), "and says when it was recorded");
    let acknowledged = &trail[2];
    assert_eq!(acted_for(acknowledged), ("registrar-1".into(), String::new(), String::new()));
    assert_eq!(acknowledged.time, at(stamped));
    assert_eq!(details(acknowledged)["paper"]["received_via"], "DIPLOMATIC_NOTE");
    assert_eq!(details(acknowledged)["paper"]["letter_document_id"], scan.id.as_str());
    let provided = &trail[6];
    assert_eq!(acted_for(provided), ("registrar-1".into(), "JO-MOJ".into(), String::new()));
    assert_eq!(provided.time, at(answered));
    assert_eq!(details(provided)["paper"]["received_via"], "EMAIL");
    assert_eq!(details(provided)["paper"]["letter_reference"], "MOJ/JO/5521");
    assert_eq!(acted_for(&trail[10]).1, "JO-MOJ");
    assert!(details(&trail[7]).get("paper").is_none(), "an act through the API says nothing of paper");
    for pair in trail.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    let report = mla_store::verify_audit(broker.open_store().await.as_ref()).await.unwrap().unwrap();
    assert_eq!(report.requests, 1);
    broker.stop().await;
}

/// Iraq asks Jordan: the letter is printed (English and Arabic, right to left), sent by courier, and
/// Jordan's answers, as they come back on paper, take the request to EXECUTED; the NCIJC closes it.
async fn an_outgoing_request_to_a_paper_partner_advances_by_its_recorded_answers(backend: Backend) {
    let Some((broker, clock, staff)) = setup(backend).await else { return };
    let mut client = broker.requests().await;
    let create = pb::CreateRequestRequest {
        request: Some(pb::Request {
            summary_of_facts: "وقائع القضية.\nسطر ثانٍ.".into(),
            ..complete_request("JO-MOJ", "Bank records <script>")
        }),
        ..Default::default()
    };
    let draft = client.create_request(authed(create, &staff.judge)).await.unwrap().into_inner();
    let id = draft.id.clone();
    client.transition_request(authed(action(&id, A::Submit), &staff.judge)).await.unwrap();

    let print = |language: &str| pb::PrintLetterRequest { id: id.clone(), language: language.into() };
    let english = client.print_letter(authed(print(""), &staff.legal)).await.unwrap().into_inner();
    assert_eq!(english.media_type, "text/html; charset=utf-8");
    assert_eq!(english.file_name, format!("{}.html", draft.reference));
    let html = String::from_utf8(english.content).unwrap();
    assert!(html.contains(r#"<html lang="en" dir="ltr">"#), "{html}");
    assert!(html.contains(&draft.reference) && html.contains("Central authority JO-MOJ (JO-MOJ)"));
    assert!(html.contains("وقائع القضية.\nسطر ثانٍ."), "the facts byte for byte: {html}");
    assert!(html.contains("Bank records &#60;script&#62;") || html.contains("Bank records &lt;script&gt;"));
    assert!(!html.contains("<script>"), "the request's texts are escaped");
    let arabic = client.print_letter(authed(print("ar"), &staff.legal)).await.unwrap().into_inner();
    let html = String::from_utf8(arabic.content).unwrap();
    assert!(html.contains(r#"<html lang="ar" dir="rtl">"#), "{html}");
    assert!(html.contains("المركز الوطني للتعاون القضائي الدولي"), "{html}");

    // Jordan's acknowledgement came back by courier a day later.
    clock.advance(Duration::days(3));
    let received = t0() + Duration::days(1);
    let acknowledge = on_behalf(action(&id, A::Acknowledge), pb::ReceivedVia::Courier, Some(received));
    let r = client.transition_request(authed(acknowledge, &staff.registrar)).await.unwrap().into_inner();
    assert_eq!(r.state, pb::State::Received as i32);
    assert_eq!(r.received_time, at(received));
    for step in [A::StartReview, A::Accept, A::StartExecution] {
        let call = on_behalf(action(&id, step), pb::ReceivedVia::Post, None);
        client.transition_request(authed(call, &staff.legal)).await.unwrap();
    }
    let complete = on_behalf(
        pb::TransitionRequestRequest {
            outcome: pb::Outcome::Partial as i32,
            ..action_with_reason(&id, A::CompleteExecution, "Records of one bank of two")
        },
        pb::ReceivedVia::Interpol,
        None,
    );
    let r = client.transition_request(authed(complete, &staff.registrar)).await.unwrap().into_inner();
    assert_eq!(r.state, pb::State::Executed as i32);
    let r =
        client.transition_request(authed(action(&id, A::Close), &staff.judge)).await.unwrap().into_inner();
    assert_eq!(r.state, pb::State::Closed as i32);

    let trail = broker.events(&staff.judge, &id).await;
    let recorded: Vec<_> = trail
        .iter()
        .filter(|e| !e.actor.as_ref().unwrap().on_behalf_of_partner.is_empty())
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(recorded, ["ACKNOWLEDGE", "START_REVIEW", "ACCEPT", "START_EXECUTION", "COMPLETE_EXECUTION"]);
    // A letter is the NCIJC's, of its OUTGOING requests only.
    let incoming = broker.submitted_by("FR-MOJ", "Incoming").await;
    let status = client
        .print_letter(authed(pb::PrintLetterRequest { id: incoming.id, ..Default::default() }, &staff.legal))
        .await
        .unwrap_err();
    assert_eq!((status.code(), fields_of(&status)), (Code::InvalidArgument, vec!["id".to_owned()]));
    let status = client.print_letter(authed(print("fr"), &staff.legal)).await.unwrap_err();
    assert_eq!((status.code(), fields_of(&status)), (Code::InvalidArgument, vec!["language".to_owned()]));
    mla_store::verify_audit(broker.open_store().await.as_ref()).await.unwrap().unwrap();
    broker.stop().await;
}

/// What may not be recorded is refused, with the reason or the field named, and writes nothing: no
/// request, no event, no change of state.
async fn acts_that_may_not_be_recorded_are_refused_and_change_nothing(backend: Backend) {
    let Some((broker, _clock, staff)) = setup(backend).await else { return };
    let mut client = broker.requests().await;
    let jordan = broker.partner("JO-MOJ");
    let registered = |change: &dyn Fn(&mut pb::CreateRequestRequest)| {
        let mut call = pb::CreateRequestRequest {
            request: Some(complete_request("", "On paper")),
            on_behalf_of_partner: "JO-MOJ".into(),
            received_via: pb::ReceivedVia::Post as i32,
            ..Default::default()
        };
        change(&mut call);
        call
    };
    let refusals: Vec<(&str, &String, pb::CreateRequestRequest, Code, &str)> = vec![
        ("a judge does not register letters", &staff.judge, registered(&|_| {}), Code::PermissionDenied, ""),
        ("a partner acts for itself", &jordan, registered(&|_| {}), Code::PermissionDenied, ""),
        (
            "France has its own system",
            &staff.registrar,
            registered(&|c| c.on_behalf_of_partner = "FR-MOJ".into()),
            Code::PermissionDenied,
            "",
        ),
        (
            "how it arrived is required",
            &staff.registrar,
            registered(&|c| c.received_via = 0),
            Code::InvalidArgument,
            "received_via",
        ),
        (
            "not in the future",
            &staff.registrar,
            registered(&|c| c.effective_time = at(t0() + Duration::hours(1))),
            Code::InvalidArgument,
            "effective_time",
        ),
        (
            "a received request is complete",
            &staff.registrar,
            registered(&|c| c.request.as_mut().unwrap().purpose = String::new()),
            Code::FailedPrecondition,
            "",
        ),
    ];
    for (why, token, call, code, field) in refusals {
        let status = client.create_request(authed(call, token)).await.unwrap_err();
        assert_eq!(status.code(), code, "{why}: {status:?}");
        if code == Code::PermissionDenied {
            assert_eq!(reason_of(&status), "ON_BEHALF_NOT_ALLOWED", "{why}");
            assert_eq!(fields_of(&status), ["on_behalf_of_partner"], "{why}");
        }
        if !field.is_empty() {
            assert_eq!(fields_of(&status), [field], "{why}");
        }
    }
    let listed =
        client.list_requests(authed(pb::ListRequestsRequest::default(), &staff.judge)).await.unwrap();
    assert!(listed.into_inner().requests.is_empty(), "no refused registration left a request");

    // On a registered request: a date before its last event, or in the future; France's request
    // cannot be dated on paper at all.
    let create = registered(&|c| c.effective_time = at(t0() - Duration::days(2)));
    let r = client.create_request(authed(create, &staff.registrar)).await.unwrap().into_inner();
    let before = broker.events(&staff.judge, &r.id).await;
    let dated = |when: DateTime<Utc>| pb::TransitionRequestRequest {
        effective_time: at(when),
        ..action(&r.id, A::Acknowledge)
    };
    let france = broker.submitted_by("FR-MOJ", "France's").await;
    let cases = [
        ("before the previous event", dated(t0() - Duration::days(3)), "effective_time"),
        ("in the future", dated(t0() + Duration::minutes(5)), "effective_time"),
        (
            "the letter is a document of this request",
            pb::TransitionRequestRequest {
                letter_document_id: uuid::Uuid::now_v7().to_string(),
                ..dated(t0())
            },
            "letter_document_id",
        ),
        (
            "a system partner's request is not dated on paper",
            pb::TransitionRequestRequest { effective_time: at(t0()), ..action(&france.id, A::Acknowledge) },
            "effective_time",
        ),
        (
            "France acts for itself",
            pb::TransitionRequestRequest {
                on_behalf_of_partner: "FR-MOJ".into(),
                received_via: pb::ReceivedVia::Post as i32,
                ..action(&france.id, A::Acknowledge)
            },
            "on_behalf_of_partner",
        ),
    ];
    for (why, call, field) in cases {
        let status = client.transition_request(authed(call, &staff.registrar)).await.unwrap_err();
        assert!(matches!(status.code(), Code::InvalidArgument | Code::PermissionDenied), "{why}: {status:?}");
        assert_eq!(fields_of(&status), [field], "{why}: {status:?}");
    }
    assert_eq!(broker.events(&staff.judge, &r.id).await, before, "nothing was written");
    let get = |id: &str| authed(pb::GetRequestRequest { id: id.into() }, &staff.judge);
    assert_eq!(client.get_request(get(&r.id)).await.unwrap().into_inner().state, pb::State::Submitted as i32);
    assert_eq!(
        client.get_request(get(&france.id)).await.unwrap().into_inner().state,
        pb::State::Submitted as i32
    );

    // The partner acts are Jordan's, decided by the partner's rights: a registrar cannot make Jordan
    // acknowledge its own request.
    let call = on_behalf(action(&r.id, A::Acknowledge), pb::ReceivedVia::Post, None);
    let status = client.transition_request(authed(call, &staff.registrar)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    broker.stop().await;
}

on_both_backends!(
    a_request_received_by_diplomatic_note_goes_to_closed,
    an_outgoing_request_to_a_paper_partner_advances_by_its_recorded_answers,
    acts_that_may_not_be_recorded_are_refused_and_change_nothing,
);
