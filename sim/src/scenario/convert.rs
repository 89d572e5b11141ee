//! Scenario file → [`Setup`]: the one place that knows both the file format and the library.
//!
//! Defaults are applied here (each is written on its key in [`super::format`]). A key or value
//! this build cannot run — an invariant the format names that [`crate::check`] does not
//! implement — is refused with [`ErrorClass::Unsupported`] and its position, never ignored: a
//! scenario either runs as written or does not run.

use std::time::Duration;

use hyper::Method;

use super::format::{
    BodyName, ConnectName, Dur, HandlerTable, MethodName, OverflowName, PoolTable, ScenarioFile,
    WorkloadKindName,
};
use super::{Ctx, ErrorClass, ScenarioError};
use crate::client::agent::{AgentConfig, Scheduling};
use crate::client::{BodyMode, PoolConfig, Retry, Timeouts};
use crate::net::{BacklogOverflow, ConnectMode};
use crate::server::{Handler, ShutdownPlan, ShutdownStrategy};
use crate::setup::Setup;
use crate::workload::WorkloadKind;
use crate::world::NetAction;

/// Every invariant name the format defines (docs/SCENARIOS.md); [`crate::check::INVARIANTS`] says which
/// this build implements.
pub const FORMAT_INVARIANTS: &[&str] = &[
    "ordering",
    "no-stall",
    "fd-limit",
    "no-lost-request",
    "shutdown",
    "bounded-timeouts",
    "no-idle-reuse-race",
];

/// Fault kinds this build applies.
pub const FAULT_KINDS: &[&str] = &[
    "partition",
    "repair",
    "hold",
    "release",
    "crash",
    "bounce",
    "latency",
    "fail-rate",
];

const DEFAULT_BODY: usize = 4096;
const DEFAULT_CHUNK: usize = 16 * 1024;

