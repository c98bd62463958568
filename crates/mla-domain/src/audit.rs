//! The audit trail: the events that record every change, who may read each, and the hash chain that
//! makes tampering evident.
//!
//! # Canonical encoding (version 1)
//!
//! An event's `hash` is the lower-case hex SHA-256 of these fields, in this order, each written as a
//! netstring (`<byte length in decimal>:<UTF-8 bytes>,`):
//!
//! 1. the literal `mla-audit-v1`
//! 2. `cursor` in decimal
//! 3. `request_id` (hyphenated lower-case UUID)
//! 4. `seq` in decimal
//! 5. `time` as RFC 3339 UTC with exactly six fractional digits (`2026-03-01T09:00:00.000000Z`)
//! 6. the actor's `subject`
//! 7. the actor's roles: their count in decimal, then each role
//! 8. the actor's `partner_code` (empty for NCIJC staff)
//!    - only when staff recorded the act of a paper partner on its behalf: the literal `on-behalf-of`,
//!      then that partner's code (events without it hash as before)
//! 9. `action`
//! 10. `from_state` (empty for the creating event)
//! 11. `to_state`
//! 12. `details`, the JSON text exactly as stored
//! 13. `prev_hash` (empty for a request's first event)
//!
//! Length prefixes make the encoding unambiguous whatever the fields contain.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Timestamp;
use crate::principal::Principal;
use crate::request::{Direction, Request, State};
use crate::text::{PartnerCode, RequestId};
use crate::visibility::Scope;

/// Who acted, as recorded in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub subject: String,
    pub roles: Vec<String>,
    /// The partner a partner's system acted for; `None` for NCIJC staff.
    pub partner_code: Option<String>,
    /// The paper partner whose act NCIJC staff recorded on its behalf (`crate::paper`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
}

impl Actor {
    pub fn of(principal: &Principal) -> Self {
        Self {
            subject: principal.subject().to_owned(),
            roles: principal.role_names(),
            partner_code: principal.partner_code().map(|c| c.to_string()),
            on_behalf_of: None,
        }
    }
}

/// Which sides may read an event. Decided when the event is written, so that lists and the live
/// feed filter on it in the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    pub ncijc: bool,
    pub partner: bool,
}

impl Audience {
    /// The audience of a change to `request` (as it stands after the change): each side that may see
    /// the request, except that internal changes (assignment, deadlines) stay with the NCIJC.
    pub fn of(request: &Request, internal: bool) -> Self {
        Self::of_parts(request.direction, &request.partner_code, request.state, internal)
    }

    pub fn of_parts(direction: Direction, partner_code: &PartnerCode, state: State, internal: bool) -> Self {
        let sees = |scope: Scope| scope.admits_side(direction, partner_code, state);
        Self { ncijc: sees(Scope::Ncijc), partner: !internal && sees(Scope::Partner(partner_code.clone())) }
    }
}

/// Whether an event records a change to the request (counted by its version), rather than the custody
/// of its documents or its correspondence, which change nothing of it.
pub fn changes_request(action: &str) -> bool {
    !crate::document::is_custody(action) && !crate::correspondence::is_correspondence(action)
}

/// An event the domain decided on, before storage gives it its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDraft {
    pub time: Timestamp,
    pub actor: Actor,
    /// An action name (`SUBMIT` ...) or a change (`CREATE`, `UPDATE`).
    pub action: String,
    pub from_state: Option<State>,
    pub to_state: State,
    pub details: serde_json::Value,
    pub audience: Audience,
}

impl EventDraft {
    /// An event beside the request's version (custody, correspondence): it changes nothing of the
    /// request, so it carries the request's state on both ends.
    pub fn beside(
        request: &Request,
        principal: &Principal,
        action: &str,
        details: serde_json::Value,
        audience: Audience,
        now: Timestamp,
    ) -> EventDraft {
        EventDraft {
            time: now,
            actor: Actor::of(principal),
            action: action.into(),
            from_state: Some(request.state),
            to_state: request.state,
            details,
            audience,
        }
    }
}

