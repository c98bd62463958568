//! The correspondence around a request end to end, on both backends: a clarification exchanged
//! with France in Arabic and French, an internal case note in Kurdish that France never learns of
//! (not in its list, its events, its feed or its counts), attachments, read receipts, idempotent
//! posting, the same over REST, and bad messages that write nothing.

use futures::StreamExt;
use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_tests::*;
use pb::Action as A;
use pb::upload_document_request::Part;
use serde_json::{Value, json};
use tonic::Code;

const ARABIC: &str = "يرجى توضيح أرقام الحسابات المصرفية المذكورة في الطلب.\nمع الشكر.";
const KURDISH: &str = "تێبینی ناوخۆیی: پێویستە پارێزەری گشتی ئاگادار بکرێتەوە.";
/// Decomposed accents and a tab: kept as written, not normalised.
const FRENCH: &str = "Comptes n° 1 et 2 \u{2014} voir l'annexe.\tCordialement, Ministe\u{300}re";

fn message(audience: pb::Audience, body: &str, attachments: &[&str]) -> pb::Message {
    pb::Message {
        audience: audience as i32,
        body: body.into(),
        attachment_ids: attachments.iter().map(|a| a.to_string()).collect(),
        ..Default::default()
    }
}

async fn post(
    broker: &Broker,
    token: &str,
    request_id: &str,
    message: pb::Message,
    key: &str,
) -> Result<pb::Message, tonic::Status> {
    let call = pb::PostMessageRequest {
        request_id: request_id.into(),
        message: Some(message),
        request_id_key: key.into(),
    };
    broker.requests().await.post_message(authed(call, token)).await.map(|r| r.into_inner())
}

async fn thread(broker: &Broker, token: &str, request_id: &str) -> Vec<pb::Message> {
    let call = pb::ListMessagesRequest { request_id: request_id.into(), ..Default::default() };
    broker.requests().await.list_messages(authed(call, token)).await.expect("listed").into_inner().messages
}

async fn mark_read(
    broker: &Broker,
    token: &str,
    request_id: &str,
    up_to: &str,
) -> Result<i32, tonic::Status> {
    let call = pb::MarkMessagesReadRequest { request_id: request_id.into(), up_to_message_id: up_to.into() };
    let answer = broker.requests().await.mark_messages_read(authed(call, token)).await?;
    Ok(answer.into_inner().read_count)
}

async fn upload(broker: &Broker, token: &str, request_id: &str, audience: pb::Audience) -> pb::Document {
    let metadata = pb::DocumentMetadata {
        request_id: request_id.into(),
        kind: pb::DocumentKind::Correspondence as i32,
        title: "Annexe".into(),
        file_name: "annexe.pdf".into(),
        media_type: "application/pdf".into(),
        audience: audience as i32,
        ..Default::default()
    };
    let parts = [
        pb::UploadDocumentRequest { part: Some(Part::Metadata(metadata)) },
        pb::UploadDocumentRequest { part: Some(Part::Chunk(b"%PDF-1.7\nannexe\n%%EOF\n".to_vec())) },
    ];
    let stream = authed(futures::stream::iter(parts), token);
    broker.documents().await.upload_document(stream).await.expect("uploaded").into_inner()
}

/// A request France submitted and the NCIJC acknowledged.
async fn acknowledged(broker: &Broker) -> pb::Request {
    broker.register_partners(&["FR-MOJ", "DE-BJ"]).await;
    let request = broker.submitted_by("FR-MOJ", "Bank records").await;
    let registrar = broker.token_for("registrar");
    let call = authed(action(&request.id, A::Acknowledge), &registrar);
    broker.requests().await.transition_request(call).await.expect("acknowledged").into_inner()
}

