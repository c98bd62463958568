//! The paper channel of `casework.md`: NCIJC registrars and legal officers record a PAPER partner's
//! acts on its behalf, dated when they happened on paper; nobody acts for a partner with a system.

mod support;

use chrono::Duration;
use mla_domain::audit::{self, Event};
use mla_domain::document::{self, Audience, DocumentId, DocumentKind, NewDocument, Received, Sha256};
use mla_domain::paper::{Agent, Circumstances, PaperRecord, RECORDING_ROLES, ReceivedVia};
use mla_domain::*;
use serde_json::json;
use sha2::Digest;
use support::*;

/// A partner without a system: its letters arrive by diplomatic note and post.
const PAPER: &str = "SD-MOJ";

fn paper_partner() -> Partner {
    Partner { channel: Channel::Paper, ..partner(PAPER, true) }
}

/// What a registrar records of a letter that came by post: whose act, how it came, when.
fn record(effective: Timestamp) -> PaperRecord {
    PaperRecord {
        on_behalf_of: Some(code(PAPER)),
        received_via: Some(ReceivedVia::Post),
        effective_time: Some(effective),
        letter_reference: ShortText::parse("Note verbale 112/2026").unwrap(),
        letter_document_id: None,
    }
}

fn on_paper<'a>(partner: &'a Partner, record: &'a PaperRecord, now: Timestamp) -> Context<'a> {
    Context { record: Some(record), ..ctx(partner, now) }
}

fn new_id() -> RequestId {
    RequestId::parse("0192f0c1-7a3e-7cc0-8000-0000000000a1").unwrap()
}

/// Registers a request from the paper partner's letter, naming no partner code (the record names it).
fn register(
    by: &Principal,
    record: &PaperRecord,
    partner: &Partner,
    now: Timestamp,
) -> Result<NewRequest, DomainError> {
    create(new_id(), None, complete_content(), by, &on_paper(partner, record, now))
}

fn field_of(err: &DomainError) -> Vec<String> {
    err.field_violations().into_iter().map(|v| v.field).collect()
}

/// The scanned letter, uploaded by NCIJC staff to `request`.
fn scanned_letter(request: &Request) -> document::Document {
    let new = NewDocument {
        kind: DocumentKind::LetterOfRequest,
        title: ShortText::parse("Note verbale 112/2026").unwrap(),
        file_name: document::file_name("مذكرة.pdf").unwrap(),
        media_type: "application/pdf".into(),
        language: "ar".into(),
        translation_of: None,
        audience: Audience::Shared,
    };
    let received = Received {
        sha256: Sha256::from_bytes([9; 32]),
        size_bytes: 1024,
        detected_media_type: "application/pdf".into(),
    };
    let id = DocumentId::from_uuid(uuid::Uuid::now_v7());
    document::add(request, id, new, received, None, &staff(Role::Registrar), at(1)).unwrap().0
}

/// A registrar registers a paper partner's letter as its INCOMING request, SUBMITTED at once and dated
/// when it arrived; the event names the registrar as actor and the partner it acted for.
#[test]
fn a_registrar_registers_a_paper_partners_request_as_incoming_and_submitted_when_it_arrived() {
    let sd = paper_partner();
    let arrived = record(at(40));
    let registered = register(&staff(Role::Registrar), &arrived, &sd, at(100)).unwrap();
    assert_eq!(registered.direction, Direction::Incoming);
    assert_eq!(registered.partner_code, code(PAPER));
    assert_eq!(registered.state, State::Submitted);
    assert_eq!(registered.create_time, at(40), "dated when it arrived, not when it was recorded");
    assert_eq!(registered.submit_time, Some(at(40)));

    let event = &registered.event;
    assert_eq!(event.action, "CREATE");
    assert_eq!((event.from_state, event.to_state), (None, State::Submitted));
    assert_eq!(event.time, at(40));
    assert_eq!(event.actor.subject, "staff-member");
    assert_eq!(event.actor.roles, ["registrar"]);
    assert_eq!(event.actor.partner_code, None, "the actor is the staff member");
    assert_eq!(event.actor.on_behalf_of.as_deref(), Some(PAPER), "and names the partner it acted for");
    assert!(event.audience.ncijc && event.audience.partner);
    let paper = &event.details["paper"];
    assert_eq!(paper["received_via"], "POST");
    assert_eq!(paper["recorded_time"], json!(at(100)), "the moment of recording stays in the details");
    assert_eq!(paper["letter_reference"], "Note verbale 112/2026");
    assert!(paper.get("letter_document_id").is_none());
    assert_eq!(event.details["content"]["title"], "Testimony of witness W-17");
}

