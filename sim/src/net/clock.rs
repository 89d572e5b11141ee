//! Simulated time, as seen from inside a host.
//!
//! httpsim stamps every trace event with the simulation's elapsed time, never wall-clock time.
//! Timers inside hosts use `tokio::time`, which turmoil drives in simulated time.

use std::time::Duration;

/// Simulated time since the start of the run, in microseconds. Zero outside a simulation.
pub fn now_us() -> u64 {
    turmoil::sim_elapsed()
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Simulated time since the start of the run.
pub fn now() -> Duration {
    Duration::from_micros(now_us())
}
