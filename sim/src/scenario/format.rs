//! The scenario file format, v1, as typed serde structs: one struct per table of docs/SCENARIOS.md.
//!
//! This is a contract: files written against it must keep working. Every struct rejects unknown
//! keys, every duration is a human string (`"250ms"`, `"3s"`, `"2m"`, `"30h"`), and every key is
//! optional unless its doc says otherwise; defaults are applied in `scenario::convert`, not here,
//! so that this file says only what a user may write. Keys may be added; none may change meaning.
//!
//! This module deliberately does not validate values against each other (`fd_in_use <
//! fd_limit`, `min <= max`); `scenario::validate` and `Setup::validate` do, with the key's line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// The expected form of every duration, as error messages print it.
pub const DURATION_FORM: &str = "a duration string such as \"250ms\", \"3s\", \"2m\" or \"30h\"";

/// A duration written as a human string (`"250ms"`, `"3s"`, `"2m"`, `"30h"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(DURATION_FORM)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                humantime::parse_duration(s)
                    .map(Dur)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(s), &self))
            }
        }
        d.deserialize_str(V)
    }
}

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// The scenario's name: report folder, JUnit test case, JSON `name`. Required.
    pub name: String,
    /// One or two sentences on what the scenario shows.
    pub description: Option<String>,
    /// The default seed; `--seed` overrides it. The default is 1.
    pub seed: Option<u64>,
    /// Simulated time limit; reaching it with work pending is a stall verdict. The default is
    /// 60 s.
    pub duration: Option<Dur>,
    /// Simulation step. The default is 1 ms.
    pub tick: Option<Dur>,
    /// The simulated network.
    pub network: Option<Network>,
    /// The server under test.
    pub server: Option<Server>,
    /// The client under test.
    pub client: Option<Client>,
    /// What the client does.
    pub workload: Option<WorkloadTable>,
    /// Scheduled faults, in any order: [`crate::fault::FaultEntry`], the one model of a
    /// `[[fault]]` (its doc says which keys each kind takes).
    #[serde(default)]
    pub fault: Vec<crate::fault::FaultEntry>,
    /// Per-connection faults (`[[conn_fault]]`): `direction = "to-server" | "to-client"`,
    /// `probability` (default 1), and `fault = { kind = "latency" | "bandwidth" | "slicer" |
    /// "slow-close" | "reset" | "limit-data" | "half-open", ... }` (see `net::conn_fault`).
    #[serde(default)]
    pub conn_fault: Vec<crate::net::ConnFault>,
    /// What must hold for the run to pass.
    pub expect: Option<Expect>,
    /// What `httpsim explore` may vary (see [`crate::explore::table`]); `httpsim run` ignores
    /// it and runs the scenario as written.
    pub explore: Option<crate::explore::ExploreTable>,
}

/// `[network]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// One-way latency, drawn per message. The default is 1 ms both ways.
    pub latency: Option<Range>,
    /// Probability per message that a link breaks, in `0..=1`. The default is 0.
    pub fail_rate: Option<f64>,
    /// Probability per message that a broken link heals, in `0..=1`. The default is 1.
    pub repair_rate: Option<f64>,
    /// Probability that any one packet is lost, in `0..=1`; TCP recovers it by retransmission
    /// (unlike `fail_rate`, which breaks the link). The default is 0.
    pub loss: Option<f64>,
    /// What a connect does when the network drops its SYN: `drop-syn` (retransmit, time out
    /// after 127 s, as a real network does) or `refuse` (the network answers with a reset). The
    /// default is `drop-syn`.
    pub connect: Option<ConnectName>,
}

/// `connect = "drop-syn" | "refuse"`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectName {
    /// Retransmit the SYN; time out after 127 s.
    DropSyn,
    /// Refused at once.
    Refuse,
}

/// `{ min = "...", max = "..." }`; either may be left out.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Lower bound.
    pub min: Option<Dur>,
    /// Upper bound.
    pub max: Option<Dur>,
}

