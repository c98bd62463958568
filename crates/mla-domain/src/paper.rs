//! The paper channel: most partners have no system, and their requests and answers arrive by
//! diplomatic note, post, e-mail, courier or INTERPOL. NCIJC registrars and legal officers record
//! such a partner's acts on its behalf, dated when they happened on paper, and the NCIJC may date its
//! own acts on such a request (the receipt of a note) the same way.
//!
//! A recorded act is decided as the partner's own (its side, its rights), and its event names both:
//! the staff member as the actor, the partner as the one acted for. The deadline clock and every
//! reported time run on the effective time; the moment of recording stays in the event's details.

use chrono::Duration;
use serde::Serialize;
use serde_json::{Value, json};

use crate::Timestamp;
use crate::audit::Actor;
use crate::document::{Document, DocumentId};
use crate::error::{DomainError, FieldViolation};
use crate::lifecycle::Side;
use crate::partner::{Channel, Partner};
use crate::principal::{Principal, Role};
use crate::request::{Request, vocabulary};
use crate::text::{PartnerCode, ShortText};

vocabulary!(
    /// How a paper partner's act reached the NCIJC.
    ReceivedVia {
        DiplomaticNote = "DIPLOMATIC_NOTE",
        Post = "POST",
        Email = "EMAIL",
        Courier = "COURIER",
        Interpol = "INTERPOL",
        Other = "OTHER",
    }
);

/// NCIJC roles that record a paper partner's acts on its behalf.
pub const RECORDING_ROLES: &[Role] = &[Role::Registrar, Role::LegalOfficer];

/// How far ahead of the broker's clock an effective time may be and still count as now: callers'
/// clocks drift a little.
const CLOCK_TOLERANCE: Duration = Duration::seconds(5);

/// What staff record of an act that happened on paper.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PaperRecord {
    /// The paper partner whose act this is; `None` for the NCIJC's own act dated on paper (the
    /// acknowledgement of a note received days ago).
    pub on_behalf_of: Option<PartnerCode>,
    pub received_via: Option<ReceivedVia>,
    /// When it happened on paper; `None` for now.
    pub effective_time: Option<Timestamp>,
    /// The letter's own reference (a note verbale's number).
    pub letter_reference: ShortText,
    /// The scanned letter, a document of the request.
    pub letter_document_id: Option<DocumentId>,
}

/// Who a write is decided for, and how it is recorded: the caller itself, or a paper partner whose
/// act the caller records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// The principal the rules are checked against: the caller, or the partner acted for.
    pub principal: Principal,
    pub actor: Actor,
    /// When the act happened: now, or its effective time on paper.
    pub time: Timestamp,
    /// What the event's details say of the paper, if there is one.
    paper: Option<Value>,
}

/// What a record is checked against: the partner of the request (its registry entry), the time of
/// the request's last change, and the letter it names, as the store has them.
#[derive(Debug, Clone, Copy)]
pub struct Circumstances<'a> {
    pub partner_code: &'a PartnerCode,
    pub partner: Option<&'a Partner>,
    /// The request, when the act is on an existing one.
    pub request: Option<&'a Request>,
    pub letter: Option<&'a Document>,
    pub now: Timestamp,
}

impl Agent {
    /// The caller acting for its own party, now.
    pub fn caller(principal: &Principal, now: Timestamp) -> Agent {
        Agent { principal: principal.clone(), actor: Actor::of(principal), time: now, paper: None }
    }

    /// Who acts under `record`. Recording a partner's act takes an NCIJC registrar or legal officer,
    /// and a partner on paper (a partner with a system acts for itself); dating the NCIJC's own act
    /// takes a request with a paper partner. An effective time may not lie in the future, nor before
    /// the request's last change.
    pub fn resolve(
        caller: &Principal,
        record: Option<&PaperRecord>,
        at: Circumstances<'_>,
    ) -> Result<Agent, DomainError> {
        let Some(record) = record else { return Ok(Agent::caller(caller, at.now)) };
        let on_paper = at.partner.is_some_and(|p| &p.code == at.partner_code && p.channel == Channel::Paper);
        let invalid =
            |field: &str, why: String| DomainError::InvalidFields(vec![FieldViolation::new(field, why)]);
        let mut principal = caller.clone();
        let mut actor = Actor::of(caller);
        match &record.on_behalf_of {
            Some(_) if !caller.is_ncijc() => {
                return Err(DomainError::OnBehalfRefused(
                    "a partner acts for itself: only NCIJC staff record a paper partner's acts",
                ));
            }
            Some(_) if !caller.has_any_role(RECORDING_ROLES) => {
                return Err(DomainError::OnBehalfRefused(
                    "only registrars and legal officers record a paper partner's acts",
                ));
            }
            Some(code) if code != at.partner_code => {
                return Err(invalid(
                    "on_behalf_of_partner",
                    format!("is not this request's partner ({})", at.partner_code),
                ));
            }
            Some(_) if at.partner.is_none() => {
                return Err(DomainError::UnknownPartner(at.partner_code.to_string()));
            }
            Some(_) if !on_paper => {
                return Err(DomainError::OnBehalfRefused(
                    "this partner works through its own system (channel SYSTEM): it acts for itself",
                ));
            }
            Some(code) => {
                if record.received_via.is_none() {
                    return Err(invalid("received_via", "say how the partner's act arrived".into()));
                }
                principal = Principal::partner(caller.subject(), code.clone())
                    .map_err(|e| invalid("on_behalf_of_partner", e.0))?;
                actor.on_behalf_of = Some(code.to_string());
            }
            None if !caller.is_ncijc() || !on_paper => {
                return Err(invalid(
                    "effective_time",
                    "only NCIJC staff date acts on paper, and only on the requests of a partner on paper"
                        .into(),
                ));
            }
            None => {}
        }
        // An act dated now is not held to the previous event's time: another replica's clock may run
        // a little ahead, as for any act through the API.
        let time = match record.effective_time {
            None => at.now,
            Some(t) if t > at.now + CLOCK_TOLERANCE => {
                return Err(invalid("effective_time", format!("{t} is in the future")));
            }
            Some(t) => t.min(at.now),
        };
        let previous = at.request.map(|r| r.update_time).filter(|&p| time < p);
        if let Some(previous) = previous.filter(|_| record.effective_time.is_some()) {
            return Err(invalid(
                "effective_time",
                format!("{time} is before the request's previous event ({previous})"),
            ));
        }
        if let Some(id) = record.letter_document_id {
            let ncijc = at.request.map(|r| Side::of_ncijc(r.direction));
            let found = at.letter.filter(|d| {
                d.id == id
                    && at.request.is_some_and(|r| r.id == d.request_id)
                    && ncijc.is_some_and(|s| d.visible_from(s))
            });
            if found.is_none() {
                return Err(invalid("letter_document_id", "names no document of this request".into()));
            }
        }
        let mut paper = json!({ "recorded_time": at.now });
        if let Some(via) = record.received_via {
            paper["received_via"] = json!(via);
        }
        if !record.letter_reference.is_blank() {
            paper["letter_reference"] = json!(record.letter_reference);
        }
        if let Some(id) = record.letter_document_id {
            paper["letter_document_id"] = json!(id);
        }
        Ok(Agent { principal, actor, time, paper: Some(paper) })
    }

    /// The event's details with what it says of the paper (how it came, when it was recorded, the
    /// letter) under `paper`.
    pub fn annotate(&self, mut details: Value) -> Value {
        if let (Some(paper), Value::Object(map)) = (&self.paper, &mut details) {
            map.insert("paper".into(), paper.clone());
        }
        details
    }
}
