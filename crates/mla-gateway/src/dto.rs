//! The gateway's JSON: serde types that are its contract with staff tools, and their translation to
//! and from the protobuf messages of `mla.v1`.
//!
//! The JSON mirrors the proto (snake_case field names, the same resources), with two deliberate
//! differences that make it pleasant to use from a browser: enums are their names without the proto
//! prefix (`"UNDER_REVIEW"`, not `"STATE_UNDER_REVIEW"` or `4`), and timestamps are RFC 3339 text.
//! Every output member is always present (empty text, empty lists, `null` for an unset enum or time),
//! so that a client never has to guess whether a member was forgotten or is empty.

use chrono::{DateTime, Utc};
use mla_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::constraints::*;

/// Declares a JSON enum that crosses to and from a proto enum by variant, with the JSON names being
/// the proto names without their prefix (checked by a test for every value of the contract).
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident: $pb:ident = $prefix:literal { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in the contract's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as the proto's number.
            pub fn to_wire(self) -> i32 {
                match self { $($name::$variant => pb::$pb::$variant as i32),+ }
            }

            /// The value for a proto number; `None` for UNSPECIFIED and numbers this build does not
            /// know (a newer broker may add values). The match is exhaustive, so a value added to the
            /// proto fails the build until it has its JSON twin here.
            pub fn from_wire(raw: i32) -> Option<Self> {
                match pb::$pb::try_from(raw).ok()? {
                    pb::$pb::Unspecified => None,
                    $(pb::$pb::$variant => Some($name::$variant),)+
                }
            }

            /// The JSON name, which is the proto name without its prefix.
            pub fn name(self) -> &'static str {
                let wire = match self { $($name::$variant => pb::$pb::$variant),+ };
                wire.as_str_name().strip_prefix($prefix).unwrap_or_else(|| wire.as_str_name())
            }
        }
    };
}

wire_enum!(
    /// What a document is.
    DocumentKind: DocumentKind = "DOCUMENT_KIND_" {
        LetterOfRequest, SupportingDocument, Translation, Assurance, Evidence, Correspondence, Other,
    }
);
wire_enum!(
    /// Who may see a document: both sides (SHARED) or only the side that uploaded it (INTERNAL).
    Audience: Audience = "AUDIENCE_" { Shared, Internal }
);
wire_enum!(
    /// Whether evidence waits for release to the requesting side.
    ReleaseState: ReleaseState = "RELEASE_STATE_" { NotApplicable, Withheld, Released }
);
wire_enum!(
    /// The lifecycle state of a request. WITHDRAWN and CLOSED are terminal.
    State: State = "STATE_" {
        Draft, Submitted, Received, UnderReview, ClarificationRequested, ConditionsProposed, Accepted,
        InExecution, Postponed, Executed, Refused, Withdrawn, Closed,
    }
);
wire_enum!(
    /// A lifecycle action, taken with `POST /v1/requests/{id}/transitions`.
    Action: Action = "ACTION_" {
        Submit, Acknowledge, StartReview, RequestClarification, ProvideClarification, ProposeConditions,
        AcceptConditions, DeclineConditions, Accept, Refuse, StartExecution, Postpone, Resume,
        CompleteExecution, Close, Withdraw,
    }
);
wire_enum!(
    /// Which way a request goes: INCOMING (a partner asks Iraq) or OUTGOING (Iraq asks a partner).
    Direction: Direction = "DIRECTION_" { Incoming, Outgoing }
);
wire_enum!(
    /// The kind of assistance a request seeks.
    RequestType: RequestType = "REQUEST_TYPE_" {
        Evidence, SearchAndSeizure, ServiceOfDocuments, AssetFreeze, Extradition, TransferOfProceedings,
        TransferOfSentencedPerson, SpontaneousInformation, DigitalEvidence, Other,
    }
);
wire_enum!(
    /// How fast a request must be handled; unset on create means NORMAL.
    Priority: Priority = "PRIORITY_" { Normal, Urgent }
);
wire_enum!(
    /// How a request must be handled; unset on create means STANDARD.
    Confidentiality: Confidentiality = "CONFIDENTIALITY_" { Standard, Confidential, StrictlyConfidential }
);
wire_enum!(
    /// A ground for refusing a request.
    RefusalGround: RefusalGround = "REFUSAL_GROUND_" {
        SovereigntySecurityPublicOrder, PoliticalOffence, PersecutionRisk, DeathPenaltyRisk, TortureRisk,
        FairTrialRisk, NeBisInIdem, NoDualCriminality, MilitaryOffence, ContraryToDomesticLaw,
        InsufficientInformation, DataProtection, Other,
    }
);
wire_enum!(
    /// The subject of a condition attached to assistance.
    ConditionKind: ConditionKind = "CONDITION_KIND_" {
        DeathPenaltyNonImposition, NonTorture, FairTrial, Speciality, NoOnwardTransfer, DataProtection,
        Confidentiality, Other,
    }
);
wire_enum!(
    /// Where a condition stands: PROPOSED, then ACCEPTED or DECLINED.
    ConditionStatus: ConditionStatus = "CONDITION_STATUS_" { Proposed, Accepted, Declined }
);
wire_enum!(
    /// How completely a request was executed.
    Outcome: Outcome = "OUTCOME_" { Full, Partial }
);
wire_enum!(
    /// A person's role in the case.
    PersonRole: PersonRole = "PERSON_ROLE_" { Suspect, Witness, Victim, Other }
);
wire_enum!(
    /// Whether a partner is a state's authority or an international mechanism.
    PartnerKind: PartnerKind = "PARTNER_KIND_" { StateAuthority, InternationalMechanism }
);
wire_enum!(
    /// How a partner exchanges requests: through the API (SYSTEM) or on paper (PAPER), its acts then
    /// recorded by NCIJC staff on its behalf.
    Channel: Channel = "CHANNEL_" { System, Paper }
);
wire_enum!(
    /// How a paper partner's act reached the NCIJC.
    ReceivedVia: ReceivedVia = "RECEIVED_VIA_" { DiplomaticNote, Post, Email, Courier, Interpol, Other }
);

fn time_out(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    ts.and_then(|ts| DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?))
}

pub fn time_in(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

/// A mutual legal-assistance request, as the caller may see it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Request {
    /// The request's id (a UUIDv7), assigned by the broker.
    pub id: String,
    /// The registry reference, such as `IN-2026-000042` or `OUT-2026-000007`.
    pub reference: String,
    /// The code of the partner on the other side, such as `FR-MOJ`.
    pub partner_code: String,
    pub direction: Option<Direction>,
    pub request_type: Option<RequestType>,
    pub state: Option<State>,
    pub priority: Option<Priority>,
    pub urgency_reason: String,
    pub requesting_authority: String,
    pub partner_reference: String,
    pub title: String,
    pub summary_of_facts: String,
    pub offences: Vec<String>,
    /// The assistance sought, one measure per entry.
    pub measures: Vec<String>,
    pub purpose: String,
    pub legal_basis: String,
    pub persons: Vec<Person>,
    pub confidentiality: Option<Confidentiality>,
    /// The conditions proposed and the answers to them; they stay on the request for good.
    pub conditions: Vec<Condition>,
    /// The subject of the staff member responsible for the request; empty when nobody is. Internal
    /// to the NCIJC: always empty for a partner.
    pub assignee: String,
    /// The deadline for the requested side, set at ACKNOWLEDGE. Internal to the NCIJC: always null for
    /// a partner.
    pub due_time: Option<DateTime<Utc>>,
    /// The entity tag of this version; the `ETag` header carries it quoted.
    pub etag: String,
    pub create_time: Option<DateTime<Utc>>,
    pub update_time: Option<DateTime<Utc>>,
    pub submit_time: Option<DateTime<Utc>>,
    pub received_time: Option<DateTime<Utc>>,
    pub close_time: Option<DateTime<Utc>>,
    /// The actions the caller may take now (a guard may still refuse one of them).
    pub allowed_actions: Vec<Action>,
    /// True when the request is active, its clock runs and its due time has passed (always false for a
    /// partner, as the due time is internal).
    pub overdue: bool,
}

