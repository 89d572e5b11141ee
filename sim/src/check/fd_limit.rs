//! **fd-limit**: open fds never exceed a host's limit, every EMFILE reaches the caller as an
//! error, and the pool (and server) recover once fds free up.
//!
//! 1. **limit**: every `connected`/`accepted` event reports the host's open fds; none may exceed
//!    the host's limit, and neither may the fd table's peak.
//! 2. **EMFILE reaches the caller**: each connect that failed with EMFILE on the client is
//!    matched, in time order, with a request attempt that failed with kind `emfile` at or after
//!    it. One left unmatched was swallowed by the pool.
//! 3. **recovery**: after the last EMFILE (client connect or server accept) at `t`, every request
//!    that starts after `t` gets a response — unless a timeout ended it or a scheduled fault
//!    came after `t` (then its failure cannot be pinned on fd exhaustion). A request that fails
//!    or hangs there shows a pool or accept loop that stayed broken after the storm passed.

use super::diagnose::req_words;
use super::{CheckContext, Violation};
use crate::error::ErrorKind;
use crate::fmt::secs;
use crate::trace::Event;

/// Violations of the fd-limit invariant.
pub fn check(ctx: &CheckContext) -> Vec<Violation> {
    let mut out = Vec::new();
    limits(ctx, &mut out);
    emfile_reaches_caller(ctx, &mut out);
    recovery(ctx, &mut out);
    out
}

fn limits(ctx: &CheckContext, out: &mut Vec<Violation>) {
    let hosts = [
        (&ctx.setup.client.host, ctx.setup.client.fd_limit),
        (&ctx.setup.server.host, ctx.setup.server.fd_limit),
    ];
    for (host, limit) in hosts {
        let Some(limit) = limit else { continue };
        let over = ctx.records.iter().find_map(|r| match &r.event {
            Event::Connected { conn, fds, .. } | Event::Accepted { conn, fds, .. }
                if r.host == *host && *fds > limit =>
            {
                Some((r.t_us, *conn, *fds))
            }
            _ => None,
        });
        if let Some((t, conn, fds)) = over {
            out.push(Violation {
                message: format!(
                    "{host} opened conn {conn} at {} with {fds} fds open, above its limit of \
                     {limit}",
                    secs(t)
                ),
                requests: vec![],
                conns: vec![conn],
                from_us: t,
                to_us: t,
            });
        } else if let Some(peak) = ctx.summary.max_open_fds.get(host.as_str()) {
            if *peak > limit {
                out.push(Violation {
                    message: format!("{host} had {peak} fds open, above its limit of {limit}"),
                    requests: vec![],
                    conns: vec![],
                    from_us: 0,
                    to_us: 0,
                });
            }
        }
    }
}

fn emfile_reaches_caller(ctx: &CheckContext, out: &mut Vec<Violation>) {
    let client = &ctx.setup.client.host;
    let mut reported = ctx
        .records
        .iter()
        .filter_map(|r| match &r.event {
            Event::RequestFailed { req, kind, .. } if *kind == ErrorKind::Emfile => {
                Some((r.t_us, *req))
            }
            _ => None,
        })
        .peekable();
    let mut swallowed = Vec::new();
    for r in ctx.records {
        if !matches!(&r.event, Event::ConnectFailed { kind, .. } if *kind == ErrorKind::Emfile) {
            continue;
        }
        if r.host != *client {
            continue;
        }
        // Skip reports that came before this EMFILE; take the first one at or after it.
        while reported.peek().is_some_and(|(t, _)| *t < r.t_us) {
            reported.next();
        }
        if reported.next().is_none() {
            swallowed.push(r.t_us);
        }
    }
    if let (Some(first), Some(last)) = (swallowed.first(), swallowed.last()) {
        out.push(Violation {
            message: format!(
                "{} connect(s) on {client} failed with EMFILE between {} and {} without any \
                 request attempt failing with emfile: the pool swallowed the error",
                swallowed.len(),
                secs(*first),
                secs(*last)
            ),
            requests: vec![],
            conns: vec![],
            from_us: *first,
            to_us: *last,
        });
    }
}

fn recovery(ctx: &CheckContext, out: &mut Vec<Violation>) {
    let tl = ctx.timeline();
    let Some((last, host, op, _)) = tl.fd_errors.iter().max_by_key(|e| e.0).cloned() else {
        return;
    };
    if tl.faults.iter().any(|(t, _)| *t >= last) {
        return;
    }
    let mut broken = Vec::new();
    let mut how = Vec::new();
    for (req, f) in &tl.reqs {
        if f.attempts.is_empty() || f.start() <= last || !f.heads.is_empty() {
            continue;
        }
        match f.failures.first() {
            Some((_, ErrorKind::Timeout)) => continue,
            Some((_, kind)) => how.push(kind.to_string()),
            None => how.push("no response".into()),
        }
        broken.push(*req);
    }
    if broken.is_empty() {
        return;
    }
    how.sort();
    how.dedup();
    let to = broken
        .iter()
        .filter_map(|r| tl.reqs[r].end())
        .max()
        .unwrap_or(tl.end_us);
    out.push(Violation {
        message: format!(
            "no recovery after the last EMFILE ({op} on {host} at {}): {} started later and \
             got no response ({})",
            secs(last),
            req_words(&broken),
            how.join(", ")
        ),
        requests: broken,
        conns: vec![],
        from_us: last,
        to_us: to,
    });
}
