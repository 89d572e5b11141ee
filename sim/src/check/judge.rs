//! Whether a check has what it needs to judge a run.
//!
//! A check reads the trace; when the events it relies on were never recorded (a server of your
//! own plugged in with [`crate::setup::Custom::server`] records no `server_request`; a shutdown
//! was planned but no server recorded one), its silence would read as a pass. Instead it says
//! *cannot judge* and why — neither pass nor violation — and the run does not pass on it.
//! Serving your application with [`crate::server::ServerConfig::service`] records every event
//! the checks need.

use serde::Serialize;

use super::CheckContext;
use crate::trace::Event;

/// A check's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The invariant held.
    Pass,
    /// The invariant was broken (see the violations).
    Violation,
    /// The trace lacks the events the check needs (see the reason).
    CannotJudge,
}

/// Why the invariant `name` cannot be judged from this run's trace; `None` when it can.
pub fn cannot_judge(name: &str, ctx: &CheckContext) -> Option<String> {
    let server = &ctx.setup.server.host;
    let on_server = |f: fn(&Event) -> bool| {
        ctx.records
            .iter()
            .any(|r| f(&r.event) && r.host == server.as_str())
    };
    let answered = ctx
        .records
        .iter()
        .any(|r| matches!(r.event, Event::ResponseHead { .. }));
    let blind = "the server recorded no server_request event although responses arrived: a \
                 server of your own (custom.server) is invisible to this check; serve your \
                 application with `setup.server.service(...)` instead";
    match name {
        "ordering" if answered && !on_server(|e| matches!(e, Event::ServerRequest { .. })) => {
            Some(format!("cannot judge: {blind}"))
        }
        "shutdown"
            if ctx.setup.server.shutdown.is_some()
                && ctx.setup.custom.server.is_some()
                && !on_server(|e| matches!(e, Event::ShutdownStart { .. })) =>
        {
            Some(
                "cannot judge: a shutdown was planned but the server (custom.server) recorded \
                 none; serve your application with `setup.server.service(...)` so httpsim's \
                 server runs the shutdown"
                    .to_string(),
            )
        }
        _ => None,
    }
}
