//! Reports of runs, for people and CI: `report.md`, `timeline.svg` and `trace.jsonl` per
//! scenario, `index.md` with one row per scenario, `junit.xml`.
//!
//! - [`write_reports`] — writes the whole report folder. Start here.
//! - [`markdown`] — `report.md` and `index.md`; [`timeline`] — the SVG; [`junit`] — the XML.
//! - [`merge`] — `httpsim merge`: the reports of `--shard` runs joined into one.
//!
//! Everything written is a function of the runs' outcomes: no wall time, no absolute paths, no
//! dates, so a committed report folder stays byte-identical until a run changes (a test checks).

pub mod junit;
pub mod markdown;
pub mod merge;
pub mod timeline;

use std::io;
use std::path::Path;

use crate::scenario::{Outcome, Scenario};
use crate::trace::to_jsonl;

/// Writes the report folder `dir` for `runs` (one per scenario; with a seed sweep, the one to
/// show — the caller picks). `junit_runs` are every run, for `junit.xml`; `sweep` says whether
/// several seeds ran. Files of scenarios not in `runs` are left alone.
pub fn write_reports(
    dir: &Path,
    runs: &[(&Scenario, &Outcome)],
    junit_runs: &[&Outcome],
    sweep: bool,
) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (scenario, outcome) in runs {
        let sub = dir.join(&outcome.name);
        std::fs::create_dir_all(&sub)?;
        std::fs::write(sub.join("report.md"), markdown::report(scenario, outcome))?;
        std::fs::write(sub.join("timeline.svg"), timeline::timeline(outcome))?;
        std::fs::write(sub.join("trace.jsonl"), to_jsonl(&outcome.records))?;
    }
    let outcomes: Vec<&Outcome> = runs.iter().map(|(_, o)| *o).collect();
    std::fs::write(dir.join("index.md"), markdown::index(&outcomes))?;
    std::fs::write(dir.join("junit.xml"), junit::junit(junit_runs, sweep))?;
    Ok(())
}