impl From<pb::Request> for Request {
    fn from(r: pb::Request) -> Self {
        Request {
            direction: Direction::from_wire(r.direction),
            request_type: RequestType::from_wire(r.request_type),
            state: State::from_wire(r.state),
            priority: Priority::from_wire(r.priority),
            confidentiality: Confidentiality::from_wire(r.confidentiality),
            persons: r.persons.into_iter().map(Person::from).collect(),
            conditions: r.conditions.into_iter().map(Condition::from).collect(),
            due_time: time_out(r.due_time.as_ref()),
            create_time: time_out(r.create_time.as_ref()),
            update_time: time_out(r.update_time.as_ref()),
            submit_time: time_out(r.submit_time.as_ref()),
            received_time: time_out(r.received_time.as_ref()),
            close_time: time_out(r.close_time.as_ref()),
            allowed_actions: r.allowed_actions.into_iter().filter_map(Action::from_wire).collect(),
            id: r.id,
            reference: r.reference,
            partner_code: r.partner_code,
            urgency_reason: r.urgency_reason,
            requesting_authority: r.requesting_authority,
            partner_reference: r.partner_reference,
            title: r.title,
            summary_of_facts: r.summary_of_facts,
            offences: r.offences,
            measures: r.measures,
            purpose: r.purpose,
            legal_basis: r.legal_basis,
            assignee: r.assignee,
            etag: r.etag,
            overdue: r.overdue,
        }
    }
}

/// Every member of the Request resource, input or output: a create body may carry output-only
/// members (they are ignored, as AIP-203 says), but not a member the resource does not have.
pub const REQUEST_MEMBERS: &[&str] = &[
    "id",
    "reference",
    "partner_code",
    "direction",
    "request_type",
    "state",
    "priority",
    "urgency_reason",
    "requesting_authority",
    "partner_reference",
    "title",
    "summary_of_facts",
    "offences",
    "measures",
    "purpose",
    "legal_basis",
    "persons",
    "confidentiality",
    "conditions",
    "assignee",
    "due_time",
    "etag",
    "create_time",
    "update_time",
    "submit_time",
    "received_time",
    "close_time",
    "allowed_actions",
    "overdue",
];

/// A person concerned by a request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Person {
    #[schema(value_type = ShortText)]
    pub name: String,
    pub role: Option<PersonRole>,
    /// An ISO 3166-1 alpha-2 code, such as `IQ`; empty if unknown.
    #[schema(value_type = Country)]
    pub nationality: String,
    /// True when the person is under witness protection.
    pub protected: bool,
}

impl From<pb::Person> for Person {
    fn from(p: pb::Person) -> Self {
        Person {
            name: p.name,
            role: PersonRole::from_wire(p.role),
            nationality: p.nationality,
            protected: p.protected,
        }
    }
}

impl From<Person> for pb::Person {
    fn from(p: Person) -> Self {
        pb::Person {
            name: p.name,
            role: p.role.map_or(0, PersonRole::to_wire),
            nationality: p.nationality,
            protected: p.protected,
        }
    }
}

/// A condition attached to assistance, and the requesting side's answer to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Condition {
    pub kind: Option<ConditionKind>,
    pub text: String,
    pub status: Option<ConditionStatus>,
    /// Who accepted or declined the condition; empty while PROPOSED.
    pub given_by: String,
    pub given_time: Option<DateTime<Utc>>,
}

impl From<pb::Condition> for Condition {
    fn from(c: pb::Condition) -> Self {
        Condition {
            kind: ConditionKind::from_wire(c.kind),
            status: ConditionStatus::from_wire(c.status),
            given_time: time_out(c.given_time.as_ref()),
            text: c.text,
            given_by: c.given_by,
        }
    }
}

/// A condition proposed with PROPOSE_CONDITIONS.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NewCondition {
    pub kind: Option<ConditionKind>,
    /// The wording; required when `kind` is OTHER.
    #[schema(value_type = LongText)]
    pub text: String,
}

/// The fields a caller writes into a request: every member is optional. In a create body, what is
/// absent is left empty; in a PATCH body, exactly the members present are changed (`null` clears).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewRequest {
    /// The partner on the other side: required from NCIJC staff; a partner may omit it.
    #[schema(value_type = Option<PartnerCode>)]
    pub partner_code: Option<String>,
    pub request_type: Option<RequestType>,
    pub priority: Option<Priority>,
    #[schema(value_type = Option<LongText>)]
    pub urgency_reason: Option<String>,
    #[schema(value_type = Option<ShortText>)]
    pub requesting_authority: Option<String>,
    #[schema(value_type = Option<ShortText>)]
    pub partner_reference: Option<String>,
    #[schema(value_type = Option<ShortText>)]
    pub title: Option<String>,
    #[schema(value_type = Option<LongText>)]
    pub summary_of_facts: Option<String>,
    #[schema(value_type = Option<ShortTexts>)]
    pub offences: Option<Vec<String>>,
    #[schema(value_type = Option<ShortTexts>)]
    pub measures: Option<Vec<String>>,
    #[schema(value_type = Option<LongText>)]
    pub purpose: Option<String>,
    #[schema(value_type = Option<ShortText>)]
    pub legal_basis: Option<String>,
    #[schema(value_type = Option<Persons>)]
    pub persons: Option<Vec<Person>>,
    pub confidentiality: Option<Confidentiality>,
    #[schema(value_type = Option<ShortText>)]
    pub assignee: Option<String>,
    pub due_time: Option<DateTime<Utc>>,
}

impl NewRequest {
    /// The proto request with these fields and `id`.
    pub fn into_wire(self, id: String) -> pb::Request {
        pb::Request {
            id,
            partner_code: self.partner_code.unwrap_or_default(),
            request_type: self.request_type.map_or(0, RequestType::to_wire),
            priority: self.priority.map_or(0, Priority::to_wire),
            urgency_reason: self.urgency_reason.unwrap_or_default(),
            requesting_authority: self.requesting_authority.unwrap_or_default(),
            partner_reference: self.partner_reference.unwrap_or_default(),
            title: self.title.unwrap_or_default(),
            summary_of_facts: self.summary_of_facts.unwrap_or_default(),
            offences: self.offences.unwrap_or_default(),
            measures: self.measures.unwrap_or_default(),
            purpose: self.purpose.unwrap_or_default(),
            legal_basis: self.legal_basis.unwrap_or_default(),
            persons: self.persons.unwrap_or_default().into_iter().map(Into::into).collect(),
            confidentiality: self.confidentiality.map_or(0, Confidentiality::to_wire),
            assignee: self.assignee.unwrap_or_default(),
            due_time: self.due_time.map(time_in),
            ..Default::default()
        }
    }
}

