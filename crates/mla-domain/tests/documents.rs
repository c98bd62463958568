//! The documents' rules of `casework.md`: who sees which document, the release gate with its reason,
//! and the custody events that leave the request's state and version as they were.

mod support;

use mla_domain::document::{
    self, Audience, DocumentId, DocumentKind, NewDocument, Received, ReleaseState, Sha256,
};
use mla_domain::lifecycle::Side;
use mla_domain::request::{Condition, ConditionKind, ConditionStatus};
use mla_domain::*;
use support::*;

fn new(kind: DocumentKind, audience: Audience) -> NewDocument {
    NewDocument {
        kind,
        title: ShortText::parse("Witness statement").unwrap(),
        file_name: document::file_name("إفادة الشاهد.pdf").unwrap(),
        media_type: "application/pdf".into(),
        language: "ar".into(),
        translation_of: None,
        audience,
    }
}

fn received() -> Received {
    Received {
        sha256: Sha256::from_bytes([7; 32]),
        size_bytes: 42,
        detected_media_type: "application/pdf".into(),
    }
}

fn upload(
    request: &Request,
    kind: DocumentKind,
    audience: Audience,
    by: &Principal,
) -> Result<document::Document, &'static str> {
    let id = DocumentId::from_uuid(uuid::Uuid::now_v7());
    document::add(request, id, new(kind, audience), received(), None, by, at(5))
        .map(|(document, _)| document)
        .map_err(|e| e.reason())
}

fn accepted(text: &str) -> Condition {
    Condition {
        kind: ConditionKind::Speciality,
        text: LongText::parse(text).unwrap(),
        status: ConditionStatus::Accepted,
        given_by: Some("fr-system".into()),
        given_time: Some(at(3)),
    }
}

#[test]
fn shared_documents_are_seen_by_both_sides_and_internal_ones_by_the_uploader_only() {
    let request = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let letter =
        upload(&request, DocumentKind::LetterOfRequest, Audience::Shared, &partner_principal("FR-MOJ"))
            .unwrap();
    assert_eq!((letter.uploader_side, letter.release_state), (Side::Requesting, ReleaseState::NotApplicable));
    assert!(document::check_visible(&request, &letter, &staff(Role::Auditor)).is_ok());

    let note = upload(&request, DocumentKind::Other, Audience::Internal, &staff(Role::LegalOfficer)).unwrap();
    assert!(document::check_visible(&request, &note, &staff(Role::Judge)).is_ok());
    let partner_view = document::check_visible(&request, &note, &partner_principal("FR-MOJ"));
    assert_eq!(partner_view.unwrap_err().reason(), "DOCUMENT_NOT_FOUND");
    // Another partner does not even see the request.
    let other = document::check_visible(&request, &letter, &partner_principal("DE-BJ"));
    assert_eq!(other.unwrap_err().reason(), "REQUEST_NOT_FOUND");
}

#[test]
fn evidence_the_ncijc_shares_as_the_requested_side_is_withheld_and_a_partners_is_not() {
    let incoming = request_in(State::InExecution, Direction::Incoming, "FR-MOJ");
    let evidence =
        upload(&incoming, DocumentKind::Evidence, Audience::Shared, &staff(Role::EvidenceOfficer)).unwrap();
    assert_eq!(evidence.release_state, ReleaseState::Withheld);
    assert!(!evidence.visible_from(Side::Requesting));
    assert!(document::check_visible(&incoming, &evidence, &partner_principal("FR-MOJ")).is_err());

    let outgoing = request_in(State::InExecution, Direction::Outgoing, "FR-MOJ");
    let theirs =
        upload(&outgoing, DocumentKind::Evidence, Audience::Shared, &partner_principal("FR-MOJ")).unwrap();
    assert_eq!(theirs.release_state, ReleaseState::NotApplicable);
    assert!(theirs.visible_from(Side::Requesting));
}

#[test]
fn uploads_need_an_uploading_role_and_an_open_request() {
    let request = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let auditor = upload(&request, DocumentKind::Other, Audience::Shared, &staff(Role::Auditor));
    assert_eq!(auditor.unwrap_err(), "MISSING_ROLE");
    let closed = request_in(State::Closed, Direction::Incoming, "FR-MOJ");
    let late = upload(&closed, DocumentKind::Other, Audience::Shared, &staff(Role::Judge));
    assert_eq!(late.unwrap_err(), "NOT_EDITABLE");
    let mut draft = request_in(State::Draft, Direction::Outgoing, "FR-MOJ");
    draft.version = 1;
    let unseen = upload(&draft, DocumentKind::Other, Audience::Shared, &partner_principal("FR-MOJ"));
    assert_eq!(unseen.unwrap_err(), "REQUEST_NOT_FOUND");
}