async fn a_clarification_is_exchanged_and_internal_notes_stay_with_the_ncijc(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let request = acknowledged(&broker).await;
    let id = request.id.as_str();
    let france = broker.partner("FR-MOJ");
    let legal = broker.staff("legal-1", &[Role::LegalOfficer]);
    let judge = broker.staff("judge-1", &[Role::Judge]);
    let mut france_feed = broker
        .requests()
        .await
        .watch_events(authed(pb::WatchEventsRequest::default(), &france))
        .await
        .unwrap()
        .into_inner();
    let france_events_before = broker.events(&france, id).await.len();

    let question =
        post(&broker, &legal, id, message(pb::Audience::Shared, ARABIC, &[]), "q-1").await.unwrap();
    assert_eq!(question.body, ARABIC, "Arabic byte for byte");
    assert_eq!(question.audience, pb::Audience::Shared as i32);
    assert_eq!(question.author.as_ref().unwrap().subject, "legal-1");
    assert!(question.create_time.is_some() && question.read_time.is_none());
    let again = post(&broker, &legal, id, message(pb::Audience::Shared, ARABIC, &[]), "q-1").await.unwrap();
    assert_eq!(again, question, "the same key posts nothing more");
    let note = post(&broker, &judge, id, message(pb::Audience::Internal, KURDISH, &[]), "").await.unwrap();
    assert_eq!(note.body, KURDISH, "Kurdish byte for byte");

    // France answers with an annex of its own.
    let annex = upload(&broker, &france, id, pb::Audience::Shared).await;
    let answer =
        post(&broker, &france, id, message(pb::Audience::Shared, FRENCH, &[&annex.id]), "").await.unwrap();
    assert_eq!(answer.body.as_bytes(), FRENCH.as_bytes());
    assert_eq!(answer.attachment_ids, std::slice::from_ref(&annex.id));

    // Each side reads what it may: France never sees the note.
    let ids = |messages: Vec<pb::Message>| messages.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(ids(thread(&broker, &france, id).await), [question.id.clone(), answer.id.clone()]);
    assert_eq!(
        ids(thread(&broker, &legal, id).await),
        [question.id.clone(), note.id.clone(), answer.id.clone()]
    );
    let germany = broker.partner("DE-BJ");
    let call = pb::ListMessagesRequest { request_id: id.into(), ..Default::default() };
    let hidden = broker.requests().await.list_messages(authed(call, &germany)).await.unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound, "another partner does not learn the request exists");

    // Read receipts: France reads the question; the NCIJC reads France's answer.
    assert_eq!(mark_read(&broker, &france, id, &question.id).await.unwrap(), 1);
    assert_eq!(mark_read(&broker, &france, id, &question.id).await.unwrap(), 0, "read once");
    assert_eq!(mark_read(&broker, &legal, id, &answer.id).await.unwrap(), 1);
    let read = thread(&broker, &judge, id).await;
    assert!(read[0].read_time.is_some(), "the question was read by France");
    assert!(read[1].read_time.is_none(), "an internal note has no reader on the other side");
    assert!(read[2].read_time.is_some(), "the answer was read at the NCIJC");

    // The trail: every message an event, France's view without the note, and the request untouched.
    let trail = broker.events(&legal, id).await;
    let posted: Vec<_> = trail.iter().filter(|e| e.action == "MESSAGE_POSTED").collect();
    assert_eq!(posted.len(), 3, "the replay posted nothing more");
    let theirs = broker.events(&france, id).await;
    let new: Vec<_> = theirs[france_events_before..].iter().map(|e| e.action.as_str()).collect();
    assert_eq!(new, ["MESSAGE_POSTED", "DOCUMENT_ADDED", "MESSAGE_POSTED", "MESSAGES_READ", "MESSAGES_READ"]);
    for event in &theirs {
        assert!(!event.details.contains(&note.id), "France's events never name the note: {event:?}");
    }
    let internal = trail.iter().find(|e| e.details.contains(&note.id)).expect("the note's event");
    let details: Value = serde_json::from_str(&internal.details).unwrap();
    assert_eq!(details["audience"], "INTERNAL");
    assert!(!internal.details.contains("پێویستە"), "the chain holds the body's digest, not the body");
    let get = |token: &str| authed(pb::GetRequestRequest { id: id.into() }, token);
    let now = broker.requests().await.get_request(get(&legal)).await.unwrap().into_inner();
    assert_eq!(now.etag, request.etag, "messages do not change the request");

    // France's live feed carries what its list does, in the same order, and no trace of the note.
    let mut fed = Vec::new();
    while fed.len() < theirs.len() {
        fed.push(within("France's feed", france_feed.next()).await.unwrap().unwrap());
    }
    assert_eq!(
        fed.iter().map(|e| e.cursor).collect::<Vec<_>>(),
        theirs.iter().map(|e| e.cursor).collect::<Vec<_>>()
    );
    let closed_out = tokio::time::timeout(std::time::Duration::from_millis(300), france_feed.next()).await;
    assert!(closed_out.is_err(), "nothing more reaches France: {closed_out:?}");

    let report = mla_store::verify_audit(broker.open_store().await.as_ref()).await.unwrap().unwrap();
    assert_eq!(report.requests, 1);
    broker.stop().await;
}

