//! The `httpsim` command line (docs/CLI.md), callable in-process so tests
//! drive exactly the code the binary runs: [`main_with`] takes the arguments and the two output
//! streams and returns the exit code.
//!
//! - `httpsim run PATH...` — loads every scenario first (any bad file: exit 2 before anything
//!   runs), runs each at its seed(s), prints one line (text) or one JSON object (json) per run,
//!   writes the report folder, exits 0 when every run passed, 1 otherwise.
//! - `httpsim bench` — the benchmark table of `docs/PERFORMANCE.md` (`--quick`, `--format json`).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::fmt::ms;
use crate::report::{markdown, write_reports};
use crate::scenario::{self, Outcome, Scenario};
use crate::shard::{Manifest, ManifestScenario, Pick, Shard};

/// Exit code: every expectation held.
pub const EXIT_PASS: i32 = 0;
/// Exit code: some scenario failed its expectations.
pub const EXIT_FAIL: i32 = 1;
/// Exit code: bad input (unreadable file, bad TOML, unknown key, impossible value, a feature not
/// built) or bad arguments.
pub const EXIT_BAD_INPUT: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "httpsim",
    version,
    about = "Deterministic network simulation test bench for HTTP client pools and servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run scenario files (or folders of them) and write their reports.
    Run(RunArgs),
    /// Benchmark the simulator against bare turmoil and real loopback (docs/PERFORMANCE.md).
    Bench(BenchArgs),
    /// Draw fault schedules from scenarios' `[explore]` tables, shrink what fails, write each
    /// finding as a scenario file (docs/EXPLORE.md).
    Explore(crate::explore::command::ExploreArgs),
    /// Join the report folders, JUnit files and JSON lines of `--shard` runs (docs/SHARDING.md).
    Merge(crate::report::merge::MergeArgs),
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    /// Smaller shapes: a few seconds instead of about a minute.
    #[arg(long)]
    quick: bool,
    /// Skip bare turmoil at the scale points.
    #[arg(long)]
    no_bare_scale: bool,
    /// `text` (the table) or `json` (one object, one field per figure).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Scenario files, or folders whose *.toml files are scenarios.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Run every scenario at this seed instead of its own. Overridden by the `HTTPSIM_SEED`
    /// environment variable when the flag is absent.
    #[arg(long, env = "HTTPSIM_SEED", conflicts_with = "seeds")]
    seed: Option<u64>,
    /// Run every scenario at each seed of a range: `A..B` (B excluded) or `A..=B`.
    #[arg(long, value_parser = parse_seeds)]
    seeds: Option<SeedRange>,
    /// Where reports are written. The default is `reports` (`HTTPSIM_REPORT_DIR`).
    #[arg(long, env = "HTTPSIM_REPORT_DIR", default_value = "reports")]
    report_dir: PathBuf,
    /// Output: one line per run (`text`) or one JSON object per run (`json`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Run each scenario twice and fail on any difference between the traces.
    #[arg(long)]
    check_determinism: bool,
    /// Run only part K of N of the (scenario, seed) pairs (docs/SHARDING.md); `httpsim merge`
    /// joins the N report folders.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<Shard>,
    /// Run the scenario's server and client for real, on loopback, in two child processes with
    /// the scenario's fd limits and real timers (docs/FIDELITY.md). Writes no report folder.
    #[arg(long, conflicts_with_all = ["seeds", "check_determinism", "shard"])]
    real: bool,
    /// With `--real`: run the simulation too and compare every figure (exit 1 on a
    /// disagreement).
    #[arg(long, requires = "real")]
    compare: bool,
    /// With `--real`: divide every duration of the scenario and its expectations by K (180 s
    /// → 1.8 s at 100).
    #[arg(long, requires = "real", default_value_t = 1.0, value_name = "K")]
    time_scale: f64,
    /// With `--real`: real runs per scenario (their spread shows with `--compare`).
    #[arg(long, requires = "real", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
    /// With `--real`: run even what loopback cannot carry, without it, and say the run is
    /// partial.
    #[arg(long, requires = "real")]
    partial: bool,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse()
}

/// `--format`: for people or for programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Lines for a person.
    Text,
    /// One JSON object per line.
    Json,
}

/// `--seeds A..B`: a range of seeds.
#[derive(Clone, Copy, Debug)]
pub struct SeedRange {
    /// The first seed.
    pub from: u64,
    /// The last seed.
    pub to_inclusive: u64,
}