/// Builds the experiment `f` describes, at the file's default seed.
pub fn convert(f: &ScenarioFile, ctx: &Ctx) -> Result<Setup, ScenarioError> {
    let mut setup = Setup::default();
    let w = &mut setup.world;
    w.seed(f.seed.unwrap_or(1));
    if let Some(d) = f.duration {
        w.duration(d.0);
    }
    if let Some(t) = f.tick {
        w.tick(t.0);
    }
    if let Some(n) = &f.network {
        if let Some(l) = &n.latency {
            let min = l.min.map_or(Duration::from_millis(1), |d| d.0);
            let max = l.max.map_or(min, |d| d.0);
            w.latency(min, max.max(min));
        }
        if let Some(r) = n.fail_rate {
            w.fail_rate(r);
        }
        if let Some(r) = n.repair_rate {
            w.repair_rate(r);
        }
        match n.connect {
            Some(ConnectName::Refuse) => {
                w.connect_mode(ConnectMode::Refuse);
            }
            Some(ConnectName::DropSyn) => {
                w.connect_mode(ConnectMode::DropSyn);
            }
            None => {}
        }
    }

    if let Some(s) = &f.server {
        let c = &mut setup.server;
        if let Some(h) = &s.host {
            c.host = h.clone();
        }
        if let Some(p) = s.port {
            c.port = p;
        }
        c.fd_limit = s.fd_limit.or(c.fd_limit);
        c.fd_in_use = s.fd_in_use.unwrap_or(c.fd_in_use);
        c.keep_alive = s.keep_alive.unwrap_or(c.keep_alive);
        c.idle_timeout = s.idle_timeout.map(|d| d.0);
        c.header_read_timeout = s.header_read_timeout.map(|d| d.0);
        if let Some(h) = &s.handler {
            c.handler = handler(h);
        }
        c.max_requests_per_socket = s.max_requests_per_socket;
        if let Some(b) = s.backlog {
            c.backlog = b;
        }
        match s.backlog_overflow {
            Some(OverflowName::Delay) => c.backlog_overflow = BacklogOverflow::Delay,
            Some(OverflowName::Refuse) => c.backlog_overflow = BacklogOverflow::Refuse,
            None => {}
        }
        if let Some(d) = s.accept_backoff {
            c.accept_backoff = d.0;
        }
        if let Some(sd) = &s.shutdown {
            let strategy = sd.strategy.parse::<ShutdownStrategy>().map_err(|_| {
                ctx.error(
                    ErrorClass::Field,
                    "server.shutdown.strategy",
                    format!("unknown shutdown strategy {:?}", sd.strategy),
                )
                .expected("one of wait-all, close-idle, hyper-graceful, abort")
            })?;
            c.shutdown = Some(ShutdownPlan {
                at: sd.at.0,
                strategy,
                deadline: sd.deadline.map(|d| d.0),
            });
        }
    }

    if let Some(cl) = &f.client {
        let c = &mut setup.client;
        if let Some(h) = &cl.host {
            c.host = h.clone();
        }
        c.fd_limit = cl.fd_limit.or(c.fd_limit);
        c.fd_in_use = cl.fd_in_use.unwrap_or(c.fd_in_use);
        match &cl.pool {
            None => {}
            Some(PoolTable::Agent {
                max_sockets,
                keep_alive,
                scheduling,
                idle_timeout,
                max_total_sockets,
                max_free_sockets,
            }) => {
                let defaults = AgentConfig::default();
                let scheduling = match scheduling {
                    None => Scheduling::Fifo,
                    Some(s) => s.parse::<Scheduling>().map_err(|_| {
                        ctx.error(
                            ErrorClass::Field,
                            "client.pool.scheduling",
                            format!("unknown scheduling {s:?}"),
                        )
                        .expected("fifo or lifo")
                    })?,
                };
                c.pool = PoolConfig::Agent(AgentConfig {
                    max_sockets: max_sockets.unwrap_or(5),
                    max_total_sockets: max_total_sockets.unwrap_or(defaults.max_total_sockets),
                    max_free_sockets: max_free_sockets.unwrap_or(defaults.max_free_sockets),
                    keep_alive: keep_alive.unwrap_or(true),
                    idle_timeout: idle_timeout.map(|d| d.0),
                    scheduling,
                });
            }
            Some(PoolTable::HyperUtil {
                idle_timeout,
                max_idle_per_host,
            }) => {
                c.pool = PoolConfig::HyperUtil {
                    idle_timeout: Some(idle_timeout.map_or(Duration::from_secs(90), |d| d.0)),
                    max_idle_per_host: max_idle_per_host.unwrap_or(usize::MAX),
                }
            }
            Some(PoolTable::None {}) => c.pool = PoolConfig::None,
        }
        if let Some(t) = &cl.timeout {
            c.timeouts = Timeouts {
                connect: t.connect.map(|d| d.0),
                response: t.response.map(|d| d.0),
                total: t.total.map(|d| d.0),
            };
        }
        if let Some(r) = &cl.retry {
            c.retry = Retry {
                attempts: r.attempts,
                backoff: r.backoff.map_or(Duration::ZERO, |d| d.0),
                non_idempotent_unwritten: r.non_idempotent_unwritten.unwrap_or(false),
            };
        }
    }

    if let Some(wl) = &f.workload {
        let w = &mut setup.workload;
        w.kind = match wl.kind.unwrap_or(WorkloadKindName::Sequential) {
            WorkloadKindName::Sequential => WorkloadKind::Sequential,
            WorkloadKindName::Parallel => WorkloadKind::Parallel,
            WorkloadKindName::Rate => WorkloadKind::Rate(wl.rate.unwrap_or(1.0)),
        };
        w.requests = wl.requests.unwrap_or(w.requests);
        w.method = match wl.method.unwrap_or(MethodName::Get) {
            MethodName::Get => Method::GET,
            MethodName::Post => Method::POST,
        };
        w.body = match wl.body.unwrap_or(BodyName::Read) {
            BodyName::Read => BodyMode::Read,
            BodyName::Drop => BodyMode::Drop,
            BodyName::Hold => BodyMode::Hold,
        };
        if let Some(p) = &wl.path {
            if !p.starts_with('/') || p.parse::<http::uri::PathAndQuery>().is_err() {
                return Err(ctx
                    .error(
                        ErrorClass::Field,
                        "workload.path",
                        format!("{p:?} is not a request path"),
                    )
                    .expected("a path starting with `/`, e.g. \"/\" or \"/items?page=2\""));
            }
            w.path = p.clone();
        }
        if !wl.request.is_empty() {
            w.request =
                crate::workload::RequestSource::Cycle(super::request::convert(&wl.request, ctx)?);
        }
    }
    if let Some(e) = &f.expect {
        super::request::check_status(e, ctx)?;
    }

    let hosts = [setup.server.host.clone(), setup.client.host.clone()];
    for (i, fault) in f.fault.iter().enumerate() {
        let action = fault_action(fault, i, &hosts, ctx)?;
        setup.faults.push((fault.at.0, action));
    }
    // Applied in time order; equal times keep file order.
    setup.faults.sort_by_key(|(at, _)| *at);
    for (i, cf) in f.conn_fault.iter().enumerate() {
        if !(0.0..=1.0).contains(&cf.probability) {
            return Err(ctx
                .error(
                    ErrorClass::Impossible,
                    &format!("conn_fault[{i}].probability"),
                    format!("{} is not a probability", cf.probability),
                )
                .expected("a number between 0 and 1"));
        }
        setup.world.conn_fault(cf.clone());
    }

    if let Some(names) = f.expect.as_ref().and_then(|e| e.invariants.as_ref()) {
        for (i, name) in names.iter().enumerate() {
            let field = format!("expect.invariants[{i}]");
            if crate::check::INVARIANTS.contains(&name.as_str()) {
                continue;
            }
            return Err(if FORMAT_INVARIANTS.contains(&name.as_str()) {
                ctx.error(
                    ErrorClass::Unsupported,
                    &field,
                    format!("invariant {name:?} is not in this build"),
                )
                .expected(format!("one of {}", crate::check::INVARIANTS.join(", ")))
            } else {
                ctx.error(
                    ErrorClass::Field,
                    &field,
                    format!("unknown invariant {name:?}"),
                )
                .expected(format!("one of {}", FORMAT_INVARIANTS.join(", ")))
            });
        }
    }
    Ok(setup)
}

