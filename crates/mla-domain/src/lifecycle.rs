//! The lifecycle of a request: the transition table of `lifecycle.md` as data, the guards each action
//! must pass, and the functions that decide a change and return it, with its audit event, as data.

use serde_json::{Map, Value, json};

use crate::Timestamp;
use crate::audit::{Actor, Audience, EventDraft};
use crate::clock::{Clock, SlaPolicy};
use crate::document::Document;
use crate::error::{DomainError, FieldViolation};
use crate::paper::{Agent, Circumstances, PaperRecord};
use crate::partner::Partner;
use crate::personal;
use crate::principal::{Party, Principal, Role};
use crate::request::{
    Action, Condition, ConditionKind, ConditionStatus, Confidentiality, Direction, Outcome, RefusalGround,
    Request, RequestContent, State,
};
use crate::text::{LongText, PartnerCode, RequestId, ShortText};
use crate::visibility::Scope;

/// The two sides of a request: the one that asks and the one that is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Requesting,
    Requested,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Requesting => "requesting",
            Side::Requested => "requested",
        }
    }

    pub fn parse(raw: &str) -> Option<Side> {
        [Side::Requesting, Side::Requested].into_iter().find(|side| side.as_str() == raw)
    }

    pub fn other(self) -> Side {
        match self {
            Side::Requesting => Side::Requested,
            Side::Requested => Side::Requesting,
        }
    }

    /// The NCIJC's side of a request in `direction`: it is asked by INCOMING requests.
    pub fn of_ncijc(direction: Direction) -> Side {
        if direction == Direction::Incoming { Side::Requested } else { Side::Requesting }
    }
}

/// One row of the transition table: from which states an action leads where, which side takes it,
/// and which NCIJC roles may take it for the NCIJC. A partner's system acts for its partner whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub from: &'static [State],
    pub to: State,
    pub side: Side,
    pub roles: &'static [Role],
}

use Role::{EvidenceOfficer, Judge, LegalOfficer, Registrar, Supervisor};
use State::*;

/// The transition table (`lifecycle.md`, "Transitions").
pub fn rule(action: Action) -> Rule {
    let (from, to, side, roles): (&'static [State], State, Side, &'static [Role]) = match action {
        Action::Submit => (&[Draft], Submitted, Side::Requesting, &[Judge, Supervisor]),
        Action::Acknowledge => (&[Submitted], Received, Side::Requested, &[Registrar, Supervisor]),
        Action::StartReview => {
            (&[Received], UnderReview, Side::Requested, &[LegalOfficer, Judge, Supervisor])
        }
        Action::RequestClarification => {
            (&[UnderReview], ClarificationRequested, Side::Requested, &[LegalOfficer, Judge, Supervisor])
        }
        Action::ProvideClarification => {
            (&[ClarificationRequested], UnderReview, Side::Requesting, &[LegalOfficer, Judge, Supervisor])
        }
        Action::ProposeConditions => {
            (&[UnderReview], ConditionsProposed, Side::Requested, &[Judge, Supervisor])
        }
        Action::AcceptConditions => (&[ConditionsProposed], Accepted, Side::Requesting, &[Judge, Supervisor]),
        Action::DeclineConditions => {
            (&[ConditionsProposed], UnderReview, Side::Requesting, &[Judge, Supervisor])
        }
        Action::Accept => (&[UnderReview], Accepted, Side::Requested, &[Judge, Supervisor]),
        Action::Refuse => {
            (&[UnderReview, ConditionsProposed], Refused, Side::Requested, &[Judge, Supervisor])
        }
        Action::StartExecution => {
            (&[Accepted], InExecution, Side::Requested, &[EvidenceOfficer, LegalOfficer, Supervisor])
        }
        Action::Postpone => (&[InExecution], Postponed, Side::Requested, &[Judge, Supervisor]),
        Action::Resume => (&[Postponed], InExecution, Side::Requested, &[Judge, EvidenceOfficer, Supervisor]),
        Action::CompleteExecution => {
            (&[InExecution], Executed, Side::Requested, &[EvidenceOfficer, Supervisor])
        }
        Action::Close => (&[Executed, Refused], Closed, Side::Requesting, &[LegalOfficer, Judge, Supervisor]),
        Action::Withdraw => (
            &[
                Draft,
                Submitted,
                Received,
                UnderReview,
                ClarificationRequested,
                ConditionsProposed,
                Accepted,
                InExecution,
                Postponed,
            ],
            Withdrawn,
            Side::Requesting,
            &[Judge, Supervisor],
        ),
    };
    Rule { from, to, side, roles }
}

