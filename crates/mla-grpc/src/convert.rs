//! Translation between protobuf messages and domain values. Incoming messages are parsed field by
//! field, collecting every violation with its contract path, so that a caller learns all that is
//! wrong at once. Enums cross by their names, which are the contract.

use chrono::{DateTime, Utc};
use mla_app::{PartnerFields, RequestView};
use mla_domain::audit::{Actor, Event};
use mla_domain::correspondence::{Message, NewMessage};
use mla_domain::document::DocumentId;
use mla_domain::document::{Audience as DocumentAudience, Document, DocumentKind, ReleaseState};
use mla_domain::lifecycle::{Command, ProposedCondition};
use mla_domain::paper::{PaperRecord, ReceivedVia};
use mla_domain::partner::{Channel, PartnerKind, parse_country};
use mla_domain::request::*;
use mla_domain::text::ParseError;
use mla_domain::{FieldViolation, LongText, Partner, PartnerCode, RequestId, ShortText, Timestamp};
use mla_proto::v1 as pb;
use prost_types::Timestamp as PbTimestamp;

/// Bridges a protobuf enum and a domain vocabulary, variant by variant. Both matches are exhaustive,
/// so a value added to the proto or to the domain without its twin fails the build; a test checks
/// the pairs against the contract's names.
macro_rules! enum_bridge {
    ($into_domain:ident, $into_wire:ident, $pb:ident, $domain:ident { $($variant:ident),+ $(,)? }) => {
        /// `Ok(None)` for the UNSPECIFIED value; an error for a number the contract does not define.
        pub fn $into_domain(raw: i32) -> Result<Option<$domain>, ParseError> {
            match pb::$pb::try_from(raw) {
                Ok(pb::$pb::Unspecified) => Ok(None),
                $(Ok(pb::$pb::$variant) => Ok(Some($domain::$variant)),)+
                Err(_) => Err(ParseError(format!("{raw} is not a known value"))),
            }
        }

        pub fn $into_wire(value: $domain) -> i32 {
            match value {
                $($domain::$variant => pb::$pb::$variant as i32,)+
            }
        }
    };
}

enum_bridge!(
    state_in,
    state_out,
    State,
    State {
        Draft,
        Submitted,
        Received,
        UnderReview,
        ClarificationRequested,
        ConditionsProposed,
        Accepted,
        InExecution,
        Postponed,
        Executed,
        Refused,
        Withdrawn,
        Closed,
    }
);
enum_bridge!(
    action_in,
    action_out,
    Action,
    Action {
        Submit,
        Acknowledge,
        StartReview,
        RequestClarification,
        ProvideClarification,
        ProposeConditions,
        AcceptConditions,
        DeclineConditions,
        Accept,
        Refuse,
        StartExecution,
        Postpone,
        Resume,
        CompleteExecution,
        Close,
        Withdraw,
    }
);
enum_bridge!(direction_in, direction_out, Direction, Direction { Incoming, Outgoing });
enum_bridge!(
    request_type_in,
    request_type_out,
    RequestType,
    RequestType {
        Evidence,
        SearchAndSeizure,
        ServiceOfDocuments,
        AssetFreeze,
        Extradition,
        TransferOfProceedings,
        TransferOfSentencedPerson,
        SpontaneousInformation,
        DigitalEvidence,
        Other,
    }
);
enum_bridge!(priority_in, priority_out, Priority, Priority { Normal, Urgent });
enum_bridge!(
    confidentiality_in,
    confidentiality_out,
    Confidentiality,
    Confidentiality { Standard, Confidential, StrictlyConfidential }
);
enum_bridge!(person_role_in, person_role_out, PersonRole, PersonRole { Suspect, Witness, Victim, Other });
enum_bridge!(
    condition_kind_in,
    condition_kind_out,
    ConditionKind,
    ConditionKind {
        DeathPenaltyNonImposition,
        NonTorture,
        FairTrial,
        Speciality,
        NoOnwardTransfer,
        DataProtection,
        Confidentiality,
        Other,
    }
);
enum_bridge!(
    condition_status_in,
    condition_status_out,
    ConditionStatus,
    ConditionStatus { Proposed, Accepted, Declined }
);
enum_bridge!(
    refusal_ground_in,
    refusal_ground_out,
    RefusalGround,
    RefusalGround {
        SovereigntySecurityPublicOrder,
        PoliticalOffence,
        PersecutionRisk,
        DeathPenaltyRisk,
        TortureRisk,
        FairTrialRisk,
        NeBisInIdem,
        NoDualCriminality,
        MilitaryOffence,
        ContraryToDomesticLaw,
        InsufficientInformation,
        DataProtection,
        Other,
    }
);
enum_bridge!(outcome_in, outcome_out, Outcome, Outcome { Full, Partial });
enum_bridge!(
    partner_kind_in,
    partner_kind_out,
    PartnerKind,
    PartnerKind { StateAuthority, InternationalMechanism }
);

