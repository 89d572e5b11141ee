//! Scenario file → [`Setup`]: the one place that knows both the file format and the library.
//!
//! Defaults are applied here (each is written on its key in [`super::format`]). Rules over the
//! resulting [`Setup`] are [`Setup::validate`]'s; the loader runs it after this and maps its
//! field back to the file.

use std::time::Duration;

use hyper::Method;

use super::format::{
    BodyName, Client, ConnectName, Dur, HandlerTable, MethodName, OverflowName, PoolTable,
    ProtocolName, ScenarioFile, Server, WorkloadKindName, WorkloadTable,
};
use super::{Ctx, ErrorClass, ScenarioError};
use crate::client::agent::{AgentConfig, Scheduling};
use crate::client::h2_pool::H2PoolConfig;
use crate::client::h2_settings::H2ClientSettings;
use crate::client::{BodyMode, ClientConfig, PoolConfig, Retry, Timeouts};
use crate::net::{BacklogOverflow, ConnectMode};
use crate::server::{H2Settings, Handler, Protocol, ServerConfig, ShutdownPlan, ShutdownStrategy};
use crate::setup::Setup;
use crate::workload::{Workload, WorkloadKind};
use crate::world::WorldBuilder;

const DEFAULT_BODY: usize = 4096;
const DEFAULT_CHUNK: usize = 16 * 1024;

/// Builds the experiment `f` describes, at the file's default seed.
///
/// One step per table, in file order, so that the first error reported is the one a reader
/// meets first in the file.
pub(crate) fn convert(f: &ScenarioFile, ctx: &Ctx) -> Result<Setup, ScenarioError> {
    let mut setup = Setup::default();
    world(f, &mut setup.world);
    if let Some(s) = &f.server {
        server(s, &mut setup.server, ctx)?;
    }
    if let Some(cl) = &f.client {
        client(cl, &mut setup.client, ctx)?;
    }
    if let Some(wl) = &f.workload {
        workload(wl, &mut setup.workload, ctx)?;
    }
    if let Some(e) = &f.expect {
        super::request::check_status(e, ctx)?;
    }
    faults(f, &mut setup, ctx)?;
    Ok(setup)
}

