//! Values that are each well formed but cannot hold together, or cannot hold at all: more fds in
//! use than the limit allows, a minimum above its maximum, a probability above 1. Each error
//! points at the offending key and says what would be valid.

use std::time::Duration;

use crate::fmt::duration as show;

use super::format::{
    Client, Expect, HandlerTable, Network, PoolTable, Range, ScenarioFile, Server,
    WorkloadKindName, WorkloadTable,
};
use super::{Ctx, ErrorClass, ScenarioError};

type R = Result<(), ScenarioError>;

/// Checks every cross-key rule of the format.
///
/// One step per table, in file order: each returns the first rule its table breaks, so the
/// error reported is the first one a reader meets in the file.
pub(crate) fn validate(f: &ScenarioFile, ctx: &Ctx) -> R {
    name(&f.name, ctx)?;
    timing(f, ctx)?;
    if let Some(n) = &f.network {
        network(n, ctx)?;
    }
    if let Some(s) = &f.server {
        server(s, ctx)?;
    }
    if let Some(c) = &f.client {
        client(c, ctx)?;
    }
    if let Some(w) = &f.workload {
        workload(w, ctx)?;
    }
    if let Some(e) = &f.expect {
        expect(f, e, ctx)?;
    }
    Ok(())
}

/// `name`: it becomes the report's folder, so it must be a single, visible path component.
fn name(name: &str, ctx: &Ctx) -> R {
    if name.trim().is_empty() {
        return Err(bad(
            ctx,
            "name",
            "the name is empty",
            "a non-empty name, such as \"emfile-storm\"",
        ));
    }
    if name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(bad(
            ctx,
            "name",
            format!("{:?} cannot be a report folder name", name),
            "a name without '/', '\\' or a leading '.'",
        ));
    }
    Ok(())
}

/// `tick` and `duration`: a zero tick would never advance the clock, and a run shorter than
/// one tick would never take a step.
fn timing(f: &ScenarioFile, ctx: &Ctx) -> R {
    let tick = f.tick.map_or(Duration::from_millis(1), |d| d.0);
    if tick.is_zero() {
        return Err(bad(
            ctx,
            "tick",
            "the tick is zero",
            "a positive duration such as \"1ms\"",
        ));
    }
    if let Some(d) = f.duration {
        if d.0 < tick {
            return Err(bad(
                ctx,
                "duration",
                format!("the duration ({}) is shorter than one tick", show(d.0)),
                "a duration of at least one tick",
            ));
        }
    }
    Ok(())
}

/// `[network]`: latency bounds that form a range (the default minimum included) and rates
/// that are probabilities.
fn network(n: &Network, ctx: &Ctx) -> R {
    if let Some(l) = &n.latency {
        range(ctx, "network.latency", l)?;
        if let (None, Some(max)) = (l.min, l.max) {
            if max.0 < std::time::Duration::from_millis(1) {
                return Err(bad(
                    ctx,
                    "network.latency.max",
                    "the maximum latency is below the default minimum of 1ms",
                    "max >= 1ms, or a `min` as well",
                ));
            }
        }
    }
    probability(ctx, "network.fail_rate", n.fail_rate)?;
    probability(ctx, "network.repair_rate", n.repair_rate)?;
    probability(ctx, "network.loss", n.loss)?;
    Ok(())
}

/// `[server]`: sizes and counts of 0 that would leave a server unable to serve anything.
fn server(s: &Server, ctx: &Ctx) -> R {
    fds(ctx, "server", s.fd_limit, s.fd_in_use)?;
    if let Some(HandlerTable::Fixed {
        chunk_bytes: Some(0),
        ..
    }) = s.handler
    {
        return Err(bad(
            ctx,
            "server.handler.chunk_bytes",
            "the chunk size is 0",
            "at least 1 byte",
        ));
    }
    if s.backlog == Some(0) {
        return Err(bad(
            ctx,
            "server.backlog",
            "a backlog of 0: no connection could ever be accepted",
            "at least 1",
        ));
    }
    if s.max_requests_per_socket == Some(0) {
        return Err(bad(
            ctx,
            "server.max_requests_per_socket",
            "0 requests per socket: no request could ever be served",
            "at least 1",
        ));
    }
    Ok(())
}

