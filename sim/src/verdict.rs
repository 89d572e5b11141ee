//! Checks from your own `#[test]`: run a [`Setup`], judge it by named invariants, and fail with
//! every violation and the command that replays it *in your crate*.
//!
//! ```
//! let mut setup = httpsim::Setup::default();
//! setup.workload.requests = 3;
//! let verdict = setup.check(&["ordering", "no-stall", "no-lost-request"]);
//! verdict.assert_holds();
//! assert_eq!(verdict.summary.requests.completed, 3);
//! ```
//!
//! The seed comes from the setup unless the `HTTPSIM_SEED` environment variable is set, so a
//! failure printed as `HTTPSIM_SEED=7 cargo test my_test` replays exactly that run.

use std::fmt;

use crate::check::{self, CheckContext, InvariantResult};
use crate::setup::{Run, Setup};
use crate::summary::Summary;

/// The environment variable that overrides the seed of [`Setup::check`] (and of the CLI).
pub const SEED_ENV: &str = "HTTPSIM_SEED";

/// A run and its verdicts.
pub struct Verdict {
    /// The seed it ran at.
    pub seed: u64,
    /// The run itself (trace, end, fd peaks).
    pub run: Run,
    /// Its figures (counts, statuses, first error, longest stall).
    pub summary: Summary,
    /// One verdict per invariant asked for, in order.
    pub invariants: Vec<InvariantResult>,
    /// Every invariant held and the run ended as a run may (not at a simulation limit).
    pub passed: bool,
}

/// Parameters of the checks beyond the setup. Every field documents its default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// The `no-stall` bound. The default is [`check::no_stall::default_bound`].
    pub no_stall_bound: Option<std::time::Duration>,
}

impl Setup {
    /// Runs this setup (at `HTTPSIM_SEED` when set) and evaluates `invariants` by name (see
    /// [`check::Invariant`]; an unknown name is a failed verdict, not a panic).
    pub fn check(&self, invariants: &[&str]) -> Verdict {
        self.check_with(invariants, CheckOptions::default())
    }

    /// [`check`](Self::check) with check parameters of your own (e.g. the `no-stall` bound).
    pub fn check_with(&self, invariants: &[&str], options: CheckOptions) -> Verdict {
        let mut setup = self.clone();
        if let Some(seed) = std::env::var(SEED_ENV)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            setup.world.seed(seed);
        }
        let seed = setup.world.seed_value();
        let run = match setup.run() {
            Ok(run) => run,
            Err(e) => panic!("httpsim: this setup cannot run: {e}"),
        };
        let summary = run.summary().clone();
        let mut ctx = CheckContext::new(&run.records, &summary, &setup, &run.end);
        ctx.no_stall_bound = options.no_stall_bound;
        let results: Vec<InvariantResult> = invariants
            .iter()
            .map(|name| {
                check::check(name, &ctx).unwrap_or_else(|| InvariantResult {
                    name: name.to_string(),
                    passed: false,
                    verdict: check::judge::Verdict::CannotJudge,
                    reason: Some(format!(
                        "cannot judge: no invariant is called {name:?}; known: {}",
                        check::Invariant::ALL.map(|i| i.name()).join(", ")
                    )),
                    violations: vec![],
                })
            })
            .collect();
        let ended_well = !matches!(
            run.end,
            crate::RunEnd::Limit(_) | crate::RunEnd::HostError(_)
        );
        let passed = ended_well && results.iter().all(|r| r.passed);
        Verdict {
            seed,
            run,
            summary,
            invariants: results,
            passed,
        }
    }
}

impl Verdict {
    /// The verdict of the invariant `name`, if it was asked for.
    pub fn invariant(&self, name: &str) -> Option<&InvariantResult> {
        self.invariants.iter().find(|r| r.name == name)
    }

    /// Whether `name` was asked for and found violated (not merely unjudged).
    pub fn violated(&self, name: &str) -> bool {
        self.invariant(name)
            .is_some_and(|r| r.verdict == check::judge::Verdict::Violation)
    }

    /// The command that replays this run from the current test: `HTTPSIM_SEED=7 cargo test
    /// name` (the test's name as libtest gives it to its thread).
    pub fn replay(&self) -> String {
        let test = std::thread::current()
            .name()
            .filter(|n| *n != "main")
            .map(|n| format!(" {n} -- --exact"))
            .unwrap_or_default();
        format!("{SEED_ENV}={} cargo test{test}", self.seed)
    }

    /// Panics, printing every violation and the replay command, unless the run passed.
    #[track_caller]
    pub fn assert_holds(&self) {
        if !self.passed {
            panic!("{self}");
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = if self.passed { "PASS" } else { "FAIL" };
        writeln!(
            f,
            "httpsim run at seed {}: {word} ({:?} at {:?} simulated)",
            self.seed, self.run.end, self.run.sim_time
        )?;
        for r in &self.invariants {
            match (&r.reason, r.passed) {
                (Some(reason), _) => writeln!(f, "  {}: {reason}", r.name)?,
                (None, true) => writeln!(f, "  {}: holds", r.name)?,
                (None, false) => {
                    writeln!(f, "  {}: {} violation(s)", r.name, r.violations.len())?;
                    for v in &r.violations {
                        writeln!(f, "    - {}", v.message)?;
                    }
                }
            }
        }
        write!(f, "replay: {}", self.replay())
    }
}

impl fmt::Debug for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