/// How a request registered on a paper partner's behalf arrived: the members of a create body
/// beside the request's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct OnBehalf {
    /// The PAPER partner that sent the request; the request is then INCOMING and SUBMITTED at once
    /// (a registrar or legal officer only).
    #[schema(value_type = PartnerCodeOrEmpty)]
    pub on_behalf_of_partner: String,
    /// How it arrived; required with `on_behalf_of_partner`.
    pub received_via: Option<ReceivedVia>,
    /// When it arrived: its create and submit times. Not in the future; absent: now.
    pub effective_time: Option<DateTime<Utc>>,
    /// The letter's own reference (a note verbale's number).
    #[schema(value_type = ShortText)]
    pub letter_reference: String,
}

/// The members of [`OnBehalf`].
pub const ON_BEHALF_MEMBERS: &[&str] =
    &["on_behalf_of_partner", "received_via", "effective_time", "letter_reference"];

impl OnBehalf {
    /// The create call with these particulars.
    pub fn into_wire(self, request: pb::Request, request_id: String) -> pb::CreateRequestRequest {
        pb::CreateRequestRequest {
            request: Some(request),
            request_id,
            on_behalf_of_partner: self.on_behalf_of_partner,
            received_via: self.received_via.map_or(0, ReceivedVia::to_wire),
            effective_time: self.effective_time.map(time_in),
            letter_reference: self.letter_reference,
        }
    }
}

/// The body of `POST /v1/requests`: the request's fields and, for a request received on paper, how
/// it arrived.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewRequestBody {
    #[serde(flatten)]
    pub fields: NewRequest,
    #[serde(flatten)]
    pub on_behalf: OnBehalf,
}

/// A PATCH body for a request: the members to change, and why. The update mask sent to the broker
/// is the set of members present (other than `reason`); so `{"assignee": "judge-2"}` changes only
/// the assignee.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RequestPatch {
    #[serde(flatten)]
    pub fields: NewRequest,
    /// Why the change is made; required when a supervisor moves `due_time`.
    #[schema(value_type = Option<LongText>)]
    pub reason: Option<String>,
}

/// The body of `POST /v1/requests/{id}/transitions`: an action and the details it needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Transition {
    /// The action to take. (Optional to serde only so that its absence is the broker's to refuse,
    /// with the same violation as over gRPC.)
    #[schema(required = true, value_type = Action)]
    pub action: Option<Action>,
    /// The questions, answer or reason that goes with the action.
    #[schema(value_type = LongText)]
    pub reason: String,
    /// The grounds for REFUSE.
    pub refusal_grounds: Vec<RefusalGround>,
    /// Why a refusal on a curable ground skips consultation on conditions (UNTOC art. 18(26)).
    #[schema(value_type = LongText)]
    pub consultation_waived_reason: String,
    /// The conditions for PROPOSE_CONDITIONS.
    pub conditions: Vec<NewCondition>,
    /// The outcome for COMPLETE_EXECUTION.
    pub outcome: Option<Outcome>,
    /// The PAPER partner whose act a registrar or legal officer records on its behalf.
    #[schema(value_type = PartnerCodeOrEmpty)]
    pub on_behalf_of_partner: String,
    /// How the partner's act arrived; required with `on_behalf_of_partner`.
    pub received_via: Option<ReceivedVia>,
    /// When the act happened on paper (for ACKNOWLEDGE, the date of receipt, from which the deadline
    /// runs): not in the future, not before the request's last change. Absent: now.
    pub effective_time: Option<DateTime<Utc>>,
    /// The letter's own reference (a note verbale's number).
    #[schema(value_type = ShortText)]
    pub letter_reference: String,
    /// The scanned letter: a document of this request.
    #[schema(value_type = IdOrEmpty)]
    pub letter_document_id: String,
}

impl Transition {
    pub fn into_wire(self, id: String, etag: String, request_id: String) -> pb::TransitionRequestRequest {
        pb::TransitionRequestRequest {
            id,
            action: self.action.map_or(0, Action::to_wire),
            etag,
            request_id,
            reason: self.reason,
            refusal_grounds: self.refusal_grounds.into_iter().map(RefusalGround::to_wire).collect(),
            consultation_waived_reason: self.consultation_waived_reason,
            conditions: self
                .conditions
                .into_iter()
                .map(|c| pb::Condition {
                    kind: c.kind.map_or(0, ConditionKind::to_wire),
                    text: c.text,
                    ..Default::default()
                })
                .collect(),
            outcome: self.outcome.map_or(0, Outcome::to_wire),
            on_behalf_of_partner: self.on_behalf_of_partner,
            received_via: self.received_via.map_or(0, ReceivedVia::to_wire),
            effective_time: self.effective_time.map(time_in),
            letter_reference: self.letter_reference,
            letter_document_id: self.letter_document_id,
        }
    }
}

/// One page of requests, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RequestList {
    pub requests: Vec<Request>,
    /// Pass it as `page_token` for the next page; empty on the last page.
    pub next_page_token: String,
}

/// One entry of a request's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// The event's position in the broker-wide log; the SSE `id` of the event.
    pub cursor: i64,
    pub request_id: String,
    /// The event's position in its request's trail, from 1.
    pub seq: i64,
    pub time: Option<DateTime<Utc>>,
    pub actor: Actor,
    /// `CREATE`, `UPDATE` or the action taken, such as `SUBMIT`; accept values not listed.
    pub action: String,
    /// The state before the change; `null` for CREATE.
    pub from_state: Option<State>,
    pub to_state: Option<State>,
    /// The particulars of the change as a JSON object; members depend on `action`.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// The previous event's hash (hex).
    pub prev_hash: String,
    /// SHA-256 over the canonical encoding of this event and `prev_hash` (hex).
    pub hash: String,
    /// The event's place in the chain of the events the caller's side reads of this request, from 1
    /// (set in a request's trail, 0 in the live feed).
    pub view_seq: i64,
    /// The previous `view_hash` in the caller's view; empty for the first.
    pub view_prev_hash: String,
    /// SHA-256 over `mla-view-v1`, `view_seq`, `hash` and `view_prev_hash` (hex).
    pub view_hash: String,
}

impl From<pb::Event> for Event {
    fn from(e: pb::Event) -> Self {
        // The broker sends the details as JSON text; a client is better served by the object. Text
        // that is not JSON (never sent today) is passed on as a string rather than dropped.
        let details = if e.details.is_empty() {
            serde_json::Value::Object(Default::default())
        } else {
            serde_json::from_str(&e.details).unwrap_or(serde_json::Value::String(e.details))
        };
        Event {
            cursor: e.cursor,
            request_id: e.request_id,
            seq: e.seq,
            time: time_out(e.time.as_ref()),
            actor: e.actor.into(),
            action: e.action,
            from_state: State::from_wire(e.from_state),
            to_state: State::from_wire(e.to_state),
            details,
            prev_hash: e.prev_hash,
            hash: e.hash,
            view_seq: e.view_seq,
            view_prev_hash: e.view_prev_hash,
            view_hash: e.view_hash,
        }
    }
}

