//! Who may see which requests and events. The rule is one value, [`Scope`], so that storage can turn
//! it into a query filter and single checks use the very same rule.

use crate::principal::{Party, Principal, Role};
use crate::request::{Direction, Request, State};
use crate::text::{PartnerCode, ShortText};

/// The requests a principal may see.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// NCIJC staff: every request except a partner's own drafts.
    Ncijc,
    /// A partner: its own requests, except the NCIJC's drafts addressed to it.
    Partner(PartnerCode),
    /// A principal that reads no requests (an administrator of the partner registry only).
    Nothing,
}

/// Staff roles that read the register. `admin` manages the partner registry and reads no requests.
pub const READER_ROLES: [Role; 6] = [
    Role::Registrar,
    Role::LegalOfficer,
    Role::Judge,
    Role::EvidenceOfficer,
    Role::Supervisor,
    Role::Auditor,
];

impl Scope {
    pub fn of(principal: &Principal) -> Scope {
        match principal.party() {
            Party::Partner(code) => Scope::Partner(code.clone()),
            Party::Ncijc(_) if principal.has_any_role(&READER_ROLES) => Scope::Ncijc,
            Party::Ncijc(_) => Scope::Nothing,
        }
    }

    /// Whether a request with these attributes is in scope. A draft is visible to its author's side
    /// only: the side that requests (INCOMING: the partner; OUTGOING: the NCIJC).
    pub fn admits(&self, direction: Direction, partner_code: &PartnerCode, state: State) -> bool {
        let draft = state == State::Draft;
        match self {
            Scope::Ncijc => !(draft && direction == Direction::Incoming),
            Scope::Partner(own) => own == partner_code && !(draft && direction == Direction::Outgoing),
            Scope::Nothing => false,
        }
    }

    /// Whether the NCIJC's internal fields of a request (its assignee and its internal due date, and
    /// what derives from it, `overdue`) are shown: to NCIJC staff only, never to a partner.
    pub fn sees_internal_fields(&self) -> bool {
        matches!(self, Scope::Ncijc)
    }
}

impl Request {
    /// The request as a principal with `scope` sees it: without the fields internal to the other
    /// side. Applied to every answer that carries a request, so that no door shows more.
    pub fn as_seen_in(mut self, scope: &Scope) -> Request {
        if !scope.sees_internal_fields() {
            self.assignee = ShortText::default();
            self.clock = Default::default();
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
        assert!(!staff.admits(Direction::Incoming, &code("FR-MOJ"), State::Draft));
        assert!(staff.admits(Direction::Incoming, &code("FR-MOJ"), State::Submitted));
        assert!(staff.admits(Direction::Outgoing, &code("FR-MOJ"), State::Draft));
    }

    #[test]
    fn a_partner_sees_its_own_requests_but_not_the_ncijcs_drafts() {
        let fr = Scope::of(&Principal::partner("s", code("FR-MOJ")).unwrap());
        assert!(fr.admits(Direction::Incoming, &code("FR-MOJ"), State::Draft));
        assert!(!fr.admits(Direction::Outgoing, &code("FR-MOJ"), State::Draft));
        assert!(fr.admits(Direction::Outgoing, &code("FR-MOJ"), State::Submitted));
        assert!(!fr.admits(Direction::Incoming, &code("DE-BJ"), State::Submitted));
    }

    #[test]
    fn an_administrator_alone_reads_no_requests() {
        let admin = Scope::of(&Principal::staff("root", [Role::Admin]).unwrap());
        assert_eq!(admin, Scope::Nothing);
        assert!(!admin.admits(Direction::Outgoing, &code("FR-MOJ"), State::Accepted));
    }
}
