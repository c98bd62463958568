//! One test per guard of `lifecycle.md`: each refusal with its reason, and the pass beside it.

mod support;

use mla_domain::lifecycle::ProposedCondition;
use mla_domain::*;
use support::*;

fn attempt(request: &Request, command: &Command, principal: &Principal) -> Result<Transition, &'static str> {
    let fr = partner("FR-MOJ", true);
    transition(request, command, principal, &ctx(&fr, at(10))).map_err(|e| e.reason())
}

fn text(s: &str) -> LongText {
    LongText::parse(s).unwrap()
}

#[test]
fn submit_needs_a_complete_request() {
    let mut draft = request_in(State::Draft, Direction::Outgoing, "FR-MOJ");
    draft.content.title = ShortText::default();
    draft.content.measures = vec![ShortText::parse("  ").unwrap()];
    let judge = staff(Role::Judge);
    let err =
        transition(&draft, &Command::new(Action::Submit), &judge, &ctx(&partner("FR-MOJ", true), at(1)))
            .unwrap_err();
    assert_eq!(err, DomainError::IncompleteRequest { missing: vec!["title", "measures"] });
    assert_eq!(err.class(), ErrorClass::FailedPrecondition);

    let complete = request_in(State::Draft, Direction::Outgoing, "FR-MOJ");
    let submitted = attempt(&complete, &Command::new(Action::Submit), &judge).unwrap();
    assert_eq!(submitted.request.state, State::Submitted);
    assert_eq!(submitted.request.submit_time, Some(at(10)));
}

#[test]
fn every_essential_field_is_required_for_submission() {
    let empty = RequestContent::default();
    assert_eq!(
        empty.missing_for_submission(),
        [
            "request_type",
            "requesting_authority",
            "title",
            "summary_of_facts",
            "legal_basis",
            "purpose",
            "measures"
        ]
    );
}

#[test]
fn an_urgent_request_needs_an_urgency_reason() {
    let mut draft = request_in(State::Draft, Direction::Outgoing, "FR-MOJ");
    draft.content.priority = Some(Priority::Urgent);
    assert_eq!(
        attempt(&draft, &Command::new(Action::Submit), &staff(Role::Judge)).unwrap_err(),
        "INCOMPLETE_REQUEST"
    );
    draft.content.urgency_reason = text("Suspect leaves the country on Friday");
    assert!(attempt(&draft, &Command::new(Action::Submit), &staff(Role::Judge)).is_ok());
}

#[test]
fn submission_needs_a_registered_and_active_partner() {
    let draft = request_in(State::Draft, Direction::Outgoing, "FR-MOJ");
    let judge = staff(Role::Judge);
    let submit = Command::new(Action::Submit);
    let inactive = partner("FR-MOJ", false);
    let refused = transition(&draft, &submit, &judge, &ctx(&inactive, at(1))).unwrap_err();
    assert_eq!(refused.reason(), "PARTNER_INACTIVE");
    let unregistered = Context::new(at(1), None, Default::default());
    let unknown = transition(&draft, &submit, &judge, &unregistered).unwrap_err();
    assert_eq!(unknown.reason(), "UNKNOWN_PARTNER");
    // A guard of the lifecycle, as the contract says of SUBMIT: not malformed input.
    assert_eq!(unknown.class(), ErrorClass::FailedPrecondition);
    assert_eq!(refused.class(), ErrorClass::FailedPrecondition);
}

#[test]
fn clarification_postponement_and_withdrawal_need_a_text() {
    let cases = [
        (State::UnderReview, Action::RequestClarification, Direction::Incoming),
        (State::ClarificationRequested, Action::ProvideClarification, Direction::Outgoing),
        (State::InExecution, Action::Postpone, Direction::Incoming),
        (State::Accepted, Action::Withdraw, Direction::Outgoing),
    ];
    for (state, action, direction) in cases {
        let request = request_in(state, direction, "FR-MOJ");
        let mut command = Command::new(action);
        command.reason = text(" \n ");
        assert_eq!(
            attempt(&request, &command, &staff(Role::Supervisor)).unwrap_err(),
            "REASON_REQUIRED",
            "{action}"
        );
        command.reason = text("Which account numbers?");
        assert!(attempt(&request, &command, &staff(Role::Supervisor)).is_ok(), "{action}");
    }
}

