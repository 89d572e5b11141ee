//! The HTTP server under test: real hyper `http1` and `http2` connections over simulated
//! sockets.
//!
//! - [`ServerConfig`] — port, keep-alive, timeouts, handler, fd limit, backlog, shutdown plan
//!   (start here). [`serve`] runs it on a host.
//! - [`handler`] — what the server answers: fixed bodies, delays, CPU burns, echo.
//! - [`service`] — your own application (any tower service: an axum `Router`, a
//!   `service_fn`) served by this same server, every setting and trace event applying to it.
//! - [`cpu`] — the host CPU model: a `cpu` handler blocks every other piece of server work on
//!   its host (read its module doc for the model and its limits).
//! - [`protocol`] — `http1`, `http2` (prior-knowledge h2c) or `auto`, and the HTTP/2
//!   settings (streams, windows, pings).
//! - `conn` (private) — one connection: hyper's state machine, the inactivity timeout,
//!   in-flight tracking, commands from the shutdown sequence.
//! - `conn_h2` (private) — the HTTP/2 (and auto-detecting) connection behind the same loop.
//! - [`shutdown`] — the strategies (`wait-all`, `close-idle`, `close-idle-once`,
//!   `hyper-graceful`, `abort`), their
//!   deadline, and the signal that the shutdown has finished.
//!
//! The accept loop takes connections from the listener's modelled backlog
//! ([`crate::net::SimListener`]); on EMFILE (traced by the listener) it backs off for
//! [`ServerConfig::accept_backoff`] and keeps serving. Each connection runs hyper's own
//! connection state machine; httpsim adds an **inactivity timeout** around it that closes a
//! socket idle in any state (between requests, or with a response the client never reads),
//! which hyper's timeouts do not cover.
//!
//! Not covered: TLS (so no ALPN: HTTP/2 is prior-knowledge h2c, or detected by `auto`).

mod conn;
mod conn_h2;
pub mod cpu;
pub mod handler;
pub mod protocol;
pub mod service;
pub mod shutdown;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::Notify;

pub use cpu::{CpuToken, HostCpu};
pub use handler::Handler;
pub use protocol::{H2Settings, Protocol};
pub use service::{busy, Service};
pub use shutdown::{ShutdownDone, ShutdownPlan, ShutdownStrategy};

use crate::net::{clock, BacklogOverflow, HostNet, SimListener, StreamHandle};
use crate::trace::{ConnId, Event};

/// Settings of the server under test. Every field documents its default.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    /// Host name. The default is `server`.
    pub host: String,
    /// Listening port. The default is 80.
    pub port: u16,
    /// The host's fd limit. The default is unlimited.
    pub fd_limit: Option<usize>,
    /// Fds already in use on the host. The default is 0.
    pub fd_in_use: usize,
    /// Whether connections are kept alive between requests. The default is `true`.
    pub keep_alive: bool,
    /// Inactivity timeout: a socket with no byte read or written for this long is closed, in any
    /// state. The default is none.
    pub idle_timeout: Option<Duration>,
    /// hyper's header read timeout (it also bounds the wait for the next request on an idle
    /// keep-alive connection). The default is none: unlike hyper's own default of 30 s, httpsim
    /// sets no header timeout unless asked, so that only configured timeouts shape a run.
    pub header_read_timeout: Option<Duration>,
    /// Requests served on one socket before its response carries `connection: close`. The
    /// default is unlimited.
    pub max_requests_per_socket: Option<u64>,
    /// What the server answers. The default is a 4 KiB body.
    pub handler: Handler,
    /// How long the accept loop sleeps after EMFILE before accepting again. The default is 10 ms.
    pub accept_backoff: Duration,
    /// Handshaken connections the kernel queues for `accept`. The default is 1024 (what tokio's
    /// `TcpListener::bind`, used by hyper servers, asks for).
    pub backlog: usize,
    /// What happens to connects beyond the backlog. The default is
    /// [`BacklogOverflow::Delay`] (they wait, as with Linux's defaults).
    pub backlog_overflow: BacklogOverflow,
    /// A shutdown scheduled during the run. The default is none.
    pub shutdown: Option<ShutdownPlan>,
    /// The protocol spoken. The default is [`Protocol::Http1`].
    pub protocol: Protocol,
    /// HTTP/2 settings (for `http2` and `auto`). The default is hyper's for each.
    pub h2: H2Settings,
}

