//! Invariants of the lifecycle over generated requests, principals and histories.

mod support;

use mla_domain::*;
use proptest::prelude::*;
use proptest::sample::select;
use support::*;

fn any_state() -> impl Strategy<Value = State> {
    select(State::ALL.to_vec())
}

fn any_action() -> impl Strategy<Value = Action> {
    select(Action::ALL.to_vec())
}

fn any_direction() -> impl Strategy<Value = Direction> {
    select(vec![Direction::Incoming, Direction::Outgoing])
}

/// Staff with any non-empty set of staff roles, or one of two partners.
fn any_principal() -> impl Strategy<Value = Principal> {
    let staff_roles: Vec<Role> = Role::ALL.iter().copied().filter(|&r| r != Role::Partner).collect();
    prop_oneof![
        proptest::sample::subsequence(staff_roles.clone(), 1..=staff_roles.len())
            .prop_map(|roles| Principal::staff("someone", roles).unwrap()),
        select(vec!["FR-MOJ", "DE-BJ"]).prop_map(partner_principal),
    ]
}

proptest! {
    #[test]
    fn terminal_states_accept_nothing(
        state in select(vec![State::Withdrawn, State::Closed]),
        action in any_action(),
        direction in any_direction(),
        principal in any_principal(),
    ) {
        let request = request_in(state, direction, "FR-MOJ");
        let fr = partner("FR-MOJ", true);
        prop_assert!(transition(&request, &satisfying(action), &principal, &ctx(&fr, at(5))).is_err());
        prop_assert!(allowed_actions(&request, &principal).is_empty());
    }

    #[test]
    fn allowed_actions_agree_with_the_transition_function(
        state in any_state(),
        direction in any_direction(),
        principal in any_principal(),
    ) {
        let request = request_in(state, direction, "FR-MOJ");
        let fr = partner("FR-MOJ", true);
        let allowed = allowed_actions(&request, &principal);
        for &action in Action::ALL {
            let accepted = transition(&request, &satisfying(action), &principal, &ctx(&fr, at(5))).is_ok();
            prop_assert_eq!(allowed.contains(&action), accepted, "{} in {}", action, state);
        }
    }

    /// A command that does not consult the partner registry decides the same with or without the
    /// partner's entry, so the application may skip loading it.
    #[test]
    fn only_commands_that_consult_the_partner_depend_on_it(
        state in any_state(),
        direction in any_direction(),
        action in any_action(),
        principal in any_principal(),
        active in any::<bool>(),
    ) {
        let command = satisfying(action);
        prop_assume!(!command.consults_partner(None));
        let request = request_in(state, direction, "FR-MOJ");
        let fr = partner("FR-MOJ", active);
        let without = Context::new(at(5), None, Default::default());
        prop_assert_eq!(
            transition(&request, &command, &principal, &ctx(&fr, at(5))),
            transition(&request, &command, &principal, &without)
        );
    }

    #[test]
    fn no_partner_acts_on_or_sees_another_partners_request(
        state in any_state(),
        direction in any_direction(),
        action in any_action(),
        owner in select(vec!["FR-MOJ", "UN-IIIM"]),
    ) {
        let request = request_in(state, direction, owner);
        let other = partner_principal("DE-BJ");
        let owner_partner = partner(owner, true);
        prop_assert!(!Scope::of(&other).admits(&request));
        prop_assert!(allowed_actions(&request, &other).is_empty());
        let err = transition(&request, &satisfying(action), &other, &ctx(&owner_partner, at(5))).unwrap_err();
        prop_assert_eq!(err, DomainError::NotFound);
        let patch = Patch { assignee: Some(ShortText::parse("x").unwrap()), ..Patch::default() };
        prop_assert_eq!(update(&request, &patch, &other, &ctx(&owner_partner, at(5))).unwrap_err(), DomainError::NotFound);
    }

    /// Whatever history a request goes through, and whatever the instants stamped on it (even out of
    /// order, as replicas' clocks may be), its due date never moves earlier once set.
    #[test]
    fn the_clock_never_runs_backwards(
        direction in any_direction(),
        steps in proptest::collection::vec((any::<prop::sample::Index>(), -48i64..400), 1..40),
    ) {
        let fr = partner("FR-MOJ", true);
        let mut request = request_in(State::Draft, direction, "FR-MOJ");
        let actors = [staff(Role::Supervisor), partner_principal("FR-MOJ")];
        let mut now = at(0);
        let mut last_due = None;
        for (pick, hours) in steps {
            now += chrono::Duration::hours(hours);
            let choices: Vec<(Action, &Principal)> = actors
                .iter()
                .flat_map(|p| allowed_actions(&request, p).into_iter().map(move |a| (a, p)))
                .collect();
            if choices.is_empty() {
                break;
            }
            let (action, actor) = choices[pick.index(choices.len())];
            request = transition(&request, &satisfying(action), actor, &ctx(&fr, now)).unwrap().request;
            if let (Some(before), Some(after)) = (last_due, request.clock.due_at) {
                prop_assert!(after >= before, "due date moved from {} to {} on {}", before, after, action);
            }
            prop_assert!(!(last_due.is_some() && request.clock.due_at.is_none()), "due date lost on {}", action);
            last_due = request.clock.due_at;
        }
    }
}