#[test]
fn proposing_conditions_needs_at_least_one_and_other_needs_a_text() {
    let review = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let judge = staff(Role::Judge);
    assert_eq!(
        attempt(&review, &Command::new(Action::ProposeConditions), &judge).unwrap_err(),
        "CONDITIONS_REQUIRED"
    );

    let mut command = Command::new(Action::ProposeConditions);
    command.conditions = vec![ProposedCondition { kind: ConditionKind::Other, text: LongText::default() }];
    assert_eq!(attempt(&review, &command, &judge).unwrap_err(), "INVALID_FIELDS");

    command.conditions = vec![
        ProposedCondition { kind: ConditionKind::DeathPenaltyNonImposition, text: LongText::default() },
        ProposedCondition { kind: ConditionKind::Other, text: text("Return the originals") },
    ];
    let proposed = attempt(&review, &command, &judge).unwrap().request;
    assert_eq!(proposed.state, State::ConditionsProposed);
    assert!(proposed.conditions.iter().all(|c| c.status == ConditionStatus::Proposed));
}

#[test]
fn accepting_conditions_records_each_as_an_assurance_given_by_the_requesting_side() {
    let mut pending = request_in(State::ConditionsProposed, Direction::Incoming, "FR-MOJ");
    pending.conditions = vec![Condition {
        kind: ConditionKind::FairTrial,
        text: LongText::default(),
        status: ConditionStatus::Proposed,
        given_by: None,
        given_time: None,
    }];
    let accepted =
        attempt(&pending, &Command::new(Action::AcceptConditions), &partner_principal("FR-MOJ")).unwrap();
    let assurance = &accepted.request.conditions[0];
    assert_eq!(assurance.status, ConditionStatus::Accepted);
    assert_eq!(assurance.given_by.as_deref(), Some("partner-system"));
    assert_eq!(assurance.given_time, Some(at(10)));

    let declined =
        attempt(&pending, &Command::new(Action::DeclineConditions), &partner_principal("FR-MOJ")).unwrap();
    assert_eq!(declined.request.state, State::UnderReview);
    assert_eq!(declined.request.conditions.len(), 1, "declined conditions stay on the request");
    assert_eq!(declined.request.conditions[0].status, ConditionStatus::Declined);
}

#[test]
fn refusal_needs_a_ground_and_a_reason() {
    let review = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let judge = staff(Role::Judge);
    let mut refuse = Command::new(Action::Refuse);
    refuse.reason = text("Contrary to public order");
    assert_eq!(attempt(&review, &refuse, &judge).unwrap_err(), "REFUSAL_GROUND_REQUIRED");
    refuse.refusal_grounds = vec![RefusalGround::SovereigntySecurityPublicOrder];
    refuse.reason = LongText::default();
    assert_eq!(attempt(&review, &refuse, &judge).unwrap_err(), "REASON_REQUIRED");
    refuse.reason = text("Contrary to public order");
    let refused = attempt(&review, &refuse, &judge).unwrap().request;
    assert_eq!(refused.state, State::Refused);
    // What the statistics read: when it was decided, and on which grounds.
    assert_eq!((refused.decided_time, refused.executed_time), (Some(at(10)), None));
    assert_eq!(refused.refusal_grounds, [RefusalGround::SovereigntySecurityPublicOrder]);
}

#[test]
fn refusing_on_a_curable_ground_requires_consultation_first() {
    let review = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let judge = staff(Role::Judge);
    for ground in RefusalGround::ALL.iter().copied() {
        let mut refuse = Command::new(Action::Refuse);
        refuse.reason = text("reason");
        refuse.refusal_grounds = vec![RefusalGround::Other, ground];
        let got = attempt(&review, &refuse, &judge);
        if ground.conditions_could_cure() {
            assert_eq!(got.unwrap_err(), "CONSULTATION_REQUIRED", "{ground}");
            refuse.consultation_waived_reason =
                text("The requesting state declined any assurance in writing");
            assert!(attempt(&review, &refuse, &judge).is_ok(), "{ground} with waiver");
        } else {
            assert!(got.is_ok(), "{ground}");
        }
    }
}