impl ServerConfig {
    /// Serves your own application: any tower service taking `Request<hyper::body::Incoming>`
    /// (an axum `Router`, a `tower::service_fn`, a tower stack), in place of the
    /// [`handler`](Self::handler). Every other setting applies to it unchanged.
    pub fn service<S, B>(&mut self, svc: S) -> &mut Self
    where
        S: tower::Service<hyper::Request<hyper::body::Incoming>, Response = hyper::Response<B>>
            + Clone
            + 'static,
        S::Error: Into<handler::BoxError>,
        S::Future: 'static,
        B: hyper::body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<handler::BoxError>,
    {
        self.handler = Handler::service(svc);
        self
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "server".into(),
            port: 80,
            fd_limit: None,
            fd_in_use: 0,
            keep_alive: true,
            idle_timeout: None,
            header_read_timeout: None,
            max_requests_per_socket: None,
            handler: Handler::default(),
            accept_backoff: Duration::from_millis(10),
            backlog: 1024,
            backlog_overflow: BacklogOverflow::Delay,
            shutdown: None,
            protocol: Protocol::Http1,
            h2: H2Settings::default(),
        }
    }
}

/// What the accept loop, the connections and the shutdown sequence of one server share.
pub(crate) struct Shared {
    host: HostNet,
    config: Arc<ServerConfig>,
    cpu: HostCpu,
    /// Open connections, by id.
    conns: RefCell<BTreeMap<ConnId, Rc<conn::ConnStatus>>>,
    /// Notified when a connection closes or a request leaves flight.
    changed: Notify,
    shutting_down: Cell<bool>,
    /// hyper-util's graceful shutdown, when the plan uses it: every connection is watched.
    graceful: RefCell<Option<GracefulShutdown>>,
}

/// Runs the server on `host` until its software is stopped (crash) or the run ends. A scheduled
/// shutdown runs, but nobody outside learns when it finished; see [`serve_with`].
pub async fn serve(host: HostNet, config: Arc<ServerConfig>) {
    serve_with(host, config, ShutdownDone::new()).await
}

/// Runs the server on `host`; when the configured shutdown has finished, gives `done`. A server
/// bounced after its shutdown finished serves again without shutting down a second time.
pub async fn serve_with(host: HostNet, config: Arc<ServerConfig>, done: ShutdownDone) {
    let mut listener = match host.bind(config.port).await {
        Ok(l) => l,
        Err(e) => panic!("server {}: bind port {}: {e}", host.name(), config.port),
    };
    listener
        .set_backlog(config.backlog)
        .set_overflow(config.backlog_overflow);
    let plan = config.shutdown.filter(|_| !done.is_finished());
    let graceful = plan
        .filter(|p| p.strategy == ShutdownStrategy::HyperGraceful)
        .map(|_| GracefulShutdown::new());
    let cpu = HostCpu::new();
    let shared = Rc::new(Shared {
        host,
        config,
        cpu: cpu.clone(),
        conns: RefCell::new(BTreeMap::new()),
        changed: Notify::new(),
        shutting_down: Cell::new(false),
        graceful: RefCell::new(graceful),
    });
    let server = async move {
        let mut accepting = Box::pin(accept_loop(listener, shared.clone()));
        let Some(plan) = plan else {
            return accepting.await;
        };
        // A deadline from time zero, not a wait from now: a real run's server starts serving
        // before time zero (so its client's first connect finds it listening).
        tokio::select! {
            // Fixed branch order: tokio's default random pick is not seeded by the simulation.
            biased;
            _ = &mut accepting => {}
            _ = crate::net::clock::sleep_until(clock::at(plan.at)) => {}
        }
        shared.host.record(Event::ShutdownStart {
            strategy: plan.strategy.name().to_string(),
        });
        // Stop accepting: the listener closes, refusing what is still in its backlog.
        drop(accepting);
        shutdown::execute(&plan, &shared).await;
        done.finish();
        // The process would exit here. The host's software stays alive with nothing bound, so
        // later connects are refused by the host (turmoil does not deliver to stopped hosts,
        // which would leave them hanging instead).
        std::future::pending::<()>().await;
    };
    cpu.gate(CpuToken::SERVER, server).await
}

async fn accept_loop(mut listener: SimListener, shared: Rc<Shared>) {
    loop {
        match listener.accept().await {
            Ok(stream) => conn::start(stream, shared.clone()),
            Err(_) => {
                // EMFILE (traced by the listener): back off, keep serving.
                crate::net::clock::sleep(shared.config.accept_backoff).await;
            }
        }
    }
}

/// Completes once `handle` has seen no byte read or written for `timeout`.
pub async fn idle_expired(handle: &StreamHandle, timeout: Duration) {
    let t_us = timeout.as_micros() as u64;
    loop {
        let deadline = handle.last_activity_us() + t_us;
        let now = clock::now_us();
        if now >= deadline {
            return;
        }
        crate::net::clock::sleep(Duration::from_micros(deadline - now)).await;
    }
}

pub use crate::seq::{request_seq, SEQ_HEADER};
