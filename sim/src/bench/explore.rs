//! Exploration throughput: explored runs per wall second on the catalog's shapes, one core.
//!
//! Each catalog scenario (embedded at build time, so the figure does not depend on the working
//! folder) is explored over the same seeds: per seed, a case drawn from its `[explore]` table —
//! or, for a file without one, [`DEFAULT_TABLE`]: up to two latency changes or holds in the
//! first two seconds — written, parsed, run and judged, exactly as `httpsim explore` does it.
//! Shrinking is not timed: it runs only on a finding, and costs runs of the same kind.
//!
//! The figure is the count of explored runs over the wall time of all of them. A run of the
//! EMFILE storm (2000 requests) costs a hundred times one of the idle-reuse race (6 requests),
//! so the mix is the catalog's mix, not a best case.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::explore::Explorer;
use crate::scenario;

/// The `[explore]` table given to a catalog file that has none.
pub const DEFAULT_TABLE: &str = r#"
[explore]
faults = { min = 0, max = 2 }
kinds = ["latency", "hold"]
window = { min = "0s", max = "2s" }
outage = { min = "10ms", max = "500ms" }
latency = { min = "1ms", max = "50ms" }
"#;

macro_rules! catalog {
    ($($f:literal),* $(,)?) => {
        &[$(($f, include_str!(concat!("../../../scenarios/", $f)))),*]
    };
}

/// The catalog's shapes: file name and text.
pub const SHAPES: &[(&str, &str)] = catalog![
    "concurrency-async-delay.toml",
    "concurrency-cpu-serialises.toml",
    "emfile-storm-bounded-pool.toml",
    "emfile-storm-no-pool.toml",
    "h2-half-open-no-ping.toml",
    "h2-half-open-pings.toml",
    "h2-refused-stream-burst.toml",
    "h2-refused-stream-retried.toml",
    "h2-shutdown-abort-streams.toml",
    "h2-shutdown-graceful-goaway.toml",
    "h2-stream-limit-one-conn.toml",
    "h2-stream-limit-second-conn.toml",
    "idle-reuse-explore.toml",
    "idle-reuse-race.toml",
    "idle-reuse-retry.toml",
    "idle-reuse-short-client-idle.toml",
    "ordering-concurrent-posts.toml",
    "ordering-sequential-posts.toml",
    "pool-stall-bodies-read.toml",
    "pool-stall-unconsumed-node20.toml",
    "pool-stall-unconsumed.toml",
    "pool-unbounded-delay.toml",
    "shutdown-close-idle-once.toml",
    "shutdown-close-idle.toml",
    "shutdown-wait-all.toml",
    "timeout-fallback.toml",
    "timeout-none-hangs.toml",
    "timeout-retries-counted.toml",
];

/// What the exploration benchmark measured.
#[derive(Clone, Debug, Serialize)]
pub struct ExploreBench {
    /// Explored runs (shapes × seeds).
    pub runs: u64,
    /// Wall seconds they took.
    pub wall_s: f64,
    /// Explored runs per wall second.
    pub runs_per_s: f64,
    /// Runs that failed their checks (findings before deduplication).
    pub failing: u64,
    /// Catalog shapes explored.
    pub shapes: usize,
}

/// Explores every catalog shape over seeds `1..=seeds`.
pub fn measure(seeds: u64) -> ExploreBench {
    let mut explorers = Vec::new();
    for (file, text) in SHAPES {
        let mut src = text.to_string();
        if !src.contains("\n[explore]") {
            src.push_str(DEFAULT_TABLE);
        }
        let path = Path::new("scenarios").join(file);
        // The catalog loads (a test says so); a file that did not is left out, not fatal.
        if let Ok(s) = scenario::parse(&path, &src) {
            explorers.push(Explorer::new(s, src, Path::new("explore-findings")));
        }
    }
    let (mut runs, mut failing) = (0, 0);
    let start = Instant::now();
    for e in &explorers {
        for seed in 1..=seeds {
            if let Ok(t) = e.try_seed(seed) {
                runs += 1;
                failing += u64::from(t.violation.is_some());
            }
        }
    }
    let wall_s = start.elapsed().as_secs_f64();
    ExploreBench {
        runs,
        wall_s,
        runs_per_s: runs as f64 / wall_s.max(1e-9),
        failing,
        shapes: explorers.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_shape_loads_with_its_explore_table() {
        let b = measure(1);
        assert_eq!(b.shapes, SHAPES.len());
        assert_eq!(b.runs, SHAPES.len() as u64);
    }
}