#[test]
fn a_refusal_after_conditions_were_proposed_needs_no_waiver() {
    let mut consulted = request_in(State::ConditionsProposed, Direction::Incoming, "FR-MOJ");
    consulted.conditions = vec![Condition {
        kind: ConditionKind::DeathPenaltyNonImposition,
        text: LongText::default(),
        status: ConditionStatus::Proposed,
        given_by: None,
        given_time: None,
    }];
    let mut refuse = Command::new(Action::Refuse);
    refuse.reason = text("No assurance was given");
    refuse.refusal_grounds = vec![RefusalGround::DeathPenaltyRisk];
    assert_eq!(attempt(&consulted, &refuse, &staff(Role::Judge)).unwrap().request.state, State::Refused);
}

#[test]
fn completing_execution_needs_an_outcome_and_a_partial_one_a_reason() {
    let executing = request_in(State::InExecution, Direction::Incoming, "FR-MOJ");
    let officer = staff(Role::EvidenceOfficer);
    let mut complete = Command::new(Action::CompleteExecution);
    assert_eq!(attempt(&executing, &complete, &officer).unwrap_err(), "OUTCOME_REQUIRED");
    complete.outcome = Some(Outcome::Partial);
    assert_eq!(attempt(&executing, &complete, &officer).unwrap_err(), "REASON_REQUIRED");
    complete.reason = text("Two of three witnesses could not be located");
    assert_eq!(attempt(&executing, &complete, &officer).unwrap().request.state, State::Executed);
    complete.outcome = Some(Outcome::Full);
    complete.reason = LongText::default();
    let executed = attempt(&executing, &complete, &officer).unwrap().request;
    assert_eq!(executed.executed_time, Some(at(10)), "when the execution was completed");
    assert!(executed.decided_time.is_none() && executed.refusal_grounds.is_empty());
}

#[test]
fn acknowledgement_starts_the_clock_by_priority() {
    let mut submitted = request_in(State::Submitted, Direction::Incoming, "FR-MOJ");
    let registrar = staff(Role::Registrar);
    let received = attempt(&submitted, &Command::new(Action::Acknowledge), &registrar).unwrap().request;
    assert_eq!(received.received_time, Some(at(10)));
    assert_eq!(received.clock.due_at, Some(at(10) + chrono::Duration::days(90)));
    submitted.content.priority = Some(Priority::Urgent);
    let urgent = attempt(&submitted, &Command::new(Action::Acknowledge), &registrar).unwrap().request;
    assert_eq!(urgent.clock.due_at, Some(at(10 + 72)));
}

#[test]
fn a_request_is_overdue_only_while_active_and_running_past_its_due_date() {
    let review = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let due = review.clock.due_at.unwrap();
    assert!(!review.is_overdue(due));
    assert!(review.is_overdue(due + chrono::Duration::seconds(1)));
    let waiting = request_in(State::ClarificationRequested, Direction::Incoming, "FR-MOJ");
    assert!(!waiting.is_overdue(due + chrono::Duration::days(400)));
    let executed = request_in(State::Executed, Direction::Incoming, "FR-MOJ");
    assert!(!executed.is_overdue(due + chrono::Duration::days(400)));
}

#[test]
fn every_transition_yields_an_event_with_actor_states_and_details() {
    let review = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let mut refuse = Command::new(Action::Refuse);
    refuse.reason = text("Political offence");
    refuse.refusal_grounds = vec![RefusalGround::PoliticalOffence];
    let event = attempt(&review, &refuse, &staff(Role::Judge)).unwrap().event;
    assert_eq!(event.action, "REFUSE");
    assert_eq!((event.from_state, event.to_state), (Some(State::UnderReview), State::Refused));
    assert_eq!(event.actor.roles, ["judge"]);
    assert_eq!(event.details["refusal_grounds"][0], "POLITICAL_OFFENCE");
    assert_eq!(event.details["reason"], "Political offence");
    assert!(event.audience.ncijc && event.audience.partner);
}