/// NCIJC roles that may draft requests and edit the NCIJC's drafts.
pub const DRAFTING_ROLES: &[Role] = &[Registrar, LegalOfficer, Judge, Supervisor];
/// NCIJC roles that may assign a request to a staff member.
pub const ASSIGNING_ROLES: &[Role] = &[Registrar, Supervisor];
/// The witness protection unit decides which persons are protected, in any request not yet terminal.
pub const PROTECTING_ROLES: &[Role] = &[Role::ProtectionOfficer];
/// NCIJC roles that may extend a due date (with a recorded justification).
pub const DEADLINE_ROLES: &[Role] = &[Supervisor];

/// Which side of `request` the principal stands on, if any.
pub fn side_of(
    principal: &Principal,
    request_direction: Direction,
    partner_code: &PartnerCode,
) -> Option<Side> {
    let ncijc_side = Side::of_ncijc(request_direction);
    match principal.party() {
        Party::Ncijc(_) => Some(ncijc_side),
        Party::Partner(own) if own == partner_code => Some(ncijc_side.other()),
        Party::Partner(_) => None,
    }
}

/// The direction a principal's new request takes: the creator is always the requesting side.
pub fn direction_created_by(principal: &Principal) -> Direction {
    if principal.is_ncijc() { Direction::Outgoing } else { Direction::Incoming }
}

/// A condition as the requested side proposes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProposedCondition {
    pub kind: ConditionKind,
    pub text: LongText,
}

/// An action with the details it carries. Which details an action needs is up to its guard.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Command {
    pub action: Action,
    /// Questions, answers, or the reason for postponing, withdrawing, refusing or a partial outcome.
    pub reason: LongText,
    pub refusal_grounds: Vec<RefusalGround>,
    pub consultation_waived_reason: LongText,
    pub conditions: Vec<ProposedCondition>,
    pub outcome: Option<Outcome>,
}

impl Command {
    /// An action with no details.
    pub fn new(action: Action) -> Self {
        Self {
            action,
            reason: LongText::default(),
            refusal_grounds: Vec::new(),
            consultation_waived_reason: LongText::default(),
            conditions: Vec::new(),
            outcome: None,
        }
    }

    /// Whether deciding this command reads the partner registry: only SUBMIT's guard does (the
    /// partner must be registered and active), and acts recorded on paper (the partner's channel), so
    /// the other actions need not load the entry.
    pub fn consults_partner(&self, record: Option<&PaperRecord>) -> bool {
        self.action == Action::Submit || record.is_some()
    }
}

/// What the domain needs to know besides the request and the principal.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub now: Timestamp,
    /// The registry entry of the request's partner, if it is registered.
    pub partner: Option<&'a Partner>,
    pub sla: SlaPolicy,
    /// What staff record of an act on paper, if the act happened there (`crate::paper`).
    pub record: Option<&'a PaperRecord>,
    /// The document the record names as its letter, as the store has it.
    pub letter: Option<&'a Document>,
}

impl<'a> Context<'a> {
    /// The context of an act that happens now, through the API.
    pub fn new(now: Timestamp, partner: Option<&'a Partner>, sla: SlaPolicy) -> Self {
        Self { now, partner, sla, record: None, letter: None }
    }

