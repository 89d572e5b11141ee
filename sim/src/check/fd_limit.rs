//! **fd-limit**: open fds never exceed a host's limit, and every EMFILE reaches the caller.

use super::{CheckContext, Violation};
use crate::trace::Event;

/// Violations of the fd-limit invariant.
pub fn check(ctx: &CheckContext) -> Vec<Violation> {
    let mut out = Vec::new();
    let limits = [
        (&ctx.setup.client.host, ctx.setup.client.fd_limit),
        (&ctx.setup.server.host, ctx.setup.server.fd_limit),
    ];
    for (host, limit) in limits {
        let (Some(limit), Some(peak)) = (limit, ctx.summary.max_open_fds.get(host.as_str())) else {
            continue;
        };
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
    // Every connect that failed with EMFILE must surface as a request error of kind emfile.
    let connect_emfiles = ctx
        .records
        .iter()
        .filter(|r| {
            r.host == ctx.setup.client.host
                && matches!(&r.event, Event::ConnectFailed { kind, .. } if kind == "emfile")
        })
        .count();
    let request_emfiles = ctx
        .records
        .iter()
        .filter(|r| matches!(&r.event, Event::RequestFailed { kind, .. } if kind == "emfile"))
        .count();
    if request_emfiles < connect_emfiles {
        out.push(Violation {
            message: format!(
                "{connect_emfiles} connects failed with EMFILE but only {request_emfiles} \
                 request attempts reported it: the pool swallowed the error"
            ),
            requests: vec![],
            conns: vec![],
            from_us: 0,
            to_us: 0,
        });
    }
    out
}