/// A legal officer records as well; the request's partner code, if named, is the partner acted for.
#[test]
fn a_legal_officer_records_too_and_may_name_the_same_partner_code_but_no_other() {
    let sd = paper_partner();
    let arrived = record(at(40));
    let officer = staff(Role::LegalOfficer);
    let named =
        create(new_id(), Some(code(PAPER)), complete_content(), &officer, &on_paper(&sd, &arrived, at(100)))
            .unwrap();
    assert_eq!((named.direction, named.state), (Direction::Incoming, State::Submitted));

    let other = create(
        new_id(),
        Some(code("FR-MOJ")),
        complete_content(),
        &officer,
        &on_paper(&sd, &arrived, at(100)),
    )
    .unwrap_err();
    assert_eq!(field_of(&other), ["request.partner_code"]);
}

/// A request registered from paper is submitted, so it must be as complete as submission requires.
#[test]
fn a_request_registered_from_paper_is_complete_as_submission_requires() {
    let sd = paper_partner();
    let mut content = complete_content();
    content.legal_basis = ShortText::default();
    let arrived = record(at(40));
    let incomplete =
        create(new_id(), None, content, &staff(Role::Registrar), &on_paper(&sd, &arrived, at(100)))
            .unwrap_err();
    assert_eq!(incomplete, DomainError::IncompleteRequest { missing: vec!["legal_basis"] });
}

/// Only registrars and legal officers record a paper partner's acts (PERMISSION_DENIED for others).
#[test]
fn only_registrars_and_legal_officers_record_a_paper_partners_acts() {
    let sd = paper_partner();
    let arrived = record(at(40));
    for role in Role::ALL.into_iter().filter(|&r| r != Role::Partner) {
        let got = register(&staff(role), &arrived, &sd, at(100));
        if RECORDING_ROLES.contains(&role) {
            assert!(got.is_ok(), "{role}: {got:?}");
        } else {
            let err = got.unwrap_err();
            assert!(matches!(err, DomainError::OnBehalfRefused(_)), "{role}: {err:?}");
            assert_eq!(err.class(), ErrorClass::PermissionDenied, "{role}");
        }
    }
    // A judge drafts requests, but records nobody's letters.
    let judge = register(&staff(Role::Judge), &arrived, &sd, at(100)).unwrap_err();
    assert_eq!(judge.reason(), "ON_BEHALF_NOT_ALLOWED");
    assert_eq!(field_of(&judge), ["on_behalf_of_partner"]);
}

/// A partner with a system (channel SYSTEM) acts for itself: acting on its behalf is PERMISSION_DENIED.
#[test]
fn nobody_acts_on_behalf_of_a_partner_with_its_own_system() {
    let fr = partner("FR-MOJ", true);
    assert_eq!(fr.channel, Channel::System);
    let for_fr = PaperRecord { on_behalf_of: Some(code("FR-MOJ")), ..record(at(40)) };
    let registrar = staff(Role::Registrar);
    let created = register(&registrar, &for_fr, &fr, at(100)).unwrap_err();
    assert!(matches!(created, DomainError::OnBehalfRefused(_)), "{created:?}");
    assert_eq!(created.class(), ErrorClass::PermissionDenied);

    let submitted = request_in(State::Submitted, Direction::Outgoing, "FR-MOJ");
    let acknowledged = transition(
        &submitted,
        &Command::new(Action::Acknowledge),
        &registrar,
        &on_paper(&fr, &for_fr, at(100)),
    )
    .unwrap_err();
    assert_eq!(acknowledged.reason(), "ON_BEHALF_NOT_ALLOWED");
    assert_eq!(acknowledged.class(), ErrorClass::PermissionDenied);
}

