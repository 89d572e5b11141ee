//! Bug hunting: per seed, draw faults from a scenario's `[explore]` table, run, judge, and
//! shrink what fails to a minimal case written as a scenario file of its own.
//!
//! - [`Explorer`] — one scenario made explorable: [`Explorer::try_seed`] draws, runs and judges
//!   one seed; [`Explorer::shrink`] makes a failing case smaller; [`Explorer::text`] writes a
//!   case down. Start here.
//! - [`table`] — the `[explore]` table of the format and its checks.
//! - [`draw`] — a seed's [`draw::Case`]: scheduled faults as episodes, per-connection faults,
//!   a drawn server idle timeout.
//! - [`shrink`] — fewer faults, earlier, shorter, smaller; deterministic.
//! - [`write`](mod@write) — the base file edited into the case's standalone scenario file.
//! - [`command`] — `httpsim explore`.
//!
//! A run *fails* when its verdict does: an invariant named in `[expect]` broke, or another
//! `[expect]` key missed. [`Violation`] names the first such check and its sentence; two
//! violations are the same bug when they name the same check and their sentences have the same
//! [`shape`] (numbers — request ids, times, counts — set aside).
//!
//! Every run explore makes is a run of the text [`write::render`] produced, parsed like any
//! scenario file: the written finding replays exactly what explore ran.

// Errors are `ScenarioError`s, big and rare, as in `scenario` (see there).
#![allow(clippy::result_large_err)]

#[cfg(feature = "cli")]
pub mod command;
pub mod draw;
pub mod shrink;
pub mod table;
pub mod write;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::scenario::{self, Outcome, Scenario, ScenarioError};
use draw::{Case, Size, Space};

pub use table::ExploreTable;

/// The check a failing run broke first, and its sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The invariant's name, or `expect.KEY` for another `[expect]` key (`expect.failed`,
    /// `expect.end`).
    pub invariant: String,
    /// The first violation's message, or the missed expectation's detail.
    pub diagnosis: String,
}

impl Violation {
    /// What a failed run broke first: the first broken invariant (in `[expect]` order), else
    /// the first missed expectation; `None` when it passed.
    pub fn of(o: &Outcome) -> Option<Violation> {
        if let Some(i) = o.invariants.iter().find(|i| !i.passed) {
            return Some(Violation {
                invariant: i.name.clone(),
                diagnosis: i
                    .violations
                    .first()
                    .map_or_else(String::new, |v| v.message.clone()),
            });
        }
        o.expectations
            .iter()
            .find(|e| !e.passed && e.key != "invariants")
            .map(|e| Violation {
                invariant: format!("expect.{}", e.key),
                diagnosis: e.detail.clone(),
            })
    }

    /// Whether `other` is the same bug: same check, same [`shape`] of sentence.
    pub fn same_bug(&self, other: &Violation) -> bool {
        self.invariant == other.invariant && shape(&self.diagnosis) == shape(&other.diagnosis)
    }
}

/// A sentence with every run of digits replaced by `#`: "request 2 failed at 5.002s" and
/// "request 7 failed at 12.400s" have the same shape.
pub fn shape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_digits = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(c);
        }
    }
    out
}

/// What one seed gave.
#[derive(Clone, Debug)]
pub struct Tried {
    /// The case drawn.
    pub case: Case,
    /// The run.
    pub outcome: Outcome,
    /// What broke, if anything.
    pub violation: Option<Violation>,
}

/// A minimal failing case, ready to write.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The base scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// What broke (in the minimal case's run).
    pub violation: Violation,
    /// The finding's scenario file.
    pub file: PathBuf,
    /// Its text.
    pub text: String,
    /// The first failing case's size.
    pub first: Size,
    /// The minimal case's size.
    pub minimal: Size,
    /// The minimal case.
    pub case: Case,
    /// Its run.
    pub outcome: Outcome,
    /// Shrink candidates run.
    pub shrink_runs: usize,
}

/// One scenario made explorable.
#[derive(Clone, Debug)]
pub struct Explorer {
    scenario: Scenario,
    src: String,
    space: Space,
    out: PathBuf,
}

