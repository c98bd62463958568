//! Who may see which requests and events. The rule is one value, [`Scope`], so that storage can turn
//! it into a query filter and single checks use the very same rule.

use crate::principal::{Party, Principal, Role};
use crate::request::{Direction, Request, State};
use crate::text::{PartnerCode, ShortText};

/// The requests a principal may see.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// NCIJC staff cleared for the whole register (supervisors and auditors): every request except a
    /// partner's own drafts.
    Ncijc,
    /// Other NCIJC staff (the subject named): as `Ncijc`, except the strictly confidential requests,
    /// which only their assignee handles.
    NcijcAssigned(String),
    /// A partner: its own requests, except the NCIJC's drafts addressed to it.
    Partner(PartnerCode),
    /// A principal that reads no requests (an administrator of the partner registry only).
    Nothing,
}

/// Staff roles that read the register. `admin` manages the partner registry and reads no requests.
pub const READER_ROLES: [Role; 7] = [
    Role::Registrar,
    Role::LegalOfficer,
    Role::Judge,
    Role::EvidenceOfficer,
    Role::ProtectionOfficer,
    Role::Supervisor,
    Role::Auditor,
];

/// Staff roles that see strictly confidential requests without being assigned to them: those who
/// oversee the handling, not those who handle.
pub const CLEARED_ROLES: [Role; 2] = [Role::Supervisor, Role::Auditor];

impl Scope {
    pub fn of(principal: &Principal) -> Scope {
        match principal.party() {
            Party::Partner(code) => Scope::Partner(code.clone()),
            Party::Ncijc(_) if principal.has_any_role(&CLEARED_ROLES) => Scope::Ncijc,
            Party::Ncijc(_) if principal.has_any_role(&READER_ROLES) => {
                Scope::NcijcAssigned(principal.subject().to_owned())
            }
            Party::Ncijc(_) => Scope::Nothing,
        }
    }

    /// Whether `request` is in scope: its side sees it ([`Scope::admits_side`]), and a strictly
    /// confidential request is, among staff, for its assignee and those cleared only.
    pub fn admits(&self, request: &Request) -> bool {
        let hidden = match self {
            Scope::NcijcAssigned(subject) => {
                request.is_strictly_confidential() && request.assignee.as_str() != subject
            }
            Scope::Ncijc | Scope::Partner(_) | Scope::Nothing => false,
        };
        !hidden && self.admits_side(request.direction, &request.partner_code, request.state)
    }

    /// Whether the side of this scope sees a request with these attributes, whoever handles it. A
    /// draft is visible to its author's side only: the side that requests (INCOMING: the partner;
    /// OUTGOING: the NCIJC). This is the part of the rule an event's audience records.
    pub fn admits_side(&self, direction: Direction, partner_code: &PartnerCode, state: State) -> bool {
        let draft = state == State::Draft;
        match self {
            Scope::Ncijc | Scope::NcijcAssigned(_) => !(draft && direction == Direction::Incoming),
            Scope::Partner(own) => own == partner_code && !(draft && direction == Direction::Outgoing),
            Scope::Nothing => false,
        }
    }

    /// Whether the NCIJC's internal fields of a request (its assignee and its internal due date, and
    /// what derives from it, `overdue`) are shown: to NCIJC staff only, never to a partner.
    pub fn sees_internal_fields(&self) -> bool {
        matches!(self, Scope::Ncijc | Scope::NcijcAssigned(_))
    }
}

/// Staff roles that see protected persons' identities in any request they see: judges, who decide
/// on what the identities bear on, and the witness protection unit, which decides who is protected.
pub const IDENTITY_ROLES: [Role; 2] = [Role::Judge, Role::ProtectionOfficer];

/// Whether `principal` sees the identities of the protected persons in `request`: the side that
/// supplied them (the requesting side, which wrote the content) and, on the other side, the request's
/// assignee and the [`IDENTITY_ROLES`]. Everyone else sees a pseudonym.
pub fn sees_protected_identities(principal: &Principal, request: &Request) -> bool {
    match principal.party() {
        Party::Partner(_) => request.direction == Direction::Incoming,
        Party::Ncijc(_) => {
            request.direction == Direction::Outgoing
                || request.assignee.as_str() == principal.subject()
                || principal.has_any_role(&IDENTITY_ROLES)
        }
    }
}

impl Request {
    /// The request as `principal` sees it: without the fields internal to the other side, and with a
    /// stable pseudonym (`Protected person 1`, numbered in the order of the protected persons) for
    /// each protected person whose identity it may not see. Applied to every answer that carries a
    /// request, so that no door shows more.
    pub fn as_seen_by(mut self, principal: &Principal) -> Request {
        if !Scope::of(principal).sees_internal_fields() {
            self.assignee = ShortText::default();
            self.clock = Default::default();
        }
        if !sees_protected_identities(principal, &self) {
            for (n, person) in self.content.persons.iter_mut().filter(|p| p.protected).enumerate() {
                person.name = ShortText::parse(format!("Protected person {}", n + 1)).unwrap_or_default();
                person.nationality = ShortText::default();
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> PartnerCode {
        PartnerCode::parse(s).unwrap()
    }

    #[test]
    fn staff_see_everything_but_a_partners_own_drafts() {
        let staff = Scope::of(&Principal::staff("a", [Role::Auditor]).unwrap());
        assert_eq!(staff, Scope::Ncijc);
        assert!(!staff.admits_side(Direction::Incoming, &code("FR-MOJ"), State::Draft));
        assert!(staff.admits_side(Direction::Incoming, &code("FR-MOJ"), State::Submitted));
        assert!(staff.admits_side(Direction::Outgoing, &code("FR-MOJ"), State::Draft));
    }

    #[test]
    fn only_supervisors_and_auditors_are_cleared_for_every_strictly_confidential_request() {
        for role in CLEARED_ROLES {
            assert_eq!(Scope::of(&Principal::staff("s", [role]).unwrap()), Scope::Ncijc);
        }
        for role in READER_ROLES.into_iter().filter(|r| !CLEARED_ROLES.contains(r)) {
            assert_eq!(Scope::of(&Principal::staff("s", [role]).unwrap()), Scope::NcijcAssigned("s".into()));
        }
    }

    #[test]
    fn a_partner_sees_its_own_requests_but_not_the_ncijcs_drafts() {
        let fr = Scope::of(&Principal::partner("s", code("FR-MOJ")).unwrap());
        assert!(fr.admits_side(Direction::Incoming, &code("FR-MOJ"), State::Draft));
        assert!(!fr.admits_side(Direction::Outgoing, &code("FR-MOJ"), State::Draft));
        assert!(fr.admits_side(Direction::Outgoing, &code("FR-MOJ"), State::Submitted));
        assert!(!fr.admits_side(Direction::Incoming, &code("DE-BJ"), State::Submitted));
    }

    #[test]
    fn an_administrator_alone_reads_no_requests() {
        let admin = Scope::of(&Principal::staff("root", [Role::Admin]).unwrap());
        assert_eq!(admin, Scope::Nothing);
        assert!(!admin.admits_side(Direction::Outgoing, &code("FR-MOJ"), State::Accepted));
    }
}