#[test]
fn release_waits_for_every_assurance_and_for_execution() {
    let mut request = request_in(State::InExecution, Direction::Incoming, "FR-MOJ");
    let evidence =
        upload(&request, DocumentKind::Evidence, Audience::Shared, &staff(Role::EvidenceOfficer)).unwrap();
    let judge = staff(Role::Judge);
    let pending = Condition { status: ConditionStatus::Proposed, ..accepted("No death penalty") };
    request.conditions = vec![accepted("Use only for case 17/2026"), pending];
    let refused = document::release(&request, vec![evidence.clone()], &judge, at(6)).unwrap_err();
    assert_eq!(refused.reason(), "ASSURANCES_PENDING");
    assert_eq!(refused.class(), ErrorClass::FailedPrecondition);

    request.conditions = vec![accepted("Use only for case 17/2026")];
    let mut accepted_only = request.clone();
    accepted_only.state = State::Accepted;
    let early = document::release(&accepted_only, vec![evidence.clone()], &judge, at(6)).unwrap_err();
    assert_eq!(early.reason(), "ASSURANCES_PENDING");

    let officer = document::release(&request, vec![evidence.clone()], &staff(Role::EvidenceOfficer), at(6));
    assert_eq!(officer.unwrap_err().reason(), "MISSING_ROLE");
    let partner = document::release(&request, vec![evidence.clone()], &partner_principal("FR-MOJ"), at(6));
    assert_eq!(partner.unwrap_err().reason(), "NOT_ALLOWED");

    let (released, event) = document::release(&request, vec![evidence], &judge, at(6)).unwrap();
    assert_eq!(released[0].release_state, ReleaseState::Released);
    assert_eq!(released[0].use_restrictions, ["Use only for case 17/2026"]);
    assert!(released[0].visible_from(Side::Requesting));
    assert_eq!(event.action, document::DOCUMENTS_RELEASED);
    assert!(event.audience.partner, "the requesting side learns of the release");

    let again = document::release(&request, released, &judge, at(7)).unwrap_err();
    assert_eq!(again.reason(), "NOT_WITHHELD");
}

#[test]
fn custody_events_keep_the_state_and_reach_only_who_sees_the_document() {
    let request = request_in(State::InExecution, Direction::Incoming, "FR-MOJ");
    let id = DocumentId::from_uuid(uuid::Uuid::now_v7());
    let officer = staff(Role::EvidenceOfficer);
    let (evidence, added) = document::add(
        &request,
        id,
        new(DocumentKind::Evidence, Audience::Shared),
        received(),
        None,
        &officer,
        at(5),
    )
    .unwrap();
    assert_eq!((added.from_state, added.to_state), (Some(State::InExecution), State::InExecution));
    assert_eq!((added.audience.ncijc, added.audience.partner), (true, false));
    assert_eq!(added.details["sha256"], evidence.sha256.as_str());
    let downloaded = document::download(&request, &evidence, &officer, at(6)).unwrap();
    assert_eq!(downloaded.action, document::DOCUMENT_DOWNLOADED);
    assert_eq!(downloaded.details["document_id"], evidence.id.to_string());
}

#[test]
fn a_translation_names_a_document_of_the_same_request() {
    let request = request_in(State::Submitted, Direction::Incoming, "FR-MOJ");
    let fr = partner_principal("FR-MOJ");
    let letter = upload(&request, DocumentKind::LetterOfRequest, Audience::Shared, &fr).unwrap();
    let mut translation = new(DocumentKind::Translation, Audience::Shared);
    translation.translation_of = Some(letter.id);
    let id = DocumentId::from_uuid(uuid::Uuid::now_v7());
    let made = document::add(&request, id, translation.clone(), received(), Some(&letter), &fr, at(6));
    assert_eq!(made.unwrap().0.translation_of, Some(letter.id));
    let orphan = document::add(&request, id, translation, received(), None, &fr, at(6));
    assert_eq!(orphan.unwrap_err().reason(), "INVALID_FIELDS");
}

#[test]
fn a_package_holds_released_evidence_under_its_id_and_its_export_is_custody() {
    let mut request = request_in(State::InExecution, Direction::Incoming, "FR-MOJ");
    request.conditions = vec![accepted("Use only for case 17/2026")];
    let evidence =
        upload(&request, DocumentKind::Evidence, Audience::Shared, &staff(Role::EvidenceOfficer)).unwrap();
    let france = partner_principal("FR-MOJ");
    let withheld = document::export_package(&request, std::slice::from_ref(&evidence), &france, at(6));
    assert_eq!(withheld.unwrap_err().reason(), "DOCUMENT_NOT_FOUND", "withheld evidence stays out");
    let (released, _) = document::release(&request, vec![evidence], &staff(Role::Judge), at(6)).unwrap();
    assert!(released.iter().all(document::in_evidence_package));
    let event = document::export_package(&request, &released, &france, at(7)).unwrap();
    assert_eq!(event.action, document::EVIDENCE_PACKAGE_EXPORTED);
    assert!(document::is_custody(&event.action));
    assert_eq!(event.details["documents"][0]["sha256"], released[0].sha256.as_str());

    // The uploader's name never becomes a path: the id, and a short alphanumeric extension at most.
    let mut named = released[0].clone();
    named.file_name = document::file_name("../../etc/passwd.PDF").unwrap();
    assert_eq!(named.package_file_name(), format!("documents/{}.pdf", named.id));
    named.file_name = document::file_name("evil.p/../x").unwrap();
    assert_eq!(named.package_file_name(), format!("documents/{}", named.id));
    named.file_name = document::file_name("no extension").unwrap();
    assert_eq!(named.package_file_name(), format!("documents/{}", named.id));
    let receipt = named.receipt();
    assert_eq!((receipt.document_id, receipt.size_bytes), (named.id, named.size_bytes));
    assert_eq!(receipt.received_time, mla_domain::audit::canonical_time(named.create_time));
}