/// The principal who caused an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    pub subject: String,
    pub roles: Vec<String>,
    /// The partner code of a partner principal; empty for NCIJC staff.
    pub partner_code: String,
    /// The paper partner whose act this staff member recorded on its behalf; empty otherwise.
    pub on_behalf_of_partner: String,
}

impl From<Option<pb::Actor>> for Actor {
    fn from(actor: Option<pb::Actor>) -> Self {
        let actor = actor.unwrap_or_default();
        Actor {
            subject: actor.subject,
            roles: actor.roles,
            partner_code: actor.partner_code,
            on_behalf_of_partner: actor.on_behalf_of_partner,
        }
    }
}

/// One page of a request's audit events, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventList {
    pub events: Vec<Event>,
    pub next_page_token: String,
}

/// A partner of the NCIJC: a foreign central authority or an international mechanism.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Partner {
    /// The partner's code, such as `FR-MOJ`; it never changes.
    pub code: String,
    pub name: String,
    /// ISO 3166-1 alpha-2; empty for an international body.
    pub country: String,
    pub kind: Option<PartnerKind>,
    pub legal_bases: Vec<String>,
    /// Whether requests to or from the partner may be submitted.
    pub active: bool,
    pub channel: Option<Channel>,
    pub create_time: Option<DateTime<Utc>>,
    pub update_time: Option<DateTime<Utc>>,
    pub etag: String,
}

impl From<pb::Partner> for Partner {
    fn from(p: pb::Partner) -> Self {
        Partner {
            kind: PartnerKind::from_wire(p.kind),
            channel: Channel::from_wire(p.channel),
            create_time: time_out(p.create_time.as_ref()),
            update_time: time_out(p.update_time.as_ref()),
            code: p.code,
            name: p.name,
            country: p.country,
            legal_bases: p.legal_bases,
            active: p.active,
            etag: p.etag,
        }
    }
}

/// Every member of the Partner resource (see [`REQUEST_MEMBERS`] for why output-only ones are listed).
pub const PARTNER_MEMBERS: &[&str] = &[
    "code",
    "name",
    "country",
    "kind",
    "legal_bases",
    "active",
    "channel",
    "create_time",
    "update_time",
    "etag",
];

/// The fields an administrator writes into a partner entry. On create, an absent `active` means
/// inactive, as in the gRPC contract.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewPartner {
    /// It cannot change afterwards.
    #[schema(required = true, value_type = PartnerCode)]
    pub code: Option<String>,
    #[schema(required = true, value_type = RequiredShortText)]
    pub name: Option<String>,
    #[schema(value_type = Option<Country>)]
    pub country: Option<String>,
    #[schema(required = true, value_type = PartnerKind)]
    pub kind: Option<PartnerKind>,
    #[schema(value_type = Option<ShortTexts>)]
    pub legal_bases: Option<Vec<String>>,
    pub active: Option<bool>,
    /// SYSTEM when absent.
    pub channel: Option<Channel>,
}

impl NewPartner {
    pub fn into_wire(self) -> pb::Partner {
        pb::Partner {
            code: self.code.unwrap_or_default(),
            name: self.name.unwrap_or_default(),
            country: self.country.unwrap_or_default(),
            kind: self.kind.map_or(0, PartnerKind::to_wire),
            legal_bases: self.legal_bases.unwrap_or_default(),
            active: self.active.unwrap_or_default(),
            channel: self.channel.map_or(0, Channel::to_wire),
            ..Default::default()
        }
    }
}

/// A PATCH body for a partner: the members present are changed (`{"active": false}` deactivates).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PartnerPatch {
    /// Not blank: a partner needs a name.
    #[schema(value_type = RequiredShortText)]
    pub name: Option<String>,
    #[schema(value_type = Option<Country>)]
    pub country: Option<String>,
    pub kind: Option<PartnerKind>,
    #[schema(value_type = Option<ShortTexts>)]
    pub legal_bases: Option<Vec<String>>,
    pub active: Option<bool>,
    pub channel: Option<Channel>,
}

impl PartnerPatch {
    pub fn into_wire(self, code: String) -> pb::Partner {
        NewPartner {
            code: Some(code),
            name: self.name,
            country: self.country,
            kind: self.kind,
            legal_bases: self.legal_bases,
            active: self.active,
            channel: self.channel,
        }
        .into_wire()
    }
}

/// One page of partners, by code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PartnerList {
    pub partners: Vec<Partner>,
    pub next_page_token: String,
}

/// The filters and page of `GET /v1/requests` (and of the CSV export). Every filter is optional,
/// and an empty value (`state=`) does not filter.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestFilter {
    /// Only requests in this state.
    #[param(value_type = Option<State>)]
    pub state: Option<String>,
    /// Only requests in this direction.
    #[param(value_type = Option<Direction>)]
    pub direction: Option<String>,
    /// Only requests with this partner.
    #[param(value_type = Option<PartnerCode>)]
    pub partner_code: Option<String>,
    /// Only requests of this type.
    #[param(value_type = Option<RequestType>)]
    pub request_type: Option<String>,
    /// `true`: only overdue requests; `false` does not filter. NCIJC staff only (400 for a partner).
    #[param(value_type = Option<bool>)]
    pub overdue: Option<String>,
    /// Only requests assigned to this subject; `me` is the caller. NCIJC staff only (400 for a partner).
    pub assignee: Option<String>,
    /// A work queue: only requests on which this NCIJC role (`registrar`, `legal_officer`, `judge`,
    /// `evidence_officer`, `supervisor`) has an action to take now. NCIJC staff only.
    pub awaiting_role: Option<String>,
    /// Only requests received (acknowledged) at or after this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub received_after: Option<String>,
    /// Only requests received before this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub received_before: Option<String>,
    /// Only requests closed or withdrawn at or after this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub closed_after: Option<String>,
    /// Only requests closed or withdrawn before this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub closed_before: Option<String>,
    /// Free text matched against the reference, the partner reference and the title.
    #[param(value_type = Option<SearchText>)]
    pub query: Option<String>,
    /// `due_time`: the internal due date first, then the requests without one, oldest first (a work
    /// queue's order); absent or empty: newest first. NCIJC staff only.
    #[param(value_type = Option<OrderBy>)]
    pub order_by: Option<String>,
    /// At most this many requests (0 or absent: 50; capped at 500). For the CSV export, the size of
    /// each page fetched from the broker.
    #[param(value_type = Option<i32>, minimum = 0)]
    pub page_size: Option<String>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

/// A page of a list that has no filters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most this many items (0 or absent: 50; capped at 500).
    #[param(value_type = Option<i32>, minimum = 0)]
    pub page_size: Option<String>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

/// The page and the inactive flag of `GET /v1/partners`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PartnerQuery {
    /// At most this many partners (0 or absent: 50; capped at 500).
    #[param(value_type = Option<i32>, minimum = 0)]
    pub page_size: Option<String>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
    /// Also list inactive partners (admin only; no effect for others).
    #[param(value_type = Option<bool>)]
    pub include_inactive: Option<String>,
}

