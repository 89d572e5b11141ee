//! What a run produced, and its verdicts: a [`Run`] judges itself.
//!
//! A run keeps the setup it ran under, so [`Run::summary`], [`Run::check`] and
//! [`Run::check_all`] need nothing else (the last two are written in `check/run.rs`: the checks
//! build on a run, not the other way round). The summary and the trace's timeline (the index every
//! check reads) are built once, on first use, and shared by every later call.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::Setup;
use crate::summary::Summary;
use crate::trace::timeline::Timeline;
use crate::trace::Record;
use crate::world::RunEnd;

/// What one run of a [`Setup`] produced. Made by [`Setup::run`].
pub struct Run {
    /// How the simulation ended.
    pub end: RunEnd,
    /// Simulated time at the end.
    pub sim_time: Duration,
    /// Wall time the run took (for reports only; never part of the trace).
    pub wall_time: Duration,
    /// Turns of the engine's driver (never part of the trace): a measure of work, not of
    /// simulated time; an idle hour costs one.
    pub steps: u64,
    /// The trace.
    pub records: Vec<Record>,
    /// The most fds each host had open at once (its baseline included).
    pub peak_fds: BTreeMap<String, usize>,
    /// Whether quiet periods were jumped: always `true` — the engine is event-driven, so no
    /// timer (httpsim's, hyper's or your own tokio one) is ever waited for tick by tick.
    pub quiet_periods_jumped: bool,
    /// Response bodies by request, read to their end under
    /// [`BodyMode::Keep`](crate::client::BodyMode::Keep) (empty otherwise).
    pub bodies: BTreeMap<crate::trace::ReqId, bytes::Bytes>,
    setup: Setup,
    summary: OnceCell<Summary>,
    /// The trace's index, built by the first check and kept for the next.
    pub(crate) timeline: OnceCell<Timeline>,
}

impl Run {
    pub(crate) fn new(
        setup: Setup,
        end: RunEnd,
        times: (Duration, Duration, u64),
        records: Vec<Record>,
        peak_fds: BTreeMap<String, usize>,
    ) -> Self {
        let (sim_time, wall_time, steps) = times;
        Self {
            end,
            sim_time,
            wall_time,
            steps,
            records,
            peak_fds,
            quiet_periods_jumped: true,
            bodies: BTreeMap::new(),
            setup,
            summary: OnceCell::new(),
            timeline: OnceCell::new(),
        }
    }

    /// The run with the response bodies it kept.
    pub(super) fn with_bodies(
        mut self,
        bodies: BTreeMap<crate::trace::ReqId, bytes::Bytes>,
    ) -> Self {
        self.bodies = bodies;
        self
    }

    /// The setup this run ran under.
    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// The figures of this run (counts, first error, longest stall, fd peaks).
    pub fn summary(&self) -> &Summary {
        self.summary.get_or_init(|| {
            Summary::from_records(
                &self.records,
                self.sim_time.as_micros() as u64,
                self.peak_fds.clone(),
            )
        })
    }
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("end", &self.end)
            .field("sim_time", &self.sim_time)
            .field("steps", &self.steps)
            .field("records", &self.records.len())
            .field("peak_fds", &self.peak_fds)
            .finish_non_exhaustive()
    }
}