/// A partner's system neither acts on behalf of a partner (itself included) nor dates acts on paper.
#[test]
fn a_partner_acts_for_itself_and_dates_nothing_on_paper() {
    let sd = paper_partner();
    let its_own = partner_principal(PAPER);
    let for_itself = register(&its_own, &record(at(40)), &sd, at(100)).unwrap_err();
    assert!(matches!(for_itself, DomainError::OnBehalfRefused(_)), "{for_itself:?}");
    assert_eq!(for_itself.class(), ErrorClass::PermissionDenied);

    let dated = PaperRecord { on_behalf_of: None, ..record(at(40)) };
    let backdated = register(&its_own, &dated, &sd, at(100)).unwrap_err();
    assert_eq!(field_of(&backdated), ["effective_time"]);
}

/// An act recorded on a partner's behalf says how it arrived (`received_via`).
#[test]
fn a_recorded_act_says_how_it_arrived() {
    let sd = paper_partner();
    let unsaid = PaperRecord { received_via: None, ..record(at(40)) };
    let err = register(&staff(Role::Registrar), &unsaid, &sd, at(100)).unwrap_err();
    assert_eq!(err.reason(), "INVALID_FIELDS");
    assert_eq!(field_of(&err), ["received_via"]);
    for via in ReceivedVia::ALL.iter().copied() {
        let said = PaperRecord { received_via: Some(via), ..record(at(40)) };
        let event = register(&staff(Role::Registrar), &said, &sd, at(100)).unwrap().event;
        assert_eq!(event.details["paper"]["received_via"], via.as_str());
    }
}

/// An effective time may not lie in the future, beyond a few seconds of clock drift that count as now.
#[test]
fn an_effective_time_may_not_lie_in_the_future_beyond_a_small_drift() {
    let sd = paper_partner();
    let registrar = staff(Role::Registrar);
    let now = at(100);
    let tomorrow = register(&registrar, &record(now + Duration::days(1)), &sd, now).unwrap_err();
    assert_eq!(field_of(&tomorrow), ["effective_time"]);
    let just_beyond = register(&registrar, &record(now + Duration::seconds(6)), &sd, now).unwrap_err();
    assert_eq!(field_of(&just_beyond), ["effective_time"]);

    // A caller's clock a few seconds ahead counts as now, and is recorded as now.
    let drifted = register(&registrar, &record(now + Duration::seconds(5)), &sd, now).unwrap();
    assert_eq!(drifted.create_time, now);
    let unsaid = PaperRecord { effective_time: None, ..record(at(0)) };
    assert_eq!(register(&registrar, &unsaid, &sd, now).unwrap().create_time, now);
}

/// An effective time may not lie before the request's last change (the same instant is allowed).
#[test]
fn an_effective_time_may_not_precede_the_requests_last_change() {
    let sd = paper_partner();
    let registrar = staff(Role::Registrar);
    let mut submitted = request_in(State::Submitted, Direction::Outgoing, PAPER);
    submitted.update_time = at(30);
    let acknowledge = Command::new(Action::Acknowledge);
    let earlier = record(at(29));
    let err =
        transition(&submitted, &acknowledge, &registrar, &on_paper(&sd, &earlier, at(100))).unwrap_err();
    assert_eq!(field_of(&err), ["effective_time"]);
    assert_eq!(err.class(), ErrorClass::InvalidArgument);

    let same_instant = record(at(30));
    let ok =
        transition(&submitted, &acknowledge, &registrar, &on_paper(&sd, &same_instant, at(100))).unwrap();
    assert_eq!(ok.request.received_time, Some(at(30)));
}