/// Where the live feed starts.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WatchQuery {
    /// The cursor of the last event processed; it wins over a `Last-Event-ID` header. Absent (and no
    /// header): the feed replays from the beginning of the log.
    #[param(value_type = Option<i64>, minimum = 0)]
    pub after: Option<String>,
}

/// The answer of the health endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `SERVING` or `NOT_SERVING`.
    pub status: String,
}

/// A document of a request: its metadata; the content is at `/v1/documents/{id}/content`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Document {
    pub id: String,
    pub request_id: String,
    pub kind: Option<DocumentKind>,
    pub title: String,
    /// As the uploader named the file (any script); never a path.
    pub file_name: String,
    /// The media type the uploader declared.
    pub media_type: String,
    /// The media type detected from the content's first bytes.
    pub detected_media_type: String,
    pub size_bytes: i64,
    /// The content's SHA-256 (lowercase hex): the download's `ETag`.
    pub sha256: String,
    /// BCP 47 (`ar`, `ckb`, `en`, `fr` ...); empty when not given.
    pub language: String,
    /// For a TRANSLATION: the document it translates.
    pub translation_of: String,
    pub audience: Option<Audience>,
    pub release_state: Option<ReleaseState>,
    /// The accepted conditions under which released evidence may be used.
    pub use_restrictions: Vec<String>,
    pub uploaded_by: Actor,
    pub create_time: Option<DateTime<Utc>>,
    /// The broker's signed receipt of the upload (a compact JWS, EdDSA, checkable with
    /// `/.well-known/jwks.json`); answered to the side that uploaded the document, left out otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub receipt: String,
}

impl From<pb::Document> for Document {
    fn from(d: pb::Document) -> Self {
        Document {
            id: d.id,
            request_id: d.request_id,
            kind: DocumentKind::from_wire(d.kind),
            title: d.title,
            file_name: d.file_name,
            media_type: d.media_type,
            detected_media_type: d.detected_media_type,
            size_bytes: d.size_bytes,
            sha256: d.sha256,
            language: d.language,
            translation_of: d.translation_of,
            audience: Audience::from_wire(d.audience),
            release_state: ReleaseState::from_wire(d.release_state),
            use_restrictions: d.use_restrictions,
            uploaded_by: d.uploaded_by.into(),
            create_time: time_out(d.create_time.as_ref()),
            receipt: d.receipt,
        }
    }
}

/// The broker's public signing keys (RFC 7517 JWKS), to check receipts and evidence packages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// One Ed25519 public key (RFC 8037).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// The key's RFC 7638 thumbprint, named by each signature's `kid`.
    pub kid: String,
    /// `EdDSA`.
    pub alg: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: String,
}

impl From<pb::ListSigningKeysResponse> for Jwks {
    fn from(answer: pb::ListSigningKeysResponse) -> Self {
        let keys = answer
            .keys
            .into_iter()
            .map(|k| Jwk { kty: k.kty, crv: k.crv, x: k.x, kid: k.kid, alg: k.alg, use_: k.r#use })
            .collect();
        Jwks { keys }
    }
}

/// One page of a request's documents, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DocumentList {
    pub documents: Vec<Document>,
    pub next_page_token: String,
}

/// What a document is: the `metadata` part of an upload (JSON), before the `file` part, and the
/// `metadata` of an upload session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct NewDocument {
    #[schema(required = true, value_type = DocumentKind)]
    pub kind: Option<DocumentKind>,
    #[schema(required = true, value_type = RequiredShortText)]
    pub title: String,
    /// In a multipart upload, defaults to the `file` part's file name.
    #[schema(required = true, value_type = FileName)]
    pub file_name: String,
    /// In a multipart upload, defaults to the `file` part's Content-Type.
    #[schema(value_type = MediaType)]
    pub media_type: String,
    #[schema(value_type = LanguageTag)]
    pub language: String,
    #[schema(value_type = IdOrEmpty)]
    pub translation_of: String,
    /// SHARED when absent.
    pub audience: Option<Audience>,
    /// When given and the content's SHA-256 differs, nothing is stored (400 SHA256_MISMATCH).
    #[schema(value_type = Sha256OrEmpty)]
    pub expected_sha256: String,
}

/// The members of the `metadata` part.
pub const NEW_DOCUMENT_MEMBERS: &[&str] = &[
    "kind",
    "title",
    "file_name",
    "media_type",
    "language",
    "translation_of",
    "audience",
    "expected_sha256",
];

impl NewDocument {
    pub fn into_wire(self, request_id: String, idempotency_key: String) -> pb::DocumentMetadata {
        pb::DocumentMetadata {
            request_id,
            kind: self.kind.map_or(0, DocumentKind::to_wire),
            title: self.title,
            file_name: self.file_name,
            media_type: self.media_type,
            language: self.language,
            translation_of: self.translation_of,
            audience: self.audience.map_or(0, Audience::to_wire),
            expected_sha256: self.expected_sha256,
            request_id_key: idempotency_key,
        }
    }
}

impl From<pb::DocumentMetadata> for NewDocument {
    fn from(m: pb::DocumentMetadata) -> Self {
        NewDocument {
            kind: DocumentKind::from_wire(m.kind),
            audience: Audience::from_wire(m.audience),
            title: m.title,
            file_name: m.file_name,
            media_type: m.media_type,
            language: m.language,
            translation_of: m.translation_of,
            expected_sha256: m.expected_sha256,
        }
    }
}

/// The JSON body of `POST /v1/requests/{id}/uploads`, for a client that does not speak tus (which
/// sends the same in `Upload-Length` and `Upload-Metadata`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewUpload {
    /// What the document is: the members of a multipart upload's `metadata` part.
    #[schema(required = true)]
    pub metadata: NewDocument,
    /// The content's whole size in bytes.
    #[schema(required = true, value_type = i64, minimum = 0)]
    pub size_bytes: Option<i64>,
}

/// The members of a [`NewUpload`] body.
pub const NEW_UPLOAD_MEMBERS: &[&str] = &["metadata", "size_bytes"];

/// A resumable upload session (tus): the document's metadata and size announced first, its content
/// then sent in as many `PATCH`es as the link needs, each going on from `offset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UploadSession {
    /// The session's id: the upload's URL is `/v1/uploads/{id}`.
    pub id: String,
    /// The request the document goes to.
    pub request_id: String,
    /// What the document is, as the session was started.
    pub metadata: NewDocument,
    /// The content's whole size in bytes.
    pub size_bytes: i64,
    /// How many bytes of the content the broker holds durably: where the next `PATCH` goes on.
    pub offset: i64,
    /// When the session and its partial content are removed if the content is not complete.
    pub expire_time: Option<DateTime<Utc>>,
    /// The document, once the content is complete; `null` until then.
    pub document: Option<Document>,
}

impl From<pb::UploadSession> for UploadSession {
    fn from(s: pb::UploadSession) -> Self {
        let metadata = s.metadata.unwrap_or_default();
        UploadSession {
            id: s.id,
            request_id: metadata.request_id.clone(),
            metadata: metadata.into(),
            size_bytes: s.size_bytes,
            offset: s.offset,
            expire_time: time_out(s.expire_time.as_ref()),
            document: s.document.map(Document::from),
        }
    }
}

