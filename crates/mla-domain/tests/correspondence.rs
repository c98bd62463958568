//! The correspondence of `casework.md`: messages between the two sides of a request, the NCIJC's
//! internal notes beside them, and read receipts, each an event with the message's audience.

mod support;

use mla_domain::audit;
use mla_domain::correspondence::{
    self, MAX_ATTACHMENTS, MESSAGE_POSTED, MESSAGES_READ, Message, MessageId, NewMessage, WRITING_ROLES,
};
use mla_domain::document::{
    self, Audience, Document, DocumentId, DocumentKind, NewDocument, Received, Sha256,
};
use mla_domain::lifecycle::Side;
use mla_domain::request::{Condition, ConditionKind, ConditionStatus};
use mla_domain::*;
use serde_json::json;
use sha2::Digest;
use support::*;

fn text(s: &str) -> LongText {
    LongText::parse(s).unwrap()
}

fn shared(body: &str) -> NewMessage {
    NewMessage { audience: Audience::Shared, body: text(body), attachment_ids: Vec::new() }
}

fn internal(body: &str) -> NewMessage {
    NewMessage { audience: Audience::Internal, ..shared(body) }
}

fn with(mut new: NewMessage, attachments: &[&Document]) -> NewMessage {
    new.attachment_ids = attachments.iter().map(|d| d.id).collect();
    new
}

fn found(attachments: &[&Document]) -> Vec<Option<Document>> {
    attachments.iter().map(|&d| Some(d.clone())).collect()
}

/// Message ids in posting order.
fn message_id(n: u64) -> MessageId {
    MessageId::parse(&format!("0192f0c1-7a3e-7cc0-8000-{n:012}")).unwrap()
}

fn post(
    request: &Request,
    new: NewMessage,
    attachments: &[Option<Document>],
    by: &Principal,
) -> Result<(Message, audit::EventDraft), DomainError> {
    correspondence::post(request, message_id(1), new, attachments, by, at(5))
}

/// A message `n` posted by `by`, as the register holds it.
fn posted(request: &Request, n: u64, new: NewMessage, by: &Principal) -> Message {
    correspondence::post(request, message_id(n), new, &[], by, at(n as i64)).unwrap().0
}

fn upload(request: &Request, kind: DocumentKind, audience: Audience, by: &Principal) -> Document {
    let new = NewDocument {
        kind,
        title: ShortText::parse("Bank statements").unwrap(),
        file_name: document::file_name("كشف الحساب.pdf").unwrap(),
        media_type: "application/pdf".into(),
        language: "ar".into(),
        translation_of: None,
        audience,
    };
    let received = Received {
        sha256: Sha256::from_bytes([3; 32]),
        size_bytes: 2048,
        detected_media_type: "application/pdf".into(),
    };
    let id = DocumentId::from_uuid(uuid::Uuid::now_v7());
    document::add(request, id, new, received, None, by, at(2)).unwrap().0
}

fn another_request(request: &Request) -> Request {
    Request { id: RequestId::parse("0192f0c1-7a3e-7cc0-8000-0000000000c3").unwrap(), ..request.clone() }
}

fn fields(err: &DomainError) -> Vec<String> {
    err.field_violations().into_iter().map(|v| v.field).collect()
}

