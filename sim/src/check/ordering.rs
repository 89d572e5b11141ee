//! **ordering**: what reaches the server, and what comes back, keeps the order it was sent in.
//!
//! Four rules, each judged from the trace alone:
//! 1. A *sequential* workload's requests reach the server in send order (first deliveries; a
//!    retried GET delivered twice is judged by its first delivery). A request the client had
//!    given up on (timed out) whose bytes arrive after a later request is still a violation: the
//!    server ran requests out of order. The message says so.
//! 2. Responses on one connection come back in request order: the n-th response head the client
//!    gets on a connection answers a request the server received on that connection, and no
//!    earlier-received request is answered after a later one (HTTP/1.1 has no reordering).
//!    Requests whose responses never arrived (the caller gave up) are skipped, not counted.
//! 3. No POST is delivered twice (a POST is not idempotent; delivering it twice is the bug a
//!    careless retry makes).
//! 4. No request is sent on a connection after the server answered on it with
//!    `connection: close` (RFC 9112 §9.6: the client must stop sending on it). Judged from the
//!    `checkout` events: httpsim's Agent records them, and so do the sockets of a client of
//!    yours (`client::adapt`); httpsim's hyper-util and no-pool clients are not judged by it.
//!
//! HTTP/2 multiplexes: the streams of one connection are answered in whatever order the
//! handlers finish (RFC 9113 §5), and there is no `connection: close`. On HTTP/2 connections
//! (an `http2` server, or an `auto` one under an HTTP/2 client) rules 2 and 4 do not apply;
//! rules 1 and 3 judge every stream as they judge every request.

use std::collections::BTreeMap;

use super::timeline::Timeline;
use super::{CheckContext, Violation};
use crate::fmt::secs;
use crate::server::Protocol;
use crate::trace::ReqId;
use crate::workload::WorkloadKind;

/// Violations of the ordering invariant.
pub fn check(ctx: &CheckContext) -> Vec<Violation> {
    let tl = ctx.timeline();
    let mut out = Vec::new();
    if ctx.setup.workload.kind == WorkloadKind::Sequential {
        send_order(tl, &mut out);
    }
    let http1 = !multiplexed(ctx);
    if http1 {
        response_order(tl, &mut out);
    }
    post_once(tl, &mut out);
    if http1 {
        no_reuse_after_close(tl, &mut out);
    }
    out
}

/// Whether the run's connections carry HTTP/2 streams (see the module doc).
fn multiplexed(ctx: &CheckContext) -> bool {
    match ctx.setup.server.protocol {
        Protocol::Http1 => false,
        Protocol::Http2 => true,
        Protocol::Auto => ctx.setup.client.pool.is_h2(),
    }
}

fn send_order(tl: &Timeline, out: &mut Vec<Violation>) {
    let mut firsts: Vec<(u64, ReqId, u64)> = tl
        .reqs
        .iter()
        .filter_map(|(id, f)| f.delivered.first().map(|d| (d.0, *id, d.1)))
        .collect();
    firsts.sort();
    let mut latest: Option<(u64, ReqId, u64)> = None;
    for (t, req, conn) in firsts {
        match latest {
            Some((tb, b, conn_b)) if b > req => {
                let f = &tl.reqs[&req];
                let gave_up = f
                    .failures
                    .first()
                    .filter(|(ft, _)| *ft <= tl.reqs[&b].start())
                    .map(|(ft, kind)| {
                        format!(
                            "; the client had already failed it ({kind} at {}) and its bytes \
                             arrived late",
                            secs(*ft)
                        )
                    })
                    .unwrap_or_default();
                out.push(Violation {
                    message: format!(
                        "sequential request {req} reached the server at {} (conn {conn}), after \
                         request {b}, sent later, reached it at {} (conn {conn_b}){gave_up}",
                        secs(t),
                        secs(tb)
                    ),
                    requests: vec![req, b],
                    conns: vec![conn, conn_b],
                    from_us: tb,
                    to_us: t,
                });
            }
            _ => latest = Some((t, req, conn)),
        }
    }
}

fn response_order(tl: &Timeline, out: &mut Vec<Violation>) {
    // Client response heads by the connection they came on, in time order: one list sorted by
    // connection, then time (a map of lists was a tree insert per response).
    let mut heads: Vec<(u64, u64, ReqId)> = Vec::new();
    for (id, f) in &tl.reqs {
        for (t, conn) in &f.heads {
            if let Some(c) = conn {
                heads.push((*c, *t, *id));
            }
        }
    }
    heads.sort_unstable();
    for on_conn in heads.chunk_by(|a, b| a.0 == b.0) {
        let conn = on_conn[0].0;
        // What the server received on it, in order.
        let sent = tl.conns.get(&conn).map_or(&[][..], |c| &c.exchanges[..]);
        let mut next = 0usize;
        for &(_, t, req) in on_conn {
            match sent[next.min(sent.len())..]
                .iter()
                .position(|x| x.seq == Some(req))
            {
                Some(k) => next += k + 1,
                None => {
                    let earlier = sent[..next.min(sent.len())]
                        .iter()
                        .any(|x| x.seq == Some(req));
                    let message = if earlier {
                        format!(
                            "the response to request {req} came back on conn {conn} at {} after \
                             the response to a request the server received after it",
                            secs(t)
                        )
                    } else {
                        format!(
                            "a response came back on conn {conn} at {} as the answer to request \
                             {req}, which the server never received on that connection: \
                             responses crossed",
                            secs(t)
                        )
                    };
                    out.push(Violation {
                        message,
                        requests: vec![req],
                        conns: vec![conn],
                        from_us: tl.reqs[&req].start(),
                        to_us: t,
                    });
                }
            }
        }
    }
}

fn post_once(tl: &Timeline, out: &mut Vec<Violation>) {
    let mut posts: BTreeMap<ReqId, Vec<(u64, u64)>> = BTreeMap::new();
    for (conn, c) in &tl.conns {
        for x in &c.exchanges {
            if let (Some(seq), "POST") = (x.seq, &*x.method) {
                posts.entry(seq).or_default().push((x.at, *conn));
            }
        }
    }
    for (req, mut ds) in posts {
        if ds.len() < 2 {
            continue;
        }
        ds.sort();
        let at: Vec<String> = ds
            .iter()
            .map(|(t, c)| format!("conn {c} at {}", secs(*t)))
            .collect();
        out.push(Violation {
            message: format!(
                "POST request {req} was delivered {} times ({})",
                ds.len(),
                at.join(", ")
            ),
            requests: vec![req],
            conns: ds.iter().map(|d| d.1).collect(),
            from_us: ds[0].0,
            to_us: ds[ds.len() - 1].0,
        });
    }
}

fn no_reuse_after_close(tl: &Timeline, out: &mut Vec<Violation>) {
    for (conn, c) in &tl.conns {
        let Some((closing, close_at)) = c.exchanges.iter().find_map(|x| match x.response {
            Some((t, true)) => Some((x.seq, t)),
            _ => None,
        }) else {
            continue;
        };
        for (req, f) in &tl.reqs {
            for (t, co, _) in &f.checkouts {
                if *co == Some(*conn) && *t > close_at {
                    let by = closing
                        .map(|s| format!("request {s}"))
                        .unwrap_or_else(|| "a request".into());
                    out.push(Violation {
                        message: format!(
                            "request {req} was sent on conn {conn} at {} after the server \
                             answered {by} on it with `connection: close` at {}",
                            secs(*t),
                            secs(close_at)
                        ),
                        requests: vec![*req],
                        conns: vec![*conn],
                        from_us: close_at,
                        to_us: *t,
                    });
                }
            }
        }
    }
}
