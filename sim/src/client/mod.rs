//! Clients under test: connection pools and the per-request policy around them.
//!
//! - [`Pool`] — the trait every client adapter implements (start here). A pool turns a request
//!   into a response head; it owns connection management and nothing else.
//! - [`hyper_util_pool::HyperUtilPool`] — the real hyper-util legacy `Client`.
//! - [`agent::Agent`] — a bounded pool (per-host and total limits, FIFO queue of waiters) on
//!   hyper's `http1` connections; [`agent_pool::AgentPool`] puts it behind [`Pool`].
//! - [`no_pool::NoPool`] — a fresh connection per request (`connection: close`).
//! - [`h2_pool::H2Pool`] — a bounded HTTP/2 pool: streams per connection, connections per
//!   host, a new connection when every stream is busy; [`h2_settings`] — the HTTP/2 settings
//!   it shares with hyper-util's `Client` under `http2_only`; [`h2_reason`] — which HTTP/2
//!   failures mean "not processed" (retryable whatever the method).
//! - [`request_body::RequestBody`] — the body of every request (one pointer wide).
//! - [`adapt`] — your own client in one line: a hyper-util `Client` from your own `Builder`,
//!   any tower service, or a function over raw sockets.
//! - [`driver`] — timeouts, retries and what the caller does with the body, around any pool.
//!
//! Every adapter dials through [`crate::net::SimConnector`], so fds, traces and faults apply.

pub mod adapt;
pub mod agent;
pub mod agent_pool;
pub mod driver;
pub mod h2_pool;
pub mod h2_reason;
pub mod h2_settings;
pub mod hyper_util_pool;
pub mod no_pool;
pub mod request_body;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use hyper::{Request, Response};

use crate::error::ErrorKind;
use crate::net::HostNet;
use crate::trace::ReqId;

pub use agent::{AgentConfig, Scheduling};
pub use driver::{BodyMode, Retry, Timeouts};

/// A boxed error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub use request_body::RequestBody;
/// The response body every pool gives back. Not `Send`: a pool under test lives on one
/// simulated host, and its bodies may hold `Rc` state (the Agent's do).
pub type ResponseBody = Pin<Box<dyn hyper::body::Body<Data = Bytes, Error = BoxError>>>;

/// Boxes any response body as a [`ResponseBody`].
pub fn box_body<B>(body: B) -> ResponseBody
where
    B: hyper::body::Body<Data = Bytes> + 'static,
    B::Error: Into<BoxError>,
{
    Box::pin(http_body_util::BodyExt::map_err(body, Into::into))
}
/// The future a pool returns.
pub type SendFuture = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, ClientError>>>>;

/// A client under test. Implement it to put your own client into httpsim.
///
/// `send` resolves when the response head arrives. It must insert a
/// [`crate::net::ConnInfo`] into the response extensions when it knows the connection, so
/// traces can say which socket served which request.
pub trait Pool {
    /// Sends `req` (request number `id`) and waits for the response head.
    fn send(&self, id: ReqId, req: Request<RequestBody>) -> SendFuture;

    /// Whether a client's own retries may run inside [`send`](Self::send) through
    /// [`adapt::Attempts`], which numbers them on from the driver's count. The default is
    /// `true`. httpsim's own pools say `false`: no `Attempts` layer can reach them, and each
    /// request is spared the scope that layer reads (an allocation, and a task-local swap on
    /// every poll of the send).
    fn numbers_attempts(&self) -> bool {
        true
    }
}

/// An error from a pool or the request driver.
#[derive(Debug, Clone)]
pub struct ClientError {
    kind: ErrorKind,
    message: String,
    written: bool,
    h2: Option<Box<h2_reason::H2Failure>>,
    conn: Option<crate::trace::ConnId>,
}

impl ClientError {
    /// An error of `kind`; `written` says whether any request bytes may have reached the wire
    /// (a request that was written is never retried unless it is idempotent).
    pub fn new(kind: ErrorKind, message: impl Into<String>, written: bool) -> Self {
        Self {
            kind,
            message: message.into(),
            written,
            h2: None,
            conn: None,
        }
    }

    /// Notes the connection the error happened on (pools that know it say so; traces name it).
    pub fn on_conn(mut self, conn: crate::trace::ConnId) -> Self {
        self.conn = Some(conn);
        self
    }

    /// The connection the error happened on, when the pool said.
    pub fn conn(&self) -> Option<crate::trace::ConnId> {
        self.conn
    }

    /// The HTTP/2 frame (RST_STREAM or GOAWAY) and code the server ended the request with.
    pub fn h2(&self) -> Option<&h2_reason::H2Failure> {
        self.h2.as_deref()
    }

    /// The server never processed the request (HTTP/2 REFUSED_STREAM, or above a graceful
    /// GOAWAY's last stream id): it may be retried whatever its method.
    pub fn is_unprocessed(&self) -> bool {
        self.h2.as_ref().is_some_and(|h| h.unprocessed)
    }