/// The body of `POST /v1/requests/{id}/documents:release`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// The withheld documents to release.
    #[schema(value_type = Vec<Id>)]
    pub document_ids: Vec<String>,
}

/// The released documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReleasedDocuments {
    pub documents: Vec<Document>,
}

/// A message on a request, or an internal case note of the NCIJC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub id: String,
    pub request_id: String,
    pub author: Actor,
    /// SHARED (both sides) or INTERNAL (NCIJC staff only).
    pub audience: Option<Audience>,
    /// Byte for byte as written.
    pub body: String,
    /// Documents of the same request that go with it.
    pub attachment_ids: Vec<String>,
    pub create_time: Option<DateTime<Utc>>,
    /// When the other side first read it; `null` while unread (and always for internal notes).
    pub read_time: Option<DateTime<Utc>>,
}

impl From<pb::Message> for Message {
    fn from(m: pb::Message) -> Self {
        Message {
            author: m.author.into(),
            audience: Audience::from_wire(m.audience),
            create_time: time_out(m.create_time.as_ref()),
            read_time: time_out(m.read_time.as_ref()),
            id: m.id,
            request_id: m.request_id,
            body: m.body,
            attachment_ids: m.attachment_ids,
        }
    }
}

/// The body of `POST /v1/requests/{id}/messages`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NewMessage {
    /// SHARED (read by both sides) or INTERNAL (a case note of the NCIJC).
    #[schema(required = true, value_type = Audience)]
    pub audience: Option<Audience>,
    #[schema(required = true, value_type = RequiredLongText)]
    pub body: String,
    /// Ids of documents of the same request.
    #[schema(value_type = AttachmentIds)]
    pub attachment_ids: Vec<String>,
}

impl NewMessage {
    pub fn into_wire(self) -> pb::Message {
        pb::Message {
            audience: self.audience.map_or(0, Audience::to_wire),
            body: self.body,
            attachment_ids: self.attachment_ids,
            ..Default::default()
        }
    }
}

/// One page of a request's messages, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageList {
    pub messages: Vec<Message>,
    pub next_page_token: String,
}

/// The body of `POST /v1/requests/{id}/messages:read`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MarkRead {
    /// The last message read: a message of the other side; every unread one up to it is read.
    #[schema(required = true, value_type = Id)]
    pub up_to_message_id: String,
}

/// The body of `POST /v1/requests/{id}/erasures`: whose identity a deletion order erases.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Erasure {
    /// The person's place in the request's `persons`, from 0.
    #[schema(required = true, minimum = 0)]
    pub person: i32,
    /// The deletion order executed, recorded in the event.
    #[schema(required = true, value_type = RequiredLongText)]
    pub legal_reference: String,
}

/// The answer to an erasure: the request's new etag, and nothing else of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Erased {
    pub etag: String,
}

/// How many messages were read now for the first time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReadCount {
    pub read_count: i32,
}

/// The language of a printed letter.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LetterQuery {
    /// `en` (the default) or `ar` (right to left).
    #[param(value_type = Option<LetterLanguage>)]
    pub language: Option<String>,
}

/// The period of a report (`GET /v1/statistics`, `GET /v1/reports/human-rights`), its direction,
/// and the answer's format.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// The start of the period, included (RFC 3339). A request belongs to the period by when it was
    /// submitted: an INCOMING one when it reached the NCIJC, an OUTGOING one when the NCIJC sent it.
    #[param(required = true, value_type = String, format = DateTime)]
    pub period_start: Option<String>,
    /// The end of the period, excluded (RFC 3339); after `period_start`.
    #[param(required = true, value_type = String, format = DateTime)]
    pub period_end: Option<String>,
    /// Only requests in this direction; absent reports both.
    #[param(value_type = Option<Direction>)]
    pub direction: Option<String>,
    /// `csv` answers CSV (as `Accept: text/csv` does); `json`, or absent, JSON.
    pub format: Option<String>,
}

/// The figures of a period (NCIJC staff; a strictly confidential request counts only for those who
/// may see it). Each breakdown lists the values that have requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Statistics {
    pub period_start: Option<DateTime<Utc>>,
    pub period_end: Option<DateTime<Utc>>,
    /// The direction asked for; `null` for both.
    pub direction: Option<Direction>,
    /// When the figures were computed: states and `overdue` are as of then.
    pub as_of_time: Option<DateTime<Utc>>,
    /// How many requests were submitted in the period.
    pub requests: i64,
    pub by_state: Vec<StateCount>,
    pub by_partner: Vec<PartnerCount>,
    pub by_request_type: Vec<RequestTypeCount>,
    pub by_direction: Vec<DirectionCount>,
    /// One refused on two grounds counts under each.
    pub by_refusal_ground: Vec<RefusalGroundCount>,
    pub by_condition_kind: Vec<ConditionKindCount>,
    /// Days from submission (receipt) to acknowledgement.
    pub to_acknowledgement: StageDurations,
    /// Days from submission to the decision (ACCEPTED or REFUSED).
    pub to_decision: StageDurations,
    /// Days from submission to the end of the execution (EXECUTED).
    pub to_execution: StageDurations,
    /// How many are overdue at `as_of_time`.
    pub overdue: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StateCount {
    pub state: Option<State>,
    pub requests: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PartnerCount {
    pub partner_code: String,
    pub requests: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RequestTypeCount {
    /// `null` for requests without a type.
    pub request_type: Option<RequestType>,
    pub requests: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DirectionCount {
    pub direction: Option<Direction>,
    pub requests: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RefusalGroundCount {
    pub ground: Option<RefusalGround>,
    pub requests: i64,
}

/// The conditions of one kind proposed on the requests, and the requesting side's answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConditionKindCount {
    pub kind: Option<ConditionKind>,
    pub requested: i64,
    pub accepted: i64,
    pub declined: i64,
}

/// Days a stage took over the requests that reached it; the percentiles are `null` when none did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StageDurations {
    pub requests: i64,
    pub median_days: Option<f64>,
    pub p90_days: Option<f64>,
    /// Every bucket of one scale (under a day, a week, a month, three months, six months, a year,
    /// then a year or more), in order, empty ones included; the counts add up to `requests`.
    pub distribution: Vec<DurationBucket>,
}

/// The requests whose stage took at least `from_days` and less than `until_days` (`null` for the
/// last bucket, which has no upper bound).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DurationBucket {
    pub from_days: f64,
    pub until_days: Option<f64>,
    pub requests: i64,
}

impl From<Option<pb::StageDurations>> for StageDurations {
    fn from(d: Option<pb::StageDurations>) -> Self {
        let d = d.unwrap_or_default();
        let distribution = d
            .distribution
            .into_iter()
            .map(|b| DurationBucket {
                from_days: b.from_days,
                until_days: b.until_days,
                requests: b.requests,
            })
            .collect();
        StageDurations {
            requests: d.requests,
            median_days: d.median_days,
            p90_days: d.p90_days,
            distribution,
        }
    }
}

impl From<pb::Statistics> for Statistics {
    fn from(s: pb::Statistics) -> Self {
        Statistics {
            period_start: time_out(s.period_start.as_ref()),
            period_end: time_out(s.period_end.as_ref()),
            direction: Direction::from_wire(s.direction),
            as_of_time: time_out(s.as_of_time.as_ref()),
            requests: s.requests,
            by_state: s
                .by_state
                .into_iter()
                .map(|c| StateCount { state: State::from_wire(c.state), requests: c.requests })
                .collect(),
            by_partner: s
                .by_partner
                .into_iter()
                .map(|c| PartnerCount { partner_code: c.partner_code, requests: c.requests })
                .collect(),
            by_request_type: s
                .by_request_type
                .into_iter()
                .map(|c| RequestTypeCount {
                    request_type: RequestType::from_wire(c.request_type),
                    requests: c.requests,
                })
                .collect(),
            by_direction: s
                .by_direction
                .into_iter()
                .map(|c| DirectionCount {
                    direction: Direction::from_wire(c.direction),
                    requests: c.requests,
                })
                .collect(),
            by_refusal_ground: s
                .by_refusal_ground
                .into_iter()
                .map(|c| RefusalGroundCount {
                    ground: RefusalGround::from_wire(c.ground),
                    requests: c.requests,
                })
                .collect(),
            by_condition_kind: s
                .by_condition_kind
                .into_iter()
                .map(|c| ConditionKindCount {
                    kind: ConditionKind::from_wire(c.kind),
                    requested: c.requested,
                    accepted: c.accepted,
                    declined: c.declined,
                })
                .collect(),
            to_acknowledgement: s.to_acknowledgement.into(),
            to_decision: s.to_decision.into(),
            to_execution: s.to_execution.into(),
            overdue: s.overdue,
        }
    }
}

/// The human-rights report of a period (NCIJC staff; a strictly confidential request only for those
/// who may see it). Each list is in the order of the requests' references.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HumanRightsReport {
    pub period_start: Option<DateTime<Utc>>,
    pub period_end: Option<DateTime<Utc>>,
    /// The direction asked for; `null` for both.
    pub direction: Option<Direction>,
    /// When the report was read: states, answers and releases are as of then.
    pub as_of_time: Option<DateTime<Utc>>,
    /// Each condition of kind DEATH_PENALTY_NON_IMPOSITION, NON_TORTURE or FAIR_TRIAL.
    pub assurances: Vec<HumanRightsAssurance>,
    /// Each request refused on PERSECUTION_RISK, DEATH_PENALTY_RISK, TORTURE_RISK or FAIR_TRIAL_RISK.
    pub refusals: Vec<HumanRightsRefusal>,
    /// Each document released to the requesting side.
    pub releases: Vec<DocumentRelease>,
}

