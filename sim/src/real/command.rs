//! `httpsim run --real [--compare] [--time-scale K] [--repeat N] [--partial]`: the glue between
//! the command line and a real run (docs/CLI.md, docs/FIDELITY.md).
//!
//! Everything that can be refused is refused before any process starts (exit 2): a duration
//! the time scale makes shorter than 1 ms, something loopback cannot carry (unless
//! `--partial`). Then each scenario runs for real `--repeat` times and once simulated (the
//! same scaled text, its hosts starting with as many descriptors open as the real processes
//! did), and both are judged by the same code from their traces.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use super::compare::{compare, Figure};
use super::parent::{self, Plan, RealRun};
use super::scale::{scale, Scaled};
use crate::cli::{Console, Format, EXIT_BAD_INPUT, EXIT_FAIL, EXIT_PASS};
use crate::scenario::{self, Outcome, Scenario};
use crate::world::RunEnd;

/// The real-run flags of `httpsim run`.
#[derive(Clone, Debug)]
pub struct RealOptions {
    /// `--compare`: also run the simulation and judge each figure.
    pub compare: bool,
    /// `--time-scale K`: every duration divided by K.
    pub time_scale: f64,
    /// `--repeat N`: real runs per scenario.
    pub repeat: u32,
    /// `--partial`: run even when something cannot be carried, and say so.
    pub partial: bool,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--format`.
    pub format: Format,
}

/// A scenario ready to run for real.
struct Prepared {
    scaled: Scaled,
    scenario: Scenario,
}

/// Runs every loaded scenario for real. Returns the exit code.
pub fn run(loaded: Vec<(Scenario, String)>, o: &RealOptions, c: &mut Console) -> i32 {
    let Some(prepared) = prepare(&loaded, o, c) else {
        return EXIT_BAD_INPUT;
    };
    let exe = match parent::child_exe() {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(c.err, "error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let mut code = EXIT_PASS;
    for p in &prepared {
        let seed = o.seed.unwrap_or_else(|| p.scenario.default_seed());
        if o.format == Format::Text {
            let _ = writeln!(
                c.err,
                "httpsim: {} for real: {} run(s) of up to {:?} each",
                p.scenario.name(),
                o.repeat.max(1),
                p.scaled.duration
            );
        }
        match one(p, seed, &exe, o) {
            Ok((value, text, ok)) => {
                let _ = match o.format {
                    Format::Json => writeln!(c.out, "{value}"),
                    Format::Text => writeln!(c.out, "{text}"),
                };
                if !ok {
                    code = EXIT_FAIL;
                }
            }
            Err(e) => {
                let _ = writeln!(c.err, "error: {}: real run failed: {e}", p.scenario.name());
                code = EXIT_FAIL;
            }
        }
    }
    code
}

/// Scales and checks every scenario; prints every problem; `None` if there was one.
fn prepare(
    loaded: &[(Scenario, String)],
    o: &RealOptions,
    c: &mut Console,
) -> Option<Vec<Prepared>> {
    let mut out = Vec::new();
    let mut bad = 0;
    for (s, src) in loaded {
        let scaled = match scale(&s.path, src, o.time_scale) {
            Ok(x) => x,
            Err(e) => {
                let _ = writeln!(c.err, "error: {e}");
                bad += 1;
                continue;
            }
        };
        if !scaled.not_carried.is_empty() && !o.partial {
            let _ = writeln!(
                c.err,
                "error: {}: loopback cannot carry {}; `--partial` runs without it (the run then \
                 says it is partial)",
                s.path.display(),
                scaled.not_carried.join(", ")
            );
            bad += 1;
            continue;
        }
        match scenario::parse(&s.path, &scaled.text) {
            Ok(scenario) => {
                if let Some(e) = fd_limit_too_high(&scenario) {
                    let _ = writeln!(c.err, "error: {}: {e}", s.path.display());
                    bad += 1;
                    continue;
                }
                out.push(Prepared { scaled, scenario })
            }
            Err(e) => {
                let _ = writeln!(c.err, "error: at --time-scale {}: {e}", o.time_scale);
                bad += 1;
            }
        }
    }
    if bad > 0 {
        let _ = writeln!(
            c.err,
            "httpsim: {bad} scenario file(s) cannot run for real; nothing was run"
        );
        return None;
    }
    Some(out)
}

/// One scenario: its real runs, the simulated run beside them, the output.
fn one(
    p: &Prepared,
    seed: u64,
    exe: &Path,
    o: &RealOptions,
) -> Result<(Value, String, bool), String> {
    let setup = &p.scenario.setup;
    let plan = Plan {
        exe,
        file: &p.scenario.path,
        text: &p.scaled.text,
        seed,
        duration: p.scaled.duration,
        shutdown: setup.server.shutdown.is_some(),
        hosts: (&setup.server.host, &setup.client.host),
        faults: &setup.faults,
    };
    let mut reals = Vec::new();
    let mut runs = Vec::new();
    for _ in 0..o.repeat.max(1) {
        let run = parent::run(&plan)?;
        reals.push(judge_real(&p.scenario, seed, &run));
        runs.push(run);
    }
    let sim = simulate(&p.scenario, seed, &runs[0])?;
    let fds = fds_at_start(&p.scenario, &runs[0]);
    let notes = json!({
        "time_scale": o.time_scale,
        "partial": !p.scaled.not_carried.is_empty(),
        "not_carried": p.scaled.not_carried,
        "approximations": p.scaled.approximations,
        "fds_at_start": fds,
    });
    if o.compare {
        let limited = [
            (&setup.server.host, setup.server.fd_limit),
            (&setup.client.host, setup.client.fd_limit),
        ]
        .into_iter()
        .filter(|(_, l)| l.is_some())
        .map(|(h, _)| h.clone())
        .collect();
        let figures = compare(&sim, &reals, &limited);
        let agree = figures.iter().all(|f| f.agree);
        let mut value = json!({
            "name": p.scenario.name(),
            "seed": seed,
            "runs": reals.len(),
            "sim": sim,
            "real": reals[0],
            "figures": figures,
            "agree": agree,
        });
        merge(&mut value, notes);
        let text = compare_text(p, seed, &figures, agree, o, reals.len());
        Ok((value, text, agree))
    } else {
        let real = &reals[0];
        let mut value = serde_json::to_value(real).map_err(|e| e.to_string())?;
        merge(&mut value, notes);
        value["sim"] = json!({
            "requests": sim.summary.requests,
            "first_error": sim.summary.first_error,
            "max_open_fds": sim.summary.max_open_fds,
            "longest_stall_ms": sim.summary.longest_stall_ms,
            "last_completion_ms": sim.summary.last_completion_ms,
        });
        let mut text = format!("{} [real]", crate::cli::text_line(real));
        text.push_str(&beside_text(&sim, real));
        text.push_str(&notes_text(p, &runs[0]));
        Ok((value, text, real.passed))
    }
}

/// A real run judged as a simulated one is: same checks, same expectations, same summary.
fn judge_real(s: &Scenario, seed: u64, run: &RealRun) -> Outcome {
    let mut setup = s.setup.clone();
    setup.world.seed(seed);
    let peak_fds: BTreeMap<String, usize> = run
        .hosts
        .iter()
        .map(|(h, f)| (h.clone(), f.peak_fds))
        .collect();
    let end = if run.duration_reached {
        RunEnd::DurationReached
    } else {
        RunEnd::Completed
    };
    let times = (std::time::Duration::from_micros(run.end_us), run.wall, 0);
    let result = crate::setup::Run::new(setup, end, times, run.records.clone(), peak_fds);
    let mut o = scenario::judge(s, seed, result);
    o.mode = Some("real");
    o.replay = format!("{} --real", o.replay);
    o
}

/// The simulated run beside a real one: each host starts with as many descriptors open as its
/// real process had (when that is more than the scenario says), so the first EMFILE and the
/// peak fds are comparable.
fn simulate(s: &Scenario, seed: u64, real: &RealRun) -> Result<Outcome, String> {
    let mut s = s.clone();
    let baseline = |host: &str| real.hosts.get(host).map_or(0, |f| f.fds_baseline);
    let server = baseline(&s.setup.server.host);
    let client = baseline(&s.setup.client.host);
    s.setup.server.fd_in_use = s.setup.server.fd_in_use.max(server);
    s.setup.client.fd_in_use = s.setup.client.fd_in_use.max(client);
    scenario::run(&s, seed).map_err(|e| format!("the simulated run: {e}"))
}

/// The descriptors the scenario says `host` has in use at start.
fn scenario_in_use(s: &Scenario, host: &str) -> usize {
    if host == s.setup.server.host {
        s.setup.server.fd_in_use
    } else {
        s.setup.client.fd_in_use
    }
}

fn fds_at_start(s: &Scenario, run: &RealRun) -> Value {
    run.hosts
        .iter()
        .map(|(h, f)| {
            (
                h.clone(),
                json!({
                    "scenario": scenario_in_use(s, h),
                    "measured": f.fds_measured,
                    "baseline": f.fds_baseline,
                    "limit": f.fd_limit,
                }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn merge(value: &mut Value, extra: Value) {
    if let (Some(v), Value::Object(e)) = (value.as_object_mut(), extra) {
        v.extend(e);
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn beside_text(sim: &Outcome, real: &Outcome) -> String {
    let emfile = |o: &Outcome| {
        o.summary
            .first_error
            .as_ref()
            .filter(|e| e.kind == crate::ErrorKind::Emfile)
            .map_or("none".to_string(), |e| {
                format!("request {} at {} ms", e.request, e.at_ms)
            })
    };
    let mut t = format!(
        "\n  {:<22} {:<28} {}\n  {:<22} {:<28} {}\n  {:<22} {:<28} {}",
        "figure",
        "simulated",
        "real",
        "completed",
        sim.summary.requests.completed,
        real.summary.requests.completed,
        "first EMFILE",
        emfile(sim),
        emfile(real),
    );
    t.push_str(&format!(
        "\n  {:<22} {:<28} {}",
        "peak fds",
        show(&serde_json::to_value(&sim.summary.max_open_fds).unwrap_or_default()),
        show(&serde_json::to_value(&real.summary.max_open_fds).unwrap_or_default()),
    ));
    t
}

fn notes_text(p: &Prepared, run: &RealRun) -> String {
    let mut t = String::new();
    for (h, f) in &run.hosts {
        t.push_str(&format!(
            "\n  {h}: {} fds open at start (scenario fd_in_use: {}), limit {}",
            f.fds_baseline,
            scenario_in_use(&p.scenario, h),
            f.fd_limit.map_or("none".to_string(), |l| l.to_string())
        ));
    }
    for a in &p.scaled.approximations {
        t.push_str(&format!("\n  approximated: {a}"));
    }
    if !p.scaled.not_carried.is_empty() {
        t.push_str(&format!(
            "\n  PARTIAL: not carried: {}",
            p.scaled.not_carried.join(", ")
        ));
    }
    t
}

fn compare_text(
    p: &Prepared,
    seed: u64,
    figures: &[Figure],
    agree: bool,
    o: &RealOptions,
    runs: usize,
) -> String {
    let mut t = format!(
        "{} {} (seed {seed}, time scale {}, {runs} real run{}): simulated vs real",
        if agree { "AGREE" } else { "DISAGREE" },
        p.scenario.name(),
        o.time_scale,
        if runs == 1 { "" } else { "s" }
    );
    t.push_str(&format!(
        "\n  {:<22} {:<24} {:<32} {:<10} verdict",
        "figure", "simulated", "real", "rule"
    ));
    for f in figures {
        let real = match &f.real_runs {
            Some(all) => all.iter().map(show).collect::<Vec<_>>().join(" | "),
            None => show(&f.real),
        };
        t.push_str(&format!(
            "\n  {:<22} {:<24} {:<32} {:<10} {}",
            f.name,
            show(&f.sim),
            real,
            f.rule,
            if f.agree { "agree" } else { "DISAGREE" }
        ));
    }
    t
}

/// A real process cannot raise its hard `RLIMIT_NOFILE` above this machine's: a scenario whose
/// `fd_limit` is above it cannot run for real.
fn fd_limit_too_high(s: &Scenario) -> Option<String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    // `rlim_t` is u64 on Linux but not on every platform.
    #[allow(clippy::unnecessary_cast)]
    let hard = lim.rlim_max as u64;
    [
        ("server.fd_limit", s.setup.server.fd_limit),
        ("client.fd_limit", s.setup.client.fd_limit),
    ]
    .into_iter()
    .find_map(|(key, limit)| {
        let limit = limit? as u64;
        (limit > hard).then(|| {
            format!(
                "{key} = {limit} is above this machine's hard fd limit ({hard}): a real process \
                 cannot raise its limit that far; expected at most {hard}"
            )
        })
    })
}