fn handler(h: &HandlerTable) -> Handler {
    match *h {
        HandlerTable::Fixed {
            body_bytes,
            chunk_bytes,
            status,
        } => Handler::Fixed {
            body_bytes: body_bytes.unwrap_or(DEFAULT_BODY),
            chunk_bytes: chunk_bytes.unwrap_or(DEFAULT_CHUNK),
            status: status.unwrap_or(200),
        },
        HandlerTable::Delay {
            delay,
            body_bytes,
            status,
        } => Handler::Delay {
            delay: delay.0,
            body_bytes: body_bytes.unwrap_or(DEFAULT_BODY),
            status: status.unwrap_or(200),
        },
        HandlerTable::Cpu {
            busy,
            body_bytes,
            status,
        } => Handler::Cpu {
            busy: busy.0,
            body_bytes: body_bytes.unwrap_or(DEFAULT_BODY),
            status: status.unwrap_or(200),
        },
        HandlerTable::Echo { status } => Handler::Echo {
            status: status.unwrap_or(200),
        },
    }
}

/// One `[[fault]]` → a network action; checks the keys its kind needs and refuses the others.
fn fault_action(
    f: &super::format::Fault,
    i: usize,
    hosts: &[String; 2],
    ctx: &Ctx,
) -> Result<NetAction, ScenarioError> {
    let at = |key: &str| format!("fault[{i}].{key}");
    let kind = f.kind.as_str();
    if !FAULT_KINDS.contains(&kind) {
        return Err(ctx
            .error(
                ErrorClass::Field,
                &at("kind"),
                format!("unknown fault kind {kind:?}"),
            )
            .expected(format!("one of {}", FAULT_KINDS.join(", "))));
    }
    for h in &f.hosts {
        if !hosts.contains(h) {
            return Err(ctx
                .error(
                    ErrorClass::Impossible,
                    &at("hosts"),
                    format!("no host is called {h:?}"),
                )
                .expected(format!(
                    "the scenario's hosts: {:?}, {:?}",
                    hosts[0], hosts[1]
                )));
        }
    }
    let one_host = matches!(kind, "crash" | "bounce");
    let want = if one_host { 1 } else { 2 };
    if f.hosts.len() != want {
        let form = if one_host {
            "hosts = [\"server\"] (one host)"
        } else {
            "hosts = [\"client\", \"server\"] (the two ends of a link)"
        };
        return Err(ctx
            .error(
                ErrorClass::Impossible,
                &at("hosts"),
                format!(
                    "fault kind {kind:?} takes {want} host(s), got {}",
                    f.hosts.len()
                ),
            )
            .expected(form));
    }
    let refuse = |key: &str| {
        ctx.error(
            ErrorClass::Impossible,
            &at(key),
            format!("`{key}` does not apply to fault kind {kind:?}"),
        )
        .expected("only the keys of that kind (see docs/SCENARIOS.md, [[fault]])")
    };
    if f.oneway.is_some() && !matches!(kind, "partition" | "repair") {
        return Err(refuse("oneway"));
    }
    if f.latency.is_some() && kind != "latency" {
        return Err(refuse("latency"));
    }
    if f.rate.is_some() && kind != "fail-rate" {
        return Err(refuse("rate"));
    }
    if f.fin.is_some() && kind != "crash" {
        return Err(refuse("fin"));
    }
    let a = f.hosts[0].clone();
    let b = f.hosts.get(1).cloned().unwrap_or_default();
    let oneway = f.oneway.unwrap_or(false);
    Ok(match kind {
        "partition" => NetAction::Partition { a, b, oneway },
        "repair" => NetAction::Repair { a, b, oneway },
        "hold" => NetAction::Hold { a, b },
        "release" => NetAction::Release { a, b },
        "crash" if f.fin == Some(false) => NetAction::Vanish { host: a },
        "crash" => NetAction::Crash { host: a },
        "bounce" => NetAction::Bounce { host: a },
        "latency" => match f.latency {
            Some(Dur(latency)) => NetAction::Latency { a, b, latency },
            None => {
                return Err(ctx
                    .error(
                        ErrorClass::Field,
                        &format!("fault[{i}]"),
                        "missing field `latency`",
                    )
                    .expected(super::format::DURATION_FORM))
            }
        },
        _ => match f.rate {
            Some(rate) if (0.0..=1.0).contains(&rate) => NetAction::FailRate { a, b, rate },
            Some(rate) => {
                return Err(ctx
                    .error(
                        ErrorClass::Impossible,
                        &at("rate"),
                        format!("{rate} is not a probability"),
                    )
                    .expected("a number between 0 and 1"))
            }
            None => {
                return Err(ctx
                    .error(
                        ErrorClass::Field,
                        &format!("fault[{i}]"),
                        "missing field `rate`",
                    )
                    .expected("a probability between 0 and 1"))
            }
        },
    })
}
