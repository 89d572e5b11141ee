//! **no-idle-reuse-race**: no request is lost to a pooled socket that the server was closing for
//! idleness (catalog case 7).
//!
//! The race: the client's pool keeps idle sockets longer than the server does. A request goes
//! out on a pooled socket just as the server's idle timeout closes it; the server never reads
//! it, and the client sees "connection closed before message completed" (kind `closed`), or a
//! reset. Judged from the trace: an attempt that failed `closed` or `reset` while, on the
//! server host, a connection was closed with reason `idle-timeout` between one tick before the
//! attempt started and the failure. Each such attempt is a violation named "idle-reuse race",
//! retried or not (a retry hides it from the caller, not from the server). The remedies: a
//! client idle timeout shorter than the server's, or a retry policy for idempotent requests.

use super::{CheckContext, Violation};
use crate::error::ErrorKind;
use crate::fmt::secs;
use crate::trace::{CloseReason, Event};

/// Violations of no-idle-reuse-race.
pub fn check(ctx: &CheckContext) -> Vec<Violation> {
    let server = ctx.setup.server.host.as_str();
    let tick = ctx.setup.world.tick_len().as_micros() as u64;
    // The event first, the host name only for those: a name compare per record was most of
    // this check's cost.
    let idle_closes: Vec<(u64, u64)> = ctx
        .records
        .iter()
        .filter_map(|r| match r.event {
            Event::Closed {
                conn,
                reason: CloseReason::IdleTimeout,
            } if r.host == server => Some((r.t_us, conn)),
            _ => None,
        })
        .collect();
    let tl = ctx.timeline();
    let mut out = Vec::new();
    for (req, facts) in &tl.reqs {
        for a in &facts.attempts {
            let (Some(end), Some(kind)) = (a.end, a.failed) else {
                continue;
            };
            if !matches!(kind, ErrorKind::Closed | ErrorKind::Reset) {
                continue;
            }
            let from = a.start.saturating_sub(tick);
            let Some(&(at, conn)) = idle_closes.iter().find(|(t, _)| (from..=end).contains(t))
            else {
                continue;
            };
            out.push(Violation {
                message: format!(
                    "idle-reuse race: request {req} (attempt {}) went out at {} on a pooled \
                     socket while the server closed conn {conn} for idleness at {}; it failed \
                     `{kind}` at {}{} (make the client's pool idle timeout shorter than the \
                     server's, or retry idempotent requests)",
                    a.number,
                    secs(a.start),
                    secs(at),
                    secs(end),
                    if a.retrying { ", and was retried" } else { "" },
                ),
                requests: vec![*req],
                conns: vec![conn],
                from_us: a.start.min(at),
                to_us: end,
            });
        }
    }
    out
}
