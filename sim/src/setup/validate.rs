//! Every rule a [`Setup`] must satisfy before it runs, in one place: the library and the
//! scenario loader use the same rules, so nothing behind them needs an `expect`.
//!
//! A rule exists for each value the simulator, hyper or the host model could not take without
//! panicking, aborting or producing a meaningless run: host names that cannot appear in a URI
//! or that collide, port 0, an fd baseline at or above its limit, a fault on a host that does
//! not exist, probabilities outside `[0, 1]`, and sizes or durations so large that an
//! allocation would abort or a clock would overflow. The limits on sizes
//! ([`MAX_REQUESTS`], [`MAX_CHUNK_BYTES`], [`MAX_DURATION`]) are written in
//! `docs/SCENARIOS.md`.

use std::time::Duration;

use crate::fmt::duration as show;

use super::{Setup, SetupError};
use crate::client::{ClientConfig, PoolConfig};
use crate::net::ConnFaultKind;
use crate::server::{Handler, ServerConfig};
use crate::workload::{Workload, WorkloadKind};
use crate::world::NetAction;

/// The most requests one workload may issue: every request holds a task, its outcome and its
/// trace events until the run ends, so a run's memory grows with it.
pub const MAX_REQUESTS: u64 = 1_000_000;

/// The largest response chunk: a chunk above 64 KiB is a buffer of its own, allocated per
/// response.
pub const MAX_CHUNK_BYTES: usize = 16 * 1024 * 1024;

/// The largest response body: a body the client does not read waits whole in the simulated
/// network (senders are not blocked), so every held response costs its size in memory.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The most response bytes one run may ask for in all (`requests` × `body_bytes`): a bound on
/// what held bodies can take in memory, and on how long a run can take.
pub const MAX_RUN_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// The longest duration any field may hold (365 days): simulated clocks count microseconds
/// and add durations to one another; a year keeps every sum far from overflowing.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

mod h2;

type R = Result<(), SetupError>;

/// `Err` with `field`, `message` and `expected` unless `ok`.
fn rule(ok: bool, field: &str, message: impl FnOnce() -> String, expected: &str) -> R {
    if ok {
        Ok(())
    } else {
        Err(SetupError::new(field, message(), expected))
    }
}

fn duration(field: &str, d: Duration) -> R {
    rule(
        d <= MAX_DURATION,
        field,
        || format!("{} is too long", show(d)),
        "at most 365 days",
    )
}

fn opt_duration(field: &str, d: Option<Duration>) -> R {
    d.map_or(Ok(()), |d| duration(field, d))
}

fn probability(field: &str, p: f64) -> R {
    rule(
        (0.0..=1.0).contains(&p),
        field,
        || format!("{p} is not a probability"),
        "a number between 0 and 1",
    )
}

/// A host name httpsim can put in a URI and register with the simulator: letters, digits,
/// `-`, `.`, `_`; not an IP address (the simulator would take it as an address, not a name).
fn host_name(field: &str, name: &str, port: u16) -> R {
    const FORM: &str = "a host name of letters, digits, '-', '.' or '_', such as \"server\"";
    rule(
        !name.is_empty(),
        field,
        || "the host name is empty".into(),
        FORM,
    )?;
    let uri_safe = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        && format!("{name}:{port}")
            .parse::<http::uri::Authority>()
            .is_ok();
    rule(
        uri_safe,
        field,
        || format!("{name:?} cannot be a host name in a URI"),
        FORM,
    )?;
    rule(
        name.parse::<std::net::IpAddr>().is_err(),
        field,
        || format!("{name:?} is an IP address, not a host name"),
        FORM,
    )
}

fn fds(table: &str, limit: Option<usize>, in_use: usize) -> R {
    match limit {
        Some(limit) => rule(
            in_use < limit,
            &format!("{table}.fd_in_use"),
            || {
                format!(
                    "fd_in_use ({in_use}) is not below fd_limit ({limit}): no socket could ever open"
                )
            },
            &format!("fd_in_use < fd_limit ({limit})"),
        ),
        None => Ok(()),
    }
}

