//! **bounded-timeouts**: every request attempt with a timeout ends by its deadline plus one tick.
//!
//! The deadlines come from `setup.client.timeouts`, as the request driver applies them to each
//! attempt: the response head is due within `min(response, total)` of the attempt's start, and
//! a body being read is due within `total`. An attempt still open past its deadline (plus one
//! tick, the simulator's resolution) means a timeout did not fire: the caller waited longer than
//! it asked to. Bodies the caller holds unread are not judged (the caller chose not to read
//! them). A connect timeout alone is not judged: the trace does not say when a pooled connect
//! started.

use super::{CheckContext, Violation};
use crate::client::BodyMode;
use crate::fmt::secs;

/// Violations of the bounded-timeouts invariant.
pub fn check(ctx: &CheckContext) -> Vec<Violation> {
    let tl = ctx.timeline();
    let tick = ctx.setup.world.tick_len().as_micros() as u64;
    let run_end = tl.end_us.max(ctx.summary.stall.to_us);
    let t = ctx.setup.client.timeouts;
    let head_limit = match (t.response, t.total) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
    .map(|d| d.as_micros() as u64);
    let total = t.total.map(|d| d.as_micros() as u64);
    let reads_body = !matches!(ctx.setup.workload.body, BodyMode::Hold | BodyMode::Drop);
    let mut out = Vec::new();
    for (req, f) in &tl.reqs {
        for a in &f.attempts {
            if let Some(limit) = head_limit {
                let due = a.start + limit + tick;
                let ended = a.end.unwrap_or(run_end);
                if ended > due && (a.end.is_some() || run_end > due) {
                    out.push(Violation {
                        message: format!(
                            "request {req} attempt {} started at {} with a {} timeout but {} \
                             (due by {})",
                            a.number,
                            secs(a.start),
                            secs(limit),
                            match a.end {
                                Some(e) => format!("ended only at {}", secs(e)),
                                None => "never ended".into(),
                            },
                            secs(due)
                        ),
                        requests: vec![*req],
                        conns: f.conn_at(ended).into_iter().collect(),
                        from_us: a.start,
                        to_us: ended,
                    });
                }
            }
        }
        // The body, within the total timeout of the attempt that got the head.
        if let (Some(total), true, Some(&(head_t, conn))) = (total, reads_body, f.heads.first()) {
            let Some(a) = f.attempts.iter().rev().find(|a| a.start <= head_t) else {
                continue;
            };
            let delay = match ctx.setup.workload.body {
                BodyMode::HoldThenRead(d) => d.as_micros() as u64,
                _ => 0,
            };
            let due = a.start + total.max(delay) + tick;
            let ended = f.body_end.map(|b| b.0).unwrap_or(run_end);
            if ended > due && (f.body_end.is_some() || run_end > due) {
                out.push(Violation {
                    message: format!(
                        "request {req}'s body was still being read at {} past its {} total \
                         timeout (due by {})",
                        secs(ended),
                        secs(total),
                        secs(due)
                    ),
                    requests: vec![*req],
                    conns: conn.into_iter().collect(),
                    from_us: a.start,
                    to_us: ended,
                });
            }
        }
    }
    out
}
