//! `httpsim explore SCENARIO... --seeds A..B`: the command line of [`super::Explorer`].
//!
//! Every file is loaded first (a bad one, or a malformed `[explore]` table: exit 2 before
//! anything runs). Then each (scenario, seed) pair of the sweep — of this part of it with
//! `--shard K/N` — is drawn, run and judged, in order; the first failure is shrunk and written
//! to `--out` (its scenario file and its report folder), and the command stops, or with
//! `--keep-going` goes on, writing each further failure that is not the same bug as one already
//! written. `--runs N` bounds the seeds tried, `--budget` the wall time (shrinking included).
//! Exit 1 when anything was found, 0 when nothing, 2 on bad input.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::draw::Size;
use super::{Explorer, Finding, Violation};
use crate::cli::{parse_seeds, Console, Format, SeedRange, EXIT_BAD_INPUT, EXIT_FAIL, EXIT_PASS};
use crate::report::write_reports;
use crate::scenario::{self, Scenario};
use crate::shard::Shard;

/// Shrink runs per finding at most.
pub const MAX_SHRINK_RUNS: usize = 400;

/// `httpsim explore`.
#[derive(clap::Args, Debug)]
pub struct ExploreArgs {
    /// Scenario files, or folders whose *.toml files are scenarios.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Seeds to explore: `A..B` (B excluded) or `A..=B`. The default is `1..=1000`.
    #[arg(long, value_parser = parse_seeds)]
    pub seeds: Option<SeedRange>,
    /// Where findings are written. The default is `explore-findings` (`HTTPSIM_EXPLORE_OUT`).
    #[arg(long, env = "HTTPSIM_EXPLORE_OUT", default_value = "explore-findings")]
    pub out: PathBuf,
    /// Output: one line per finding (`text`) or one JSON object per finding (`json`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Stop after this much wall time, such as `10m` (shrinking included). The default is none.
    #[arg(long, value_parser = parse_budget)]
    pub budget: Option<Duration>,
    /// Try at most this many seeds in all. The default is every seed of the sweep.
    #[arg(long)]
    pub runs: Option<u64>,
    /// Go on after a finding, writing each distinct one (different check or differently shaped
    /// diagnosis).
    #[arg(long)]
    pub keep_going: bool,
    /// Explore only part K of N of the (scenario, seed) pairs (docs/SHARDING.md).
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<Shard>,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse()
}

fn parse_budget(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration ({e}); expected e.g. \"30s\", \"10m\""))
}

/// One line of `--format json`.
#[derive(Clone, Debug, Serialize)]
pub struct FindingLine {
    /// The base scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// The check that broke (`expect.KEY` for an `[expect]` key).
    pub invariant: String,
    /// Its sentence, in the minimal case.
    pub diagnosis: String,
    /// The written scenario file.
    pub file: String,
    /// The first failing case's size and the minimal one's.
    pub shrunk: Shrunk,
}

/// Sizes before and after shrinking.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Shrunk {
    /// The first failing case.
    pub from: Size,
    /// The minimal case.
    pub to: Size,
    /// Shrink runs.
    pub runs: usize,
}

impl FindingLine {
    /// The line of `f`.
    pub fn of(f: &Finding) -> Self {
        Self {
            scenario: f.scenario.clone(),
            seed: f.seed,
            invariant: f.violation.invariant.clone(),
            diagnosis: f.violation.diagnosis.clone(),
            file: f.file.to_string_lossy().replace('\\', "/"),
            shrunk: Shrunk {
                from: f.first,
                to: f.minimal,
                runs: f.shrink_runs,
            },
        }
    }
}

fn load(args: &ExploreArgs, c: &mut Console) -> Option<Vec<Explorer>> {
    let loaded = crate::cli::load_all(&args.paths, c)?;
    Some(
        loaded
            .into_iter()
            .map(|(s, src)| Explorer::new(s, src, &args.out))
            .collect(),
    )
}