impl Setup {
    /// Checks every rule a setup must satisfy to run: the first broken one comes back as a
    /// [`SetupError`] naming the field. [`Setup::run`] calls this first.
    ///
    /// ```
    /// let mut setup = httpsim::Setup::default();
    /// setup.client.host = setup.server.host.clone();
    /// let err = setup.validate().unwrap_err();
    /// assert_eq!(err.field(), "client.host");
    /// ```
    pub fn validate(&self) -> Result<(), SetupError> {
        self.check_world()?;
        check_server(&self.server)?;
        check_client(&self.client, &self.server.host)?;
        check_workload(&self.workload)?;
        self.check_faults()?;
        self.check_run_bytes()
    }

    /// `requests` × `body_bytes` within [`MAX_RUN_BYTES`].
    fn check_run_bytes(&self) -> R {
        let body = match self.server.handler {
            Handler::Fixed { body_bytes, .. }
            | Handler::Delay { body_bytes, .. }
            | Handler::Cpu { body_bytes, .. } => body_bytes as u64,
            Handler::Echo { .. } | Handler::Service(_) => 0,
        };
        let requests = self.workload.requests;
        rule(
            requests.saturating_mul(body) <= MAX_RUN_BYTES,
            "workload.requests",
            || format!("{requests} responses of {body} bytes: more than 4 GiB in one run"),
            "requests × body_bytes of at most 4 GiB",
        )
    }

    fn check_world(&self) -> R {
        let w = &self.world;
        let tick = w.tick_set();
        rule(
            !tick.is_zero(),
            "tick",
            || "the tick is zero".into(),
            "a positive duration such as \"1ms\"",
        )?;
        duration("tick", tick)?;
        duration("duration", w.duration_len())?;
        rule(
            w.duration_len() >= tick,
            "duration",
            || {
                format!(
                    "the duration ({}) is shorter than one tick",
                    show(w.duration_len())
                )
            },
            "a duration of at least one tick",
        )?;
        let (min, max) = w.latency_bounds();
        duration("network.latency.max", max)?;
        rule(
            min <= max,
            "network.latency.min",
            || format!("min ({}) is greater than max ({})", show(min), show(max)),
            "min <= max",
        )?;
        let (fail, repair) = w.rates();
        probability("network.fail_rate", fail)?;
        probability("network.repair_rate", repair)?;
        probability("network.loss", w.loss_rate())?;
        let (ports, queue) = w.ports();
        rule(
            !ports.is_empty(),
            "ephemeral_ports",
            || format!("the range {ports:?} holds no port"),
            "a non-empty range such as 49152..=65535",
        )?;
        rule(
            queue > 0,
            "tcp_capacity",
            || "a listen queue of 0".into(),
            "at least 1",
        )?;
        for (i, f) in w.conn_faults().iter().enumerate() {
            check_conn_fault(&format!("conn_fault[{i}]"), f)?;
        }
        Ok(())
    }

    fn check_faults(&self) -> R {
        let server = self.server.host.as_str();
        let client = self.client.host.as_str();
        let expected = format!("one of the setup's hosts: {server:?}, {client:?}");
        for (i, (at, action)) in self.faults.iter().enumerate() {
            let field = |key: &str| format!("fault[{i}].{key}");
            duration(&field("at"), *at)?;
            for h in action_hosts(action) {
                rule(
                    h == server || h == client,
                    &field("hosts"),
                    || format!("no host is called {h:?}"),
                    &expected,
                )?;
            }
            match action {
                NetAction::Partition { a, b, .. }
                | NetAction::Repair { a, b, .. }
                | NetAction::Hold { a, b }
                | NetAction::Release { a, b }
                | NetAction::Latency { a, b, .. }
                | NetAction::FailRate { a, b, .. } => rule(
                    a != b,
                    &field("hosts"),
                    || format!("a link joins two different hosts; got {a:?} twice"),
                    "hosts = [\"client\", \"server\"] (the two ends of a link)",
                )?,
                NetAction::Crash { host }
                | NetAction::Vanish { host }
                | NetAction::Bounce { host } => rule(
                    host == server,
                    &field("hosts"),
                    || {
                        format!("{host:?} is the client host: only the server's software can be crashed or bounced (the client host runs the workload)")
                    },
                    "hosts = [the server host]",
                )?,
            }
            match action {
                NetAction::Latency { latency, .. } => duration(&field("latency"), *latency)?,
                NetAction::FailRate { rate, .. } => probability(&field("rate"), *rate)?,
                _ => {}
            }
        }
        Ok(())
    }
}