/// A shared message, from either side, is read by both, and so is its event, which holds the body's
/// digest rather than the body and leaves the request as it was.
#[test]
fn a_partner_and_the_ncijc_exchange_shared_messages_that_both_sides_read() {
    let request = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let body = "Pouvez-vous préciser les comptes visés ? «الحسابات» هەژمارەکان";
    let (message, event) = post(&request, shared(body), &[], &partner_principal("FR-MOJ")).unwrap();
    assert_eq!(message.id, message_id(1));
    assert_eq!(message.request_id, request.id);
    assert_eq!(message.author_side, Side::Requesting);
    assert_eq!(message.author.partner_code.as_deref(), Some("FR-MOJ"));
    assert_eq!(message.body.as_str(), body, "kept byte for byte");
    assert_eq!((message.create_time, message.read_time), (at(5), None));
    assert!(message.visible_from(Side::Requesting) && message.visible_from(Side::Requested));

    assert_eq!(event.action, MESSAGE_POSTED);
    assert_eq!(event.time, at(5));
    assert_eq!((event.from_state, event.to_state), (Some(State::UnderReview), State::UnderReview));
    assert!(event.audience.ncijc && event.audience.partner);
    assert_eq!(event.details["message_id"], message.id.to_string());
    assert_eq!(event.details["audience"], "SHARED");
    assert_eq!(event.details["attachment_ids"], json!([]));
    // The chain holds the body's digest, not the body.
    assert_eq!(event.details["body_sha256"], hex::encode(sha2::Sha256::digest(body.as_bytes())));
    assert!(!event.details.to_string().contains("préciser"));
    assert!(correspondence::is_correspondence(&event.action));
    assert!(!audit::changes_request(&event.action), "correspondence leaves the request's version alone");

    let (answer, event) =
        post(&request, shared("Les comptes 1 et 2."), &[], &staff(Role::LegalOfficer)).unwrap();
    assert_eq!(answer.author_side, Side::Requested);
    assert_eq!(
        (answer.author.roles.as_slice(), answer.author.partner_code.as_deref()),
        (&["legal_officer".to_owned()][..], None)
    );
    assert!(event.audience.ncijc && event.audience.partner);
}

/// An internal note is seen by the NCIJC's side only, and its event reaches the NCIJC only.
#[test]
fn an_internal_note_stays_with_the_ncijc_and_so_does_its_event() {
    for direction in [Direction::Incoming, Direction::Outgoing] {
        let request = request_in(State::UnderReview, direction, "FR-MOJ");
        let (note, event) =
            post(&request, internal("Check with the prosecutor first"), &[], &staff(Role::Judge)).unwrap();
        let ncijc = Side::of_ncijc(direction);
        assert_eq!(note.author_side, ncijc, "{direction}");
        assert!(note.visible_from(ncijc), "{direction}");
        assert!(!note.visible_from(ncijc.other()), "{direction}");
        assert_eq!(event.details["audience"], "INTERNAL");
        assert!(event.audience.ncijc, "{direction}");
        assert!(!event.audience.partner, "the partner never learns of a note, not even by an event");
    }
}

/// Internal notes are the NCIJC's case notes: a partner's messages are shared.
#[test]
fn a_partner_writes_no_internal_notes() {
    let request = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let err = post(&request, internal("Our own note"), &[], &partner_principal("FR-MOJ")).unwrap_err();
    assert_eq!(err.reason(), "INVALID_FIELDS");
    assert_eq!(fields(&err), ["message.audience"]);
}

/// Staff write with a writing role (the auditor reads only); whoever may not see the request gets
/// NOT_FOUND.
#[test]
fn messages_need_a_writing_role_and_a_request_the_author_sees() {
    let request = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    for role in WRITING_ROLES.iter().copied() {
        assert!(post(&request, internal("note"), &[], &staff(role)).is_ok(), "{role}");
        assert!(post(&request, shared("message"), &[], &staff(role)).is_ok(), "{role}");
    }
    let auditor = post(&request, internal("note"), &[], &staff(Role::Auditor)).unwrap_err();
    assert_eq!(auditor.reason(), "MISSING_ROLE");
    assert_eq!(auditor.class(), ErrorClass::PermissionDenied);

    let admin = post(&request, shared("hello"), &[], &staff(Role::Admin)).unwrap_err();
    assert_eq!(admin.reason(), "REQUEST_NOT_FOUND");
    let stranger = post(&request, shared("hello"), &[], &partner_principal("DE-BJ")).unwrap_err();
    assert_eq!(stranger.reason(), "REQUEST_NOT_FOUND");
    let ncijc_draft = request_in(State::Draft, Direction::Outgoing, "FR-MOJ");
    let early = post(&ncijc_draft, shared("hello"), &[], &partner_principal("FR-MOJ")).unwrap_err();
    assert_eq!(early.reason(), "REQUEST_NOT_FOUND");
}

