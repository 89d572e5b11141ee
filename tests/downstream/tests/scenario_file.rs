//! A scenario file of the team's, run from `cargo test`.

#[test]
fn the_items_scenario_passes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/items.toml");
    let scenario = httpsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let outcome = httpsim::scenario::run(&scenario, scenario.default_seed()).unwrap();
    assert!(outcome.passed, "{:#?}", outcome.expectations);
    assert_eq!(outcome.summary.statuses["201"], 8);
    let verdicts: Vec<_> = outcome.invariants.iter().map(|i| i.verdict).collect();
    assert!(verdicts
        .iter()
        .all(|v| *v == httpsim::check::judge::Verdict::Pass));
}