/// Runs `httpsim explore`; returns the exit code.
pub fn explore(args: ExploreArgs, c: &mut Console) -> i32 {
    let Some(explorers) = load(&args, c) else {
        return EXIT_BAD_INPUT;
    };
    let plan = Plan::of(&args, explorers.len());
    announce(&args, &plan, &explorers, c);
    let started = Instant::now();
    let bar = c.terminal.then(|| progress_bar(plan.total));
    let sweep = sweep(&args, &plan, &explorers, started, bar.as_ref(), c);
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let sweep = match sweep {
        Ok(sweep) => sweep,
        Err(err) => {
            let _ = writeln!(c.err, "error: {err}");
            return EXIT_BAD_INPUT;
        }
    };
    if let Err(err) = write_finding_reports(&args, &sweep.found) {
        let _ = writeln!(c.err, "error: {err}");
        return EXIT_BAD_INPUT;
    }
    let _ = writeln!(
        c.err,
        "httpsim explore: {} seed(s) tried in {:.1}s, {} finding(s){}{}",
        sweep.tried,
        started.elapsed().as_secs_f64(),
        sweep.found.len(),
        if sweep.same_as_found > 0 {
            format!(
                ", {} more failing seed(s) with the same bug",
                sweep.same_as_found
            )
        } else {
            String::new()
        },
        sweep
            .stopped
            .map_or(String::new(), |s| format!("; stopped by {s}"))
    );
    if sweep.found.is_empty() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    }
}

/// What the sweep covers: the seeds, the shard, and how many runs this process makes.
struct Plan {
    seeds: SeedRange,
    shard: Shard,
    /// (scenario, seed) pairs of the whole sweep, every shard's.
    pairs: u64,
    /// Runs this process makes at most: its shard's pairs, bounded by `--runs`.
    total: u64,
}

impl Plan {
    fn of(args: &ExploreArgs, scenarios: usize) -> Self {
        let seeds = args.seeds.unwrap_or(SeedRange {
            from: 1,
            to_inclusive: 1000,
        });
        let shard = args.shard.unwrap_or(Shard::WHOLE);
        let pairs = (seeds.to_inclusive - seeds.from + 1) * scenarios as u64;
        let mine = (0..pairs).filter(|i| shard.owns(*i)).count() as u64;
        let total = args.runs.map_or(mine, |r| r.min(mine));
        Self {
            seeds,
            shard,
            pairs,
            total,
        }
    }
}

/// The lines on stderr before the sweep: files without an `[explore]` table, then what runs.
fn announce(args: &ExploreArgs, plan: &Plan, explorers: &[Explorer], c: &mut Console) {
    for e in explorers {
        if e.scenario().file.explore.is_none() {
            let _ = writeln!(
                c.err,
                "httpsim: {} has no [explore] table; only its seeds vary",
                e.scenario().path.display()
            );
        }
    }
    let _ = writeln!(
        c.err,
        "httpsim explore: {} scenario(s), seeds {}..={}, {} run(s){}; findings in {}",
        explorers.len(),
        plan.seeds.from,
        plan.seeds.to_inclusive,
        plan.total,
        args.shard.map_or(String::new(), |k| format!(
            " (shard {k} of {} pairs)",
            plan.pairs
        )),
        args.out.display()
    );
}

fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} seeds {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb
}

/// What a sweep found and how far it went.
struct Sweep {
    /// Each distinct finding, with its written scenario loaded back.
    found: Vec<(Finding, Scenario)>,
    /// Further failing seeds that were the same bug as a finding.
    same_as_found: u64,
    /// Seeds run.
    tried: u64,
    /// The flag that ended the sweep early, if one did.
    stopped: Option<&'static str>,
}