/// `[server]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Host name. The default is `server`.
    pub host: Option<String>,
    /// Listening port. The default is 80.
    pub port: Option<u16>,
    /// The host's fd limit. The default is unlimited.
    pub fd_limit: Option<usize>,
    /// Fds already in use on the host. The default is 0.
    pub fd_in_use: Option<usize>,
    /// Keep connections alive between requests. The default is `true`.
    pub keep_alive: Option<bool>,
    /// Socket inactivity timeout, in any state. The default is none.
    pub idle_timeout: Option<Dur>,
    /// hyper's header read timeout. The default is none.
    pub header_read_timeout: Option<Dur>,
    /// What the server answers. The default is `{ kind = "fixed", body_bytes = 4096 }`.
    pub handler: Option<HandlerTable>,
    /// A scheduled graceful shutdown. The default is none.
    pub shutdown: Option<Shutdown>,
    /// Requests served per connection before it answers with `connection: close`. The default
    /// is unlimited.
    pub max_requests_per_socket: Option<u64>,
    /// Handshaken connections the kernel queues for `accept`. The default is 1024.
    pub backlog: Option<usize>,
    /// What a connect finding the backlog full gets: `delay` (waits, Linux's default) or
    /// `refuse` (reset at once). The default is `delay`.
    pub backlog_overflow: Option<OverflowName>,
    /// How long the accept loop sleeps after EMFILE before accepting again. The default is
    /// 10 ms.
    pub accept_backoff: Option<Dur>,
    /// `http1 | http2 | auto`: HTTP/1.1, HTTP/2 with prior knowledge (h2c), or either, chosen
    /// per connection by its first bytes. The default is `http1`.
    pub protocol: Option<ProtocolName>,
    /// HTTP/2 (`http2`/`auto` only): SETTINGS_MAX_CONCURRENT_STREAMS; streams beyond it are
    /// refused (REFUSED_STREAM). The default is hyper's (200).
    pub max_concurrent_streams: Option<u32>,
    /// HTTP/2 only: the per-stream flow-control window, bytes. The default is hyper's (1 MiB).
    pub initial_stream_window_size: Option<u32>,
    /// HTTP/2 only: the connection's flow-control window, bytes. The default is hyper's
    /// (1 MiB).
    pub initial_connection_window_size: Option<u32>,
    /// HTTP/2 only: how often the server pings each connection. The default is none.
    pub keep_alive_interval: Option<Dur>,
    /// HTTP/2 only: how long a ping may go unanswered before the connection is closed. The
    /// default is hyper's (20 s).
    pub keep_alive_timeout: Option<Dur>,
    /// HTTP/2 only: streams a client may reset before they are accepted before the connection
    /// is closed (rapid-reset guard). The default is hyper's (20).
    pub max_pending_accept_reset_streams: Option<usize>,
}

/// `protocol = "http1" | "http2" | "auto"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProtocolName {
    /// HTTP/1.1.
    Http1,
    /// HTTP/2 with prior knowledge.
    Http2,
    /// Either (servers only).
    Auto,
}

/// `backlog_overflow = "delay" | "refuse"`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverflowName {
    /// The connect waits until the backlog has room.
    Delay,
    /// The connection is reset at once.
    Refuse,
}

/// `handler = { kind = ..., ... }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum HandlerTable {
    /// A fixed body at once.
    Fixed {
        /// Body size. The default is 4096.
        body_bytes: Option<usize>,
        /// Chunk size. The default is 16384.
        chunk_bytes: Option<usize>,
        /// Status. The default is 200.
        status: Option<u16>,
    },
    /// Waits asynchronously, then answers.
    Delay {
        /// The wait. Required.
        delay: Dur,
        /// Body size. The default is 4096.
        body_bytes: Option<usize>,
        /// Status. The default is 200.
        status: Option<u16>,
    },
    /// Burns CPU, blocking the whole server host.
    Cpu {
        /// CPU time per request. Required.
        busy: Dur,
        /// Body size. The default is 4096.
        body_bytes: Option<usize>,
        /// Status. The default is 200.
        status: Option<u16>,
    },
    /// Answers with the request body.
    Echo {
        /// Status. The default is 200.
        status: Option<u16>,
    },
}

/// `shutdown = { at, strategy, deadline }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shutdown {
    /// When it starts. Required.
    pub at: Dur,
    /// `wait-all | close-idle | close-idle-once | hyper-graceful | abort`. Required.
    pub strategy: String,
    /// When remaining connections are forced closed. The default is none.
    pub deadline: Option<Dur>,
}

/// `[client]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// Host name. The default is `client`.
    pub host: Option<String>,
    /// The host's fd limit. The default is unlimited.
    pub fd_limit: Option<usize>,
    /// Fds already in use on the host. The default is 0.
    pub fd_in_use: Option<usize>,
    /// The pool under test. The default is `{ kind = "hyper-util" }`.
    pub pool: Option<PoolTable>,
    /// Timeouts, each optional. The default is none.
    pub timeout: Option<TimeoutTable>,
    /// Retry policy. The default is one attempt.
    pub retry: Option<RetryTable>,
}

