//! Builders shared by the domain's tests: requests in any state, principals of every kind, and
//! commands whose details satisfy every guard.

#![allow(dead_code)]

use chrono::TimeZone;
use mla_domain::clock::SlaPolicy;
use mla_domain::lifecycle::ProposedCondition;
use mla_domain::*;

pub fn at(hours: i64) -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + chrono::Duration::hours(hours)
}

pub fn code(s: &str) -> PartnerCode {
    PartnerCode::parse(s).unwrap()
}

pub fn partner(s: &str, active: bool) -> Partner {
    Partner {
        code: code(s),
        name: ShortText::parse(format!("Partner {s}")).unwrap(),
        country: "FR".into(),
        kind: PartnerKind::StateAuthority,
        legal_bases: vec![ShortText::parse("UNTOC art. 18").unwrap()],
        channel: mla_domain::Channel::System,
        active,
        version: 1,
        create_time: at(0),
        update_time: at(0),
    }
}

pub fn complete_content() -> RequestContent {
    RequestContent {
        request_type: Some(RequestType::Evidence),
        priority: Some(Priority::Normal),
        requesting_authority: ShortText::parse("Parquet national antiterroriste").unwrap(),
        title: ShortText::parse("Testimony of witness W-17").unwrap(),
        summary_of_facts: LongText::parse("Facts of the case.").unwrap(),
        measures: vec![ShortText::parse("Hear witness W-17").unwrap()],
        purpose: LongText::parse("Criminal proceedings").unwrap(),
        legal_basis: ShortText::parse("UNTOC art. 18").unwrap(),
        ..RequestContent::default()
    }
}

/// A complete request between the NCIJC and `partner_code`, standing in `state`.
pub fn request_in(state: State, direction: Direction, partner_code: &str) -> Request {
    Request {
        id: RequestId::parse("0192f0c1-7a3e-7cc0-8000-000000000001").unwrap(),
        reference: Reference { direction, year: 2026, number: 1 },
        direction,
        partner_code: code(partner_code),
        state,
        version: 3,
        content: complete_content(),
        conditions: Vec::new(),
        assignee: ShortText::default(),
        clock: if matches!(state, State::Draft | State::Submitted) {
            Default::default()
        } else {
            mla_domain::clock::Clock::started(at(0), chrono::Duration::days(90)).after_entering(state, at(1))
        },
        create_time: at(0),
        update_time: at(0),
        submit_time: None,
        received_time: None,
        close_time: None,
        decided_time: None,
        refusal_grounds: Vec::new(),
        executed_time: None,
    }
}

pub fn staff(role: Role) -> Principal {
    Principal::staff("staff-member", [role]).unwrap()
}

pub fn partner_principal(s: &str) -> Principal {
    Principal::partner("partner-system", code(s)).unwrap()
}

/// A command for `action` whose details satisfy every guard: a reason, a ground that needs no
/// consultation, a condition, a full outcome.
pub fn satisfying(action: Action) -> Command {
    Command {
        action,
        reason: LongText::parse("Stated reason").unwrap(),
        refusal_grounds: vec![RefusalGround::NeBisInIdem],
        consultation_waived_reason: LongText::default(),
        conditions: vec![ProposedCondition {
            kind: ConditionKind::Speciality,
            text: LongText::parse("Use only for case 17/2026").unwrap(),
        }],
        outcome: Some(Outcome::Full),
    }
}

pub fn ctx(partner: &Partner, now: Timestamp) -> Context<'_> {
    Context::new(now, Some(partner), SlaPolicy::default())
}