/// `[client]`: counts of 0 that would leave a client unable to send anything.
fn client(c: &Client, ctx: &Ctx) -> R {
    fds(ctx, "client", c.fd_limit, c.fd_in_use)?;
    if let Some(PoolTable::Agent {
        max_sockets: Some(0),
        ..
    }) = c.pool
    {
        return Err(bad(
            ctx,
            "client.pool.max_sockets",
            "a pool of 0 sockets",
            "at least 1",
        ));
    }
    if let Some(r) = &c.retry {
        if r.attempts == 0 {
            return Err(bad(
                ctx,
                "client.retry.attempts",
                "0 attempts",
                "at least 1 (attempts count the first try)",
            ));
        }
    }
    Ok(())
}

/// `[workload]`: `rate` goes with `kind = "rate"` and only with it, so that a rate written
/// for another kind is not silently ignored.
fn workload(w: &WorkloadTable, ctx: &Ctx) -> R {
    let rate_kind = w.kind == Some(WorkloadKindName::Rate);
    match (rate_kind, w.rate) {
        (true, None) => Err(bad(
            ctx,
            "workload",
            "kind = \"rate\" needs a rate",
            "rate = <requests per second>, such as rate = 10",
        )),
        (true, Some(r)) if !(r > 0.0 && r.is_finite()) => Err(bad(
            ctx,
            "workload.rate",
            format!("rate {r}"),
            "a positive number of requests per second",
        )),
        (false, Some(_)) => Err(bad(
            ctx,
            "workload.rate",
            "a rate is set but the workload kind is not \"rate\"",
            "kind = \"rate\" with it, or no rate",
        )),
        _ => Ok(()),
    }
}

/// `[expect]`: ranges that can be met, and fd limits only for hosts the scenario has (a
/// misspelt host would otherwise be an expectation that never applies).
fn expect(f: &ScenarioFile, e: &Expect, ctx: &Ctx) -> R {
    if let Some(r) = &e.longest_stall {
        range(ctx, "expect.longest_stall", r)?;
    }
    if let Some(r) = &e.last_completion {
        range(ctx, "expect.last_completion", r)?;
    }
    if let Some(r) = &e.shutdown_duration {
        range(ctx, "expect.shutdown_duration", r)?;
    }
    if let Some(r) = e.first_error.as_ref().and_then(|f| f.at.as_ref()) {
        range(ctx, "expect.first_error.at", r)?;
    }
    if let Some(hosts) = &e.max_open_fds {
        let server = f
            .server
            .as_ref()
            .and_then(|s| s.host.clone())
            .unwrap_or_else(|| "server".into());
        let client = f
            .client
            .as_ref()
            .and_then(|c| c.host.clone())
            .unwrap_or_else(|| "client".into());
        for h in hosts.keys() {
            if *h != server && *h != client {
                return Err(bad(
                    ctx,
                    &format!("expect.max_open_fds.{h}"),
                    format!("no host is called {h:?}"),
                    format!("one of the scenario's hosts: {server:?}, {client:?}"),
                ));
            }
        }
    }
    Ok(())
}

/// An impossible value at `field`, with the form it should have had.
pub(super) fn bad(
    ctx: &Ctx,
    field: &str,
    message: impl Into<String>,
    expected: impl Into<String>,
) -> ScenarioError {
    ctx.error(ErrorClass::Impossible, field, message)
        .expected(expected)
}

fn range(ctx: &Ctx, field: &str, r: &Range) -> R {
    if let (Some(min), Some(max)) = (r.min, r.max) {
        if min > max {
            return Err(bad(
                ctx,
                &format!("{field}.min"),
                format!(
                    "min ({}) is greater than max ({})",
                    show(min.0),
                    show(max.0)
                ),
                "min <= max",
            ));
        }
    }
    Ok(())
}

fn probability(ctx: &Ctx, field: &str, p: Option<f64>) -> R {
    match p {
        Some(p) if !(0.0..=1.0).contains(&p) => Err(bad(
            ctx,
            field,
            format!("{p} is not a probability"),
            "a number between 0 and 1",
        )),
        _ => Ok(()),
    }
}

fn fds(ctx: &Ctx, table: &str, limit: Option<usize>, in_use: Option<usize>) -> R {
    if let (Some(limit), Some(in_use)) = (limit, in_use) {
        if in_use >= limit {
            return Err(bad(
                ctx,
                &format!("{table}.fd_in_use"),
                format!("fd_in_use ({in_use}) is not below fd_limit ({limit}): no socket could ever open"),
                format!("fd_in_use < fd_limit ({limit})"),
            ));
        }
    }
    Ok(())
}