/// An assurance sought (PROPOSED), given (ACCEPTED) or declined (DECLINED).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HumanRightsAssurance {
    pub request_id: String,
    pub reference: String,
    pub partner_code: String,
    pub direction: Option<Direction>,
    /// The request's state now.
    pub state: Option<State>,
    pub kind: Option<ConditionKind>,
    pub text: String,
    pub status: Option<ConditionStatus>,
    /// Who gave or declined it; empty while PROPOSED.
    pub given_by: String,
    pub given_time: Option<DateTime<Utc>>,
}

/// A refusal on a human-rights ground, and the consultation held before it (UNTOC art. 18(26)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HumanRightsRefusal {
    pub request_id: String,
    pub reference: String,
    pub partner_code: String,
    pub direction: Option<Direction>,
    /// Every ground it was refused on, the others included.
    pub refusal_grounds: Vec<RefusalGround>,
    pub reason: String,
    pub refused_time: Option<DateTime<Utc>>,
    /// Why no consultation was held; empty when none was waived.
    pub consultation_waived_reason: String,
    /// The conditions proposed before the refusal; empty when no consultation was held.
    pub consultations: Vec<Consultation>,
}

/// A condition proposed before a refusal, and the answer it had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Consultation {
    pub kind: Option<ConditionKind>,
    pub text: String,
    pub status: Option<ConditionStatus>,
}

/// A document released to the requesting side, with its use restrictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DocumentRelease {
    pub request_id: String,
    pub reference: String,
    pub partner_code: String,
    pub document_id: String,
    pub title: String,
    pub kind: Option<DocumentKind>,
    pub release_time: Option<DateTime<Utc>>,
    pub use_restrictions: Vec<String>,
}