/// The hosts an action names.
fn action_hosts(action: &NetAction) -> Vec<&str> {
    match action {
        NetAction::Partition { a, b, .. }
        | NetAction::Repair { a, b, .. }
        | NetAction::Hold { a, b }
        | NetAction::Release { a, b }
        | NetAction::Latency { a, b, .. }
        | NetAction::FailRate { a, b, .. } => vec![a, b],
        NetAction::Crash { host } | NetAction::Vanish { host } | NetAction::Bounce { host } => {
            vec![host]
        }
    }
}

fn check_server(s: &ServerConfig) -> R {
    host_name("server.host", &s.host, s.port)?;
    rule(
        s.port != 0,
        "server.port",
        || "port 0: clients could not know where to connect".into(),
        "a port between 1 and 65535",
    )?;
    fds("server", s.fd_limit, s.fd_in_use)?;
    opt_duration("server.idle_timeout", s.idle_timeout)?;
    opt_duration("server.header_read_timeout", s.header_read_timeout)?;
    duration("server.accept_backoff", s.accept_backoff)?;
    rule(
        s.backlog > 0,
        "server.backlog",
        || "a backlog of 0: no connection could ever be accepted".into(),
        "at least 1",
    )?;
    rule(
        s.max_requests_per_socket != Some(0),
        "server.max_requests_per_socket",
        || "0 requests per socket: no request could ever be served".into(),
        "at least 1",
    )?;
    if let Some(plan) = &s.shutdown {
        duration("server.shutdown.at", plan.at)?;
        opt_duration("server.shutdown.deadline", plan.deadline)?;
    }
    h2::check_server(&s.h2)?;
    check_handler(&s.handler)
}

fn check_handler(h: &Handler) -> R {
    if let Some(status) = h.status() {
        rule(
            (200..=999).contains(&status),
            "server.handler.status",
            || format!("{status} is not a final response status"),
            "a status code between 200 and 999",
        )?;
    }
    let body = match *h {
        Handler::Fixed { body_bytes, .. }
        | Handler::Delay { body_bytes, .. }
        | Handler::Cpu { body_bytes, .. } => body_bytes,
        Handler::Echo { .. } | Handler::Service(_) => 0,
    };
    rule(
        body <= MAX_BODY_BYTES,
        "server.handler.body_bytes",
        || format!("a body of {body} bytes"),
        "at most 64 MiB",
    )?;
    match *h {
        Handler::Fixed { chunk_bytes, .. } => rule(
            (1..=MAX_CHUNK_BYTES).contains(&chunk_bytes),
            "server.handler.chunk_bytes",
            || format!("a chunk of {chunk_bytes} bytes"),
            "between 1 byte and 16 MiB",
        ),
        Handler::Delay { delay, .. } => duration("server.handler.delay", delay),
        Handler::Cpu { busy, .. } => duration("server.handler.busy", busy),
        Handler::Echo { .. } | Handler::Service(_) => Ok(()),
    }
}