enum_bridge!(
    document_kind_in,
    document_kind_out,
    DocumentKind,
    DocumentKind {
        LetterOfRequest,
        SupportingDocument,
        Translation,
        Assurance,
        Evidence,
        Correspondence,
        Other,
    }
);
enum_bridge!(audience_in, audience_out, Audience, DocumentAudience { Shared, Internal });
enum_bridge!(channel_in, channel_out, Channel, Channel { System, Paper });
enum_bridge!(
    received_via_in,
    received_via_out,
    ReceivedVia,
    ReceivedVia { DiplomaticNote, Post, Email, Courier, Interpol, Other }
);
enum_bridge!(
    release_state_in,
    release_state_out,
    ReleaseState,
    ReleaseState { NotApplicable, Withheld, Released }
);

/// Collects the violations of one message while its fields are parsed.
#[derive(Debug, Default)]
pub struct Fields {
    violations: Vec<FieldViolation>,
}

impl Fields {
    pub fn take<T: Default>(&mut self, field: impl Into<String>, parsed: Result<T, ParseError>) -> T {
        parsed.unwrap_or_else(|e| {
            self.violations.push(FieldViolation::new(field, e.0));
            T::default()
        })
    }

    pub fn refuse(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.violations.push(FieldViolation::new(field, description));
    }

    pub fn list<T: Default>(
        &mut self,
        field: &str,
        raw: &[String],
        parse: impl Fn(&str) -> Result<T, ParseError>,
    ) -> Vec<T> {
        if raw.len() > RequestContent::MAX_ENTRIES {
            self.refuse(field, format!("at most {} entries", RequestContent::MAX_ENTRIES));
            return Vec::new();
        }
        raw.iter().enumerate().map(|(i, s)| self.take(format!("{field}[{i}]"), parse(s))).collect()
    }

    pub fn finish<T>(self, value: T) -> Result<T, tonic::Status> {
        if self.violations.is_empty() { Ok(value) } else { Err(crate::error::invalid(self.violations)) }
    }
}

pub fn timestamp_in(ts: &PbTimestamp) -> Result<Timestamp, ParseError> {
    u32::try_from(ts.nanos)
        .ok()
        .and_then(|nanos| DateTime::<Utc>::from_timestamp(ts.seconds, nanos))
        .map(|t| chrono::SubsecRound::trunc_subsecs(t, 6))
        .ok_or_else(|| ParseError("not a valid timestamp".into()))
}

/// The period of GetStatistics and GetHumanRightsReport: both ends required, the direction optional
/// (that it runs forward is the application's rule). `None` once a violation is collected.
pub fn period_in(fields: &mut Fields, m: &impl PeriodMessage) -> Option<mla_app::Period> {
    let (start, end, direction) = m.period();
    let mut instant = |field: &str, raw: Option<&PbTimestamp>| match raw {
        Some(t) => fields.take(field, timestamp_in(t).map(Some)),
        None => {
            fields.refuse(field, "required");
            None
        }
    };
    let start = instant("period_start", start);
    let end = instant("period_end", end);
    let direction = fields.take("direction", direction_in(direction));
    Some(mla_app::Period { start: start?, end: end?, direction })
}

