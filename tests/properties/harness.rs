//! Running a property: seeds, case counts, the verdict of one case, and the failure report.
//!
//! Every property runs proptest from a fixed seed, so a run is reproducible end to end (cases,
//! failure, shrinking): `HTTPSIM_SEED` sets it (the default is 1) and `PROPTEST_CASES` raises
//! the case count (each property names its CI default). A failure prints the seed, the shrunk
//! case with its fault schedule, the violations, and the one command that replays it.

use std::cell::Cell;

use proptest::strategy::Strategy;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};

use httpsim::check::{CheckContext, Violation};
use httpsim::{RunResult, Setup};

/// The proptest seed: `HTTPSIM_SEED`, or 1.
pub fn seed() -> u64 {
    std::env::var("HTTPSIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// The case count: `PROPTEST_CASES`, or `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn runner(cases: u32, persist: Option<&'static str>, max_shrink_iters: u32) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed().to_le_bytes());
    let config = Config {
        cases,
        max_shrink_iters,
        failure_persistence: persist.map(|p| Box::new(FileFailurePersistence::Direct(p)) as Box<_>),
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// A named check over a run.
pub type Check<'a> = (&'a str, &'a dyn Fn(&CheckContext) -> Vec<Violation>);

/// Runs `setup` and judges it with `checks`: `Err` lists every violation.
pub fn verdict(setup: &Setup, checks: &[Check]) -> (RunResult, Result<(), String>) {
    // The strategies generate valid setups only; an invalid one is a bug in a strategy.
    let run = setup
        .run()
        .unwrap_or_else(|e| panic!("a generated setup is invalid: {e}"));
    let ctx = run.context();
    let mut lines = Vec::new();
    for (name, check) in checks {
        for v in check(&ctx) {
            lines.push(format!(
                "  {name}: {} [{}..{} ms]",
                v.message,
                v.from_us / 1000,
                v.to_us / 1000
            ));
        }
    }
    let res = if lines.is_empty() {
        Ok(())
    } else {
        Err(lines.join("\n"))
    };
    drop(ctx);
    (run, res)
}

/// Runs a property over `strategy` and fails with a replayable report.
///
/// `test` is the test's path in the binary (`ordering::...`), for the replay command;
/// `regressions` the file under `proptest-regressions/`.
pub fn check_property<S>(
    test: &str,
    regressions: &'static str,
    default_cases: u32,
    strategy: S,
    prop: impl Fn(&S::Value) -> Result<(), String>,
) -> crate::Result
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let cases = cases(default_cases);
    let mut r = runner(cases, Some(regressions), 512);
    match r.run(&strategy, |case| prop(&case).map_err(TestCaseError::fail)) {
        Ok(()) => Ok(()),
        Err(e) => Err(report(test, cases, e).into()),
    }
}

/// Runs a property over a deliberately broken component and returns how many cases it took to
/// catch it (the first failing case, before shrinking), with the shrunk report. `Err` when the
/// property let the bug through.
pub fn cases_to_catch<S>(
    test: &str,
    default_cases: u32,
    strategy: S,
    prop: impl Fn(&S::Value) -> Result<(), String>,
) -> Result<(u32, String), String>
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let cases = cases(default_cases);
    let seen = Cell::new(0u32);
    let caught = Cell::new(None);
    // Bounded shrinking keeps the bite tests fast and still shows a small case.
    let mut r = runner(cases, None, 128);
    let res = r.run(&strategy, |case| {
        if caught.get().is_none() {
            seen.set(seen.get() + 1);
        }
        let out = prop(&case);
        if out.is_err() && caught.get().is_none() {
            caught.set(Some(seen.get()));
        }
        out.map_err(TestCaseError::fail)
    });
    match (res, caught.get()) {
        (Err(e), Some(n)) => Ok((n, report(test, cases, e))),
        _ => Err(format!(
            "{test}: the property passed all {cases} cases over a broken component"
        )),
    }
}

fn report<V: std::fmt::Debug>(test: &str, cases: u32, e: TestError<V>) -> String {
    match e {
        TestError::Fail(why, case) => format!(
            "property failed (HTTPSIM_SEED={seed}, {cases} cases)\n\
             minimal failing case (shrunk; `seed` is the simulation seed, `faults` the \
             schedule):\n{case:#?}\nviolations:\n{why}\n\
             replay: HTTPSIM_SEED={seed} PROPTEST_CASES={cases} cargo test --test properties \
             {test} -- --exact",
            seed = seed()
        ),
        TestError::Abort(why) => format!("property aborted: {why}"),
    }
}

/// When a property case issues its requests: all at once, or at a rate per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arrivals {
    Parallel,
    PerSecond(u32),
}

impl Arrivals {
    /// The workload kind it stands for.
    pub fn kind(self) -> httpsim::workload::WorkloadKind {
        match self {
            Arrivals::Parallel => httpsim::workload::WorkloadKind::Parallel,
            Arrivals::PerSecond(r) => httpsim::workload::WorkloadKind::Rate(f64::from(r)),
        }
    }
}
