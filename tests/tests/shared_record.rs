//! Each side verifies the part of the record it was shown, from the public contract alone: the event
//! hashes and the view chain are recomputed here from the documented encodings (README, "Verifying
//! the record you were shown"), with a SHA-256 of the test's own and no code of the broker's.

use chrono::DateTime;
use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_tests::*;
use sha2::{Digest, Sha256};

/// SHA-256 (lower-case hex) of `fields`, each written as a netstring.
fn netstring_hash<'a>(fields: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hasher = Sha256::new();
    for field in fields {
        hasher.update(format!("{}:", field.len()).as_bytes());
        hasher.update(field);
        hasher.update(b",");
    }
    hex::encode(hasher.finalize())
}

fn state_name(state: i32) -> String {
    match pb::State::try_from(state) {
        Ok(pb::State::Unspecified) | Err(_) => String::new(),
        Ok(state) => state.as_str_name().trim_start_matches("STATE_").to_owned(),
    }
}

/// An event's `hash`, recomputed from what the API shows of it.
fn event_hash(e: &pb::Event) -> String {
    let time = e.time.as_ref().expect("a time");
    let time = DateTime::from_timestamp(time.seconds, time.nanos as u32).expect("a valid time");
    let actor = e.actor.clone().expect("an actor");
    let mut fields: Vec<Vec<u8>> = vec![
        b"mla-audit-v1".to_vec(),
        e.cursor.to_string().into(),
        e.request_id.clone().into(),
        e.seq.to_string().into(),
        time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string().into(),
        actor.subject.into(),
        actor.roles.len().to_string().into(),
    ];
    fields.extend(actor.roles.into_iter().map(Vec::from));
    fields.push(actor.partner_code.into());
    if !actor.on_behalf_of_partner.is_empty() {
        fields.push(b"on-behalf-of".to_vec());
        fields.push(actor.on_behalf_of_partner.into());
    }
    fields.extend([
        e.action.clone().into(),
        state_name(e.from_state).into(),
        state_name(e.to_state).into(),
        e.details.clone().into(),
        e.prev_hash.clone().into(),
    ]);
    netstring_hash(fields.iter().map(Vec::as_slice))
}

/// Checks a side's view of one request's trail: every event's hash, and the view chain from 1 with
/// no gap. Returns the last view hash, the anchor a side keeps.
fn verify_view(events: &[pb::Event]) -> Result<String, String> {
    let mut prev = String::new();
    for (e, expected_seq) in events.iter().zip(1..) {
        if event_hash(e) != e.hash {
            return Err(format!("event seq {}: its hash does not match its contents", e.seq));
        }
        if e.view_seq != expected_seq || e.view_prev_hash != prev {
            return Err(format!(
                "event seq {}: view link {} does not follow {}",
                e.seq,
                e.view_seq,
                expected_seq - 1
            ));
        }
        let view_hash = netstring_hash([
            b"mla-view-v1".as_slice(),
            e.view_seq.to_string().as_bytes(),
            e.hash.as_bytes(),
            e.view_prev_hash.as_bytes(),
        ]);
        if view_hash != e.view_hash {
            return Err(format!("event seq {}: its view hash does not match", e.seq));
        }
        prev = view_hash;
    }
    Ok(prev)
}

async fn trail(broker: &Broker, token: &str, id: &str, page_size: i32) -> Vec<pb::Event> {
    let mut client = broker.requests().await;
    let mut events = Vec::new();
    let mut page_token = String::new();
    loop {
        let call = pb::ListRequestEventsRequest { id: id.into(), page_size, page_token };
        let page = client.list_request_events(authed(call, token)).await.expect("the trail").into_inner();
        events.extend(page.events);
        if page.next_page_token.is_empty() {
            return events;
        }
        page_token = page.next_page_token;
    }
}

async fn each_side_verifies_what_it_was_shown(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    broker.register_partners(&["FR-MOJ"]).await;
    let mut client = broker.requests().await;
    let france = broker.partner("FR-MOJ");
    let registrar = broker.staff("registrar-1", &[Role::Registrar]);
    let supervisor = broker.staff("supervisor-1", &[Role::Supervisor]);
    let auditor = broker.staff("auditor-1", &[Role::Auditor]);

    // A trail that interleaves what each side reads: the partner's draft (the partner's alone), an
    // assignment and an internal note (the NCIJC's alone), and shared steps.
    let id = broker.submitted_by("FR-MOJ", "Bank records").await.id;
    client.transition_request(authed(action(&id, pb::Action::Acknowledge), &registrar)).await.unwrap();
    let assign = pb::UpdateRequestRequest {
        request: Some(pb::Request { id: id.clone(), assignee: "registrar-1".into(), ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["assignee".into()] }),
        ..Default::default()
    };
    client.update_request(authed(assign, &supervisor)).await.unwrap();
    let note = |body: &str, audience: pb::Audience| pb::PostMessageRequest {
        request_id: id.clone(),
        message: Some(pb::Message { body: body.into(), audience: audience as i32, ..Default::default() }),
        ..Default::default()
    };
    client
        .post_message(authed(note("Check the bank first", pb::Audience::Internal), &registrar))
        .await
        .unwrap();
    client
        .post_message(authed(note("Received, under review", pb::Audience::Shared), &registrar))
        .await
        .unwrap();

    let partner_view = trail(&broker, &france, &id, 100).await;
    let staff_view = trail(&broker, &auditor, &id, 100).await;
    let actions = |view: &[pb::Event]| view.iter().map(|e| e.action.clone()).collect::<Vec<_>>();
    assert_eq!(actions(&partner_view), ["CREATE", "SUBMIT", "ACKNOWLEDGE", "MESSAGE_POSTED"]);
    assert_eq!(actions(&staff_view), ["SUBMIT", "ACKNOWLEDGE", "UPDATE", "MESSAGE_POSTED", "MESSAGE_POSTED"]);
    assert!(partner_view.windows(2).any(|w| w[1].seq > w[0].seq + 1), "the partner's trail has gaps in seq");
    let anchor = verify_view(&partner_view).expect("the partner verifies its view");
    verify_view(&staff_view).expect("the NCIJC verifies its view");
    assert_eq!(trail(&broker, &france, &id, 1).await, partner_view, "pages carry the same links");

    // What verification catches: an event changed, an event dropped, an event reordered.
    let mut altered = partner_view.clone();
    altered[2].details = r#"{"forged":true}"#.into();
    assert!(verify_view(&altered).unwrap_err().contains("hash does not match its contents"));
    let mut dropped = partner_view.clone();
    dropped.remove(1);
    assert!(verify_view(&dropped).is_err());
    let mut reordered = partner_view.clone();
    reordered.swap(1, 2);
    assert!(verify_view(&reordered).is_err());

    // The record grows; the part the partner saw stays as it was: its anchor is still on the chain.
    client
        .transition_request(authed(
            action(&id, pb::Action::StartReview),
            &broker.staff("legal-1", &[Role::LegalOfficer]),
        ))
        .await
        .unwrap();
    let later = trail(&broker, &france, &id, 100).await;
    verify_view(&later).expect("still verifies");
    assert_eq!(later[partner_view.len() - 1].view_hash, anchor);
    assert_eq!(later[..partner_view.len()], partner_view[..]);
    broker.stop().await;
}

on_both_backends!(each_side_verifies_what_it_was_shown);