impl From<pb::HumanRightsReport> for HumanRightsReport {
    fn from(r: pb::HumanRightsReport) -> Self {
        HumanRightsReport {
            period_start: time_out(r.period_start.as_ref()),
            period_end: time_out(r.period_end.as_ref()),
            direction: Direction::from_wire(r.direction),
            as_of_time: time_out(r.as_of_time.as_ref()),
            assurances: r
                .assurances
                .into_iter()
                .map(|a| HumanRightsAssurance {
                    request_id: a.request_id,
                    reference: a.reference,
                    partner_code: a.partner_code,
                    direction: Direction::from_wire(a.direction),
                    state: State::from_wire(a.state),
                    kind: ConditionKind::from_wire(a.kind),
                    text: a.text,
                    status: ConditionStatus::from_wire(a.status),
                    given_by: a.given_by,
                    given_time: time_out(a.given_time.as_ref()),
                })
                .collect(),
            refusals: r
                .refusals
                .into_iter()
                .map(|f| HumanRightsRefusal {
                    request_id: f.request_id,
                    reference: f.reference,
                    partner_code: f.partner_code,
                    direction: Direction::from_wire(f.direction),
                    refusal_grounds: f
                        .refusal_grounds
                        .into_iter()
                        .filter_map(RefusalGround::from_wire)
                        .collect(),
                    reason: f.reason,
                    refused_time: time_out(f.refused_time.as_ref()),
                    consultation_waived_reason: f.consultation_waived_reason,
                    consultations: f
                        .consultations
                        .into_iter()
                        .map(|c| Consultation {
                            kind: ConditionKind::from_wire(c.kind),
                            text: c.text,
                            status: ConditionStatus::from_wire(c.status),
                        })
                        .collect(),
                })
                .collect(),
            releases: r
                .releases
                .into_iter()
                .map(|d| DocumentRelease {
                    request_id: d.request_id,
                    reference: d.reference,
                    partner_code: d.partner_code,
                    document_id: d.document_id,
                    title: d.title,
                    kind: DocumentKind::from_wire(d.kind),
                    release_time: time_out(d.release_time.as_ref()),
                    use_restrictions: d.use_restrictions,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON name of every value is its proto name without the prefix, so the REST and gRPC faces
    /// cannot drift apart, and every value crosses to the proto number and back.
    #[test]
    fn json_names_are_proto_names_without_the_prefix() {
        fn check<T: Serialize + Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            name: fn(T) -> &'static str,
            to: fn(T) -> i32,
            from: fn(i32) -> Option<T>,
        ) {
            for &value in all {
                assert_eq!(serde_json::to_value(value).unwrap(), serde_json::Value::from(name(value)));
                assert_eq!(from(to(value)), Some(value));
            }
            assert_eq!(from(0), None, "UNSPECIFIED has no JSON name");
        }
        check(State::ALL, State::name, State::to_wire, State::from_wire);
        check(Action::ALL, Action::name, Action::to_wire, Action::from_wire);
        check(Direction::ALL, Direction::name, Direction::to_wire, Direction::from_wire);
        check(RequestType::ALL, RequestType::name, RequestType::to_wire, RequestType::from_wire);
        check(Priority::ALL, Priority::name, Priority::to_wire, Priority::from_wire);
        check(
            Confidentiality::ALL,
            Confidentiality::name,
            Confidentiality::to_wire,
            Confidentiality::from_wire,
        );
        check(RefusalGround::ALL, RefusalGround::name, RefusalGround::to_wire, RefusalGround::from_wire);
        check(ConditionKind::ALL, ConditionKind::name, ConditionKind::to_wire, ConditionKind::from_wire);
        check(
            ConditionStatus::ALL,
            ConditionStatus::name,
            ConditionStatus::to_wire,
            ConditionStatus::from_wire,
        );
        check(Outcome::ALL, Outcome::name, Outcome::to_wire, Outcome::from_wire);
        check(DocumentKind::ALL, DocumentKind::name, DocumentKind::to_wire, DocumentKind::from_wire);
        check(Audience::ALL, Audience::name, Audience::to_wire, Audience::from_wire);
        check(ReleaseState::ALL, ReleaseState::name, ReleaseState::to_wire, ReleaseState::from_wire);
        check(PersonRole::ALL, PersonRole::name, PersonRole::to_wire, PersonRole::from_wire);
        check(PartnerKind::ALL, PartnerKind::name, PartnerKind::to_wire, PartnerKind::from_wire);
        check(Channel::ALL, Channel::name, Channel::to_wire, Channel::from_wire);
        check(ReceivedVia::ALL, ReceivedVia::name, ReceivedVia::to_wire, ReceivedVia::from_wire);
        assert_eq!(State::UnderReview.name(), "UNDER_REVIEW");
        assert_eq!(RefusalGround::NeBisInIdem.name(), "NE_BIS_IN_IDEM");
    }

    /// Every value the contract declares (read from its descriptor set) has a JSON twin of the same
    /// name, and the JSON enum has no value the contract lacks.
    #[test]
    fn every_contract_value_has_a_json_name() {
        fn check<T: Copy>(
            proto_enum: &str,
            prefix: &str,
            all: &[T],
            name: fn(T) -> &'static str,
            from: fn(i32) -> Option<T>,
        ) {
            let values = mla_proto::contract::enum_values(proto_enum);
            for (proto_name, number) in values.iter().filter(|(_, n)| *n != 0) {
                let value = from(*number).unwrap_or_else(|| panic!("{proto_name} has no JSON twin"));
                assert_eq!(format!("{prefix}{}", name(value)), *proto_name);
            }
            assert_eq!(values.len(), all.len() + 1, "{proto_enum}: one JSON value per proto value");
        }
        check("mla.v1.State", "STATE_", State::ALL, State::name, State::from_wire);
        check("mla.v1.Action", "ACTION_", Action::ALL, Action::name, Action::from_wire);
        check("mla.v1.Direction", "DIRECTION_", Direction::ALL, Direction::name, Direction::from_wire);
        check(
            "mla.v1.RequestType",
            "REQUEST_TYPE_",
            RequestType::ALL,
            RequestType::name,
            RequestType::from_wire,
        );
        check("mla.v1.Priority", "PRIORITY_", Priority::ALL, Priority::name, Priority::from_wire);
        check(
            "mla.v1.Confidentiality",
            "CONFIDENTIALITY_",
            Confidentiality::ALL,
            Confidentiality::name,
            Confidentiality::from_wire,
        );
        check(
            "mla.v1.RefusalGround",
            "REFUSAL_GROUND_",
            RefusalGround::ALL,
            RefusalGround::name,
            RefusalGround::from_wire,
        );
        check(
            "mla.v1.ConditionKind",
            "CONDITION_KIND_",
            ConditionKind::ALL,
            ConditionKind::name,
            ConditionKind::from_wire,
        );
        check(
            "mla.v1.ConditionStatus",
            "CONDITION_STATUS_",
            ConditionStatus::ALL,
            ConditionStatus::name,
            ConditionStatus::from_wire,
        );
        check("mla.v1.Outcome", "OUTCOME_", Outcome::ALL, Outcome::name, Outcome::from_wire);
        let kinds = DocumentKind::ALL;
        check("mla.v1.DocumentKind", "DOCUMENT_KIND_", kinds, DocumentKind::name, DocumentKind::from_wire);
        check("mla.v1.Audience", "AUDIENCE_", Audience::ALL, Audience::name, Audience::from_wire);
        let states = ReleaseState::ALL;
        check("mla.v1.ReleaseState", "RELEASE_STATE_", states, ReleaseState::name, ReleaseState::from_wire);
        check("mla.v1.PersonRole", "PERSON_ROLE_", PersonRole::ALL, PersonRole::name, PersonRole::from_wire);
        check(
            "mla.v1.PartnerKind",
            "PARTNER_KIND_",
            PartnerKind::ALL,
            PartnerKind::name,
            PartnerKind::from_wire,
        );
        check("mla.v1.Channel", "CHANNEL_", Channel::ALL, Channel::name, Channel::from_wire);
        let via = ReceivedVia::ALL;
        check("mla.v1.ReceivedVia", "RECEIVED_VIA_", via, ReceivedVia::name, ReceivedVia::from_wire);
    }

    /// The member lists that guard request bodies are the contract's fields, no more and no less.
    #[test]
    fn member_lists_are_the_contracts_fields() {
        let sorted = |list: &[&str]| {
            let mut list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
            list.sort();
            list
        };
        let fields = |message: &str| {
            let mut fields = mla_proto::contract::message_fields(message);
            fields.sort();
            fields
        };
        assert_eq!(sorted(REQUEST_MEMBERS), fields("mla.v1.Request"));
        assert_eq!(sorted(PARTNER_MEMBERS), fields("mla.v1.Partner"));
        // The upload's metadata part is DocumentMetadata but for what the path and the
        // Idempotency-Key header carry.
        let metadata: Vec<&str> =
            NEW_DOCUMENT_MEMBERS.iter().copied().chain(["request_id", "request_id_key"]).collect();
        assert_eq!(sorted(&metadata), fields("mla.v1.DocumentMetadata"));
        assert_eq!(sorted(NEW_UPLOAD_MEMBERS), fields("mla.v1.StartUploadRequest"));
        // A create body is the request and how it arrived on paper.
        let create: Vec<&str> = ON_BEHALF_MEMBERS.iter().copied().chain(["request", "request_id"]).collect();
        assert_eq!(sorted(&create), fields("mla.v1.CreateRequestRequest"));
    }

    #[test]
    fn times_are_rfc3339_and_details_are_objects() {
        let event = Event::from(pb::Event {
            cursor: 7,
            time: Some(prost_types::Timestamp { seconds: 1_767_225_600, nanos: 0 }),
            details: r#"{"fields":["title"]}"#.into(),
            to_state: pb::State::Draft as i32,
            ..Default::default()
        });
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["time"], "2026-01-01T00:00:00Z");
        assert_eq!(json["details"]["fields"][0], "title");
        assert_eq!(json["from_state"], serde_json::Value::Null);
        assert_eq!(json["to_state"], "DRAFT");
    }
}