#[test]
fn a_partner_creates_incoming_requests_for_itself_and_staff_create_outgoing_ones() {
    let fr = partner("FR-MOJ", true);
    let id = RequestId::parse("0192f0c1-7a3e-7cc0-8000-000000000002").unwrap();
    let by_partner =
        create(id, None, complete_content(), &partner_principal("FR-MOJ"), &ctx(&fr, at(1))).unwrap();
    assert_eq!((by_partner.direction, by_partner.partner_code.as_str()), (Direction::Incoming, "FR-MOJ"));
    assert!(!by_partner.event.audience.ncijc, "a partner's draft is its own until submitted");

    let elsewhere =
        create(id, Some(code("DE-BJ")), complete_content(), &partner_principal("FR-MOJ"), &ctx(&fr, at(1)));
    assert_eq!(elsewhere.unwrap_err().reason(), "INVALID_FIELDS");

    let by_staff =
        create(id, Some(code("FR-MOJ")), complete_content(), &staff(Role::Registrar), &ctx(&fr, at(1)))
            .unwrap();
    assert_eq!(by_staff.direction, Direction::Outgoing);
    assert!(by_staff.event.audience.ncijc && !by_staff.event.audience.partner);

    let no_partner = create(id, None, complete_content(), &staff(Role::Registrar), &ctx(&fr, at(1)));
    assert_eq!(no_partner.unwrap_err().reason(), "INVALID_FIELDS");
    let auditor =
        create(id, Some(code("FR-MOJ")), complete_content(), &staff(Role::Auditor), &ctx(&fr, at(1)));
    assert_eq!(auditor.unwrap_err().reason(), "MISSING_ROLE");
    let inactive = partner("FR-MOJ", false);
    let to_inactive =
        create(id, Some(code("FR-MOJ")), complete_content(), &staff(Role::Judge), &ctx(&inactive, at(1)));
    assert_eq!(to_inactive.unwrap_err().reason(), "PARTNER_INACTIVE");
}

#[test]
fn content_changes_only_in_draft_and_by_the_requesting_side() {
    let fr = partner("FR-MOJ", true);
    let mut content = complete_content();
    content.title = ShortText::parse("New title").unwrap();
    let patch = Patch { content: Some((content, vec!["title".into()])), ..Patch::default() };
    let draft = request_in(State::Draft, Direction::Outgoing, "FR-MOJ");
    let updated = update(&draft, &patch, &staff(Role::LegalOfficer), &ctx(&fr, at(2))).unwrap();
    assert_eq!(updated.request.content.title.as_str(), "New title");
    assert_eq!(updated.event.details["changed"]["title"], "New title");

    let submitted = request_in(State::Submitted, Direction::Outgoing, "FR-MOJ");
    let late = update(&submitted, &patch, &staff(Role::LegalOfficer), &ctx(&fr, at(2))).unwrap_err();
    assert_eq!(late.reason(), "NOT_EDITABLE");
    let evidence = update(&draft, &patch, &staff(Role::EvidenceOfficer), &ctx(&fr, at(2))).unwrap_err();
    assert_eq!(evidence.reason(), "MISSING_ROLE");
}

#[test]
fn only_supervisors_extend_due_dates_later_and_with_a_justification() {
    let fr = partner("FR-MOJ", true);
    let review = request_in(State::UnderReview, Direction::Incoming, "FR-MOJ");
    let due = review.clock.due_at.unwrap();
    let extend = |new_due, why: &str| Patch { due: Some((new_due, text(why))), ..Patch::default() };
    let later = due + chrono::Duration::days(30);
    let ok = update(
        &review,
        &extend(later, "Awaiting forensic report"),
        &staff(Role::Supervisor),
        &ctx(&fr, at(2)),
    )
    .unwrap();
    assert_eq!(ok.request.clock.due_at, Some(later));
    assert!(!ok.event.audience.partner, "deadline changes are internal to the NCIJC");
    let reason = |patch, who| update(&review, &patch, &who, &ctx(&fr, at(2))).unwrap_err().reason();
    assert_eq!(reason(extend(later, ""), staff(Role::Supervisor)), "REASON_REQUIRED");
    assert_eq!(reason(extend(due, "why"), staff(Role::Supervisor)), "DUE_DATE_NOT_EXTENDED");
    assert_eq!(reason(extend(later, "why"), staff(Role::Judge)), "MISSING_ROLE");
    assert_eq!(reason(extend(later, "why"), partner_principal("FR-MOJ")), "NOT_ALLOWED");
}