/// A message that asks for a report of a period: its start, its end and its direction.
pub trait PeriodMessage {
    fn period(&self) -> (Option<&PbTimestamp>, Option<&PbTimestamp>, i32);
}

impl PeriodMessage for pb::GetStatisticsRequest {
    fn period(&self) -> (Option<&PbTimestamp>, Option<&PbTimestamp>, i32) {
        (self.period_start.as_ref(), self.period_end.as_ref(), self.direction)
    }
}

impl PeriodMessage for pb::GetHumanRightsReportRequest {
    fn period(&self) -> (Option<&PbTimestamp>, Option<&PbTimestamp>, i32) {
        (self.period_start.as_ref(), self.period_end.as_ref(), self.direction)
    }
}

pub fn timestamp_out(t: Timestamp) -> PbTimestamp {
    PbTimestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

pub fn request_id_in(fields: &mut Fields, field: &str, raw: &str) -> RequestId {
    fields
        .take(field, RequestId::parse(raw).map(Some))
        .unwrap_or_else(|| RequestId::from_uuid(uuid::Uuid::nil()))
}

/// The NCIJC role whose work queue is asked for; `None` when empty.
pub fn awaiting_role_in(raw: &str) -> Result<Option<mla_domain::Role>, ParseError> {
    match raw {
        "" => Ok(None),
        raw => match mla_domain::Role::parse(raw) {
            Some(role) if role != mla_domain::Role::Partner => Ok(Some(role)),
            _ => Err(ParseError(format!(
                "`{raw}` is not an NCIJC role (registrar, legal_officer, judge, ...)"
            ))),
        },
    }
}

/// The list's order: `due_time` (the due date first) or the default, newest first.
pub fn due_first_in(raw: &str) -> Result<bool, ParseError> {
    match raw.trim() {
        "" => Ok(false),
        "due_time" => Ok(true),
        other => Err(ParseError(format!("`{other}` is not an order of this list: `due_time`, or empty"))),
    }
}

pub fn partner_code_in(raw: &str) -> Result<Option<PartnerCode>, ParseError> {
    if raw.is_empty() { Ok(None) } else { PartnerCode::parse(raw).map(Some) }
}

/// What a caller may write into a request: its content, the partner (on create), the assignee and
/// the due date.
#[derive(Debug, Default)]
pub struct RequestInput {
    pub partner_code: Option<PartnerCode>,
    pub content: RequestContent,
    pub assignee: ShortText,
    pub due_time: Option<Timestamp>,
}

pub fn request_in(fields: &mut Fields, r: &pb::Request) -> RequestInput {
    let persons = if r.persons.len() > RequestContent::MAX_ENTRIES {
        fields.refuse("request.persons", format!("at most {} entries", RequestContent::MAX_ENTRIES));
        Vec::new()
    } else {
        r.persons
            .iter()
            .enumerate()
            .map(|(i, p)| Person {
                name: fields.take(format!("request.persons[{i}].name"), ShortText::parse(p.name.clone())),
                role: fields
                    .take(format!("request.persons[{i}].role"), person_role_in(p.role))
                    .unwrap_or(PersonRole::Other),
                nationality: fields.take(
                    format!("request.persons[{i}].nationality"),
                    parse_country(&p.nationality).and_then(ShortText::parse),
                ),
                protected: p.protected,
                salt: String::new(),
            })
            .collect()
    };
    let content = RequestContent {
        request_type: fields.take("request.request_type", request_type_in(r.request_type)),
        priority: fields.take("request.priority", priority_in(r.priority)),
        urgency_reason: fields.take("request.urgency_reason", LongText::parse(r.urgency_reason.clone())),
        requesting_authority: fields
            .take("request.requesting_authority", ShortText::parse(r.requesting_authority.clone())),
        partner_reference: fields
            .take("request.partner_reference", ShortText::parse(r.partner_reference.clone())),
        title: fields.take("request.title", ShortText::parse(r.title.clone())),
        summary_of_facts: fields
            .take("request.summary_of_facts", LongText::parse(r.summary_of_facts.clone())),
        offences: fields.list("request.offences", &r.offences, |s| ShortText::parse(s)),
        measures: fields.list("request.measures", &r.measures, |s| ShortText::parse(s)),
        purpose: fields.take("request.purpose", LongText::parse(r.purpose.clone())),
        legal_basis: fields.take("request.legal_basis", ShortText::parse(r.legal_basis.clone())),
        persons,
        confidentiality: fields.take("request.confidentiality", confidentiality_in(r.confidentiality)),
    };
    RequestInput {
        partner_code: fields.take("request.partner_code", partner_code_in(&r.partner_code)),
        content,
        assignee: fields.take("request.assignee", ShortText::parse(r.assignee.clone())),
        due_time: r
            .due_time
            .as_ref()
            .and_then(|t| fields.take("request.due_time", timestamp_in(t).map(Some))),
    }
}

pub fn request_out(view: RequestView) -> pb::Request {
    let RequestView { request: r, allowed_actions, overdue } = view;
    let c = r.content;
    pb::Request {
        id: r.id.to_string(),
        reference: r.reference.to_string(),
        partner_code: r.partner_code.to_string(),
        direction: direction_out(r.direction),
        request_type: c.request_type.map_or(0, request_type_out),
        state: state_out(r.state),
        priority: c.priority.map_or(0, priority_out),
        urgency_reason: c.urgency_reason.into(),
        requesting_authority: c.requesting_authority.into(),
        partner_reference: c.partner_reference.into(),
        title: c.title.into(),
        summary_of_facts: c.summary_of_facts.into(),
        offences: c.offences.into_iter().map(Into::into).collect(),
        measures: c.measures.into_iter().map(Into::into).collect(),
        purpose: c.purpose.into(),
        legal_basis: c.legal_basis.into(),
        persons: c
            .persons
            .into_iter()
            .map(|p| pb::Person {
                name: p.name.into(),
                role: person_role_out(p.role),
                nationality: p.nationality.into(),
                protected: p.protected,
            })
            .collect(),
        confidentiality: c.confidentiality.map_or(0, confidentiality_out),
        conditions: r
            .conditions
            .into_iter()
            .map(|cond| pb::Condition {
                kind: condition_kind_out(cond.kind),
                text: cond.text.into(),
                status: condition_status_out(cond.status),
                given_by: cond.given_by.unwrap_or_default(),
                given_time: cond.given_time.map(timestamp_out),
            })
            .collect(),
        assignee: r.assignee.into(),
        due_time: r.clock.due_at.map(timestamp_out),
        etag: r.version.to_string(),
        create_time: Some(timestamp_out(r.create_time)),
        update_time: Some(timestamp_out(r.update_time)),
        submit_time: r.submit_time.map(timestamp_out),
        received_time: r.received_time.map(timestamp_out),
        close_time: r.close_time.map(timestamp_out),
        allowed_actions: allowed_actions.into_iter().map(action_out).collect(),
        overdue,
    }
}

pub fn command_in(fields: &mut Fields, t: &pb::TransitionRequestRequest) -> Option<Command> {
    let action = fields.take("action", action_in(t.action));
    if action.is_none() {
        fields.refuse("action", "an action is required");
    }
    let grounds = t
        .refusal_grounds
        .iter()
        .enumerate()
        .filter_map(|(i, g)| {
            let ground = fields.take(format!("refusal_grounds[{i}]"), refusal_ground_in(*g));
            if ground.is_none() {
                fields.refuse(format!("refusal_grounds[{i}]"), "UNSPECIFIED is not a refusal ground");
            }
            ground
        })
        .collect();
    let conditions = t
        .conditions
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let kind = fields.take(format!("conditions[{i}].kind"), condition_kind_in(c.kind));
            if kind.is_none() {
                fields.refuse(format!("conditions[{i}].kind"), "a condition needs a kind");
            }
            let text = fields.take(format!("conditions[{i}].text"), LongText::parse(c.text.clone()));
            kind.map(|kind| ProposedCondition { kind, text })
        })
        .collect();
    Some(Command {
        action: action?,
        reason: fields.take("reason", LongText::parse(t.reason.clone())),
        refusal_grounds: grounds,
        consultation_waived_reason: fields
            .take("consultation_waived_reason", LongText::parse(t.consultation_waived_reason.clone())),
        conditions,
        outcome: fields.take("outcome", outcome_in(t.outcome)),
    })
}