/// Bad messages are refused with the field named, and nothing is written: no message, no event.
async fn bad_messages_are_refused_and_write_nothing(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let request = acknowledged(&broker).await;
    let id = request.id.as_str();
    let other = broker.submitted_by("FR-MOJ", "Another").await;
    let france = broker.partner("FR-MOJ");
    let legal = broker.staff("legal-1", &[Role::LegalOfficer]);
    let foreign = upload(&broker, &france, &other.id, pb::Audience::Shared).await;
    let internal = upload(&broker, &legal, id, pb::Audience::Internal).await;
    let note = post(&broker, &legal, id, message(pb::Audience::Internal, "Note", &[]), "").await.unwrap();
    let own = post(&broker, &france, id, message(pb::Audience::Shared, "Question", &[]), "").await.unwrap();
    let before = (thread(&broker, &legal, id).await, broker.events(&legal, id).await);

    let too_long = "ب".repeat(20_001);
    let cases: Vec<(&str, &String, pb::Message, Code, &str)> = vec![
        ("blank", &legal, message(pb::Audience::Shared, " \n ", &[]), Code::InvalidArgument, "message.body"),
        (
            "too long",
            &legal,
            message(pb::Audience::Shared, &too_long, &[]),
            Code::InvalidArgument,
            "message.body",
        ),
        (
            "a control character",
            &legal,
            message(pb::Audience::Shared, "a\u{7}b", &[]),
            Code::InvalidArgument,
            "message.body",
        ),
        (
            "no audience",
            &legal,
            pb::Message { body: "x".into(), ..Default::default() },
            Code::InvalidArgument,
            "message.audience",
        ),
        (
            "a partner has no internal notes",
            &france,
            message(pb::Audience::Internal, "x", &[]),
            Code::InvalidArgument,
            "message.audience",
        ),
        (
            "an attachment of another request",
            &legal,
            message(pb::Audience::Shared, "x", &[&foreign.id]),
            Code::InvalidArgument,
            "message.attachment_ids[0]",
        ),
        (
            "an internal document on a shared message",
            &legal,
            message(pb::Audience::Shared, "x", &[&internal.id]),
            Code::InvalidArgument,
            "message.attachment_ids[0]",
        ),
        (
            "not an id",
            &legal,
            message(pb::Audience::Shared, "x", &["nope"]),
            Code::InvalidArgument,
            "message.attachment_ids[0]",
        ),
    ];
    for (why, token, bad, code, field) in cases {
        let status = post(&broker, token, id, bad, "").await.unwrap_err();
        assert_eq!((status.code(), fields_of(&status)), (code, vec![field.to_owned()]), "{why}: {status:?}");
    }
    let auditor = broker.staff("auditor-1", &[Role::Auditor]);
    let status = post(&broker, &auditor, id, message(pb::Audience::Shared, "x", &[]), "").await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "an auditor reads only");
    let germany = broker.partner("DE-BJ");
    let status = post(&broker, &germany, id, message(pb::Audience::Shared, "x", &[]), "").await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "another partner's request does not exist for Germany");
    let key_reused =
        post(&broker, &legal, id, message(pb::Audience::Shared, "First", &[]), "k").await.unwrap();
    let status =
        post(&broker, &legal, id, message(pb::Audience::Shared, "Second", &[]), "k").await.unwrap_err();
    assert_eq!(reason_of(&status), "IDEMPOTENCY_KEY_REUSED", "a key reused for another message: {status:?}");
    assert_eq!(fields_of(&status), ["request_id_key"], "the key's own field, not the request's id");

    // Read receipts name a message of the other side that the reader may read.
    for (why, token, up_to) in [
        ("the NCIJC's internal note", &france, note.id.as_str()),
        ("France's own message", &france, own.id.as_str()),
        ("an unknown message", &france, "01a2343f-e605-77dd-b583-f9cac85dda9a"),
        ("not an id", &legal, "nope"),
    ] {
        let status = mark_read(&broker, token, id, up_to).await.unwrap_err();
        assert_eq!(
            (status.code(), fields_of(&status)),
            (Code::InvalidArgument, vec!["up_to_message_id".to_owned()]),
            "{why}"
        );
    }
    let (messages, trail) = (thread(&broker, &legal, id).await, broker.events(&legal, id).await);
    assert_eq!(messages.len(), before.0.len() + 1, "only the keyed message was posted");
    assert_eq!(messages[..before.0.len()], before.0[..]);
    assert_eq!(trail.len(), before.1.len() + 1);
    assert_eq!(messages.last().unwrap().id, key_reused.id);
    broker.stop().await;
}

