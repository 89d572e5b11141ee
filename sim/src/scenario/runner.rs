//! One run of a scenario at one seed → an [`Outcome`]: the figures, the invariant and
//! expectation verdicts, the trace and its hash. `Outcome` serialises to the JSON contract of
//! docs/CLI.md (one object per run).

use std::sync::{Arc, OnceLock};

use serde::Serialize;

use super::expect::{self, Expectation};
use super::Scenario;
use crate::check::timeline::Timeline;
use crate::check::CheckContext;
use crate::check::InvariantResult;
use crate::setup::SetupError;
use crate::summary::Summary;
use crate::trace::{self, Record};
use crate::world::RunEnd;

/// What every run's `quiet_periods` says (see [`Outcome::quiet_periods`]).
const QUIET_PERIODS: &str = "jumped";

/// What one run of a scenario produced and whether it passed.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The scenario's name.
    pub name: String,
    /// The scenario file, as given.
    pub file: String,
    /// The seed of this run.
    pub seed: u64,
    /// `"real"` for a run on real sockets (`httpsim run --real`); absent for a simulated run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<&'static str>,
    /// Every expectation and invariant held.
    pub passed: bool,
    /// Simulated time at the end, ms.
    pub sim_ms: u64,
    /// Wall time the run took, ms (never written to committed reports).
    pub wall_ms: u64,
    /// Hash of the trace's JSON Lines form.
    pub trace_hash: String,
    /// How the run ended: `completed`, `duration-reached`, `limit`, `host-error`.
    pub end: String,
    /// The figures (`requests`, `first_error`, `longest_stall_ms`, `last_completion_ms`,
    /// `max_open_fds`, `shutdown`).
    #[serde(flatten)]
    pub summary: Summary,
    /// Verdicts of the invariants the scenario lists.
    pub invariants: Vec<InvariantResult>,
    /// Verdicts of its `[expect]` keys.
    pub expectations: Vec<Expectation>,
    /// `--check-determinism`: whether a second run gave the same trace; `null` when not checked.
    pub deterministic: Option<bool>,
    /// How simulated time passed: `"jumped"` — the engine is event-driven, so every quiet
    /// period was skipped in one jump, whoever's timer (httpsim's, hyper's or your own
    /// `tokio::time::sleep`) ended it. There is no other mode; the field says so in reports.
    pub quiet_periods: &'static str,
    /// The command that replays this run.
    pub replay: String,
    /// The trace.
    #[serde(skip)]
    pub records: Vec<Record>,
    /// The trace's index: the one the checks judged the run from, kept for the report (built
    /// on first use when no check needed it).
    #[serde(skip)]
    timeline: Arc<OnceLock<Timeline>>,
    /// The server's host, which the index needs to tell the two ends of a connection apart.
    #[serde(skip)]
    server_host: String,
}

impl Outcome {
    /// The trace indexed by request and connection, shared by the checks and the report.
    pub fn timeline(&self) -> &Timeline {
        self.timeline
            .get_or_init(|| Timeline::new(&self.records, &self.server_host))
    }
}

/// Runs `scenario` once at `seed`. Its setup was validated when it was loaded, so an error
/// here means the caller changed [`Scenario::setup`] since.
pub fn run(scenario: &Scenario, seed: u64) -> Result<Outcome, SetupError> {
    let mut setup = scenario.setup.clone();
    setup.world.seed(seed);
    Ok(judge(scenario, seed, setup.run()?))
}

/// Judges a run of `scenario` at `seed` — simulated, or real (`httpsim run --real`, whose
/// trace comes from two processes on loopback) — by the scenario's invariants and `[expect]`.
pub fn judge(scenario: &Scenario, seed: u64, result: crate::setup::Run) -> Outcome {
    let setup = result.setup().clone();
    let summary = result.summary();
    let expect = scenario.file.expect.clone().unwrap_or_default();
    let mut ctx = CheckContext::with_timeline(
        &result.records,
        summary,
        &setup,
        &result.end,
        &result.timeline,
    );
    ctx.no_stall_bound = expect.no_stall_bound.map(|d| d.0);
    let invariants: Vec<InvariantResult> = expect
        .invariants
        .iter()
        .flatten()
        .map(|&invariant| invariant.check(&ctx))
        .collect();
    let summary = summary.clone();
    let duration = scenario
        .file
        .duration
        .map_or(std::time::Duration::from_secs(60), |d| d.0);
    let expectations = expect::evaluate(&expect, &summary, &result.end, duration, &invariants);
    let passed = expectations.iter().all(|e| e.passed) && invariants.iter().all(|i| i.passed);
    let file = scenario.path.to_string_lossy().replace('\\', "/");
    Outcome {
        name: scenario.name().to_string(),
        replay: replay_command(&file, seed),
        file,
        seed,
        mode: None,
        passed,
        sim_ms: result.sim_time.as_millis() as u64,
        wall_ms: result.wall_time.as_millis() as u64,
        trace_hash: trace::hash(&result.records),
        end: match result.end {
            RunEnd::Completed => "completed",
            RunEnd::DurationReached => "duration-reached",
            RunEnd::Limit(_) => "limit",
            RunEnd::HostError(_) => "host-error",
        }
        .to_string(),
        summary,
        invariants,
        expectations,
        deterministic: None,
        quiet_periods: QUIET_PERIODS,
        records: result.records,
        timeline: Arc::new(
            result
                .timeline
                .into_inner()
                .map_or_else(OnceLock::new, OnceLock::from),
        ),
        server_host: setup.server.host,
    }
}

/// The one command that replays a run of `file` at `seed`: the `httpsim` CLI, which works in
/// any crate once installed (docs/CLI.md "Getting the CLI"). A `cargo run -p httpsim` form
/// would work only inside httpsim's own workspace.
pub fn replay_command(file: &str, seed: u64) -> String {
    format!("httpsim run {file} --seed {seed}")
}