/// The scanned letter a record names is a document of the same request, as the store has it.
#[test]
fn the_letter_is_a_document_of_the_same_request() {
    let sd = paper_partner();
    let registrar = staff(Role::Registrar);
    let submitted = request_in(State::Submitted, Direction::Outgoing, PAPER);
    let mut elsewhere = submitted.clone();
    elsewhere.id = RequestId::parse("0192f0c1-7a3e-7cc0-8000-0000000000b2").unwrap();
    let acknowledge = Command::new(Action::Acknowledge);

    let foreign = scanned_letter(&elsewhere);
    let naming_foreign = PaperRecord { letter_document_id: Some(foreign.id), ..record(at(40)) };
    let ctx = Context { letter: Some(&foreign), ..on_paper(&sd, &naming_foreign, at(100)) };
    let err = transition(&submitted, &acknowledge, &registrar, &ctx).unwrap_err();
    assert_eq!(field_of(&err), ["letter_document_id"]);

    // A letter the store does not have is no letter either.
    let missing = Context { letter: None, ..ctx };
    assert_eq!(
        field_of(&transition(&submitted, &acknowledge, &registrar, &missing).unwrap_err()),
        ["letter_document_id"]
    );

    let own = scanned_letter(&submitted);
    let naming_own = PaperRecord { letter_document_id: Some(own.id), ..record(at(40)) };
    let ctx = Context { letter: Some(&own), ..on_paper(&sd, &naming_own, at(100)) };
    let event = transition(&submitted, &acknowledge, &registrar, &ctx).unwrap().event;
    assert_eq!(event.details["paper"]["letter_document_id"], own.id.to_string());

    // A request registered from paper has no documents yet: its letter is attached afterwards.
    let at_registration = PaperRecord { letter_document_id: Some(own.id), ..record(at(40)) };
    let ctx = Context { letter: Some(&own), ..on_paper(&sd, &at_registration, at(100)) };
    let err = create(new_id(), None, complete_content(), &registrar, &ctx).unwrap_err();
    assert_eq!(field_of(&err), ["letter_document_id"]);
}

/// Uploading the scan (custody) does not move the earliest effective time: the act keeps its date.
#[test]
fn a_letter_scanned_after_the_act_still_dates_it_when_it_happened() {
    // The scan's upload is custody: it leaves the request's last change (and so the earliest
    // effective time) where it was.
    let sd = paper_partner();
    let mut submitted = request_in(State::Submitted, Direction::Outgoing, PAPER);
    submitted.update_time = at(10);
    let letter = scanned_letter(&submitted);
    assert!(!audit::changes_request(document::DOCUMENT_ADDED));
    let dated = PaperRecord { letter_document_id: Some(letter.id), ..record(at(50)) };
    let ctx = Context { letter: Some(&letter), ..on_paper(&sd, &dated, at(100)) };
    let acknowledged =
        transition(&submitted, &Command::new(Action::Acknowledge), &staff(Role::LegalOfficer), &ctx).unwrap();
    assert_eq!(acknowledged.request.received_time, Some(at(50)));
}

/// ACKNOWLEDGE recorded for a paper partner sets the received time and starts the deadline clock at
/// the effective time, whatever the moment of recording.
#[test]
fn the_paper_partners_acknowledgement_starts_the_clock_when_it_happened() {
    let sd = paper_partner();
    let registrar = staff(Role::Registrar);
    let submitted = request_in(State::Submitted, Direction::Outgoing, PAPER);
    let acknowledge = Command::new(Action::Acknowledge);
    let received_by_post = record(at(50));
    assert!(acknowledge.consults_partner(Some(&received_by_post)), "the partner's channel is consulted");

    let change =
        transition(&submitted, &acknowledge, &registrar, &on_paper(&sd, &received_by_post, at(200))).unwrap();
    let received = &change.request;
    assert_eq!(received.state, State::Received);
    assert_eq!(received.received_time, Some(at(50)));
    assert_eq!(received.update_time, at(50));
    assert_eq!(
        received.clock.due_at,
        Some(at(50) + Duration::days(90)),
        "the clock runs from the effective time"
    );
    assert!(received.clock.is_running());

    let event = &change.event;
    assert_eq!(event.action, "ACKNOWLEDGE");
    assert_eq!(event.time, at(50));
    assert_eq!((event.from_state, event.to_state), (Some(State::Submitted), State::Received));
    assert_eq!(event.actor.roles, ["registrar"]);
    assert_eq!(event.actor.on_behalf_of.as_deref(), Some(PAPER));
    assert_eq!(event.details["paper"]["recorded_time"], json!(at(200)));
    assert_eq!(event.details["paper"]["received_via"], "POST");

    let mut urgent = submitted.clone();
    urgent.content.priority = Some(Priority::Urgent);
    let change =
        transition(&urgent, &acknowledge, &registrar, &on_paper(&sd, &received_by_post, at(200))).unwrap();
    assert_eq!(change.request.clock.due_at, Some(at(50 + 72)));
}