/// The top-level keys and `[network]`: these only tune the world and never fail, because
/// their ranges were checked by `validate` already.
fn world(f: &ScenarioFile, w: &mut WorldBuilder) {
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
        if let Some(r) = n.loss {
            w.loss(r);
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
}

/// `[server]` over the library's default server: a key left out keeps the library's default,
/// so the file and a library user start from the same server.
fn server(s: &Server, c: &mut ServerConfig, ctx: &Ctx) -> Result<(), ScenarioError> {
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
    c.protocol = match s.protocol {
        None | Some(ProtocolName::Http1) => Protocol::Http1,
        Some(ProtocolName::Http2) => Protocol::Http2,
        Some(ProtocolName::Auto) => Protocol::Auto,
    };
    c.h2 = H2Settings {
        max_concurrent_streams: s.max_concurrent_streams,
        initial_stream_window_size: s.initial_stream_window_size,
        initial_connection_window_size: s.initial_connection_window_size,
        keep_alive_interval: s.keep_alive_interval.map(|d| d.0),
        keep_alive_timeout: s.keep_alive_timeout.map(|d| d.0),
        max_pending_accept_reset_streams: s.max_pending_accept_reset_streams,
    };
    if let Some(sd) = &s.shutdown {
        let strategy = sd.strategy.parse::<ShutdownStrategy>().map_err(|_| {
            ctx.error(
                ErrorClass::Field,
                "server.shutdown.strategy",
                format!("unknown shutdown strategy {:?}", sd.strategy),
            )
            .expected("one of wait-all, close-idle, close-idle-once, hyper-graceful, abort")
        })?;
        c.shutdown = Some(ShutdownPlan {
            at: sd.at.0,
            strategy,
            deadline: sd.deadline.map(|d| d.0),
        });
    }
    Ok(())
}

/// `[client]` over the library's default client; the pool, being a tagged table of its own,
/// is [`pool`]'s.
fn client(cl: &Client, c: &mut ClientConfig, ctx: &Ctx) -> Result<(), ScenarioError> {
    if let Some(h) = &cl.host {
        c.host = h.clone();
    }
    c.fd_limit = cl.fd_limit.or(c.fd_limit);
    c.fd_in_use = cl.fd_in_use.unwrap_or(c.fd_in_use);
    if let Some(p) = &cl.pool {
        c.pool = pool(p, ctx)?;
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
    Ok(())
}

/// `[client] pool = { kind = ... }`: one arm per pool kind, each with the defaults its own
/// library documents (Node's Agent, hyper-util's legacy client, httpsim's HTTP/2 pool).
fn pool(p: &PoolTable, ctx: &Ctx) -> Result<PoolConfig, ScenarioError> {
    Ok(match p {
        PoolTable::Agent {
            max_sockets,
            keep_alive,
            scheduling,
            idle_timeout,
            max_total_sockets,
            max_free_sockets,
            read_pause,
        } => {
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
            PoolConfig::Agent(AgentConfig {
                max_sockets: max_sockets.unwrap_or(5),
                max_total_sockets: max_total_sockets.unwrap_or(defaults.max_total_sockets),
                max_free_sockets: max_free_sockets.unwrap_or(defaults.max_free_sockets),
                keep_alive: keep_alive.unwrap_or(true),
                idle_timeout: idle_timeout.map(|d| d.0),
                scheduling,
                read_pause: read_pause.map(|s| s.0),
            })
        }
        PoolTable::HyperUtil {
            idle_timeout,
            max_idle_per_host,
            protocol,
            keep_alive_interval,
            keep_alive_timeout,
            keep_alive_while_idle,
            adaptive_window,
            max_concurrent_reset_streams,
            initial_max_send_streams,
        } => {
            let idle_timeout = Some(idle_timeout.map_or(Duration::from_secs(90), |d| d.0));
            if *protocol == Some(ProtocolName::Http2) {
                PoolConfig::HyperUtilH2 {
                    idle_timeout,
                    settings: h2_client_settings(
                        *keep_alive_interval,
                        *keep_alive_timeout,
                        *keep_alive_while_idle,
                        *adaptive_window,
                        *max_concurrent_reset_streams,
                        *initial_max_send_streams,
                    ),
                }
            } else {
                PoolConfig::HyperUtil {
                    idle_timeout,
                    max_idle_per_host: max_idle_per_host.unwrap_or(usize::MAX),
                }
            }
        }
        PoolTable::H2 {
            max_streams_per_connection,
            max_connections,
            keep_alive_interval,
            keep_alive_timeout,
            keep_alive_while_idle,
            adaptive_window,
            max_concurrent_reset_streams,
            initial_max_send_streams,
        } => {
            let defaults = H2PoolConfig::default();
            PoolConfig::H2(H2PoolConfig {
                max_streams_per_connection: max_streams_per_connection
                    .unwrap_or(defaults.max_streams_per_connection),
                max_connections: max_connections.unwrap_or(defaults.max_connections),
                settings: h2_client_settings(
                    *keep_alive_interval,
                    *keep_alive_timeout,
                    *keep_alive_while_idle,
                    *adaptive_window,
                    *max_concurrent_reset_streams,
                    *initial_max_send_streams,
                ),
            })
        }
        PoolTable::None {} => PoolConfig::None,
    })
}

/// The HTTP/2 client keys shared by `kind = "hyper-util"` (with `protocol = "http2"`) and
/// `kind = "h2"`: one place, so that the two pools cannot drift apart in their defaults.
fn h2_client_settings(
    keep_alive_interval: Option<Dur>,
    keep_alive_timeout: Option<Dur>,
    keep_alive_while_idle: Option<bool>,
    adaptive_window: Option<bool>,
    max_concurrent_reset_streams: Option<usize>,
    initial_max_send_streams: Option<usize>,
) -> H2ClientSettings {
    H2ClientSettings {
        keep_alive_interval: keep_alive_interval.map(|d| d.0),
        keep_alive_timeout: keep_alive_timeout.map(|d| d.0),
        keep_alive_while_idle: keep_alive_while_idle.unwrap_or(false),
        adaptive_window: adaptive_window.unwrap_or(false),
        max_concurrent_reset_streams,
        initial_max_send_streams,
    }
}

/// `[workload]`: the request path is checked here rather than in `validate` because only
/// `http` can say what a request target may hold.
fn workload(wl: &WorkloadTable, w: &mut Workload, ctx: &Ctx) -> Result<(), ScenarioError> {
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
    Ok(())
}

/// `[[fault]]` and `[[conn_fault]]`: the scheduled events, put in time order here so that the
/// world applies them without sorting, and the per-connection faults it draws from.
fn faults(f: &ScenarioFile, setup: &mut Setup, ctx: &Ctx) -> Result<(), ScenarioError> {
    for (i, fault) in f.fault.iter().enumerate() {
        let action = fault.action().map_err(|e| {
            let field = match e.key {
                "" => format!("fault[{i}]"),
                key => format!("fault[{i}].{key}"),
            };
            ctx.error(ErrorClass::Impossible, &field, e.message)
                .expected(e.expected)
        })?;
        setup.faults.push((fault.at, action));
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
    Ok(())
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
