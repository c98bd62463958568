//! Personal data and the audit trail. The hash-chained events never hold a person's identity: they
//! hold a salted commitment to it, while the identity itself lives in the request, where a deletion
//! order can erase it. Erasing a person's identity and salt leaves every chain verifiable, and leaves
//! nothing in it that a guess of the name could be checked against.
//!
//! # Commitment (version 1)
//!
//! The lower-case hex SHA-256 of netstrings (as the audit encoding writes them) of: the literal
//! `mla-person-v1`, the person's salt (hex), name, role and nationality.

use serde_json::{Value, json};

use crate::Timestamp;
use crate::audit::{Actor, Audience, EventDraft, Netstrings};
use crate::error::{DomainError, FieldViolation};
use crate::lifecycle::Transition;
use crate::principal::{Principal, Role};
use crate::request::{Person, Request, RequestContent};
use crate::text::{LongText, ShortText};

/// The action of an erasure in the audit trail.
pub const ERASE: &str = "ERASE_PERSONAL_DATA";
/// What stands in an erased person's name.
pub const ERASED_NAME: &str = "[erased]";
/// Erasure executes a deletion order: the administrator's act, on any request by its id, though an
/// administrator reads no requests.
pub const ERASING_ROLES: &[Role] = &[Role::Admin];

/// Whether a change with this action erases personal data: storage then forgets too what it kept of
/// the request for replaying answers.
pub fn erases(action: &str) -> bool {
    action == ERASE
}

/// Decides the erasure of a person's identity (`person`: their place in the list, from 0) under the
/// deletion order `legal_reference`: name and nationality are replaced and the salt destroyed, in any
/// state. The event names the person by place and commitment, and the order.
pub fn erase(
    request: &Request,
    person: usize,
    legal_reference: &LongText,
    principal: &Principal,
    now: Timestamp,
) -> Result<Transition, DomainError> {
    if !principal.has_any_role(ERASING_ROLES) {
        return Err(DomainError::MissingRole { action: ERASE, allowed: ERASING_ROLES });
    }
    if legal_reference.is_blank() {
        return Err(DomainError::MissingReason { action: ERASE, field: "legal_reference" });
    }
    let Some(current) = request.content.persons.get(person) else {
        return Err(DomainError::InvalidFields(vec![FieldViolation::new(
            "person",
            format!("the request names {} persons, counted from 0", request.content.persons.len()),
        )]));
    };
    if current.salt.is_empty() && current.name.as_str() == ERASED_NAME {
        return Err(DomainError::NotEditable { field: "person".into(), why: "the person is erased already" });
    }
    let mut next = request.clone();
    let erased = &mut next.content.persons[person];
    erased.name = ShortText::parse(ERASED_NAME).unwrap_or_default();
    erased.nationality = ShortText::default();
    erased.salt = String::new();
    next.update_time = now;
    let event = EventDraft {
        time: now,
        actor: Actor::of(principal),
        action: ERASE.into(),
        from_state: Some(request.state),
        to_state: request.state,
        details: json!({
            "person": person,
            "commitment": commitment(current),
            "legal_reference": legal_reference,
        }),
        audience: Audience::of(&next, false),
    };
    Ok(Transition { request: next, event })
}

/// Gives each person who has none a salt from `fresh` (random bytes, hex): the caller's, since the
/// domain draws no randomness itself.
pub fn seal<E>(content: &mut RequestContent, mut fresh: impl FnMut() -> Result<String, E>) -> Result<(), E> {
    for person in content.persons.iter_mut().filter(|p| p.salt.is_empty()) {
        person.salt = fresh()?;
    }
    Ok(())
}

/// The salted commitment to a person's identity (see the module docs).
pub fn commitment(person: &Person) -> String {
    let mut hash = Netstrings::new();
    hash.field("mla-person-v1")
        .field(&person.salt)
        .field(person.name.as_str())
        .field(person.role.as_str())
        .field(person.nationality.as_str());
    hash.hex()
}

/// The content as the audit trail records it: every field, except that each person is their role,
/// whether they are protected, and the commitment to their identity.
pub fn committed(content: &RequestContent) -> Value {
    let mut value = serde_json::to_value(content).unwrap_or_default();
    value["persons"] = content
        .persons
        .iter()
        .map(|p| json!({ "role": p.role, "protected": p.protected, "commitment": commitment(p) }))
        .collect();
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::PersonRole;
    use crate::text::ShortText;

    fn person(name: &str, salt: &str) -> Person {
        Person {
            name: ShortText::parse(name).unwrap(),
            role: PersonRole::Witness,
            nationality: ShortText::parse("IQ").unwrap(),
            protected: true,
            salt: salt.into(),
        }
    }

    #[test]
    fn the_trail_holds_commitments_never_identities() {
        let content = RequestContent { persons: vec![person("Ahmed Saleh", "00ff")], ..Default::default() };
        let recorded = committed(&content).to_string();
        assert!(!recorded.contains("Ahmed") && !recorded.contains("00ff") && !recorded.contains("IQ"));
        assert!(recorded.contains(&commitment(&content.persons[0])));
    }

    #[test]
    fn a_commitment_binds_the_identity_and_the_salt() {
        let base = commitment(&person("Ahmed Saleh", "00ff"));
        assert_eq!(base, commitment(&person("Ahmed Saleh", "00ff")));
        assert_ne!(base, commitment(&person("Ahmed Salih", "00ff")));
        assert_ne!(
            base,
            commitment(&person("Ahmed Saleh", "01ff")),
            "a guess without the salt checks nothing"
        );
    }

    #[test]
    fn sealing_salts_only_the_unsalted() {
        let mut content =
            RequestContent { persons: vec![person("A", "kept"), person("B", "")], ..Default::default() };
        seal(&mut content, || Ok::<_, ()>("fresh".into())).unwrap();
        let salts: Vec<_> = content.persons.iter().map(|p| p.salt.as_str()).collect();
        assert_eq!(salts, ["kept", "fresh"]);
    }
}
