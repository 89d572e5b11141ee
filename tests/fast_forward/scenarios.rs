//! Every committed scenario, at its default seed, gives the same run with and without
//! fast-forward.

use std::path::Path;

use crate::{same_with_and_without, Result};

#[test]
fn every_committed_scenario_runs_the_same_with_and_without_fast_forward() -> Result {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.retain(|p| p.extension().is_some_and(|x| x == "toml"));
    paths.sort();
    assert!(
        paths.len() >= 10,
        "expected the scenario catalog in {dir:?}"
    );
    let mut jumped = 0;
    for path in &paths {
        let scenario = httpsim::scenario::load(path)?;
        let pair = same_with_and_without(scenario.name(), &scenario.setup)?;
        if pair.on.steps < pair.off.steps {
            jumped += 1;
        }
    }
    // Most scenarios have quiet stretches (timeouts, delays, idle sockets).
    assert!(
        jumped * 2 > paths.len(),
        "fast-forward jumped in only {jumped} of {} scenarios",
        paths.len()
    );
    Ok(())
}