    /// Who acts, and when, on a request of `partner_code`.
    fn agent(
        &self,
        principal: &Principal,
        partner_code: &PartnerCode,
        request: Option<&Request>,
    ) -> Result<Agent, DomainError> {
        let at = Circumstances {
            partner_code,
            partner: self.partner,
            request,
            letter: self.letter,
            now: self.now,
        };
        Agent::resolve(principal, self.record, at)
    }
}

/// A decided change: the request as it is to be stored and the event that records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub request: Request,
    pub event: EventDraft,
}

/// NOT_FOUND for a request `principal` may not see, so that nobody learns what they may not see.
fn check_visible(request: &Request, principal: &Principal) -> Result<(), DomainError> {
    let seen = Scope::of(principal).admits(request);
    if seen { Ok(()) } else { Err(DomainError::NotFound) }
}

/// Checks that `principal` may take `action` on `request` as it stands: it must see the request
/// (else NOT_FOUND, so that nobody learns what they may not see), the state must allow the action,
/// and the principal must be on the acting side with a role the table names.
pub fn permit(request: &Request, action: Action, principal: &Principal) -> Result<Rule, DomainError> {
    check_visible(request, principal)?;
    let rule = rule(action);
    if !rule.from.contains(&request.state) {
        return Err(DomainError::IllegalTransition { state: request.state, action });
    }
    require_side_and_role(principal, request, rule.side, rule.roles, action.as_str())?;
    Ok(rule)
}

fn require_side_and_role(
    principal: &Principal,
    request: &Request,
    side: Side,
    roles: &'static [Role],
    action: &'static str,
) -> Result<(), DomainError> {
    if side_of(principal, request.direction, &request.partner_code) != Some(side) {
        return Err(DomainError::WrongSide { action, required: side.as_str() });
    }
    if principal.is_ncijc() && !principal.has_any_role(roles) {
        return Err(DomainError::MissingRole { action, allowed: roles });
    }
    Ok(())
}

/// Where requests wait on `role`: each direction and state in which the table lets that role act for
/// the NCIJC (a work queue: a registrar's is what awaits acknowledgement, a judge's what awaits a
/// decision). WITHDRAW does not count: it is a way out open to the requesting side all along, not a
/// task that waits on anyone.
pub fn awaiting(role: Role) -> Vec<(Direction, State)> {
    let mut waiting = Vec::new();
    let tasks = Action::ALL.iter().filter(|&&action| action != Action::Withdraw).map(|&action| rule(action));
    for rule in tasks.filter(|rule| rule.roles.contains(&role)) {
        for &direction in Direction::ALL.iter().filter(|&&d| Side::of_ncijc(d) == rule.side) {
            for &state in rule.from {
                if !waiting.contains(&(direction, state)) {
                    waiting.push((direction, state));
                }
            }
        }
    }
    waiting
}

/// The actions `principal` may take on `request` now: exactly those that [`transition`] would not
/// refuse for its state, side or role. Guards on an action's details (a reason, a ground) are checked
/// when the action is taken.
pub fn allowed_actions(request: &Request, principal: &Principal) -> Vec<Action> {
    Action::ALL.iter().copied().filter(|&action| permit(request, action, principal).is_ok()).collect()
}

