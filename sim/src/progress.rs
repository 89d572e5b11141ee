//! How far the current run has got, for a person watching a long run on a terminal: the
//! simulated time of the latest request end and how many requests have ended.
//!
//! Display only: the figures are process-wide (runs in parallel test threads mix them) and never
//! reach a trace, a report or the JSON. The CLI shows them once a run has taken more than a
//! couple of seconds of wall time.

use std::sync::atomic::{AtomicU64, Ordering};

static SIM_US: AtomicU64 = AtomicU64::new(0);
static ENDED: AtomicU64 = AtomicU64::new(0);

/// A request ended (response head or final error) at simulated time `now_us`.
pub(crate) fn note_end(now_us: u64) {
    SIM_US.store(now_us, Ordering::Relaxed);
    ENDED.fetch_add(1, Ordering::Relaxed);
}

/// Starts counting a new run from zero.
pub fn reset() {
    SIM_US.store(0, Ordering::Relaxed);
    ENDED.store(0, Ordering::Relaxed);
}

/// `(simulated µs of the latest request end, requests ended)` since the last [`reset`].
pub fn snapshot() -> (u64, u64) {
    (
        SIM_US.load(Ordering::Relaxed),
        ENDED.load(Ordering::Relaxed),
    )
}