fn check_client(c: &ClientConfig, server: &str) -> R {
    // Port 80 stands in: the client host is never part of a URI, only its name's form matters.
    host_name("client.host", &c.host, 80)?;
    rule(
        c.host != server,
        "client.host",
        || format!("the client and the server are both called {server:?}"),
        "two different host names, such as \"client\" and \"server\"",
    )?;
    fds("client", c.fd_limit, c.fd_in_use)?;
    match &c.pool {
        PoolConfig::Agent(a) => {
            rule(
                a.max_sockets > 0,
                "client.pool.max_sockets",
                || "a pool of 0 sockets".into(),
                "at least 1",
            )?;
            rule(
                a.max_total_sockets > 0,
                "client.pool.max_total_sockets",
                || "a pool of 0 sockets".into(),
                "at least 1",
            )?;
            opt_duration("client.pool.idle_timeout", a.idle_timeout)?;
            rule(
                a.read_pause != Some(0),
                "client.pool.read_pause",
                || "a read pause of 0 bytes: the socket could never read a response".into(),
                "at least 1 byte, such as \"16KiB\"",
            )?;
        }
        PoolConfig::HyperUtil { idle_timeout, .. } => {
            opt_duration("client.pool.idle_timeout", *idle_timeout)?
        }
        PoolConfig::HyperUtilH2 {
            idle_timeout,
            settings,
        } => {
            opt_duration("client.pool.idle_timeout", *idle_timeout)?;
            h2::check_client(settings)?
        }
        PoolConfig::H2(p) => {
            h2::check_pool(p.max_streams_per_connection, p.max_connections)?;
            h2::check_client(&p.settings)?
        }
        PoolConfig::None => {}
    }
    opt_duration("client.timeout.connect", c.timeouts.connect)?;
    opt_duration("client.timeout.response", c.timeouts.response)?;
    opt_duration("client.timeout.total", c.timeouts.total)?;
    rule(
        c.retry.attempts > 0,
        "client.retry.attempts",
        || "0 attempts".into(),
        "at least 1 (attempts count the first try)",
    )?;
    duration("client.retry.backoff", c.retry.backoff)
}

fn check_workload(w: &Workload) -> R {
    rule(
        w.requests <= MAX_REQUESTS,
        "workload.requests",
        || format!("{} requests do not fit in one run's memory", w.requests),
        "at most 1000000 requests",
    )?;
    if let WorkloadKind::Rate(r) = w.kind {
        // The gap between two requests is 1/r seconds: it must be a duration.
        let gap = (r > 0.0).then(|| Duration::try_from_secs_f64(1.0 / r).ok());
        rule(
            gap.flatten().is_some_and(|g| g <= MAX_DURATION),
            "workload.rate",
            || format!("rate {r:?}"),
            "a positive number of requests per second, at least one a year",
        )?;
    }
    rule(
        w.path.starts_with('/') && w.path.parse::<http::uri::PathAndQuery>().is_ok(),
        "workload.path",
        || format!("{:?} is not a request path", w.path),
        "a path starting with `/`, e.g. \"/\" or \"/items?page=2\"",
    )
}

fn check_conn_fault(field: &str, f: &crate::net::ConnFault) -> R {
    probability(&format!("{field}.probability"), f.probability)?;
    let at = |key: &str| format!("{field}.fault.{key}");
    match &f.fault {
        ConnFaultKind::Latency { latency, jitter } => {
            duration(&at("latency"), *latency)?;
            duration(&at("jitter"), *jitter)
        }
        ConnFaultKind::Bandwidth { bytes_per_sec } => rule(
            *bytes_per_sec > 0,
            &at("bytes_per_sec"),
            || "a bandwidth of 0 bytes per second".into(),
            "at least 1",
        ),
        ConnFaultKind::Slicer {
            average,
            variation,
            delay,
        } => {
            rule(
                (1..=MAX_CHUNK_BYTES).contains(average),
                &at("average"),
                || format!("pieces of {average} bytes"),
                "between 1 byte and 16 MiB",
            )?;
            rule(
                *variation <= MAX_CHUNK_BYTES,
                &at("variation"),
                || format!("a variation of {variation} bytes"),
                "at most 16 MiB",
            )?;
            duration(&at("delay"), *delay)
        }
        ConnFaultKind::SlowClose { delay } => duration(&at("delay"), *delay),
        ConnFaultKind::Reset { after, .. } | ConnFaultKind::HalfOpen { after, .. } => {
            opt_duration(&at("after"), *after)
        }
        ConnFaultKind::LimitData { .. } => Ok(()),
    }
}