/// Decides a transition: checks the table, then the action's guard, then returns the request in its
/// new state with its clock, times and conditions updated, and the event that records the change.
pub fn transition(
    request: &Request,
    command: &Command,
    principal: &Principal,
    ctx: &Context<'_>,
) -> Result<Transition, DomainError> {
    // The caller must see the request before anything it records is looked at.
    check_visible(request, principal)?;
    let agent = ctx.agent(principal, &request.partner_code, Some(request))?;
    let principal = &agent.principal;
    let rule = permit(request, command.action, principal)?;
    guard(request, command, ctx)?;

    let now = agent.time;
    let mut next = request.clone();
    next.state = rule.to;
    next.update_time = now;
    next.clock = match command.action {
        Action::Acknowledge => Clock::started(now, ctx.sla.for_priority(request.content.priority())),
        _ => request.clock.after_entering(rule.to, now),
    };
    if rule.to.is_terminal() {
        next.close_time = Some(now);
    }
    // Each is reached once: no transition leads back out of ACCEPTED, REFUSED or EXECUTED to before them.
    match rule.to {
        State::Accepted | State::Refused => next.decided_time = Some(now),
        State::Executed => next.executed_time = Some(now),
        _ => {}
    }
    match command.action {
        Action::Submit => next.submit_time = Some(now),
        Action::Acknowledge => next.received_time = Some(now),
        Action::Refuse => next.refusal_grounds = command.refusal_grounds.clone(),
        Action::ProposeConditions => next.conditions.extend(command.conditions.iter().map(|c| Condition {
            kind: c.kind,
            text: c.text.clone(),
            status: ConditionStatus::Proposed,
            given_by: None,
            given_time: None,
        })),
        Action::AcceptConditions => answer_conditions(&mut next, ConditionStatus::Accepted, principal, now),
        Action::DeclineConditions => answer_conditions(&mut next, ConditionStatus::Declined, principal, now),
        _ => {}
    }

    let event = EventDraft {
        time: now,
        details: agent.annotate(transition_details(command)),
        actor: agent.actor,
        action: command.action.as_str().to_owned(),
        from_state: Some(request.state),
        to_state: next.state,
        audience: Audience::of(&next, false),
    };
    Ok(Transition { request: next, event })
}

/// The guards of `lifecycle.md`: each refuses with its own reason.
fn guard(request: &Request, command: &Command, ctx: &Context<'_>) -> Result<(), DomainError> {
    let needs_text = |text: &LongText, field: &'static str| {
        if text.is_blank() {
            Err(DomainError::MissingReason { action: command.action.as_str(), field })
        } else {
            Ok(())
        }
    };
    match command.action {
        Action::Submit => {
            let missing = request.content.missing_for_submission();
            if !missing.is_empty() {
                return Err(DomainError::IncompleteRequest { missing });
            }
            require_active_partner(&request.partner_code, ctx.partner)
        }
        Action::RequestClarification | Action::ProvideClarification | Action::Postpone | Action::Withdraw => {
            needs_text(&command.reason, "reason")
        }
        Action::ProposeConditions => {
            if command.conditions.is_empty() {
                return Err(DomainError::MissingConditions);
            }
            let violations: Vec<_> = command
                .conditions
                .iter()
                .enumerate()
                .filter(|(_, c)| c.kind == ConditionKind::Other && c.text.is_blank())
                .map(|(i, _)| {
                    FieldViolation::new(
                        format!("conditions[{i}].text"),
                        "a condition of kind OTHER needs a text",
                    )
                })
                .collect();
            if violations.is_empty() { Ok(()) } else { Err(DomainError::InvalidFields(violations)) }
        }
        Action::Refuse => {
            if command.refusal_grounds.is_empty() {
                return Err(DomainError::MissingRefusalGround);
            }
            needs_text(&command.reason, "reason")?;
            // Consultation before refusal (UNTOC art. 18(26)): a ground that assurances could cure
            // may be relied on only after conditions were proposed, or with the consultation waived
            // for a stated reason.
            let never_consulted = request.conditions.is_empty();
            match command.refusal_grounds.iter().find(|g| g.conditions_could_cure()) {
                Some(ground) if never_consulted && command.consultation_waived_reason.is_blank() => {
                    Err(DomainError::ConsultationRequired { ground: ground.as_str() })
                }
                _ => Ok(()),
            }
        }
        Action::CompleteExecution => match command.outcome {
            None => Err(DomainError::MissingOutcome),
            Some(Outcome::Partial) => needs_text(&command.reason, "reason"),
            Some(Outcome::Full) => Ok(()),
        },
        _ => Ok(()),
    }
}