pub fn event_out(e: Event) -> pb::Event {
    pb::Event {
        cursor: e.cursor,
        request_id: e.request_id.to_string(),
        seq: e.seq,
        time: Some(timestamp_out(e.time)),
        actor: Some(actor_out(e.actor)),
        action: e.action,
        from_state: e.from_state.map_or(0, state_out),
        to_state: state_out(e.to_state),
        details: e.details,
        prev_hash: e.prev_hash,
        hash: e.hash,
        // An event's view link depends on who reads it: the trail sets it (`list_request_events`).
        ..Default::default()
    }
}

pub fn actor_out(actor: Actor) -> pb::Actor {
    pb::Actor {
        subject: actor.subject,
        roles: actor.roles,
        partner_code: actor.partner_code.unwrap_or_default(),
        on_behalf_of_partner: actor.on_behalf_of.unwrap_or_default(),
    }
}

/// The paper record of a write, from its fields (`None` when none is set: an act through the API).
pub fn paper_record_in(
    fields: &mut Fields,
    on_behalf_of_partner: &str,
    received_via: i32,
    effective_time: Option<&PbTimestamp>,
    letter_reference: &str,
    letter_document_id: &str,
) -> Option<PaperRecord> {
    let record = PaperRecord {
        on_behalf_of: fields.take("on_behalf_of_partner", partner_code_in(on_behalf_of_partner)),
        received_via: fields.take("received_via", received_via_in(received_via)),
        effective_time: effective_time.and_then(|t| fields.take("effective_time", timestamp_in(t).map(Some))),
        letter_reference: fields.take("letter_reference", ShortText::parse(letter_reference)),
        letter_document_id: fields.take("letter_document_id", optional_document_id(letter_document_id)),
    };
    (record != PaperRecord::default()).then_some(record)
}

