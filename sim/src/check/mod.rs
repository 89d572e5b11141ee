//! Invariants over a trace: each turns a run into a verdict with an explanation.
//!
//! A check reads only the trace (and the setup it ran under) and returns the violations it
//! found; each violation names the requests and sockets involved and the time window, so a
//! report can say what went wrong without re-running anything.
//!
//! - [`Invariant`] — the invariants as an enum (the names of the scenario format's
//!   `invariants = [...]`); [`Run::check`](crate::setup::Run::check) evaluates one over a run.
//!   Start here. [`check`] evaluates one by name over a [`CheckContext`].
//! - One file per invariant: [`ordering`], [`no_stall`], [`shutdown`], [`fd_limit`],
//!   [`no_lost_request`], [`bounded_timeouts`], [`idle_reuse`]. Each module doc states its rules exactly.
//! - [`judge`] — whether a check has the events it needs; if not, it *cannot judge*.
//! - [`timeline`] — the trace indexed by request and connection (what every check reads).
//! - [`diagnose`] — the sentence that says why requests waited ("all 5 sockets to server:80
//!   were held by responses whose bodies were never read").
//!
//! Parameters a check needs beyond the trace come from the [`Setup`]: timeouts, fd limits, the
//! tick (deadlines are judged to within one tick). Checks with a tunable have a `check_with_*`
//! form: [`no_stall::check_with_bound`], [`shutdown::check_with_plan`].

pub mod bounded_timeouts;
pub mod diagnose;
pub mod fd_limit;
pub mod idle_reuse;
mod invariant;
pub mod judge;
pub mod no_lost_request;
pub mod no_stall;
pub mod ordering;
mod run;
pub mod shutdown;

use std::cell::OnceCell;

use serde::Serialize;

use crate::setup::Setup;
use crate::summary::Summary;
use crate::trace::{ConnId, Record, ReqId};
use crate::world::RunEnd;
use timeline::Timeline;

/// The trace as connections and requests: the index every check reads (it lives in `trace`, so
/// that a run can keep it without depending on the checks).
pub use crate::trace::timeline;

pub use invariant::{Invariant, UnknownInvariant};

/// One way a run broke an invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// What happened, in a sentence a person can act on.
    pub message: String,
    /// Requests involved.
    pub requests: Vec<ReqId>,
    /// Connections involved.
    pub conns: Vec<ConnId>,
    /// Start of the time window, µs.
    pub from_us: u64,
    /// End of the time window, µs.
    pub to_us: u64,
}

/// The verdict of one invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvariantResult {
    /// The invariant's name.
    pub name: String,
    /// Whether it held (`false` when it could not be judged).
    pub passed: bool,
    /// `pass`, `violation` or `cannot-judge`.
    pub verdict: judge::Verdict,
    /// Why it could not be judged (`cannot judge: …`), when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What broke it (empty when it held).
    pub violations: Vec<Violation>,
}

/// What a check may look at. Build it with [`CheckContext::new`].
pub struct CheckContext<'a> {
    /// The trace.
    pub records: &'a [Record],
    /// The run's figures.
    pub summary: &'a Summary,
    /// The setup the run used (limits, timeouts, shutdown plan).
    pub setup: &'a Setup,
    /// How the run ended.
    pub end: &'a RunEnd,
    /// The `no-stall` bound when the caller gives one (scenario: `expect.no_stall_bound`);
    /// `None` for [`no_stall::default_bound`].
    pub no_stall_bound: Option<std::time::Duration>,
    /// The timeline of the trace, built on first use and shared by every check (it is most of
    /// a check's cost: each building its own made the six checks cost more than the run).
    /// Owned, or lent by a [`Run`](crate::setup::Run) that keeps it across checks.
    timeline: TimelineCell<'a>,
}

impl std::fmt::Debug for CheckContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckContext")
            .field("records", &self.records.len())
            .field("end", self.end)
            .finish_non_exhaustive()
    }
}

/// Where a [`CheckContext`] keeps its timeline. One per context, made once per run: its size
/// does not matter, an allocation to shrink it would.
#[allow(clippy::large_enum_variant)]
enum TimelineCell<'a> {
    /// Boxed: a context that lends its cell stays small.
    Owned(Box<OnceCell<Timeline>>),
    Lent(&'a OnceCell<Timeline>),
}

impl<'a> CheckContext<'a> {
    /// The context of one run.
    pub fn new(
        records: &'a [Record],
        summary: &'a Summary,
        setup: &'a Setup,
        end: &'a RunEnd,
    ) -> Self {
        Self::with_cell(
            records,
            summary,
            setup,
            end,
            TimelineCell::Owned(Box::default()),
        )
    }

    /// The context of one run whose timeline lives in `timeline`, built there on first use and
    /// kept for the next context (how a [`Run`](crate::setup::Run) indexes its trace once).
    pub(crate) fn with_timeline(
        records: &'a [Record],
        summary: &'a Summary,
        setup: &'a Setup,
        end: &'a RunEnd,
        timeline: &'a OnceCell<Timeline>,
    ) -> Self {
        Self::with_cell(records, summary, setup, end, TimelineCell::Lent(timeline))
    }

    fn with_cell(
        records: &'a [Record],
        summary: &'a Summary,
        setup: &'a Setup,
        end: &'a RunEnd,
        timeline: TimelineCell<'a>,
    ) -> Self {
        Self {
            records,
            summary,
            setup,
            end,
            no_stall_bound: None,
            timeline,
        }
    }

    /// The trace as connections and requests (seen from the setup's server host).
    pub fn timeline(&self) -> &Timeline {
        let cell: &OnceCell<Timeline> = match &self.timeline {
            TimelineCell::Owned(cell) => cell,
            TimelineCell::Lent(cell) => cell,
        };
        cell.get_or_init(|| Timeline::new(self.records, &self.setup.server.host))
    }
}

/// Evaluates the invariant called `name`; `None` when no such invariant exists. The typed form
/// is [`Invariant::check`].
pub fn check(name: &str, ctx: &CheckContext) -> Option<InvariantResult> {
    name.parse::<Invariant>().ok().map(|i| i.check(ctx))
}

/// Evaluates every invariant of [`Invariant::ALL`].
pub fn check_all(ctx: &CheckContext) -> Vec<InvariantResult> {
    Invariant::ALL.iter().map(|i| i.check(ctx)).collect()
}

/// Writes sorted ids compactly: `1-5, 8, 10-12`.
pub fn ranges(ids: &[u64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let start = ids[i];
        let mut end = start;
        while i + 1 < ids.len() && ids[i + 1] == end + 1 {
            i += 1;
            end = ids[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(", ")
}
