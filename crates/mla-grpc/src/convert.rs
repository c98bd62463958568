//! Translation between protobuf messages and domain values. Incoming messages are parsed field by
//! field, collecting every violation with its contract path, so that a caller learns all that is
//! wrong at once. Enums cross by their names, which are the contract.

use chrono::{DateTime, Utc};
use mla_app::{PartnerFields, RequestView};
use mla_domain::audit::Event;
use mla_domain::lifecycle::{Command, ProposedCondition};
use mla_domain::partner::{PartnerKind, parse_country};
use mla_domain::request::*;
use mla_domain::text::ParseError;
use mla_domain::{FieldViolation, LongText, Partner, PartnerCode, RequestId, ShortText, Timestamp};
use mla_proto::v1 as pb;
use prost_types::Timestamp as PbTimestamp;

/// Bridges a protobuf enum and a domain vocabulary through their names (`STATE_DRAFT` ⇄ `DRAFT`).
macro_rules! enum_bridge {
    ($into_domain:ident, $into_wire:ident, $pb:ty, $domain:ty, $prefix:literal) => {
        /// `Ok(None)` for the UNSPECIFIED value; an error for a number the contract does not define.
        #[allow(dead_code, reason = "each bridge defines both directions; some messages use one")]
        pub fn $into_domain(raw: i32) -> Result<Option<$domain>, ParseError> {
            let wire = <$pb>::try_from(raw).map_err(|_| ParseError(format!("{raw} is not a known value")))?;
            let name = wire.as_str_name().strip_prefix($prefix).unwrap_or("");
            Ok(<$domain>::parse(name))
        }

        #[allow(dead_code, reason = "each bridge defines both directions; some messages use one")]
        pub fn $into_wire(value: $domain) -> i32 {
            <$pb>::from_str_name(&format!("{}{}", $prefix, value.as_str())).map_or(0, |v| v as i32)
        }
    };
}

enum_bridge!(state_in, state_out, pb::State, State, "STATE_");
enum_bridge!(action_in, action_out, pb::Action, Action, "ACTION_");
enum_bridge!(direction_in, direction_out, pb::Direction, Direction, "DIRECTION_");
enum_bridge!(request_type_in, request_type_out, pb::RequestType, RequestType, "REQUEST_TYPE_");
enum_bridge!(priority_in, priority_out, pb::Priority, Priority, "PRIORITY_");
enum_bridge!(
    confidentiality_in,
    confidentiality_out,
    pb::Confidentiality,
    Confidentiality,
    "CONFIDENTIALITY_"
);
enum_bridge!(person_role_in, person_role_out, pb::PersonRole, PersonRole, "PERSON_ROLE_");
enum_bridge!(condition_kind_in, condition_kind_out, pb::ConditionKind, ConditionKind, "CONDITION_KIND_");
enum_bridge!(
    condition_status_in,
    condition_status_out,
    pb::ConditionStatus,
    ConditionStatus,
    "CONDITION_STATUS_"
);
enum_bridge!(refusal_ground_in, refusal_ground_out, pb::RefusalGround, RefusalGround, "REFUSAL_GROUND_");
enum_bridge!(outcome_in, outcome_out, pb::Outcome, Outcome, "OUTCOME_");

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

pub fn timestamp_out(t: Timestamp) -> PbTimestamp {
    PbTimestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

pub fn request_id_in(fields: &mut Fields, field: &str, raw: &str) -> RequestId {
    fields
        .take(field, RequestId::parse(raw).map(Some))
        .unwrap_or_else(|| RequestId::from_uuid(uuid::Uuid::nil()))
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
                    ShortText::parse(p.nationality.clone()),
                ),
                protected: p.protected,
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
        actor: Some(pb::Actor {
            subject: e.actor.subject,
            roles: e.actor.roles,
            partner_code: e.actor.partner_code.unwrap_or_default(),
        }),
        action: e.action,
        from_state: e.from_state.map_or(0, state_out),
        to_state: state_out(e.to_state),
        details: e.details,
        prev_hash: e.prev_hash,
        hash: e.hash,
    }
}

pub fn partner_kind_in(raw: i32) -> Result<Option<PartnerKind>, ParseError> {
    let wire =
        pb::PartnerKind::try_from(raw).map_err(|_| ParseError(format!("{raw} is not a known value")))?;
    Ok(PartnerKind::parse(wire.as_str_name().strip_prefix("PARTNER_KIND_").unwrap_or("")))
}

pub fn partner_fields_in(fields: &mut Fields, p: &pb::Partner) -> PartnerFields {
    let kind = fields.take("partner.kind", partner_kind_in(p.kind));
    PartnerFields {
        name: fields.take("partner.name", ShortText::parse(p.name.clone())),
        country: fields.take("partner.country", parse_country(&p.country)),
        kind: kind.unwrap_or(PartnerKind::StateAuthority),
        legal_bases: fields.list("partner.legal_bases", &p.legal_bases, |s| ShortText::parse(s)),
        active: p.active,
    }
}

pub fn partner_out(p: Partner) -> pb::Partner {
    let kind =
        pb::PartnerKind::from_str_name(&format!("PARTNER_KIND_{}", p.kind.as_str())).map_or(0, |k| k as i32);
    pb::Partner {
        code: p.code.to_string(),
        name: p.name.into(),
        country: p.country,
        kind,
        legal_bases: p.legal_bases.into_iter().map(Into::into).collect(),
        active: p.active,
        create_time: Some(timestamp_out(p.create_time)),
        update_time: Some(timestamp_out(p.update_time)),
        etag: p.version.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_value_crosses_the_wire_and_back() {
        for &s in State::ALL {
            assert_eq!(state_in(state_out(s)).unwrap(), Some(s));
        }
        for &a in Action::ALL {
            assert_eq!(action_in(action_out(a)).unwrap(), Some(a));
        }
        for &g in RefusalGround::ALL {
            assert_eq!(refusal_ground_in(refusal_ground_out(g)).unwrap(), Some(g));
        }
        for &k in ConditionKind::ALL {
            assert_eq!(condition_kind_in(condition_kind_out(k)).unwrap(), Some(k));
        }
        for &t in RequestType::ALL {
            assert_eq!(request_type_in(request_type_out(t)).unwrap(), Some(t));
        }
        assert_eq!(state_in(0).unwrap(), None);
        assert!(state_in(999).is_err());
    }
}