/// A document id that may be left empty.
pub fn optional_document_id(raw: &str) -> Result<Option<DocumentId>, ParseError> {
    if raw.is_empty() { Ok(None) } else { DocumentId::parse(raw).map(Some) }
}

/// A message as its author writes it.
pub fn new_message_in(fields: &mut Fields, m: &pb::Message) -> NewMessage {
    let audience = fields.take("message.audience", audience_in(m.audience));
    if audience.is_none() {
        fields.refuse("message.audience", "SHARED or INTERNAL");
    }
    if m.attachment_ids.len() > mla_domain::correspondence::MAX_ATTACHMENTS {
        let most = mla_domain::correspondence::MAX_ATTACHMENTS;
        fields.refuse("message.attachment_ids", format!("a message carries at most {most} attachments"));
    }
    NewMessage {
        audience: audience.unwrap_or(DocumentAudience::Shared),
        body: fields.take("message.body", LongText::parse(m.body.clone())),
        attachment_ids: m
            .attachment_ids
            .iter()
            .take(mla_domain::correspondence::MAX_ATTACHMENTS)
            .enumerate()
            .filter_map(|(i, raw)| {
                fields.take(format!("message.attachment_ids[{i}]"), DocumentId::parse(raw).map(Some))
            })
            .collect(),
    }
}