fn require_active_partner(code: &PartnerCode, partner: Option<&Partner>) -> Result<(), DomainError> {
    match partner {
        Some(p) if &p.code == code && p.active => Ok(()),
        Some(p) if &p.code == code => Err(DomainError::PartnerInactive(code.to_string())),
        _ => Err(DomainError::UnknownPartner(code.to_string())),
    }
}

/// Records the requesting side's answer to every pending condition: who gave it and when.
fn answer_conditions(request: &mut Request, status: ConditionStatus, principal: &Principal, now: Timestamp) {
    for condition in request.conditions.iter_mut().filter(|c| c.status == ConditionStatus::Proposed) {
        condition.status = status;
        condition.given_by = Some(principal.subject().to_owned());
        condition.given_time = Some(now);
    }
}

fn transition_details(command: &Command) -> Value {
    let mut details = Map::new();
    let mut put_text = |key: &str, text: &LongText| {
        if !text.is_blank() {
            details.insert(key.into(), json!(text.as_str()));
        }
    };
    put_text("reason", &command.reason);
    put_text("consultation_waived_reason", &command.consultation_waived_reason);
    if !command.refusal_grounds.is_empty() {
        details.insert("refusal_grounds".into(), json!(command.refusal_grounds));
    }
    if command.action == Action::ProposeConditions {
        let proposed: Vec<_> =
            command.conditions.iter().map(|c| json!({"kind": c.kind, "text": c.text})).collect();
        details.insert("conditions".into(), Value::Array(proposed));
    }
    if let Some(outcome) = command.outcome.filter(|_| command.action == Action::CompleteExecution) {
        details.insert("outcome".into(), json!(outcome));
    }
    // The due date is internal to the NCIJC while the transition is shared with the partner, so it
    // stays out of the details: it follows from the event times and the SLA, and a supervisor's
    // extension is an internal UPDATE event of its own.
    Value::Object(details)
}

/// A request about to be registered: storage gives it its reference and its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    pub id: RequestId,
    pub direction: Direction,
    pub partner_code: PartnerCode,
    /// DRAFT, or SUBMITTED for a request registered from a paper partner's letter.
    pub state: State,
    pub content: RequestContent,
    /// Blank, except for a strictly confidential request that NCIJC staff write: it stays in the
    /// hands of its author ([`keep_in_hand`]).
    pub assignee: ShortText,
    pub create_time: Timestamp,
    pub submit_time: Option<Timestamp>,
    pub event: EventDraft,
}

