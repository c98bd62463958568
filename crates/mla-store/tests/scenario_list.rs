//! Keeps the scenario list, the `conformance_tests!` macro and the scenario functions in step, so that
//! a scenario written but not listed cannot silently go unrun by a backend.

use std::collections::BTreeSet;

const SOURCE: &str = include_str!("../src/conformance.rs");

/// The names of the `pub async fn`s in the conformance module: the scenarios.
fn scenario_functions() -> BTreeSet<String> {
    SOURCE
        .lines()
        .filter_map(|line| line.strip_prefix("pub async fn "))
        .filter_map(|rest| rest.split('(').next())
        .filter(|name| *name != "guarded")
        .map(str::to_owned)
        .collect()
}

/// The names the macro turns into tests: the identifiers listed in its first arm.
fn macro_names() -> BTreeSet<String> {
    let start = SOURCE.find("macro_rules! conformance_tests").expect("the macro is defined");
    let body = &SOURCE[start..];
    let end = body.find("(@store $harness:ty;").expect("the macro has a store arm");
    body[..end]
        .lines()
        .map(str::trim)
        .filter(|line| line.ends_with(',') || line.ends_with(");"))
        .flat_map(|line| line.split([',', ';', ')', '(']))
        .map(str::trim)
        .filter(|word| !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_scenario_is_listed_and_run_by_the_macro() {
    let functions = scenario_functions();
    let listed: BTreeSet<String> =
        mla_store::conformance::SCENARIOS.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(listed.len(), mla_store::conformance::SCENARIOS.len(), "a scenario is listed twice");
    assert_eq!(functions, listed, "SCENARIOS and the scenario functions differ");
    assert_eq!(macro_names(), listed, "the conformance_tests! macro and SCENARIOS differ");
}