pub fn message_out(m: Message) -> pb::Message {
    pb::Message {
        id: m.id.to_string(),
        request_id: m.request_id.to_string(),
        author: Some(actor_out(m.author)),
        audience: audience_out(m.audience),
        body: m.body.as_str().to_owned(),
        attachment_ids: m.attachment_ids.iter().map(ToString::to_string).collect(),
        create_time: Some(timestamp_out(m.create_time)),
        read_time: m.read_time.map(timestamp_out),
    }
}

pub fn document_out(d: Document) -> pb::Document {
    pb::Document {
        id: d.id.to_string(),
        request_id: d.request_id.to_string(),
        kind: document_kind_out(d.kind),
        title: d.title.into(),
        file_name: d.file_name.into(),
        media_type: d.media_type,
        detected_media_type: d.detected_media_type,
        size_bytes: d.size_bytes,
        sha256: d.sha256.into(),
        language: d.language,
        translation_of: d.translation_of.map(|id| id.to_string()).unwrap_or_default(),
        audience: audience_out(d.audience),
        release_state: release_state_out(d.release_state),
        use_restrictions: d.use_restrictions,
        uploaded_by: Some(actor_out(d.uploaded_by)),
        create_time: Some(timestamp_out(d.create_time)),
        receipt: String::new(),
    }
}

pub fn partner_fields_in(fields: &mut Fields, p: &pb::Partner) -> PartnerFields {
    let kind = fields.take("partner.kind", partner_kind_in(p.kind));
    PartnerFields {
        name: fields.take("partner.name", ShortText::parse(p.name.clone())),
        country: fields.take("partner.country", parse_country(&p.country)),
        kind: kind.unwrap_or(PartnerKind::StateAuthority),
        legal_bases: fields.list("partner.legal_bases", &p.legal_bases, |s| ShortText::parse(s)),
        active: p.active,
        channel: fields.take("partner.channel", channel_in(p.channel)).unwrap_or(Channel::System),
    }
}

