//! **shutdown**: a server shutdown ends in time, loses nothing in flight, and closes idle sockets
//! at once.
//!
//! Judged from the trace's `shutdown_start` / `shutdown_end` and the server's requests,
//! responses and closes, against a [`ShutdownPlan`] (when it was asked for, its deadline):
//! 1. **ends by its deadline**: `shutdown_end` comes at most deadline + one tick after
//!    `shutdown_start`; without a deadline it must still come before the run ends. A planned
//!    shutdown that never started is a violation too.
//! 2. **no in-flight request is lost**: a request the server had received before the shutdown
//!    started gets its response, unless it was still running at the deadline (then the deadline
//!    forced it, as configured).
//! 3. **idle sockets close within one tick**: a server socket open at the start with no request
//!    in progress is closed by start + one tick. Not judged for the `wait-all` strategy, whose
//!    contract is to wait. A socket whose last response body the client had not finished
//!    receiving counts as busy (the trace cannot tell a body still being written from one that
//!    is fully written but unread), so this rule errs towards silence.
//! 4. **nothing accepted after the start is left unanswered**: a request the server received
//!    after the shutdown started gets a response (again unless the deadline forced it).

use std::time::Duration;

use super::timeline::Timeline;
use super::{CheckContext, Violation};
use crate::fmt::secs;
use crate::setup::Setup;

/// What a shutdown was asked to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShutdownPlan {
    /// When the shutdown was asked for, if known. The default is unknown: only shutdowns seen in
    /// the trace are judged.
    pub at: Option<Duration>,
    /// How long it may take. The default is none: it must end, but may take as long as it likes.
    pub deadline: Option<Duration>,
}

/// The plan the setup asks for: the server's scheduled shutdown, if any. A setup whose server
/// is custom passes its own plan to [`check_with_plan`].
pub fn plan(setup: &Setup) -> ShutdownPlan {
    match &setup.server.shutdown {
        Some(p) if setup.custom.server.is_none() => ShutdownPlan {
            at: Some(p.at),
            deadline: p.deadline,
        },
        _ => ShutdownPlan::default(),
    }
}

/// Violations of the shutdown invariant under the setup's [`plan`].
pub fn check(ctx: &CheckContext) -> Vec<Violation> {
    check_with_plan(ctx, plan(ctx.setup))
}

/// Violations of the shutdown invariant under `plan`.
pub fn check_with_plan(ctx: &CheckContext, plan: ShutdownPlan) -> Vec<Violation> {
    let tl = ctx.timeline();
    let tick = ctx.setup.world.tick_len().as_micros() as u64;
    let run_end = tl.end_us.max(ctx.summary.stall.to_us);
    let Some((start, strategy)) = tl.shutdown_start.clone() else {
        return never_started(&plan, tick, run_end).into_iter().collect();
    };
    let shutdown = Started {
        start,
        strategy,
        deadline: plan.deadline.map(|d| start + d.as_micros() as u64),
        tick,
        run_end,
    };
    let mut out: Vec<Violation> = shutdown.past_deadline(tl).into_iter().collect();
    out.extend(shutdown.lost_requests(tl));
    if shutdown.strategy != "wait-all" {
        out.extend(shutdown.idle_kept_open(tl));
    }
    out
}

/// A shutdown planned at a time before the run's end that never started.
fn never_started(plan: &ShutdownPlan, tick: u64, run_end: u64) -> Option<Violation> {
    let at = plan.at?.as_micros() as u64;
    (at + tick < run_end).then(|| Violation {
        message: format!(
            "a shutdown was planned at {} but never started (run ended at {})",
            secs(at),
            secs(run_end)
        ),
        requests: vec![],
        conns: vec![],
        from_us: at,
        to_us: run_end,
    })
}

/// A shutdown that started, as the trace shows it, with what it is judged against.
struct Started {
    start: u64,
    strategy: String,
    /// Its start plus the planned deadline.
    deadline: Option<u64>,
    tick: u64,
    run_end: u64,
}