/// A message needs a body that is not blank; the body is long text (paragraphs, no control characters).
#[test]
fn a_message_has_a_body_that_is_long_text() {
    let request = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let blank = post(&request, shared(" \n\t "), &[], &partner_principal("FR-MOJ")).unwrap_err();
    assert_eq!(blank.class(), ErrorClass::InvalidArgument);
    assert_eq!(fields(&blank), ["message.body"]);
    // Paragraphs are kept; control characters and overlong bodies never become a body at all.
    let paragraphs = "Line one\n\n\tLine two";
    assert_eq!(
        post(&request, shared(paragraphs), &[], &staff(Role::Registrar)).unwrap().0.body.as_str(),
        paragraphs
    );
    assert!(LongText::parse("bell\u{7}").is_err());
    assert!(LongText::parse("ع".repeat(LongText::MAX_CHARS)).is_ok());
    assert!(LongText::parse("x".repeat(LongText::MAX_CHARS + 1)).is_err());
}

/// Attachments are documents of the same request, as the store has them under the ids named.
#[test]
fn attachments_are_documents_of_the_same_request() {
    let request = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let france = partner_principal("FR-MOJ");
    let own = upload(&request, DocumentKind::SupportingDocument, Audience::Shared, &france);
    let (message, event) =
        post(&request, with(shared("See annex"), &[&own]), &found(&[&own]), &france).unwrap();
    assert_eq!(message.attachment_ids, [own.id]);
    assert_eq!(event.details["attachment_ids"], json!([own.id.to_string()]));

    let elsewhere =
        upload(&another_request(&request), DocumentKind::SupportingDocument, Audience::Shared, &france);
    let err =
        post(&request, with(shared("See annex"), &[&elsewhere]), &found(&[&elsewhere]), &france).unwrap_err();
    assert_eq!(err.reason(), "INVALID_FIELDS");
    assert_eq!(fields(&err), ["message.attachment_ids[0]"]);

    // An id the store found nothing for, or found another document for, names nothing either.
    let unknown = post(&request, with(shared("See annex"), &[&own]), &[None], &france).unwrap_err();
    assert_eq!(fields(&unknown), ["message.attachment_ids[0]"]);
    let other = upload(&request, DocumentKind::Other, Audience::Shared, &france);
    let mismatched =
        post(&request, with(shared("See annex"), &[&own]), &found(&[&other]), &france).unwrap_err();
    assert_eq!(fields(&mismatched), ["message.attachment_ids[0]"]);
}

/// Every attachment that names nothing is reported, each by its place in the list.
#[test]
fn every_attachment_that_names_nothing_is_reported_by_its_place() {
    let request = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let officer = staff(Role::LegalOfficer);
    let good = upload(&request, DocumentKind::Other, Audience::Shared, &officer);
    let bad = upload(&another_request(&request), DocumentKind::Other, Audience::Shared, &officer);
    let err = post(
        &request,
        with(shared("Three annexes"), &[&bad, &good, &bad]),
        &found(&[&bad, &good, &bad]),
        &officer,
    )
    .unwrap_err();
    assert_eq!(fields(&err), ["message.attachment_ids[0]", "message.attachment_ids[2]"]);
}

/// A message carries at most twenty attachments.
#[test]
fn a_message_carries_at_most_twenty_attachments() {
    let request = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let officer = staff(Role::LegalOfficer);
    let annexes: Vec<Document> = (0..MAX_ATTACHMENTS)
        .map(|_| upload(&request, DocumentKind::Other, Audience::Shared, &officer))
        .collect();
    let refs: Vec<&Document> = annexes.iter().collect();
    assert!(post(&request, with(shared("Annexes"), &refs), &found(&refs), &officer).is_ok());

    let extra = upload(&request, DocumentKind::Other, Audience::Shared, &officer);
    let too_many: Vec<&Document> = refs.iter().copied().chain([&extra]).collect();
    let err = post(&request, with(shared("Annexes"), &too_many), &found(&too_many), &officer).unwrap_err();
    assert_eq!(fields(&err), ["message.attachment_ids"]);
}