/// An act recorded on behalf is decided as the partner's own: its side, its rights, its guards.
#[test]
fn an_act_recorded_on_behalf_is_decided_as_the_partners_own() {
    let sd = paper_partner();
    let registrar = staff(Role::Registrar);

    // The partner's side, not the NCIJC's: on an INCOMING request the partner does not acknowledge.
    let incoming = request_in(State::Submitted, Direction::Incoming, PAPER);
    let wrong_side = transition(
        &incoming,
        &Command::new(Action::Acknowledge),
        &registrar,
        &on_paper(&sd, &record(at(5)), at(100)),
    )
    .unwrap_err();
    assert_eq!(wrong_side.reason(), "WRONG_SIDE");

    // The partner's rights, not the registrar's: a registrar alone accepts no conditions.
    let mut pending = request_in(State::ConditionsProposed, Direction::Incoming, PAPER);
    pending.conditions = vec![Condition {
        kind: ConditionKind::DeathPenaltyNonImposition,
        text: LongText::default(),
        status: ConditionStatus::Proposed,
        given_by: None,
        given_time: None,
    }];
    let accept = Command::new(Action::AcceptConditions);
    let alone = transition(&pending, &accept, &registrar, &ctx(&sd, at(100))).unwrap_err();
    assert_eq!(alone.reason(), "WRONG_SIDE");
    let by_note = PaperRecord { received_via: Some(ReceivedVia::DiplomaticNote), ..record(at(60)) };
    let accepted = transition(&pending, &accept, &registrar, &on_paper(&sd, &by_note, at(100))).unwrap();
    assert_eq!(accepted.request.state, State::Accepted);
    let assurance = &accepted.request.conditions[0];
    assert_eq!(assurance.status, ConditionStatus::Accepted);
    assert_eq!(assurance.given_time, Some(at(60)), "given when the note was written");
    assert_eq!(assurance.given_by.as_deref(), Some("staff-member"));
    assert_eq!(accepted.event.actor.on_behalf_of.as_deref(), Some(PAPER));

    // The partner's guards too: a withdrawal on paper still states its reason.
    let review = request_in(State::UnderReview, Direction::Incoming, PAPER);
    let withdraw = Command::new(Action::Withdraw);
    let unreasoned = transition(&review, &withdraw, &registrar, &on_paper(&sd, &record(at(60)), at(100)));
    assert_eq!(unreasoned.unwrap_err().reason(), "REASON_REQUIRED");
    let withdrawn = transition(
        &review,
        &satisfying(Action::Withdraw),
        &registrar,
        &on_paper(&sd, &record(at(60)), at(100)),
    )
    .unwrap();
    assert_eq!(withdrawn.request.state, State::Withdrawn);
}

/// `on_behalf_of_partner` names the request's own partner, which must be in the registry.
#[test]
fn on_behalf_of_names_the_requests_own_and_registered_partner() {
    let sd = paper_partner();
    let registrar = staff(Role::Registrar);
    let submitted = request_in(State::Submitted, Direction::Outgoing, PAPER);
    let acknowledge = Command::new(Action::Acknowledge);
    let for_another = PaperRecord { on_behalf_of: Some(code("YE-MOFA")), ..record(at(40)) };
    let err =
        transition(&submitted, &acknowledge, &registrar, &on_paper(&sd, &for_another, at(100))).unwrap_err();
    assert_eq!(field_of(&err), ["on_behalf_of_partner"]);

    let arrived = record(at(40));
    let unregistered = Context { partner: None, ..on_paper(&sd, &arrived, at(100)) };
    let err = transition(&submitted, &acknowledge, &registrar, &unregistered).unwrap_err();
    assert_eq!(err.reason(), "UNKNOWN_PARTNER");
}