/// `pool = { kind = ..., ... }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PoolTable {
    /// The bounded per-host Agent pool.
    Agent {
        /// Sockets per host. The default is 5.
        max_sockets: Option<usize>,
        /// Keep sockets for reuse. The default is `true`.
        keep_alive: Option<bool>,
        /// `fifo | lifo`: which idle socket is reused first. The default is `fifo`.
        scheduling: Option<String>,
        /// How long an idle socket is kept. The default is none.
        idle_timeout: Option<Dur>,
        /// Sockets across all hosts. The default is unlimited.
        max_total_sockets: Option<usize>,
        /// Idle sockets kept per host. The default is 256.
        max_free_sockets: Option<usize>,
        /// Bytes of an unread response a socket buffers before it stops reading (Node 20:
        /// `"16KiB"`, Node 22: `"64KiB"`). The default is none: the socket layer's own buffer.
        read_pause: Option<super::size::Size>,
    },
    /// The real hyper-util legacy `Client`.
    HyperUtil {
        /// How long an idle socket is kept. The default is 90 s.
        idle_timeout: Option<Dur>,
        /// Idle sockets kept per host (HTTP/1 only). The default is unlimited.
        max_idle_per_host: Option<usize>,
        /// `http1 | http2` (`http2_only`, prior knowledge). The default is `http1`.
        protocol: Option<ProtocolName>,
        /// HTTP/2 only: ping interval. The default is none (no pings).
        keep_alive_interval: Option<Dur>,
        /// HTTP/2 only: how long a ping may go unanswered. The default is hyper's (20 s).
        keep_alive_timeout: Option<Dur>,
        /// HTTP/2 only: ping with no stream open too. The default is `false`.
        keep_alive_while_idle: Option<bool>,
        /// HTTP/2 only: BDP-based adaptive windows. The default is `false`.
        adaptive_window: Option<bool>,
        /// HTTP/2 only: locally reset streams remembered. The default is hyper's (10).
        max_concurrent_reset_streams: Option<usize>,
        /// HTTP/2 only: streams opened before the server's SETTINGS arrive. The default is
        /// hyper's (100).
        initial_max_send_streams: Option<usize>,
    },
    /// httpsim's bounded HTTP/2 pool.
    H2 {
        /// Streams in flight per connection before another is used. The default is 100.
        max_streams_per_connection: Option<usize>,
        /// Connections to the host. The default is 1.
        max_connections: Option<usize>,
        /// HTTP/2 only: ping interval. The default is none (no pings).
        keep_alive_interval: Option<Dur>,
        /// HTTP/2 only: how long a ping may go unanswered. The default is hyper's (20 s).
        keep_alive_timeout: Option<Dur>,
        /// HTTP/2 only: ping with no stream open too. The default is `false`.
        keep_alive_while_idle: Option<bool>,
        /// HTTP/2 only: BDP-based adaptive windows. The default is `false`.
        adaptive_window: Option<bool>,
        /// HTTP/2 only: locally reset streams remembered. The default is hyper's (10).
        max_concurrent_reset_streams: Option<usize>,
        /// HTTP/2 only: streams opened before the server's SETTINGS arrive. The default is
        /// hyper's (100).
        initial_max_send_streams: Option<usize>,
    },
    /// One connection per request.
    None {},
}

/// `timeout = { connect, response, total }`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutTable {
    /// Bounds the TCP connect.
    pub connect: Option<Dur>,
    /// Bounds the wait for the response head.
    pub response: Option<Dur>,
    /// Bounds the whole attempt including the body.
    pub total: Option<Dur>,
}

/// `retry = { attempts, backoff, non_idempotent_unwritten }`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryTable {
    /// Attempts in all, including the first, at least 1. Required.
    pub attempts: u32,
    /// Wait between attempts. The default is 0.
    pub backoff: Option<Dur>,
    /// Retry POSTs that were never written. The default is `false`.
    pub non_idempotent_unwritten: Option<bool>,
}