/// A shared message never points at what the other side may not read: internal or withheld documents.
#[test]
fn a_shared_message_carries_nothing_the_other_side_may_not_read() {
    let mut request = request_in(State::InExecution, Direction::Incoming, "FR-MOJ");
    let officer = staff(Role::EvidenceOfficer);
    let working_paper = upload(&request, DocumentKind::Other, Audience::Internal, &officer);
    let refused =
        post(&request, with(shared("Our analysis"), &[&working_paper]), &found(&[&working_paper]), &officer)
            .unwrap_err();
    assert_eq!(fields(&refused), ["message.attachment_ids[0]"]);
    let noted = post(
        &request,
        with(internal("Our analysis"), &[&working_paper]),
        &found(&[&working_paper]),
        &officer,
    );
    assert!(noted.is_ok(), "an internal note may point at it");

    // Evidence withheld behind the release gate does not leave with a message either.
    let evidence = upload(&request, DocumentKind::Evidence, Audience::Shared, &officer);
    assert_eq!(evidence.release_state, document::ReleaseState::Withheld);
    let early = post(&request, with(shared("The evidence"), &[&evidence]), &found(&[&evidence]), &officer);
    assert_eq!(fields(&early.unwrap_err()), ["message.attachment_ids[0]"]);
    request.conditions = vec![Condition {
        kind: ConditionKind::Speciality,
        text: text("Use only for case 17/2026"),
        status: ConditionStatus::Accepted,
        given_by: Some("fr-system".into()),
        given_time: Some(at(3)),
    }];
    let (released, _) = document::release(&request, vec![evidence], &staff(Role::Judge), at(4)).unwrap();
    let sent =
        post(&request, with(shared("The evidence"), &[&released[0]]), &found(&[&released[0]]), &officer);
    assert!(sent.is_ok(), "{sent:?}");

    // What the author does not see, it does not name: the NCIJC's internal paper is nothing to a partner.
    let france = partner_principal("FR-MOJ");
    let blind =
        post(&request, with(shared("?"), &[&working_paper]), &found(&[&working_paper]), &france).unwrap_err();
    assert_eq!(blind.field_violations()[0].description, "names no document of this request");
}

/// A read receipt closes on a message of the other side; a message the reader may not see is answered
/// as a missing one.
#[test]
fn a_read_receipt_is_for_the_other_sides_messages() {
    let request = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let france = partner_principal("FR-MOJ");
    let registrar = staff(Role::Registrar);
    let theirs = posted(&request, 1, shared("Any news?"), &france);
    let ours = posted(&request, 2, shared("Under review."), &registrar);
    let note = posted(&request, 3, internal("Chase the judge"), &registrar);

    assert_eq!(
        correspondence::check_read_up_to(&request, Some(&theirs), &registrar),
        Ok((Side::Requested, &theirs))
    );
    assert_eq!(
        correspondence::check_read_up_to(&request, Some(&ours), &france),
        Ok((Side::Requesting, &ours))
    );

    let own = correspondence::check_read_up_to(&request, Some(&ours), &registrar).unwrap_err();
    assert_eq!(fields(&own), ["up_to_message_id"]);
    assert!(own.field_violations()[0].description.contains("your own side"));
    let own_note = correspondence::check_read_up_to(&request, Some(&note), &registrar).unwrap_err();
    assert_eq!(fields(&own_note), ["up_to_message_id"]);

    // A note the partner may not read is, to it, no message at all: answered as a missing one.
    let unseen = correspondence::check_read_up_to(&request, Some(&note), &france).unwrap_err();
    let missing = correspondence::check_read_up_to(&request, None, &france).unwrap_err();
    assert_eq!(unseen, missing);
    assert_eq!(fields(&missing), ["up_to_message_id"]);
    let elsewhere = Message { request_id: another_request(&request).id, ..theirs.clone() };
    assert_eq!(
        correspondence::check_read_up_to(&request, Some(&elsewhere), &registrar).unwrap_err(),
        missing
    );

    let auditor =
        correspondence::check_read_up_to(&request, Some(&theirs), &staff(Role::Auditor)).unwrap_err();
    assert_eq!(auditor.reason(), "MISSING_ROLE");
    let stranger = correspondence::check_read_up_to(&request, Some(&theirs), &partner_principal("DE-BJ"));
    assert_eq!(stranger.unwrap_err().reason(), "REQUEST_NOT_FOUND");
    let own_receipt =
        correspondence::mark_read(&request, &ours, std::slice::from_ref(&ours), &registrar, at(9));
    assert_eq!(fields(&own_receipt.unwrap_err()), ["up_to_message_id"]);
}

