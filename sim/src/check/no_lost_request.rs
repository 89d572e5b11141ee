//! **no-lost-request**: every request ends exactly once — a response head or a final error.

use std::collections::BTreeMap;

use super::{CheckContext, Violation};
use crate::trace::{Event, ReqId};

/// Violations of the no-lost-request invariant.
pub fn check(ctx: &CheckContext) -> Vec<Violation> {
    let mut started: BTreeMap<ReqId, u64> = BTreeMap::new();
    let mut ends: BTreeMap<ReqId, Vec<u64>> = BTreeMap::new();
    for r in ctx.records {
        match &r.event {
            Event::RequestStart { req, .. } => {
                started.entry(*req).or_insert(r.t_us);
            }
            Event::ResponseHead { req, .. }
            | Event::RequestFailed {
                req,
                retrying: false,
                ..
            } => ends.entry(*req).or_default().push(r.t_us),
            _ => {}
        }
    }
    let mut out = Vec::new();
    let end_us = ctx.records.last().map(|r| r.t_us).unwrap_or(0);
    let lost: Vec<ReqId> = started
        .keys()
        .filter(|r| !ends.contains_key(r))
        .copied()
        .collect();
    if !lost.is_empty() {
        let from = lost.iter().map(|r| started[r]).min().unwrap_or(0);
        out.push(Violation {
            message: format!(
                "{} request(s) never ended (no response, no error): {}",
                lost.len(),
                crate::check::ranges(&lost)
            ),
            requests: lost,
            conns: vec![],
            from_us: from,
            to_us: end_us,
        });
    }
    for (req, times) in &ends {
        if times.len() > 1 {
            out.push(Violation {
                message: format!("request {req} ended {} times", times.len()),
                requests: vec![*req],
                conns: vec![],
                from_us: times[0],
                to_us: *times.last().unwrap(),
            });
        }
    }
    out
}