/// `[workload]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadTable {
    /// `sequential | parallel | rate`. The default is `sequential`.
    pub kind: Option<WorkloadKindName>,
    /// Requests per second, for `kind = "rate"` (required there, refused elsewhere).
    pub rate: Option<f64>,
    /// How many requests. The default is 1.
    pub requests: Option<u64>,
    /// `GET | POST`. The default is `GET`.
    pub method: Option<MethodName>,
    /// `read | drop | hold`. The default is `read`.
    pub body: Option<BodyName>,
    /// Request path. The default is `/`.
    pub path: Option<String>,
    /// `[[workload.request]]`: requests of your own, any number; the `k`-th request sent
    /// (counting from 0) is entry `k mod n`. When present, `method` and `path` above are not
    /// used.
    #[serde(default)]
    pub request: Vec<RequestTable>,
}

/// One `[[workload.request]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestTable {
    /// Any method (`PUT`, `PATCH`, `PURGE`…). The default is `GET`.
    pub method: Option<String>,
    /// Path and query, starting with `/`. The default is `/`.
    pub path: Option<String>,
    /// Headers, `{ content-type = "application/json", x-team = "a" }`. The default is none.
    pub headers: Option<BTreeMap<String, String>>,
    /// The body, as text. The default is none.
    pub body: Option<String>,
}

/// Workload kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKindName {
    /// One at a time.
    Sequential,
    /// All at once.
    Parallel,
    /// At a fixed rate.
    Rate,
}

/// HTTP methods a workload may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum MethodName {
    /// `GET`.
    #[serde(rename = "GET")]
    Get,
    /// `POST`, body `seq=N`.
    #[serde(rename = "POST")]
    Post,
}

/// What the caller does with each body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BodyName {
    /// Read to the end.
    Read,
    /// Drop unread.
    Drop,
    /// Keep unread until the run ends.
    Hold,
}

/// `[expect]`: every key present is a check; all must hold.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Requests whose response head arrived, exactly.
    pub completed: Option<u64>,
    /// Requests that ended in an error, exactly.
    pub failed: Option<u64>,
    /// Upper bound of open fds per host: `{ client = 256 }`.
    pub max_open_fds: Option<BTreeMap<String, usize>>,
    /// The first failed request: `{ request = 243, kind = "emfile" }`. (No failure at all is
    /// `failed = 0`.)
    pub first_error: Option<FirstErrorTable>,
    /// Bounds of the longest stall.
    pub longest_stall: Option<Range>,
    /// Bounds of when the last response head arrived.
    pub last_completion: Option<Range>,
    /// Bounds of how long the server's shutdown took, from its start to its end (a shutdown
    /// that never ended fails it).
    pub shutdown_duration: Option<Range>,
    /// Invariants that must hold.
    pub invariants: Option<Vec<crate::check::Invariant>>,
    /// Response heads per status code: `{ 200 = 8, 503 = { max = 2 } }`, an exact count or
    /// `{ min, max }` (either may be left out). A code not listed is not checked.
    pub status: Option<BTreeMap<String, Count>>,
    /// The `no-stall` bound: no progress for longer than this while requests are pending is a
    /// stall. The default is 5 s plus the longest the server took on purpose (see
    /// `check::no_stall::default_bound`).
    pub no_stall_bound: Option<Dur>,
}

/// A count: exact (`8`) or bounds (`{ min = 1, max = 2 }`, either may be left out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    /// Lower bound (the count itself when exact).
    pub min: Option<u64>,
    /// Upper bound (the count itself when exact).
    pub max: Option<u64>,
}

/// The expected form of a [`Count`], as error messages print it.
pub const COUNT_FORM: &str = "a count such as 8, or bounds such as { min = 1, max = 2 }";

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(COUNT_FORM)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Count, E> {
                let n = u64::try_from(n)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(n), &self))?;
                Ok(Count {
                    min: Some(n),
                    max: Some(n),
                })
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Count, E> {
                Ok(Count {
                    min: Some(n),
                    max: Some(n),
                })
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
                let mut c = Count {
                    min: None,
                    max: None,
                };
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "min" => c.min = Some(map.next_value()?),
                        "max" => c.max = Some(map.next_value()?),
                        other => return Err(de::Error::unknown_field(other, &["min", "max"])),
                    }
                }
                Ok(c)
            }
        }
        d.deserialize_any(V)
    }
}

/// `first_error = { request, kind, at }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstErrorTable {
    /// Its request id.
    pub request: Option<u64>,
    /// Its error kind: `emfile | timeout | refused | reset | closed | connect | other`.
    pub kind: Option<crate::ErrorKind>,
    /// Bounds of when it failed.
    pub at: Option<Range>,
}
