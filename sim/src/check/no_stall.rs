//! **no-stall**: no interval longer than a bound during which requests are pending and nothing
//! progresses, unless a configured timeout explains it.
//!
//! *Progress* is what the summary's `longest_stall_ms` counts (docs/CLI.md): a request attempt
//! starts, a response head arrives, or an attempt fails. Every interval without progress while at
//! least one request is pending is a candidate; one longer than the bound is a violation unless
//! it is *explained*:
//! - it ends with an attempt failing by a configured client timeout (the caller chose to wait
//!   that long), or with a retry starting after the configured backoff;
//! - it is cut by the end of the run while every pending attempt still had a timeout to come.
//!
//! A server's idle timeout does **not** explain a stall: it is what rescues a client stuck on
//! sockets it does not release, and the diagnosis names it ("it ended when the server's idle
//! timeout closed conn 1-5").
//!
//! The bound is [`default_bound`] unless a caller passes one to [`check_with_bound`].

use std::time::Duration;

use super::diagnose::why_waiting;
use super::{CheckContext, Violation};
use crate::error::ErrorKind;
use crate::fmt::secs;
use crate::server::Handler;
use crate::setup::Setup;
use crate::trace::timeline::{IdMap, IdSet};
use crate::trace::{Event, Record, ReqId};

/// The default bound: 5 s plus the time the server takes on purpose — its handler's `delay` or
/// `busy`, or, for any server, the longest it took from receiving a request to answering it in
/// this run (your own application's timers count so). 5 s is far above any round trip the simulator models (milliseconds) and below the
/// idle timeouts (tens of seconds to minutes) that eventually unstick a stalled pool, so a stall
/// it reports is a real one. Client timeouts do not enter the bound: a stall they end is
/// explained instead.
pub fn default_bound(setup: &Setup, records: &[Record]) -> Duration {
    let work = match &setup.server.handler {
        Handler::Delay { delay, .. } => *delay,
        Handler::Cpu { busy, .. } => *busy,
        Handler::Fixed { .. } | Handler::Echo { .. } | Handler::Service(_) => Duration::ZERO,
    };
    Duration::from_secs(5) + work.max(longest_service(records, &setup.server.host))
}

/// The longest time the server host took from receiving a request to starting its response, on
/// any connection (HTTP/1: one request at a time per connection).
fn longest_service(records: &[Record], server: &str) -> Duration {
    // When each connection's current request arrived, by connection id (small and dense: a
    // tree insert and remove per request was half the cost of this check).
    let mut received: IdMap<Option<u64>> = IdMap::new(records.len());
    let mut longest = 0;
    for r in records {
        let (conn, request) = match &r.event {
            Event::ServerRequest { conn, .. } => (*conn, true),
            Event::ServerResponse { conn, .. } => (*conn, false),
            _ => continue,
        };
        if r.host != server {
            continue;
        }
        let at = received.entry(conn);
        if request {
            *at = Some(r.t_us);
        } else if let Some(t) = at.take() {
            longest = longest.max(r.t_us - t);
        }
    }
    Duration::from_micros(longest)
}

/// Violations of no-stall with the caller's bound ([`CheckContext::no_stall_bound`]), else the
/// [`default_bound`].
pub fn check(ctx: &CheckContext) -> Vec<Violation> {
    let bound = ctx
        .no_stall_bound
        .unwrap_or_else(|| default_bound(ctx.setup, ctx.records));
    check_with_bound(ctx, bound)
}

/// Violations of no-stall: stalls longer than `bound` that no timeout explains.
pub fn check_with_bound(ctx: &CheckContext, bound: Duration) -> Vec<Violation> {
    let tl = ctx.timeline();
    let bound_us = bound.as_micros() as u64;
    let tick = ctx.setup.world.tick_len().as_micros() as u64;
    let timeouts = ctx.setup.client.timeouts;
    let head_limit = match (timeouts.response, timeouts.total) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
    .map(|d| d.as_micros() as u64);
    let backoff = ctx.setup.client.retry.backoff.as_micros() as u64;

    let mut out = Vec::new();
    let mut pending = IdSet::new(ctx.records.len());
    let mut changes = Vec::new();
    let mut last = 0u64;
    // The pending set is copied only for a violation (once per progress instant, it was an
    // allocation per request of a run).
    let mut judge = |from: u64, to: u64, pending: &IdSet, explained: bool| {
        if to.saturating_sub(from) > bound_us && !explained {
            let pending: Vec<ReqId> = pending.iter().collect();
            out.push(Violation {
                message: format!(
                    "{} (no progress for longer than the no-stall bound of {})",
                    why_waiting(tl, &pending, from, to),
                    secs(bound_us)
                ),
                requests: pending,
                conns: vec![],
                from_us: from,
                to_us: to,
            });
        }
    };
    let mut i = 0;
    while i < ctx.records.len() {
        let t = ctx.records[i].t_us;
        // Every progress event at this instant, so an explanation anywhere in it counts.
        let mut progressed = false;
        let mut explained = false;
        changes.clear();
        while i < ctx.records.len() && ctx.records[i].t_us == t {
            match &ctx.records[i].event {
                Event::RequestStart { req, attempt, .. } => {
                    progressed = true;
                    explained |= *attempt > 1 && t - last <= backoff + tick;
                    changes.push((*req, true));
                }
                Event::ResponseHead { req, .. } => {
                    progressed = true;
                    changes.push((*req, false));
                }
                Event::RequestFailed {
                    req,
                    kind,
                    retrying,
                    ..
                } => {
                    progressed = true;
                    explained |= *kind == ErrorKind::Timeout;
                    changes.push((*req, *retrying));
                }
                _ => {}
            }
            i += 1;
        }
        if !progressed {
            continue;
        }
        if !pending.is_empty() {
            judge(last, t, &pending, explained);
        }
        last = t;
        for &(req, still) in &changes {
            if still {
                pending.insert(req);
            } else {
                pending.remove(req);
            }
        }
    }
    let end = tl.end_us.max(ctx.summary.stall.to_us);
    if !pending.is_empty() && end > last {
        // Cut by the end of the run: explained if every pending attempt had a timeout to come.
        let explained = head_limit.is_some_and(|limit| {
            pending.iter().all(|r| {
                tl.reqs[&r]
                    .attempts
                    .last()
                    .is_some_and(|a| a.start + limit + tick >= end)
            })
        });
        judge(last, end, &pending, explained);
    }
    out
}