/// Marking read reads the other side's unread shared messages of the request up to the one named, and
/// the event names them.
#[test]
fn marking_read_reads_the_other_sides_unread_shared_messages_up_to_the_one_named() {
    let request = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let france = partner_principal("FR-MOJ");
    let officer = staff(Role::LegalOfficer);
    let first = posted(&request, 1, shared("First letter"), &france);
    let ours = posted(&request, 2, shared("Our answer"), &officer);
    let note = posted(&request, 3, internal("Our note"), &officer);
    let already = Message { read_time: Some(at(4)), ..posted(&request, 4, shared("Read already"), &france) };
    let up_to = posted(&request, 5, shared("Second letter"), &france);
    let later = posted(&request, 6, shared("Third letter"), &france);
    let elsewhere =
        Message { request_id: another_request(&request).id, ..posted(&request, 7, shared("x"), &france) };
    let unread = [first.clone(), ours, note, already, up_to.clone(), later, elsewhere];

    let (ids, event) =
        correspondence::mark_read(&request, &up_to, &unread, &officer, at(9)).unwrap().unwrap();
    assert_eq!(ids, [first.id, up_to.id]);
    assert_eq!(event.action, MESSAGES_READ);
    assert_eq!(event.time, at(9));
    assert_eq!((event.from_state, event.to_state), (Some(State::UnderReview), State::UnderReview));
    assert_eq!(event.actor.roles, ["legal_officer"]);
    assert_eq!(event.details["up_to_message_id"], up_to.id.to_string());
    assert_eq!(event.details["message_ids"], json!([first.id.to_string(), up_to.id.to_string()]));
    assert!(event.audience.ncijc && event.audience.partner, "the writer learns that it was read");
    assert!(!audit::changes_request(&event.action));
}

/// A partner's read receipt covers the NCIJC's shared messages, never its internal notes.
#[test]
fn a_partner_reads_the_ncijcs_messages_and_never_its_notes() {
    let request = request_in(State::UnderReview, Direction::Outgoing, "FR-MOJ");
    let france = partner_principal("FR-MOJ");
    let judge = staff(Role::Judge);
    let note = posted(&request, 1, internal("Our note"), &judge);
    let letter = posted(&request, 2, shared("Please hurry"), &judge);
    let (ids, event) = correspondence::mark_read(&request, &letter, &[note, letter.clone()], &france, at(9))
        .unwrap()
        .unwrap();
    assert_eq!(ids, [letter.id]);
    assert_eq!(event.actor.partner_code.as_deref(), Some("FR-MOJ"));
    assert!(event.audience.ncijc && event.audience.partner);
}

/// Nothing new read, nothing recorded.
#[test]
fn nothing_new_read_records_nothing() {
    let request = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let france = partner_principal("FR-MOJ");
    let registrar = staff(Role::Registrar);
    let read = Message { read_time: Some(at(3)), ..posted(&request, 1, shared("Old news"), &france) };
    assert_eq!(
        correspondence::mark_read(&request, &read, std::slice::from_ref(&read), &registrar, at(9)),
        Ok(None)
    );
    assert_eq!(correspondence::mark_read(&request, &read, &[], &registrar, at(9)), Ok(None));
}
