//! Bench: the engine changes made for speed keep every run's trace unchanged.
//!
//! - `fast_forward` — skipping quiet periods gives the same trace, event for event, as ticking
//!   through them, with idle timeouts, scheduled faults and random latencies.
//!
//! Timings themselves are never asserted here: they live in `cargo bench -p httpsim` and
//! `docs/PERFORMANCE.md`.

mod fast_forward;

/// Test result: every test can use `?`.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;
