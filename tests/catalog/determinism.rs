use std::path::PathBuf;

use httpsim::scenario;

use crate::Result;

/// Every catalog scenario, at seeds other than its own, twice each: byte-identical traces. The
/// catalog exercises what the foundation's seed sweep does not — idle timeouts racing
/// connections, shutdown deadlines, CPU gating, faults — where an unseeded choice (a `select!`
/// without a fixed branch order, say) would show.
#[test]
fn every_catalog_scenario_repeats_itself_at_other_seeds() -> Result {
    let files = scenario::discover(&[PathBuf::from("scenarios")])?;
    for f in &files {
        let s = scenario::load(f)?;
        for seed in [2, 7] {
            let a = scenario::run(&s, seed)?;
            let b = scenario::run(&s, seed)?;
            assert_eq!(
                a.trace_hash,
                b.trace_hash,
                "{} at seed {seed} gave two different traces; replay: {}",
                f.display(),
                a.replay
            );
        }
    }
    Ok(())
}
