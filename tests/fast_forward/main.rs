//! Fast-forward: skipping quiet periods in one jump changes nothing but wall time.
//!
//! Every run here is made twice, with fast-forward on and off (tick by tick), and the two must
//! give the same trace (JSON Lines, byte for byte), the same end and the same simulated end
//! time.
//!
//! - `scenarios` — every committed scenario file.
//! - `library` — setups built in code: the pool stall through the Agent, faults scheduled inside
//!   quiet periods, random latency with timeouts, each server shutdown strategy, per-connection
//!   faults.
//! - `safety_net` — a timer made behind httpsim's back is caught, not silently skipped; custom
//!   components keep fast-forward off by default.

mod library;
mod safety_net;
mod scenarios;

use httpsim::{trace, RunResult, Setup};

/// Test result: every test can use `?`.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The two runs of one setup.
pub struct Pair {
    /// Fast-forward on.
    pub on: RunResult,
    /// Tick by tick.
    pub off: RunResult,
}

/// Runs `setup` with fast-forward on and off and checks that both runs are the same.
pub fn same_with_and_without(label: &str, setup: &Setup) -> Result<Pair> {
    let mut on = setup.clone();
    on.world.fast_forward(true);
    let mut off = setup.clone();
    off.world.fast_forward(false);
    let (on, off) = (on.run()?, off.run()?);
    let (a, b) = (trace::to_jsonl(&on.records), trace::to_jsonl(&off.records));
    if a != b {
        let (n, (x, y)) = a
            .lines()
            .zip(b.lines())
            .enumerate()
            .find(|(_, (x, y))| x != y)
            .unwrap_or((0, ("(shorter)", "(shorter)")));
        return Err(format!(
            "{label}: traces differ ({} vs {} lines); first difference at line {}:\n  on:  {x}\n  off: {y}",
            a.lines().count(),
            b.lines().count(),
            n + 1
        )
        .into());
    }
    assert_eq!(on.end, off.end, "{label}: run ends differ");
    assert_eq!(
        on.sim_time, off.sim_time,
        "{label}: simulated end times differ"
    );
    assert!(
        on.steps <= off.steps,
        "{label}: fast-forward took more steps ({}) than tick by tick ({})",
        on.steps,
        off.steps
    );
    Ok(Pair { on, off })
}