/// Decides the creation of a draft. The creator is the requesting side: NCIJC staff draft OUTGOING
/// requests to a partner they name; a partner's system drafts INCOMING requests for itself. A
/// request that a paper partner sent is registered by staff on its behalf (`ctx.record`): INCOMING,
/// and already SUBMITTED, since it exists for the NCIJC only once it has arrived, complete as
/// submission requires, dated when it arrived.
pub fn create(
    id: RequestId,
    partner_code: Option<PartnerCode>,
    content: RequestContent,
    principal: &Principal,
    ctx: &Context<'_>,
) -> Result<NewRequest, DomainError> {
    let acted_for = ctx.record.and_then(|r| r.on_behalf_of.clone());
    let named = match (&partner_code, &acted_for) {
        (Some(named), Some(acted_for)) if named != acted_for => {
            return Err(DomainError::InvalidFields(vec![FieldViolation::new(
                "request.partner_code",
                "a request registered on a partner's behalf is that partner's: leave it empty or name the same",
            )]));
        }
        (named, acted_for) => named.clone().or_else(|| acted_for.clone()),
    };
    let agent = match named.clone().or_else(|| principal.partner_code().cloned()) {
        Some(code) => ctx.agent(principal, &code, None)?,
        None => Agent::caller(principal, ctx.now),
    };
    let caller = principal;
    let principal = &agent.principal;
    let partner_code = match (principal.party(), named) {
        (Party::Ncijc(_), _) if !principal.has_any_role(DRAFTING_ROLES) => {
            return Err(DomainError::MissingRole { action: "CREATE", allowed: DRAFTING_ROLES });
        }
        (Party::Ncijc(_), Some(code)) => code,
        (Party::Ncijc(_), None) => {
            return Err(DomainError::InvalidFields(vec![FieldViolation::new(
                "request.partner_code",
                "NCIJC staff name the partner the request is addressed to",
            )]));
        }
        (Party::Partner(own), Some(code)) if own != &code => {
            return Err(DomainError::InvalidFields(vec![FieldViolation::new(
                "request.partner_code",
                "a partner creates requests under its own partner code only (or leaves it empty)",
            )]));
        }
        (Party::Partner(own), _) => own.clone(),
    };
    require_active_partner(&partner_code, ctx.partner)?;
    let direction = direction_created_by(principal);
    let on_paper = agent.actor.on_behalf_of.is_some();
    if on_paper {
        let missing = content.missing_for_submission();
        if !missing.is_empty() {
            return Err(DomainError::IncompleteRequest { missing });
        }
    }
    let state = if on_paper { State::Submitted } else { State::Draft };
    let assignee = keep_in_hand(&content, &ShortText::default(), caller);
    let event = EventDraft {
        time: agent.time,
        action: "CREATE".into(),
        from_state: None,
        to_state: state,
        details: agent.annotate(json!({ "content": personal::committed(&content) })),
        audience: Audience::of_parts(direction, &partner_code, state, false),
        actor: agent.actor,
    };
    Ok(NewRequest {
        id,
        direction,
        partner_code,
        state,
        content,
        assignee,
        create_time: event.time,
        submit_time: on_paper.then_some(event.time),
        event,
    })
}

/// When `fields` change nothing but which persons are protected, the places (from 0) of the persons
/// protected afterwards: a decision of the witness protection unit, not an edit of the content.
fn protection_change(
    current: &RequestContent,
    next: &RequestContent,
    fields: &[String],
) -> Option<Vec<usize>> {
    let same_persons = current.persons.len() == next.persons.len()
        && current
            .persons
            .iter()
            .zip(&next.persons)
            .all(|(a, b)| (&a.name, a.role, &a.nationality) == (&b.name, b.role, &b.nationality));
    let flags_differ = current.persons.iter().zip(&next.persons).any(|(a, b)| a.protected != b.protected);
    (fields == ["persons"] && same_persons && flags_differ)
        .then(|| next.persons.iter().enumerate().filter(|(_, p)| p.protected).map(|(i, _)| i).collect())
}

/// The assignee of a request with `content`: unchanged, except that NCIJC staff who make a request
/// strictly confidential while nobody handles it become its handler, since among staff only the
/// assignee (and those who oversee) may see it: they would otherwise lose sight of what they wrote.
fn keep_in_hand(content: &RequestContent, assignee: &ShortText, principal: &Principal) -> ShortText {
    let strict = content.confidentiality == Some(Confidentiality::StrictlyConfidential);
    match ShortText::parse(principal.subject()) {
        Ok(author) if strict && assignee.is_blank() && principal.is_ncijc() => author,
        _ => assignee.clone(),
    }
}

/// A change to a request's fields, outside the transition table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Patch {
    /// New content, with the names of the fields that changed (only while the request is a draft).
    pub content: Option<(RequestContent, Vec<String>)>,
    /// A new assignee (empty to unassign).
    pub assignee: Option<ShortText>,
    /// A later due date and the justification for it.
    pub due: Option<(Timestamp, LongText)>,
}