pub fn partner_out(p: Partner) -> pb::Partner {
    pb::Partner {
        code: p.code.to_string(),
        name: p.name.into(),
        country: p.country,
        kind: partner_kind_out(p.kind),
        legal_bases: p.legal_bases.into_iter().map(Into::into).collect(),
        active: p.active,
        create_time: Some(timestamp_out(p.create_time)),
        update_time: Some(timestamp_out(p.update_time)),
        etag: p.version.to_string(),
        channel: channel_out(p.channel),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(list: impl IntoIterator<Item = impl ToString>) -> Vec<String> {
        let mut list: Vec<String> = list.into_iter().map(|s| s.to_string()).collect();
        list.sort();
        list
    }

    /// The update mask knows exactly the contract's Request fields, and the partner mask the
    /// Partner fields (those an administrator may change plus the fixed and output-only ones).
    #[test]
    fn masks_know_exactly_the_contracts_fields() {
        assert_eq!(
            sorted(mla_app::request_paths()),
            sorted(mla_proto::contract::message_fields("mla.v1.Request"))
        );
        let partner =
            crate::partners::MUTABLE.into_iter().chain(["code", "create_time", "update_time", "etag"]);
        assert_eq!(sorted(partner), sorted(mla_proto::contract::message_fields("mla.v1.Partner")));
    }

    /// Every value of each contract enum, read from the descriptor set, crosses to the domain value
    /// of the same name and back to the same number; UNSPECIFIED is no value; an unknown number is an
    /// error, never a silent zero.
    #[test]
    fn every_contract_value_crosses_to_the_domain_value_of_its_name_and_back() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            proto_enum: &str,
            prefix: &str,
            domain_count: usize,
            name: fn(T) -> &'static str,
            into_domain: fn(i32) -> Result<Option<T>, ParseError>,
            into_wire: fn(T) -> i32,
        ) {
            let values = mla_proto::contract::enum_values(proto_enum);
            for (proto_name, number) in &values {
                let value = into_domain(*number).unwrap_or_else(|e| panic!("{proto_name}: {}", e.0));
                match value {
                    None => assert_eq!(*number, 0, "{proto_name}"),
                    Some(value) => {
                        assert_eq!(format!("{prefix}{}", name(value)), *proto_name);
                        assert_eq!(into_wire(value), *number, "{proto_name}");
                    }
                }
            }
            assert_eq!(values.len(), domain_count + 1, "{proto_enum}: one proto value per domain value");
            assert!(into_domain(values.len() as i32 + 100).is_err(), "{proto_enum}: unknown numbers");
        }
        check("mla.v1.State", "STATE_", State::ALL.len(), State::as_str, state_in, state_out);
        check("mla.v1.Action", "ACTION_", Action::ALL.len(), Action::as_str, action_in, action_out);
        let direction = Direction::ALL.len();
        check("mla.v1.Direction", "DIRECTION_", direction, Direction::as_str, direction_in, direction_out);
        let types = RequestType::ALL.len();
        check(
            "mla.v1.RequestType",
            "REQUEST_TYPE_",
            types,
            RequestType::as_str,
            request_type_in,
            request_type_out,
        );
        check(
            "mla.v1.Priority",
            "PRIORITY_",
            Priority::ALL.len(),
            Priority::as_str,
            priority_in,
            priority_out,
        );
        let levels = Confidentiality::ALL.len();
        check(
            "mla.v1.Confidentiality",
            "CONFIDENTIALITY_",
            levels,
            Confidentiality::as_str,
            confidentiality_in,
            confidentiality_out,
        );
        let roles = PersonRole::ALL.len();
        check(
            "mla.v1.PersonRole",
            "PERSON_ROLE_",
            roles,
            PersonRole::as_str,
            person_role_in,
            person_role_out,
        );
        let kinds = ConditionKind::ALL.len();
        check(
            "mla.v1.ConditionKind",
            "CONDITION_KIND_",
            kinds,
            ConditionKind::as_str,
            condition_kind_in,
            condition_kind_out,
        );
        let statuses = ConditionStatus::ALL.len();
        check(
            "mla.v1.ConditionStatus",
            "CONDITION_STATUS_",
            statuses,
            ConditionStatus::as_str,
            condition_status_in,
            condition_status_out,
        );
        let grounds = RefusalGround::ALL.len();
        check(
            "mla.v1.RefusalGround",
            "REFUSAL_GROUND_",
            grounds,
            RefusalGround::as_str,
            refusal_ground_in,
            refusal_ground_out,
        );
        check("mla.v1.Outcome", "OUTCOME_", Outcome::ALL.len(), Outcome::as_str, outcome_in, outcome_out);
        let document_kinds = DocumentKind::ALL.len();
        check(
            "mla.v1.DocumentKind",
            "DOCUMENT_KIND_",
            document_kinds,
            DocumentKind::as_str,
            document_kind_in,
            document_kind_out,
        );
        let audiences = DocumentAudience::ALL.len();
        check("mla.v1.Audience", "AUDIENCE_", audiences, DocumentAudience::as_str, audience_in, audience_out);
        check("mla.v1.Channel", "CHANNEL_", Channel::ALL.len(), Channel::as_str, channel_in, channel_out);
        let vias = ReceivedVia::ALL.len();
        check(
            "mla.v1.ReceivedVia",
            "RECEIVED_VIA_",
            vias,
            ReceivedVia::as_str,
            received_via_in,
            received_via_out,
        );
        let release_states = ReleaseState::ALL.len();
        check(
            "mla.v1.ReleaseState",
            "RELEASE_STATE_",
            release_states,
            ReleaseState::as_str,
            release_state_in,
            release_state_out,
        );
        let partner_kinds = PartnerKind::ALL.len();
        check(
            "mla.v1.PartnerKind",
            "PARTNER_KIND_",
            partner_kinds,
            PartnerKind::as_str,
            partner_kind_in,
            partner_kind_out,
        );
    }
}