    /// Classifies any error (see [`ErrorKind::of`]).
    pub fn from_error(e: &(dyn std::error::Error + 'static), written: bool) -> Self {
        let mut message = e.to_string();
        let mut src = e.source();
        while let Some(s) = src {
            message.push_str(": ");
            message.push_str(&s.to_string());
            src = s.source();
        }
        let h2 = h2_reason::H2Failure::of(e);
        let kind = h2.as_ref().map_or_else(|| ErrorKind::of(e), |h| h.kind());
        let mut err = Self::new(kind, message, written);
        err.h2 = h2.map(Box::new);
        err
    }

    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether request bytes may have been written before the error.
    pub fn written(&self) -> bool {
        self.written
    }

    /// A configured timeout expired.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// The error happened while connecting (nothing was written).
    pub fn is_connect(&self) -> bool {
        !self.written
    }

    /// The fd table was full.
    pub fn is_emfile(&self) -> bool {
        self.kind == ErrorKind::Emfile
    }

    /// The connection closed before the message completed.
    pub fn is_closed(&self) -> bool {
        self.kind == ErrorKind::Closed
    }
}

impl ErrorKind {
    /// Classifies any error by walking its source chain: the innermost I/O error decides, then
    /// hyper's own categories (a message cut short is `closed`).
    pub fn of(e: &(dyn std::error::Error + 'static)) -> ErrorKind {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        let mut hyper_kind = None;
        let mut is_connect = false;
        while let Some(err) = cur {
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                let k = ErrorKind::of_io(io);
                if k != ErrorKind::Other {
                    return k;
                }
            }
            if let Some(h) = err.downcast_ref::<hyper::Error>() {
                // hyper has no predicate for its `User(DispatchGone)`: a request queued inside
                // an HTTP/2 connection (behind the server's stream limit) when the connection
                // died ends with it. The connection closed before the message completed.
                let gone = || h.to_string().starts_with("dispatch task is gone");
                if h.is_incomplete_message() || h.is_canceled() || gone() {
                    hyper_kind.get_or_insert(ErrorKind::Closed);
                } else if h.is_timeout() {
                    hyper_kind.get_or_insert(ErrorKind::Timeout);
                }
            }
            if let Some(c) = err.downcast_ref::<hyper_util::client::legacy::Error>() {
                is_connect |= c.is_connect();
            }
            if let Some(t) = err.downcast_ref::<ClientError>() {
                return t.kind();
            }
            // A caller's own timeouts: `tokio::time::timeout` and tower's `Timeout` layer.
            if err.is::<tokio::time::error::Elapsed>() || err.is::<tower::timeout::error::Elapsed>()
            {
                return ErrorKind::Timeout;
            }
            cur = err.source();
        }
        match hyper_kind {
            Some(k) => k,
            None if is_connect => ErrorKind::Connect,
            None => ErrorKind::Other,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ClientError {}

/// Which pool to put under test.
#[derive(Clone, Debug, PartialEq)]
pub enum PoolConfig {
    /// The real hyper-util legacy `Client` (unbounded per host).
    HyperUtil {
        /// How long an idle pooled socket is kept. The default is 90 s (hyper-util's).
        idle_timeout: Option<Duration>,
        /// Idle sockets kept per host. The default is unlimited.
        max_idle_per_host: usize,
    },
    /// The real hyper-util legacy `Client` with `http2_only` (scenario: `pool = { kind =
    /// "hyper-util", protocol = "http2" }`): one multiplexed connection per host.
    HyperUtilH2 {
        /// How long an idle pooled connection is kept. The default is 90 s (hyper-util's).
        idle_timeout: Option<Duration>,
        /// HTTP/2 settings. The default is hyper's.
        settings: h2_settings::H2ClientSettings,
    },
    /// httpsim's bounded HTTP/2 pool (scenario: `pool = { kind = "h2", ... }`).
    H2(h2_pool::H2PoolConfig),
    /// A fresh connection per request, closed after its response.
    None,
    /// httpsim's bounded [`agent::Agent`] (scenario: `pool = { kind = "agent", ... }`).
    Agent(AgentConfig),
}

impl PoolConfig {
    /// Whether the pool speaks HTTP/2 (and so needs a server that does).
    pub fn is_h2(&self) -> bool {
        matches!(self, PoolConfig::HyperUtilH2 { .. } | PoolConfig::H2(_))
    }
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig::HyperUtil {
            idle_timeout: Some(Duration::from_secs(90)),
            max_idle_per_host: usize::MAX,
        }
    }
}

/// Settings of the client host and its pool. Every field documents its default.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Host name. The default is `client`.
    pub host: String,
    /// The host's fd limit. The default is unlimited.
    pub fd_limit: Option<usize>,
    /// Fds already in use on the host (stdio, files). The default is 0.
    pub fd_in_use: usize,
    /// The pool. The default is hyper-util's `Client`.
    pub pool: PoolConfig,
    /// Timeouts. The default is none.
    pub timeouts: Timeouts,
    /// Retries. The default is one attempt.
    pub retry: Retry,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            host: "client".into(),
            fd_limit: None,
            fd_in_use: 0,
            pool: PoolConfig::default(),
            timeouts: Timeouts::default(),
            retry: Retry::default(),
        }
    }
}

/// Builds the pool `config` asks for, dialling from `host`.
pub fn build_pool(config: &ClientConfig, host: HostNet) -> Box<dyn Pool> {
    let connect_timeout = config.timeouts.connect;
    match &config.pool {
        PoolConfig::HyperUtil {
            idle_timeout,
            max_idle_per_host,
        } => Box::new(hyper_util_pool::HyperUtilPool::new(
            host,
            connect_timeout,
            *idle_timeout,
            *max_idle_per_host,
        )),
        PoolConfig::HyperUtilH2 {
            idle_timeout,
            settings,
        } => Box::new(hyper_util_pool::HyperUtilPool::http2(
            host,
            connect_timeout,
            *idle_timeout,
            settings,
        )),
        PoolConfig::H2(h2) => Box::new(h2_pool::H2Pool::new(host, *h2, connect_timeout)),
        PoolConfig::None => Box::new(no_pool::NoPool::new(host, connect_timeout)),
        PoolConfig::Agent(agent) => Box::new(agent_pool::AgentPool::new(
            host,
            agent.clone(),
            connect_timeout,
        )),
    }
}
