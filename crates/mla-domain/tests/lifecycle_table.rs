//! Pins the transition table: every (state, action, side, role) combination, in both directions,
//! is checked against the table of `lifecycle.md`, copied here verbatim so that a change to the
//! rules must change this copy too.

mod support;

use mla_domain::*;
use support::*;

const LIFECYCLE_TABLE: &str = "
| DRAFT | SUBMIT | SUBMITTED | requesting | judge, supervisor |
| SUBMITTED | ACKNOWLEDGE | RECEIVED | requested | registrar, supervisor |
| RECEIVED | START_REVIEW | UNDER_REVIEW | requested | legal_officer, judge, supervisor |
| UNDER_REVIEW | REQUEST_CLARIFICATION | CLARIFICATION_REQUESTED | requested | legal_officer, judge, supervisor |
| CLARIFICATION_REQUESTED | PROVIDE_CLARIFICATION | UNDER_REVIEW | requesting | legal_officer, judge, supervisor |
| UNDER_REVIEW | PROPOSE_CONDITIONS | CONDITIONS_PROPOSED | requested | judge, supervisor |
| CONDITIONS_PROPOSED | ACCEPT_CONDITIONS | ACCEPTED | requesting | judge, supervisor |
| CONDITIONS_PROPOSED | DECLINE_CONDITIONS | UNDER_REVIEW | requesting | judge, supervisor |
| UNDER_REVIEW | ACCEPT | ACCEPTED | requested | judge, supervisor |
| UNDER_REVIEW, CONDITIONS_PROPOSED | REFUSE | REFUSED | requested | judge, supervisor |
| ACCEPTED | START_EXECUTION | IN_EXECUTION | requested | evidence_officer, legal_officer, supervisor |
| IN_EXECUTION | POSTPONE | POSTPONED | requested | judge, supervisor |
| POSTPONED | RESUME | IN_EXECUTION | requested | judge, evidence_officer, supervisor |
| IN_EXECUTION | COMPLETE_EXECUTION | EXECUTED | requested | evidence_officer, supervisor |
| EXECUTED, REFUSED | CLOSE | CLOSED | requesting | legal_officer, judge, supervisor |
| any state but EXECUTED, REFUSED, WITHDRAWN, CLOSED | WITHDRAW | WITHDRAWN | requesting | judge, supervisor |
";

struct Row {
    from: Vec<State>,
    to: State,
    requesting: bool,
    roles: Vec<Role>,
}

fn table() -> Vec<(Action, Row)> {
    LIFECYCLE_TABLE
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let states =
                |list: &str| -> Vec<State> { list.split(", ").map(|s| State::parse(s).unwrap()).collect() };
            let from = match cells[0].strip_prefix("any state but ") {
                Some(except) => {
                    let except = states(except);
                    State::ALL.iter().copied().filter(|s| !except.contains(s)).collect()
                }
                None => states(cells[0]),
            };
            let row = Row {
                from,
                to: State::parse(cells[2]).unwrap(),
                requesting: cells[3] == "requesting",
                roles: cells[4].split(", ").map(|r| Role::parse(r).unwrap()).collect(),
            };
            (Action::parse(cells[1]).unwrap(), row)
        })
        .collect()
}

/// What the table says a principal on a side gets: the new state, or the reason for refusal.
fn expected(
    row: &Row,
    state: State,
    direction: Direction,
    principal: &Principal,
) -> Result<State, &'static str> {
    if !Scope::of(principal).admits_side(direction, &code("FR-MOJ"), state) {
        return Err("REQUEST_NOT_FOUND");
    }
    if !row.from.contains(&state) {
        return Err("ILLEGAL_TRANSITION");
    }
    let partner_requests = direction == Direction::Incoming;
    let on_requesting_side = principal.is_ncijc() != partner_requests;
    if on_requesting_side != row.requesting {
        return Err("WRONG_SIDE");
    }
    if principal.is_ncijc() && !row.roles.iter().any(|&r| principal.has_role(r)) {
        return Err("MISSING_ROLE");
    }
    Ok(row.to)
}

fn principals() -> Vec<Principal> {
    let mut all: Vec<Principal> =
        Role::ALL.iter().filter(|&&r| r != Role::Partner).map(|&r| staff(r)).collect();
    all.push(partner_principal("FR-MOJ"));
    all
}

#[test]
fn every_state_action_side_and_role_behaves_as_the_table_says() {
    let table = table();
    assert_eq!(table.len(), Action::ALL.len(), "one row per action");
    let fr = partner("FR-MOJ", true);
    let mut checked = 0;
    for (action, row) in &table {
        for &state in State::ALL {
            for direction in [Direction::Incoming, Direction::Outgoing] {
                for principal in principals() {
                    let request = request_in(state, direction, "FR-MOJ");
                    let got = transition(&request, &satisfying(*action), &principal, &ctx(&fr, at(10)))
                        .map(|t| t.request.state)
                        .map_err(|e| e.reason());
                    let want = expected(row, state, direction, &principal);
                    assert_eq!(got, want, "{action} from {state} ({direction}) by {:?}", principal.party());
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 16 * 13 * 2 * 9);
}

#[test]
fn refusals_carry_the_canonical_error_classes() {
    let fr = partner("FR-MOJ", true);
    let class = |request: &Request, action, principal: &Principal| {
        transition(request, &satisfying(action), principal, &ctx(&fr, at(1))).unwrap_err().class()
    };
    let received = request_in(State::Received, Direction::Incoming, "FR-MOJ");
    assert_eq!(class(&received, Action::Close, &staff(Role::Judge)), ErrorClass::FailedPrecondition);
    assert_eq!(class(&received, Action::StartReview, &staff(Role::Registrar)), ErrorClass::PermissionDenied);
    assert_eq!(
        class(&received, Action::StartReview, &partner_principal("FR-MOJ")),
        ErrorClass::PermissionDenied
    );
    assert_eq!(class(&received, Action::StartReview, &partner_principal("DE-BJ")), ErrorClass::NotFound);
}

#[test]
fn an_auditor_and_an_administrator_can_take_no_action() {
    for role in [Role::Auditor, Role::Admin] {
        for &state in State::ALL {
            for direction in [Direction::Incoming, Direction::Outgoing] {
                let request = request_in(state, direction, "FR-MOJ");
                assert!(allowed_actions(&request, &staff(role)).is_empty(), "{role} in {state}");
            }
        }
    }
}

/// A role's work queue holds exactly the directions and states in which a member of that role has
/// an action to take (withdrawing aside, which is always open): `awaiting` and `allowed_actions` read
/// the same table.
#[test]
fn a_roles_work_queue_is_where_it_has_an_allowed_action() {
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Partner) {
        let queue = lifecycle::awaiting(role);
        for direction in Direction::ALL.iter().copied() {
            for state in State::ALL.iter().copied() {
                let request = request_in(state, direction, "FR-MOJ");
                let actions = allowed_actions(&request, &staff(role));
                let acts = actions.iter().any(|&a| a != Action::Withdraw);
                assert_eq!(queue.contains(&(direction, state)), acts, "{role:?} {direction:?} {state:?}");
            }
        }
    }
    assert_eq!(lifecycle::awaiting(Role::Registrar), [(Direction::Incoming, State::Submitted)]);
}