/// Parses `A..B` (B excluded) or `A..=B`.
pub fn parse_seeds(s: &str) -> Result<SeedRange, String> {
    let form = "expected A..B (B excluded) or A..=B, such as 1..100";
    let (a, b, inclusive) = if let Some((a, b)) = s.split_once("..=") {
        (a, b, true)
    } else if let Some((a, b)) = s.split_once("..") {
        (a, b, false)
    } else {
        return Err(form.into());
    };
    let a: u64 = a.trim().parse().map_err(|_| form.to_string())?;
    let b: u64 = b.trim().parse().map_err(|_| form.to_string())?;
    let to = if inclusive { Some(b) } else { b.checked_sub(1) };
    match to {
        Some(to) if to >= a => Ok(SeedRange {
            from: a,
            to_inclusive: to,
        }),
        _ => Err(format!("the range {s} holds no seed; {form}")),
    }
}

/// Where the CLI writes, and whether a person is watching (a terminal gets a progress bar).
pub struct Console<'a> {
    /// Standard output: run lines or JSON objects.
    pub out: &'a mut dyn Write,
    /// Standard error: errors, the summary line.
    pub err: &'a mut dyn Write,
    /// Whether standard error is a terminal.
    pub terminal: bool,
}

impl std::fmt::Debug for Console<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("terminal", &self.terminal)
            .finish_non_exhaustive()
    }
}

/// Runs the command line `args` (the first item is the program name) and returns the exit code.
pub fn main_with(args: impl IntoIterator<Item = OsString>, console: &mut Console) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = e.exit_code();
            let text = e.render().to_string();
            let _ = if code == 0 {
                write!(console.out, "{text}")
            } else {
                write!(console.err, "{text}")
            };
            return code;
        }
    };
    match cli.command {
        Command::Run(args) => run(args, console),
        Command::Bench(args) => bench(args, console),
        Command::Explore(args) => crate::explore::command::explore(args, console),
        Command::Merge(args) => crate::report::merge::merge_command(args, console),
    }
}

fn bench(args: BenchArgs, c: &mut Console) -> i32 {
    let mut options = if args.quick {
        crate::bench::BenchOptions::quick()
    } else {
        crate::bench::BenchOptions::full()
    };
    if args.no_bare_scale {
        options.scale_bare = false;
    }
    if c.terminal {
        let _ = writeln!(
            c.err,
            "httpsim bench: measuring (release builds give the real figures)"
        );
    }
    let report = crate::bench::run(&options);
    let _ = match args.format {
        Format::Json => writeln!(
            c.out,
            "{}",
            serde_json::to_string(&report).unwrap_or_default()
        ),
        Format::Text => write!(c.out, "{report}"),
    };
    EXIT_PASS
}

/// Every scenario under `paths` with its text, or `None` after printing every error (a bad
/// folder, each bad file, then that nothing was run). `run` and `explore` both load this way.
pub(crate) fn load_all(paths: &[PathBuf], c: &mut Console) -> Option<Vec<(Scenario, String)>> {
    let files = match scenario::discover(paths) {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(c.err, "error: {e}");
            return None;
        }
    };
    let mut loaded = Vec::new();
    let mut bad = 0;
    for f in &files {
        match scenario::load_with_source(f) {
            Ok(s) => loaded.push(s),
            Err(e) => {
                bad += 1;
                let _ = writeln!(c.err, "error: {e}");
            }
        }
    }
    if bad > 0 {
        let _ = writeln!(
            c.err,
            "httpsim: {bad} bad scenario file(s); nothing was run"
        );
        return None;
    }
    Some(loaded)
}

fn run(args: RunArgs, c: &mut Console) -> i32 {
    let Some(loaded) = load_all(&args.paths, c) else {
        return EXIT_BAD_INPUT;
    };
    if args.real {
        let options = crate::real::command::RealOptions {
            compare: args.compare,
            time_scale: args.time_scale,
            repeat: args.repeat,
            partial: args.partial,
            seed: args.seed,
            format: args.format,
        };
        return crate::real::command::run(loaded, &options, c);
    }
    let scenarios: Vec<Scenario> = loaded.into_iter().map(|(s, _)| s).collect();
    if let Some(dup) = duplicate_name(&scenarios) {
        let _ = writeln!(c.err, "error: two scenarios are named {dup:?}; names must be unique (they name the report folders)");
        return EXIT_BAD_INPUT;
    }
    let pairs: u64 = scenarios
        .iter()
        .map(|s| seeds_of(&args, s).len() as u64)
        .sum();
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let total = (0..pairs).filter(|i| shard.owns(*i)).count() as u64;
    announce(&args, c, scenarios.len(), total, pairs);
    let Runs { shown, all } = match sweep(&args, c, &scenarios, total) {
        Ok(runs) => runs,
        Err(code) => return code,
    };
    let runs: Vec<(&Scenario, &Outcome)> = shown.iter().map(|(s, o)| (*s, o)).collect();
    if let Err(e) = write_outputs(&args, &scenarios, &runs, &all, pairs) {
        let _ = writeln!(
            c.err,
            "error: cannot write reports to {}: {e}",
            args.report_dir.display()
        );
        return EXIT_BAD_INPUT;
    }
    let failed = all.iter().filter(|o| !o.passed).count();
    let _ = writeln!(
        c.err,
        "httpsim: {} run(s), {} passed, {failed} failed; reports in {}",
        all.len(),
        all.len() - failed,
        args.report_dir.display()
    );
    if failed > 0 {
        EXIT_FAIL
    } else {
        EXIT_PASS
    }
}