/// Runs the plan's (scenario, seed) pairs in order, shrinking and writing each new finding;
/// stops after the first unless `--keep-going`. An error is bad input (exit 2).
fn sweep(
    args: &ExploreArgs,
    plan: &Plan,
    explorers: &[Explorer],
    started: Instant,
    bar: Option<&indicatif::ProgressBar>,
    c: &mut Console,
) -> Result<Sweep, String> {
    let within_budget = || args.budget.is_none_or(|b| started.elapsed() < b);
    let mut sweep = Sweep {
        found: Vec::new(),
        same_as_found: 0,
        tried: 0,
        stopped: None,
    };
    let mut pair = 0u64;
    for e in explorers {
        for seed in plan.seeds.from..=plan.seeds.to_inclusive {
            pair += 1;
            if !plan.shard.owns(pair - 1) {
                continue;
            }
            if sweep.tried >= plan.total {
                sweep.stopped = Some("--runs");
                return Ok(sweep);
            }
            if !within_budget() {
                sweep.stopped = Some("--budget");
                return Ok(sweep);
            }
            sweep.tried += 1;
            if let Some(pb) = bar {
                pb.set_message(format!("{} seed {seed}", e.scenario().name()));
                pb.inc(1);
            }
            let t = e.try_seed(seed).map_err(|err| err.to_string())?;
            let Some(v) = t.violation.clone() else {
                continue;
            };
            if sweep
                .found
                .iter()
                .any(|(f, _)| f.scenario == e.scenario().name() && f.violation.same_bug(&v))
            {
                sweep.same_as_found += 1;
                continue;
            }
            if let Some(pb) = bar {
                pb.set_message(format!("{} seed {seed}: shrinking", e.scenario().name()));
            }
            let finding = e
                .shrink(seed, t, MAX_SHRINK_RUNS, within_budget)
                .map_err(|err| err.to_string())?;
            let s = write_finding(&args.out, &finding)?;
            let line = match args.format {
                Format::Json => {
                    serde_json::to_string(&FindingLine::of(&finding)).unwrap_or_default()
                }
                Format::Text => text_line(&finding),
            };
            match bar {
                Some(pb) => pb.suspend(|| writeln!(c.out, "{line}")),
                None => writeln!(c.out, "{line}"),
            }
            .ok();
            sweep.found.push((finding, s));
            if !args.keep_going {
                return Ok(sweep);
            }
        }
    }
    Ok(sweep)
}

/// Writes a finding's scenario file into `out` and loads it back, so what is written is known
/// to run.
fn write_finding(out: &std::path::Path, finding: &Finding) -> Result<Scenario, String> {
    std::fs::create_dir_all(out)
        .and_then(|()| std::fs::write(&finding.file, &finding.text))
        .map_err(|err| format!("cannot write {}: {err}", finding.file.display()))?;
    scenario::parse(&finding.file, &finding.text)
        .map_err(|err| format!("the written finding does not load: {err}"))
}

/// The report folders of every finding, beside their scenario files.
fn write_finding_reports(args: &ExploreArgs, found: &[(Finding, Scenario)]) -> Result<(), String> {
    if found.is_empty() {
        return Ok(());
    }
    let runs: Vec<(&Scenario, &scenario::Outcome)> =
        found.iter().map(|(f, s)| (s, &f.outcome)).collect();
    let outcomes: Vec<&scenario::Outcome> = runs.iter().map(|(_, o)| *o).collect();
    write_reports(&args.out, &runs, &outcomes, false)
        .map_err(|err| format!("cannot write reports to {}: {err}", args.out.display()))
}

fn text_line(f: &Finding) -> String {
    let Violation {
        invariant,
        diagnosis,
    } = &f.violation;
    let file = f.file.to_string_lossy().replace('\\', "/");
    format!(
        "FOUND {} (seed {}): {invariant}: {diagnosis}\n  shrunk from {} to {} fault entries in \
         {} run(s); written to {file}\n  replay: httpsim run {file}",
        f.scenario, f.seed, f.first.entries, f.minimal.entries, f.shrink_runs
    )
}
