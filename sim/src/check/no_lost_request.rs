//! **no-lost-request**: every request ends exactly once — a response head, an error, or a
//! timeout (a timeout is an error of kind `timeout`).
//!
//! A request is *lost* when it started and never ended: no response head and no final error by
//! the end of the run (a failed attempt marked `retrying` must be followed by another attempt).
//! The violation says where the lost requests were stuck (see [`super::diagnose`]). A request
//! that ends twice (two heads, a head and an error, two final errors) is a violation too.

use super::diagnose::why_waiting;
use super::{CheckContext, Violation};
use crate::fmt::secs;
use crate::trace::ReqId;

/// Violations of the no-lost-request invariant.
pub fn check(ctx: &CheckContext) -> Vec<Violation> {
    let tl = ctx.timeline();
    let run_end = tl.end_us.max(ctx.summary.stall.to_us);
    let mut out = Vec::new();
    let lost: Vec<ReqId> = tl
        .reqs
        .iter()
        .filter(|(_, f)| !f.attempts.is_empty() && f.end().is_none())
        .map(|(id, _)| *id)
        .collect();
    if !lost.is_empty() {
        let from = lost.iter().map(|r| tl.reqs[r].start()).min().unwrap_or(0);
        // Where they were stuck: seen after the last thing that happened in the run.
        let since = lost
            .iter()
            .map(|r| tl.reqs[r].start())
            .max()
            .unwrap_or(0)
            .max(tl.end_us.min(run_end));
        out.push(Violation {
            message: format!(
                "{} request(s) never ended (no response, no error, no timeout) by the end of the \
                 run at {}: {}",
                lost.len(),
                secs(run_end),
                why_waiting(tl, &lost, since, run_end)
            ),
            requests: lost,
            conns: vec![],
            from_us: from,
            to_us: run_end,
        });
    }
    for (req, f) in &tl.reqs {
        // Nearly every request ends once: count before building the sentence.
        if f.heads.len() + f.failures.len() < 2 {
            continue;
        }
        let mut ends: Vec<(u64, String)> = f
            .heads
            .iter()
            .map(|h| (h.0, "a response".to_string()))
            .chain(f.failures.iter().map(|e| (e.0, format!("a {} error", e.1))))
            .collect();
        ends.sort();
        let what: Vec<String> = ends
            .iter()
            .map(|(t, w)| format!("{w} at {}", secs(*t)))
            .collect();
        out.push(Violation {
            message: format!(
                "request {req} ended {} times: {}",
                ends.len(),
                what.join(", ")
            ),
            requests: vec![*req],
            conns: vec![],
            from_us: ends[0].0,
            to_us: ends[ends.len() - 1].0,
        });
    }
    out
}