/// The seeds `s` runs at: the sweep, the one seed given, or the file's own.
fn seeds_of(args: &RunArgs, s: &Scenario) -> Vec<u64> {
    match (args.seeds, args.seed) {
        (Some(r), _) => (r.from..=r.to_inclusive).collect(),
        (None, Some(seed)) => vec![seed],
        (None, None) => vec![s.default_seed()],
    }
}

/// Whether the runs sweep more than one seed (the index then lists every run).
fn is_sweep(args: &RunArgs) -> bool {
    args.seeds.is_some_and(|r| r.to_inclusive > r.from)
}

/// The first line on stderr: what is about to run.
fn announce(args: &RunArgs, c: &mut Console, scenarios: usize, total: u64, pairs: u64) {
    let _ = writeln!(
        c.err,
        "httpsim: {scenarios} scenario(s), {total} run(s){}, seeds: {}{}",
        match args.shard {
            Some(k) => format!(" (shard {k} of {pairs} pairs)"),
            None => String::new(),
        },
        match (args.seeds, args.seed) {
            (Some(r), _) => format!("{}..={}", r.from, r.to_inclusive),
            (None, Some(s)) => s.to_string(),
            (None, None) => "each file's own".into(),
        },
        if args.check_determinism {
            ", checking determinism"
        } else {
            ""
        }
    );
}