/// The NCIJC dates its own act on paper (a note received days ago), on a paper partner's request only.
#[test]
fn the_ncijc_dates_its_own_act_on_a_paper_partners_request() {
    let sd = paper_partner();
    let registrar = staff(Role::Registrar);
    let incoming = request_in(State::Submitted, Direction::Incoming, PAPER);
    let own = PaperRecord {
        on_behalf_of: None,
        received_via: None,
        effective_time: Some(at(20)),
        ..PaperRecord::default()
    };
    let acknowledged =
        transition(&incoming, &Command::new(Action::Acknowledge), &registrar, &on_paper(&sd, &own, at(100)))
            .unwrap();
    assert_eq!(acknowledged.request.received_time, Some(at(20)));
    assert_eq!(acknowledged.request.clock.due_at, Some(at(20) + Duration::days(90)));
    let event = &acknowledged.event;
    assert_eq!(event.time, at(20));
    assert_eq!(event.actor.on_behalf_of, None, "the NCIJC's own act");
    assert_eq!(event.details["paper"], json!({ "recorded_time": at(100) }));

    // Only on the requests of a partner on paper.
    let fr = partner("FR-MOJ", true);
    let with_system = request_in(State::Submitted, Direction::Incoming, "FR-MOJ");
    let err = transition(
        &with_system,
        &Command::new(Action::Acknowledge),
        &registrar,
        &on_paper(&fr, &own, at(100)),
    )
    .unwrap_err();
    assert_eq!(field_of(&err), ["effective_time"]);
}

/// Without a record the caller acts for itself, now, and the details say nothing of paper.
#[test]
fn without_a_record_the_caller_acts_for_itself_now() {
    let sd = paper_partner();
    let registrar = staff(Role::Registrar);
    let request = request_in(State::Submitted, Direction::Outgoing, PAPER);
    let circumstances = Circumstances {
        partner_code: &request.partner_code,
        partner: Some(&sd),
        request: Some(&request),
        letter: None,
        now: at(100),
    };

    let itself = Agent::resolve(&registrar, None, circumstances).unwrap();
    assert_eq!(itself, Agent::caller(&registrar, at(100)));
    assert_eq!((itself.principal.clone(), itself.time), (registrar.clone(), at(100)));
    assert_eq!(itself.actor.on_behalf_of, None);
    assert_eq!(itself.annotate(json!({ "reason": "r" })), json!({ "reason": "r" }));

    let arrived = record(at(40));
    let acting_for = Agent::resolve(&registrar, Some(&arrived), circumstances).unwrap();
    assert_eq!(acting_for.principal.partner_code(), Some(&code(PAPER)), "decided as the partner's");
    assert_eq!(acting_for.principal.subject(), "staff-member");
    assert_eq!(acting_for.actor.roles, ["registrar"]);
    assert_eq!(acting_for.time, at(40));
    let annotated = acting_for.annotate(json!({ "reason": "r" }));
    assert_eq!(annotated["reason"], "r");
    assert_eq!(annotated["paper"]["received_via"], "POST");
    assert_eq!(acting_for.annotate(json!("not an object")), json!("not an object"));
}