/// Decides an update. Content changes only in DRAFT and by the requesting side's drafters; the
/// assignee and the due date are NCIJC matters (registrars and supervisors assign, supervisors
/// extend deadlines with a justification), for any request not yet terminal.
pub fn update(
    request: &Request,
    patch: &Patch,
    principal: &Principal,
    ctx: &Context<'_>,
) -> Result<Transition, DomainError> {
    if !Scope::of(principal).admits(request) {
        return Err(DomainError::NotFound);
    }
    if patch.content.is_none() && patch.assignee.is_none() && patch.due.is_none() {
        return Err(DomainError::InvalidFields(vec![FieldViolation::new(
            "update_mask",
            "names no field to change",
        )]));
    }
    if request.state.is_terminal() {
        return Err(DomainError::NotEditable {
            field: "request".into(),
            why: "the request is withdrawn or closed",
        });
    }
    let mut next = request.clone();
    let mut changed = Map::new();
    // A draft's author sets the flags as it writes; afterwards they are the protection unit's to set.
    if let Some((content, fields)) = &patch.content
        && request.state != State::Draft
        && let Some(protected) = protection_change(&request.content, content, fields)
    {
        if !principal.has_any_role(PROTECTING_ROLES) {
            return Err(DomainError::MissingRole { action: "PROTECT", allowed: PROTECTING_ROLES });
        }
        // The persons by their place in the list: names stay out of the audit trail.
        changed.insert("protected_persons".into(), json!(protected));
        next.content.persons = content.persons.clone();
    } else if let Some((content, fields)) = &patch.content {
        if request.state != State::Draft {
            return Err(DomainError::NotEditable {
                field: fields.first().cloned().unwrap_or_default(),
                why: "a request's content can change only while it is a draft",
            });
        }
        require_side_and_role(principal, request, Side::Requesting, DRAFTING_ROLES, "UPDATE")?;
        let after = personal::committed(content);
        for field in fields {
            changed.insert(field.clone(), after.get(field).cloned().unwrap_or(Value::Null));
        }
        next.content = content.clone();
        next.assignee = keep_in_hand(content, &request.assignee, principal);
    }
    if let Some(assignee) = &patch.assignee {
        if !principal.is_ncijc() {
            return Err(DomainError::NotAllowed("assignment is internal to the NCIJC"));
        }
        if !principal.has_any_role(ASSIGNING_ROLES) {
            return Err(DomainError::MissingRole { action: "ASSIGN", allowed: ASSIGNING_ROLES });
        }
        changed.insert("assignee".into(), json!(assignee));
        next.assignee = assignee.clone();
    }
    if let Some((due_at, justification)) = &patch.due {
        if !principal.is_ncijc() {
            return Err(DomainError::NotAllowed("deadlines are internal to the NCIJC"));
        }
        if !principal.has_any_role(DEADLINE_ROLES) {
            return Err(DomainError::MissingRole { action: "EXTEND_DEADLINE", allowed: DEADLINE_ROLES });
        }
        let current = request.clock.due_at.ok_or(DomainError::NotEditable {
            field: "due_time".into(),
            why: "the clock starts when the request is acknowledged",
        })?;
        if *due_at <= current {
            return Err(DomainError::DueDateNotExtended);
        }
        if justification.is_blank() {
            return Err(DomainError::MissingReason { action: "EXTEND_DEADLINE", field: "reason" });
        }
        changed.insert("due_time".into(), json!(due_at));
        changed.insert("reason".into(), json!(justification));
        next.clock.due_at = Some(*due_at);
    }
    next.update_time = ctx.now;
    let event = EventDraft {
        time: ctx.now,
        actor: Actor::of(principal),
        action: "UPDATE".into(),
        from_state: Some(request.state),
        to_state: request.state,
        details: json!({ "changed": changed }),
        // An update that touches an internal field is internal as a whole.
        audience: Audience::of(&next, patch.assignee.is_some() || patch.due.is_some()),
    };
    Ok(Transition { request: next, event })
}