/// The runs this shard owns, each printed as it ends (a progress bar on a terminal): the run
/// each scenario's report shows (its first failing seed, else its first), and every run. `Err`
/// is the exit code when a setup can no longer run.
fn sweep<'s>(
    args: &RunArgs,
    c: &mut Console,
    scenarios: &'s [Scenario],
    total: u64,
) -> Result<Runs<'s>, i32> {
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let bar = c.terminal.then(|| {
        let pb = indicatif::ProgressBar::new(total);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    // A run that takes more than a couple of seconds says how far it got.
    let watch = bar.clone().map(LongRunWatch::start);
    let mut shown: Vec<(&Scenario, Outcome)> = Vec::new();
    let mut all: Vec<Outcome> = Vec::new();
    let mut pair = 0u64;
    for s in scenarios {
        let mut pick: Option<Outcome> = None;
        for seed in seeds_of(args, s) {
            pair += 1;
            if !shard.owns(pair - 1) {
                continue;
            }
            let label = format!("{} seed {seed}", s.name());
            if let Some(pb) = &bar {
                pb.set_message(label.clone());
            }
            if let Some(w) = &watch {
                w.begin(label);
            }
            let mut o = match scenario::run(s, seed) {
                Ok(o) => o,
                // Loading validated every setup; a library caller may have changed one since.
                Err(e) => {
                    let _ = writeln!(c.err, "error: {}: {e}", s.path.display());
                    return Err(EXIT_BAD_INPUT);
                }
            };
            if args.check_determinism {
                check_determinism(s, &mut o);
            }
            let line = match args.format {
                Format::Json => serde_json::to_string(&o).unwrap_or_default(),
                Format::Text => text_line(&o),
            };
            match &bar {
                Some(pb) => pb.suspend(|| writeln!(c.out, "{line}")),
                None => writeln!(c.out, "{line}"),
            }
            .ok();
            if let Some(pb) = &bar {
                pb.inc(1);
            }
            // The report shows the first failing seed, else the first seed.
            if pick.is_none() || (!o.passed && pick.as_ref().is_some_and(|p| p.passed)) {
                pick = Some(o.clone());
            }
            all.push(o);
        }
        if let Some(p) = pick {
            shown.push((s, p));
        }
    }
    drop(watch);
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    Ok(Runs { shown, all })
}

/// What [`sweep`] ran.
struct Runs<'s> {
    /// Per scenario, the run its report shows.
    shown: Vec<(&'s Scenario, Outcome)>,
    /// Every run, in order.
    all: Vec<Outcome>,
}

/// The report folder: each shown run's report, the index and JUnit over every run, and, for a
/// shard, the manifest `httpsim merge` joins shards by.
fn write_outputs(
    args: &RunArgs,
    scenarios: &[Scenario],
    runs: &[(&Scenario, &Outcome)],
    all: &[Outcome],
    pairs: u64,
) -> std::io::Result<()> {
    let sweep = is_sweep(args);
    let all_refs: Vec<&Outcome> = all.iter().collect();
    write_reports(&args.report_dir, runs, &all_refs, sweep)?;
    let Some(shard) = args.shard else {
        return Ok(());
    };
    let manifest = Manifest {
        shard,
        scenarios: scenarios
            .iter()
            .map(|s| ManifestScenario {
                name: s.name().to_string(),
                file: s.path.to_string_lossy().replace('\\', "/"),
            })
            .collect(),
        pairs,
        sweep,
        picks: runs
            .iter()
            .map(|(_, o)| Pick {
                name: o.name.clone(),
                seed: o.seed,
                passed: o.passed,
                row: markdown::index_row(o),
            })
            .collect(),
    };
    let json = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    std::fs::write(args.report_dir.join(crate::shard::MANIFEST), json + "\n")
}

fn duplicate_name(scenarios: &[Scenario]) -> Option<String> {
    let mut names: Vec<&str> = scenarios.iter().map(|s| s.name()).collect();
    names.sort_unstable();
    names
        .windows(2)
        .find(|w| w[0] == w[1])
        .map(|w| w[0].to_string())
}

/// Runs the scenario again at the same seed; a different trace fails the run. The verdict goes
/// to `deterministic` only, not to the expectations, so reports look the same with or without
/// the check when it holds.
fn check_determinism(s: &Scenario, o: &mut Outcome) {
    // The first run at this seed passed validation, so the second does too.
    let same = scenario::run(s, o.seed)
        .is_ok_and(|again| again.trace_hash == o.trace_hash && again.records == o.records);
    o.deterministic = Some(same);
    o.passed &= same;
}

pub(crate) fn text_line(o: &Outcome) -> String {
    let mut s = format!(
        "{} {} (seed {}): {}; longest stall {}; last completion {}; sim {}, wall {}ms",
        markdown::verdict(o.passed),
        o.name,
        o.seed,
        markdown::requests_line(o),
        ms(o.summary.longest_stall_ms),
        ms(o.summary.last_completion_ms),
        ms(o.sim_ms),
        o.wall_ms
    );
    if !o.passed {
        if o.deterministic == Some(false) {
            s.push_str(
                "\n  FAILED determinism: a second run at the same seed gave a different trace",
            );
        }
        for e in o.expectations.iter().filter(|e| !e.passed) {
            s.push_str(&format!("\n  FAILED {}: {}", e.key, e.detail));
        }
        for i in o.invariants.iter().filter(|i| !i.passed) {
            for v in &i.violations {
                s.push_str(&format!("\n  FAILED invariant {}: {}", i.name, v.message));
            }
        }
        s.push_str(&format!("\n  replay: {}", o.replay));
    }
    s
}

/// Shows, on a terminal, how far a run that has taken more than two seconds has got (simulated
/// time, requests ended), from a thread that only reads [`crate::progress`].
struct LongRunWatch {
    state: std::sync::Arc<std::sync::Mutex<(String, std::time::Instant, bool)>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LongRunWatch {
    fn start(pb: indicatif::ProgressBar) -> Self {
        let state = std::sync::Arc::new(std::sync::Mutex::new((
            String::new(),
            std::time::Instant::now(),
            false,
        )));
        let shared = state.clone();
        let thread = std::thread::spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(250));
            let Ok(s) = shared.lock() else { return };
            if s.2 {
                return;
            }
            if s.1.elapsed() > std::time::Duration::from_secs(2) {
                let (sim_us, ended) = crate::progress::snapshot();
                pb.set_message(format!(
                    "{}: {:.1}s simulated, {ended} requests ended",
                    s.0,
                    sim_us as f64 / 1e6
                ));
            }
        });
        Self {
            state,
            thread: Some(thread),
        }
    }

    fn begin(&self, label: String) {
        crate::progress::reset();
        if let Ok(mut s) = self.state.lock() {
            *s = (label, std::time::Instant::now(), false);
        }
    }
}

impl Drop for LongRunWatch {
    fn drop(&mut self) {
        if let Ok(mut s) = self.state.lock() {
            s.2 = true;
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
