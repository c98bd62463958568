//! Who is acting: an NCIJC staff member with roles, or a partner's system with its partner code.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::text::{ParseError, PartnerCode};

/// A role a token may carry. Every role but `Partner` belongs to NCIJC staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Registrar,
    LegalOfficer,
    Judge,
    EvidenceOfficer,
    /// The witness protection unit: sees protected persons and decides who is protected.
    ProtectionOfficer,
    Supervisor,
    Auditor,
    Admin,
    Partner,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::Registrar,
        Role::LegalOfficer,
        Role::Judge,
        Role::EvidenceOfficer,
        Role::ProtectionOfficer,
        Role::Supervisor,
        Role::Auditor,
        Role::Admin,
        Role::Partner,
    ];

    /// The role's name in tokens and audit events.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Registrar => "registrar",
            Role::LegalOfficer => "legal_officer",
            Role::Judge => "judge",
            Role::EvidenceOfficer => "evidence_officer",
            Role::ProtectionOfficer => "protection_officer",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Partner => "partner",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == raw)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The party a principal acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    /// NCIJC staff, with at least one staff role (never `Role::Partner`).
    Ncijc(BTreeSet<Role>),
    /// A partner's system, acting for exactly one partner of the registry.
    Partner(PartnerCode),
}

/// An authenticated caller: who (the token's subject) and for which party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    subject: String,
    party: Party,
}

impl Principal {
    /// A principal from a token's claims. A partner principal carries the `partner` role alone and a
    /// partner code; a staff principal carries staff roles and no partner code. Anything else is
    /// refused, so that no principal can be both.
    pub fn from_claims(
        subject: &str,
        roles: impl IntoIterator<Item = Role>,
        partner: Option<PartnerCode>,
    ) -> Result<Self, ParseError> {
        if subject.trim().is_empty() || subject.len() > 256 || subject.chars().any(char::is_control) {
            return Err(ParseError("the subject must be 1-256 printable characters".into()));
        }
        let roles: BTreeSet<Role> = roles.into_iter().collect();
        let party = match (roles.contains(&Role::Partner), partner) {
            (true, Some(code)) if roles.len() == 1 => Party::Partner(code),
            (true, Some(_)) => {
                return Err(ParseError("a partner principal carries no NCIJC role".into()));
            }
            (true, None) => return Err(ParseError("the partner role needs a partner claim".into())),
            (false, Some(_)) => {
                return Err(ParseError("a partner claim needs the partner role".into()));
            }
            (false, None) if roles.is_empty() => {
                return Err(ParseError("the principal has no role".into()));
            }
            (false, None) => Party::Ncijc(roles),
        };
        Ok(Self { subject: subject.to_owned(), party })
    }

    /// A staff principal with the given roles (a convenience for callers that build principals).
    pub fn staff(subject: &str, roles: impl IntoIterator<Item = Role>) -> Result<Self, ParseError> {
        Self::from_claims(subject, roles, None)
    }

    /// A partner principal.
    pub fn partner(subject: &str, code: PartnerCode) -> Result<Self, ParseError> {
        Self::from_claims(subject, [Role::Partner], Some(code))
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn party(&self) -> &Party {
        &self.party
    }

    /// The partner this principal acts for, if it is a partner's system.
    pub fn partner_code(&self) -> Option<&PartnerCode> {
        match &self.party {
            Party::Partner(code) => Some(code),
            Party::Ncijc(_) => None,
        }
    }

    pub fn is_ncijc(&self) -> bool {
        matches!(self.party, Party::Ncijc(_))
    }

    pub fn has_role(&self, role: Role) -> bool {
        match &self.party {
            Party::Ncijc(roles) => roles.contains(&role),
            Party::Partner(_) => role == Role::Partner,
        }
    }

    /// True when the principal holds at least one of `roles`.
    pub fn has_any_role(&self, roles: &[Role]) -> bool {
        roles.iter().any(|&role| self.has_role(role))
    }

    /// The roles as they appear in tokens and audit events, in a stable order.
    pub fn role_names(&self) -> Vec<String> {
        match &self.party {
            Party::Ncijc(roles) => roles.iter().map(|r| r.as_str().to_owned()).collect(),
            Party::Partner(_) => vec![Role::Partner.as_str().to_owned()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> PartnerCode {
        PartnerCode::parse(s).unwrap()
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("superuser"), None);
    }

    #[test]
    fn a_principal_is_either_staff_or_one_partner_never_both() {
        assert!(Principal::staff("alice", [Role::Judge]).unwrap().is_ncijc());
        let p = Principal::partner("fr-system", code("FR-MOJ")).unwrap();
        assert_eq!(p.partner_code(), Some(&code("FR-MOJ")));
        assert!(Principal::from_claims("x", [Role::Partner], None).is_err());
        assert!(Principal::from_claims("x", [Role::Partner, Role::Judge], Some(code("FR-MOJ"))).is_err());
        assert!(Principal::from_claims("x", [Role::Judge], Some(code("FR-MOJ"))).is_err());
        assert!(Principal::from_claims("x", [], None).is_err());
        assert!(Principal::from_claims(" ", [Role::Judge], None).is_err());
    }
}