/// The canonical encoding of `audit`'s module docs, written out again: netstrings of the fields in
/// their order, with `on-behalf-of` and the partner after the actor's partner code when there is one.
fn reference_hash(event: &Event) -> String {
    let mut fields: Vec<String> = vec![
        "mla-audit-v1".into(),
        event.cursor.to_string(),
        event.request_id.to_string(),
        event.seq.to_string(),
        audit::canonical_time(event.time),
        event.actor.subject.clone(),
        event.actor.roles.len().to_string(),
    ];
    fields.extend(event.actor.roles.iter().cloned());
    fields.push(event.actor.partner_code.clone().unwrap_or_default());
    if let Some(partner) = &event.actor.on_behalf_of {
        fields.push("on-behalf-of".into());
        fields.push(partner.clone());
    }
    fields.push(event.action.clone());
    fields.push(event.from_state.map(|s| s.as_str().to_owned()).unwrap_or_default());
    fields.push(event.to_state.as_str().into());
    fields.push(event.details.clone());
    fields.push(event.prev_hash.clone());
    let mut hasher = sha2::Sha256::new();
    for field in fields {
        hasher.update(format!("{}:{field},", field.len()).as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The partner acted for is covered by the event's hash, as the audit encoding documents it.
#[test]
fn the_chain_covers_whom_staff_acted_for() {
    let sd = paper_partner();
    let submitted = request_in(State::Submitted, Direction::Outgoing, PAPER);
    let arrived = record(at(40));
    let draft = transition(
        &submitted,
        &Command::new(Action::Acknowledge),
        &staff(Role::Registrar),
        &on_paper(&sd, &arrived, at(100)),
    )
    .unwrap()
    .event;
    let chain =
        |draft: audit::EventDraft| Event::chain(draft, submitted.id, code(PAPER), 7, 2, "ab".repeat(32));
    let recorded = chain(draft.clone());
    let mut unnamed = draft.clone();
    unnamed.actor.on_behalf_of = None;
    let without = chain(unnamed);
    assert_ne!(recorded.hash, without.hash, "the partner acted for is hashed");
    assert_eq!(recorded.hash, reference_hash(&recorded), "as the documented encoding says");
    assert_eq!(without.hash, reference_hash(&without), "events acted for nobody hash as before");

    // Erasing the partner from a stored event is tampering the verifier names.
    let first = Event::chain(
        register(&staff(Role::Registrar), &arrived, &sd, at(100)).unwrap().event,
        submitted.id,
        code(PAPER),
        3,
        1,
        String::new(),
    );
    let second = Event::chain(draft, submitted.id, code(PAPER), 7, 2, first.hash.clone());
    assert_eq!(audit::verify_chain([&first, &second]), Ok(2));
    let mut erased = second.clone();
    erased.actor.on_behalf_of = None;
    let broken = audit::verify_chain([&first, &erased]).unwrap_err();
    assert_eq!(broken.seq, 2);
    assert!(broken.problem.contains("altered"), "{}", broken.problem);
}

/// A request the caller may not see does not exist for it (`lifecycle::permit`: "else NOT_FOUND, so
/// that nobody learns what they may not see"), whatever the caller sends with its command.
#[test]
fn a_record_on_a_request_the_caller_may_not_see_is_answered_not_found() {
    let sd = paper_partner();
    let acknowledge = Command::new(Action::Acknowledge);
    let theirs = request_in(State::Submitted, Direction::Outgoing, PAPER);
    let another_partner = partner_principal("DE-BJ");
    let plain = transition(&theirs, &acknowledge, &another_partner, &ctx(&sd, at(100))).unwrap_err();
    assert_eq!(plain.reason(), "REQUEST_NOT_FOUND");
    let as_itself = PaperRecord { on_behalf_of: Some(code("DE-BJ")), ..record(at(40)) };
    let with_record =
        transition(&theirs, &acknowledge, &another_partner, &on_paper(&sd, &as_itself, at(100)));
    assert_eq!(with_record.unwrap_err().reason(), "REQUEST_NOT_FOUND");

    // A system partner's draft is its own: staff do not learn of it, nor of its partner code.
    let fr = partner("FR-MOJ", true);
    let draft = request_in(State::Draft, Direction::Incoming, "FR-MOJ");
    let registrar = staff(Role::Registrar);
    let guess = PaperRecord { on_behalf_of: Some(code("XX-ANY")), ..record(at(40)) };
    let submit = Command::new(Action::Submit);
    let with_record = transition(&draft, &submit, &registrar, &on_paper(&fr, &guess, at(100))).unwrap_err();
    assert_eq!(with_record.reason(), "REQUEST_NOT_FOUND", "{with_record}");
}

/// An act recorded without an effective time happens now, as any other act does: it is not refused
/// for its time when the request's last change was stamped by a replica whose clock runs a little
/// ahead (the case `Clock::after_entering` provides for).
#[test]
fn a_record_without_an_effective_time_is_not_refused_for_a_replicas_clock_skew() {
    let sd = paper_partner();
    let registrar = staff(Role::Registrar);
    let mut incoming = request_in(State::Submitted, Direction::Incoming, PAPER);
    incoming.update_time = at(10) + Duration::seconds(2);
    let acknowledge = Command::new(Action::Acknowledge);
    assert!(transition(&incoming, &acknowledge, &registrar, &ctx(&sd, at(10))).is_ok());
    let now = PaperRecord { received_via: Some(ReceivedVia::Email), ..PaperRecord::default() };
    let recorded = transition(&incoming, &acknowledge, &registrar, &on_paper(&sd, &now, at(10)));
    assert!(recorded.is_ok(), "{:?}", recorded.unwrap_err());
}