impl Started {
    /// A failure at or after the deadline was forced by it, as configured.
    fn forced(&self, t: u64) -> bool {
        self.deadline.is_some_and(|d| t >= d)
    }

    /// Rule 1: it ends, and by its deadline (within a tick).
    fn past_deadline(&self, tl: &Timeline) -> Option<Violation> {
        let (start, strategy) = (self.start, &self.strategy);
        match (tl.shutdown_end, self.deadline) {
            (None, _) => Some(Violation {
                message: format!(
                    "the shutdown ({strategy}) started at {} never ended (run ended at {})",
                    secs(start),
                    secs(self.run_end)
                ),
                requests: vec![],
                conns: vec![],
                from_us: start,
                to_us: self.run_end,
            }),
            (Some((end, _)), Some(d)) if end > d + self.tick => Some(Violation {
                message: format!(
                    "the shutdown ({strategy}) took {} (from {} to {}), past its deadline of {}",
                    secs(end - start),
                    secs(start),
                    secs(end),
                    secs(d - start)
                ),
                requests: vec![],
                conns: vec![],
                from_us: start,
                to_us: end,
            }),
            _ => None,
        }
    }

    /// Rules 2 and 4: requests the server received, before or after the start, get their
    /// response (unless the deadline forced their failure).
    fn lost_requests(&self, tl: &Timeline) -> Vec<Violation> {
        let start = self.start;
        let mut out = Vec::new();
        for (req, f) in &tl.reqs {
            let Some(&(got, conn)) = f.delivered.first() else {
                continue;
            };
            if !f.heads.is_empty() {
                continue;
            }
            let before = got <= start;
            if before && !f.pending_at(start) {
                continue;
            }
            let outcome = match f.failures.first() {
                Some((t, _)) if self.forced(*t) => continue,
                Some((t, kind)) => format!("failed with {kind} at {}", secs(*t)),
                None => "never got a response".to_string(),
            };
            let what = if before {
                "was in flight when the shutdown started"
            } else {
                "was accepted after the shutdown started"
            };
            out.push(Violation {
                message: format!(
                    "request {req} {what} at {} (the server received it at {} on conn {conn}) \
                     and {outcome}: the shutdown lost it",
                    secs(start),
                    secs(got)
                ),
                requests: vec![*req],
                conns: vec![conn],
                from_us: got,
                to_us: f.end().unwrap_or(self.run_end),
            });
        }
        out
    }

    /// Rule 3: sockets idle at the start (no request unanswered, no body still travelling)
    /// close within one tick.
    fn idle_kept_open(&self, tl: &Timeline) -> Vec<Violation> {
        let (start, strategy) = (self.start, &self.strategy);
        let mut out = Vec::new();
        for (id, c) in &tl.conns {
            if !c.server_open_at(start) || !c.unanswered_at(start).is_empty() {
                continue;
            }
            // The last response's body still travelling to the client: busy.
            let body_busy = c
                .exchanges
                .iter()
                .rev()
                .find(|x| x.at <= start)
                .and_then(|x| x.seq)
                .and_then(|s| tl.reqs.get(&s))
                .is_some_and(|f| f.body_end.is_none_or(|(t, _)| t > start));
            if body_busy {
                continue;
            }
            let closed = c.server_closed.map(|c| c.0).unwrap_or(self.run_end);
            if closed > start + self.tick {
                out.push(Violation {
                    message: format!(
                        "conn {id} was idle when the shutdown ({strategy}) started at {} but \
                         the server kept it open until {}",
                        secs(start),
                        if c.server_closed.is_some() {
                            secs(closed)
                        } else {
                            "the end of the run".to_string()
                        }
                    ),
                    requests: vec![],
                    conns: vec![*id],
                    from_us: start,
                    to_us: closed,
                });
            }
        }
        out
    }
}