/// An event as the audit trail holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The event's place in the global feed: strictly increasing, never reused.
    pub cursor: i64,
    pub request_id: RequestId,
    pub partner_code: PartnerCode,
    /// The event's place in its request's chain, from 1.
    pub seq: i64,
    pub time: Timestamp,
    pub actor: Actor,
    pub action: String,
    pub from_state: Option<State>,
    pub to_state: State,
    /// JSON text, exactly as hashed.
    pub details: String,
    pub audience: Audience,
    pub prev_hash: String,
    pub hash: String,
}

impl Event {
    /// Places a drafted event in the chain: `prev_hash` is the hash of the request's previous event
    /// (empty for the first).
    pub fn chain(
        draft: EventDraft,
        request_id: RequestId,
        partner_code: PartnerCode,
        cursor: i64,
        seq: i64,
        prev_hash: String,
    ) -> Self {
        let mut event = Self {
            cursor,
            request_id,
            partner_code,
            seq,
            time: draft.time,
            actor: draft.actor,
            action: draft.action,
            from_state: draft.from_state,
            to_state: draft.to_state,
            details: draft.details.to_string(),
            audience: draft.audience,
            prev_hash,
            hash: String::new(),
        };
        event.hash = event.computed_hash();
        event
    }

    /// The hash of this event's fields under the canonical encoding (see the module docs).
    pub fn computed_hash(&self) -> String {
        let mut hash = Netstrings::new();
        hash.field("mla-audit-v1")
            .field(self.cursor.to_string())
            .field(self.request_id.to_string())
            .field(self.seq.to_string())
            .field(canonical_time(self.time))
            .field(&self.actor.subject)
            .field(self.actor.roles.len().to_string());
        for role in &self.actor.roles {
            hash.field(role);
        }
        hash.field(self.actor.partner_code.as_deref().unwrap_or(""));
        if let Some(partner) = &self.actor.on_behalf_of {
            hash.field("on-behalf-of").field(partner);
        }
        hash.field(&self.action)
            .field(self.from_state.map(State::as_str).unwrap_or(""))
            .field(self.to_state.as_str())
            .field(&self.details)
            .field(&self.prev_hash);
        hash.hex()
    }
}

/// An event's link in its *view*: the chain of the events of one request that one side reads (a
/// partner's, or the NCIJC's), so that a side verifies the part of the record it was shown without
/// the events it may not read. Derived from the request's chain, never stored: the view's first
/// link has `seq` 1 and an empty `prev_hash`, and each `hash` is the lower-case hex SHA-256 of the
/// netstrings (as above) of the literal `mla-view-v1`, `seq` in decimal, the event's own `hash`, and
/// `prev_hash`. A side that keeps the last view hash it read can tell later whether the part of the
/// record it saw was changed, or an event it saw was dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewLink {
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
}

impl ViewLink {
    /// The view links of `events`: every event one side reads of one request, in `seq` order.
    pub fn chain<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<ViewLink> {
        let mut prev = String::new();
        events
            .into_iter()
            .zip(1..)
            .map(|(event, seq)| {
                let mut hash = Netstrings::new();
                hash.field("mla-view-v1").field(seq.to_string()).field(&event.hash).field(&prev);
                let link = ViewLink { seq, prev_hash: prev.clone(), hash: hash.hex() };
                prev = link.hash.clone();
                link
            })
            .collect()
    }
}

/// A SHA-256 over fields each written as a netstring (`<byte length in decimal>:<bytes>,`): the one
/// encoding of every hash the trail holds (events, views, persons' commitments), unambiguous whatever
/// the fields contain.
pub(crate) struct Netstrings(Sha256);

impl Netstrings {
    pub(crate) fn new() -> Self {
        Self(Sha256::new())
    }

    pub(crate) fn field(&mut self, bytes: impl AsRef<[u8]>) -> &mut Self {
        let bytes = bytes.as_ref();
        self.0.update(bytes.len().to_string().as_bytes());
        self.0.update(b":");
        self.0.update(bytes);
        self.0.update(b",");
        self
    }