/// The same over REST: post, list, read receipts, the letter, and a request registered from paper.
async fn the_gateway_carries_the_correspondence_and_the_paper_channel(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let request = acknowledged(&broker).await;
    let id = request.id.as_str();
    let base = broker.gateway_url();
    let http = http_client();
    let legal = broker.staff("legal-1", &[Role::LegalOfficer]);
    let france = broker.partner("FR-MOJ");
    let send = |method: reqwest::Method, path: &str, token: &str, body: Option<Value>| {
        let mut call = http.request(method, format!("{base}{path}")).bearer_auth(token);
        if let Some(body) = body {
            call = call.json(&body);
        }
        async move {
            let answer = call.send().await.unwrap();
            let status = answer.status().as_u16();
            let headers = answer.headers().clone();
            let text = answer.text().await.unwrap();
            (status, headers, text)
        }
    };
    let json_of = |text: &str| serde_json::from_str::<Value>(text).unwrap();

    let path = format!("/v1/requests/{id}/messages");
    let body = json!({"audience": "SHARED", "body": ARABIC});
    let (status, _, text) = send(reqwest::Method::POST, &path, &legal, Some(body)).await;
    assert_eq!(status, 201, "{text}");
    let question = json_of(&text);
    assert_eq!(question["body"], ARABIC);
    assert_eq!(question["read_time"], Value::Null);
    let body = json!({"audience": "INTERNAL", "body": KURDISH});
    let (status, _, text) = send(reqwest::Method::POST, &path, &legal, Some(body)).await;
    assert_eq!(status, 201);
    let note = json_of(&text);
    let (status, _, text) = send(reqwest::Method::GET, &path, &france, None).await;
    assert_eq!(status, 200);
    let listed = json_of(&text);
    assert_eq!(listed["messages"].as_array().unwrap().len(), 1, "France lists the shared message only");
    assert_eq!(listed["messages"][0]["author"]["subject"], "legal-1");
    let read = format!("/v1/requests/{id}/messages:read");
    let body = json!({"up_to_message_id": question["id"]});
    let (status, _, text) = send(reqwest::Method::POST, &read, &france, Some(body)).await;
    assert_eq!((status, json_of(&text)), (200, json!({"read_count": 1})));

    // France's server-sent events, replayed from the start, end with its read receipt and carry the
    // shared message but nothing of the note.
    let mut feed = http.get(format!("{base}/v1/events")).bearer_auth(&france).send().await.unwrap();
    assert_eq!(feed.status().as_u16(), 200);
    let mut sse = String::new();
    while !sse.contains("MESSAGES_READ") {
        let chunk = within("France's SSE feed", feed.chunk()).await.unwrap().expect("the feed stays open");
        sse.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(sse.contains(question["id"].as_str().unwrap()), "{sse}");
    assert!(!sse.contains(note["id"].as_str().unwrap()) && !sse.contains("INTERNAL"), "{sse}");
    drop(feed);
    let (status, _, text) =
        send(reqwest::Method::POST, &path, &legal, Some(json!({"audience": "SHARED", "body": ""}))).await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(json_of(&text)["violations"][0]["field"], "message.body");
    let (status, _, text) =
        send(reqwest::Method::POST, &path, &legal, Some(json!({"body": "x", "audiance": "SHARED"}))).await;
    assert_eq!(status, 400, "an unknown member: {text}");

    // A paper partner, its request registered from a note verbale, and a letter printed.
    let admin = broker.staff("admin", &[Role::Admin]);
    let partner = json!({"code": "JO-MOJ", "name": "وزارة العدل", "country": "JO", "kind": "STATE_AUTHORITY",
        "legal_bases": ["Riyadh Arab Agreement"], "active": true, "channel": "PAPER"});
    let (status, _, text) = send(reqwest::Method::POST, "/v1/partners", &admin, Some(partner)).await;
    assert_eq!(status, 201, "{text}");
    assert_eq!(json_of(&text)["channel"], "PAPER");
    let registrar = broker.staff("registrar-1", &[Role::Registrar]);
    let registered = json!({"request_type": "EVIDENCE", "title": "Note verbale 117", "requesting_authority": "Amman court",
        "summary_of_facts": "Facts.", "measures": ["Hear a witness"], "purpose": "Trial", "legal_basis": "Riyadh Arab Agreement",
        "on_behalf_of_partner": "JO-MOJ", "received_via": "DIPLOMATIC_NOTE", "effective_time": "2026-01-05T00:00:00Z",
        "letter_reference": "NV 117/2026"});
    let (status, _, text) = send(reqwest::Method::POST, "/v1/requests", &registrar, Some(registered)).await;
    assert_eq!(status, 201, "{text}");
    let incoming = json_of(&text);
    assert_eq!((&incoming["state"], &incoming["direction"]), (&json!("SUBMITTED"), &json!("INCOMING")));
    assert_eq!(incoming["submit_time"], "2026-01-05T00:00:00Z");
    let trail = format!("/v1/requests/{}/events", incoming["id"].as_str().unwrap());
    let (_, _, text) = send(reqwest::Method::GET, &trail, &registrar, None).await;
    let created = &json_of(&text)["events"][0];
    assert_eq!(created["actor"]["on_behalf_of_partner"], "JO-MOJ");
    assert_eq!(created["details"]["paper"]["received_via"], "DIPLOMATIC_NOTE");
    let body = json!({"title": "x", "on_behalf_of_partner": "JO-MOJ", "received_via": "PIGEON"});
    let (status, _, text) = send(reqwest::Method::POST, "/v1/requests", &registrar, Some(body)).await;
    assert_eq!((status, &json_of(&text)["violations"][0]["field"]), (400, &json!("received_via")), "{text}");

    let outgoing = json!({"partner_code": "JO-MOJ", "title": "طلب سجلات مصرفية", "request_type": "EVIDENCE"});
    let (_, _, text) = send(reqwest::Method::POST, "/v1/requests", &legal, Some(outgoing)).await;
    let letter = format!("/v1/requests/{}/letter?language=ar", json_of(&text)["id"].as_str().unwrap());
    let (status, headers, html) = send(reqwest::Method::GET, &letter, &legal, None).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(headers["content-disposition"].to_str().unwrap().starts_with("inline; filename=\"OUT-"));
    assert!(html.contains(r#"dir="rtl""#) && html.contains("طلب سجلات مصرفية"), "{html}");
    assert_eq!(send(reqwest::Method::GET, &letter, &france, None).await.0, 404, "not France's request");
    broker.stop().await;
}

on_both_backends!(
    a_clarification_is_exchanged_and_internal_notes_stay_with_the_ncijc,
    bad_messages_are_refused_and_write_nothing,
    the_gateway_carries_the_correspondence_and_the_paper_channel,
);