impl Explorer {
    /// `scenario`, whose file text is `src`, writing findings into `out`.
    pub fn new(scenario: Scenario, src: String, out: &Path) -> Self {
        let duration = scenario
            .file
            .duration
            .map_or(std::time::Duration::from_secs(60), |d| d.0);
        let table = scenario.file.explore.clone().unwrap_or_default();
        Self {
            space: Space::new(&table, duration),
            scenario,
            src,
            out: out.to_path_buf(),
        }
    }

    /// The base scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// What the table lets a seed draw.
    pub fn space(&self) -> &Space {
        &self.space
    }

    /// The name of the finding at `seed`: `NAME-seed-N`.
    pub fn finding_name(&self, seed: u64) -> String {
        format!("{}-seed-{seed}", self.scenario.name())
    }

    /// The file the finding at `seed` is written to.
    pub fn finding_path(&self, seed: u64) -> PathBuf {
        self.out.join(format!("{}.toml", self.finding_name(seed)))
    }

    /// The scenario text of `case` at `seed`, with `header` on top.
    pub fn text(&self, case: &Case, seed: u64, header: &str) -> Result<String, ScenarioError> {
        let setup = &self.scenario.setup;
        write::render(
            &self.src,
            case,
            &self.finding_name(seed),
            seed,
            (&setup.client.host, &setup.server.host),
            header,
        )
        .map_err(|e| {
            ScenarioError::new(scenario::ErrorClass::Syntax, &self.scenario.path, e)
                .expected("valid TOML")
        })
    }

    /// Runs `case` at `seed`: its text parsed as a scenario file and run.
    pub fn run(&self, case: &Case, seed: u64) -> Result<(Scenario, Outcome), ScenarioError> {
        let text = self.text(case, seed, "")?;
        let s = scenario::parse(&self.finding_path(seed), &text)?;
        let o = scenario::run(&s, seed).map_err(|e| {
            ScenarioError::new(
                scenario::ErrorClass::Impossible,
                &self.scenario.path,
                e.to_string(),
            )
        })?;
        Ok((s, o))
    }

    /// Draws, runs and judges `seed`.
    pub fn try_seed(&self, seed: u64) -> Result<Tried, ScenarioError> {
        let case = draw::draw(&self.space, seed);
        let (_, outcome) = self.run(&case, seed)?;
        Ok(Tried {
            violation: Violation::of(&outcome),
            case,
            outcome,
        })
    }

    /// Shrinks the failing `tried` (at `seed`) to a minimal case that breaks the same check
    /// with a sentence of the same shape; at most `max_tries` runs, while `more()` holds.
    pub fn shrink(
        &self,
        seed: u64,
        tried: Tried,
        max_tries: usize,
        more: impl FnMut() -> bool,
    ) -> Result<Finding, ScenarioError> {
        let first = tried.case.size();
        let Some(want) = tried.violation.clone() else {
            return Err(ScenarioError::new(
                scenario::ErrorClass::Impossible,
                &self.scenario.path,
                format!("seed {seed} did not fail; nothing to shrink"),
            ));
        };
        let mut error = None;
        let shrunk = shrink::shrink(
            tried.case,
            (tried.outcome, want.clone()),
            &self.space,
            max_tries,
            more,
            |cand| match self.run(cand, seed) {
                Ok((_, o)) => {
                    let v = Violation::of(&o)?;
                    v.same_bug(&want).then_some((o, v))
                }
                Err(e) => {
                    error.get_or_insert(e);
                    None
                }
            },
        );
        if let Some(e) = error {
            return Err(e);
        }
        let (outcome, violation) = shrunk.last;
        let minimal = shrunk.case.size();
        let header = format!(
            "# Found by `httpsim explore {}` at seed {seed} and shrunk from {} to {} \
             fault entries ({} shrink runs).\n# {}: {}\n# Replay: httpsim run {}\n",
            self.scenario.path.to_string_lossy().replace('\\', "/"),
            first.entries,
            minimal.entries,
            shrunk.tries,
            violation.invariant,
            violation.diagnosis.replace('\n', " "),
            self.finding_path(seed).to_string_lossy().replace('\\', "/"),
        );
        let text = self.text(&shrunk.case, seed, &header)?;
        Ok(Finding {
            scenario: self.scenario.name().to_string(),
            seed,
            violation,
            file: self.finding_path(seed),
            text,
            first,
            minimal,
            case: shrunk.case,
            outcome,
            shrink_runs: shrunk.tries,
        })
    }
}