    /// The digest in lower-case hex.
    pub(crate) fn hex(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// Times in the audit trail have microsecond precision, as both databases store them.
pub fn canonical_time(time: Timestamp) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The first broken link in a request's chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("request {request_id}: event seq {seq} (cursor {cursor}) {problem}")]
pub struct BrokenLink {
    pub request_id: RequestId,
    pub seq: i64,
    pub cursor: i64,
    pub problem: String,
}

/// Walks one request's events (in `seq` order) and names the first link that does not hold: a hash
/// that does not match the event's fields, a `prev_hash` that is not the previous event's hash, or a
/// gap in the sequence numbers.
pub fn verify_chain<'a>(events: impl IntoIterator<Item = &'a Event>) -> Result<usize, BrokenLink> {
    let mut prev: Option<&Event> = None;
    let mut count = 0;
    for event in events {
        let broken = |problem: String| BrokenLink {
            request_id: event.request_id,
            seq: event.seq,
            cursor: event.cursor,
            problem,
        };
        let expected_seq = prev.map_or(1, |p| p.seq + 1);
        if event.seq != expected_seq {
            return Err(broken(format!("follows seq {} (expected seq {expected_seq})", expected_seq - 1)));
        }
        let expected_prev = prev.map_or("", |p| p.hash.as_str());
        if event.prev_hash != expected_prev {
            return Err(broken("has a prev_hash that is not the previous event's hash".into()));
        }
        if event.computed_hash() != event.hash {
            return Err(broken("has been altered: its hash does not match its contents".into()));
        }
        prev = Some(event);
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn draft(action: &str) -> EventDraft {
        EventDraft {
            time: chrono::Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
            actor: Actor {
                subject: "alice".into(),
                roles: vec!["judge".into()],
                partner_code: None,
                on_behalf_of: None,
            },
            action: action.into(),
            from_state: None,
            to_state: State::Draft,
            details: serde_json::json!({"note": "«نص» 'x'"}),
            audience: Audience { ncijc: true, partner: false },
        }
    }

    fn chain_of(n: usize) -> Vec<Event> {
        let id = RequestId::parse("0192f0c1-7a3e-7cc0-8000-000000000001").unwrap();
        let code = PartnerCode::parse("FR-MOJ").unwrap();
        let mut events: Vec<Event> = Vec::new();
        for i in 0..n {
            let prev = events.last().map(|e| e.hash.clone()).unwrap_or_default();
            events.push(Event::chain(draft("UPDATE"), id, code.clone(), 10 + i as i64, i as i64 + 1, prev));
        }
        events
    }

    #[test]
    fn a_view_chains_the_events_one_side_reads_whatever_lies_between() {
        let events = chain_of(5);
        let shown = [&events[0], &events[2], &events[4]];
        let view = ViewLink::chain(shown);
        assert_eq!(view.iter().map(|l| l.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(view[0].prev_hash, "");
        assert_eq!(view[1].prev_hash, view[0].hash);
        assert_eq!(view[2].prev_hash, view[1].hash);
        // A view shown without one of its events no longer leads to the same last link.
        let without = ViewLink::chain([&events[0], &events[4]]);
        assert_ne!(without.last().unwrap().hash, view[2].hash);
    }

    #[test]
    fn a_sound_chain_verifies() {
        assert_eq!(verify_chain(&chain_of(4)), Ok(4));
    }

    #[test]
    fn the_hash_is_stable_hex_sha256() {
        let events = chain_of(1);
        assert_eq!(events[0].hash.len(), 64);
        assert_eq!(events[0].hash, events[0].computed_hash());
    }

    #[test]
    fn an_altered_field_is_named_with_its_sequence_number() {
        let mut events = chain_of(4);
        events[2].details = r#"{"note":"forged"}"#.into();
        let broken = verify_chain(&events).unwrap_err();
        assert_eq!((broken.seq, broken.cursor), (3, 12));
        assert!(broken.problem.contains("altered"));
    }

    #[test]
    fn a_removed_event_breaks_the_chain() {
        let mut events = chain_of(4);
        events.remove(1);
        assert_eq!(verify_chain(&events).unwrap_err().seq, 3);
    }

    #[test]
    fn a_rehashed_forgery_is_caught_by_the_next_link() {
        let mut events = chain_of(3);
        events[1].actor.subject = "mallory".into();
        events[1].hash = events[1].computed_hash();
        let broken = verify_chain(&events).unwrap_err();
        assert_eq!(broken.seq, 3);
        assert!(broken.problem.contains("prev_hash"));
    }
}
