//! The event log of one simulation run.
//!
//! Every socket, request and server action appends an [`Event`] stamped with simulated time.
//! The log is the single source of truth for checks and reports: nothing downstream looks at
//! live state. It is deterministic by construction (events are appended by the single simulation
//! thread in execution order, and carry no wall-clock data or random addresses), so its JSON Lines
//! form can be hashed and compared across runs.
//!
//! This module deliberately does not interpret events; `check/` and `report/` do.

pub(crate) use crate::fmt::fmt_ms;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

mod host_name;
pub mod timeline;

pub use host_name::HostName;

/// Identifies one TCP connection, the same number on both of its ends. Numbered from 1 in the
/// order connections are first seen.
pub type ConnId = u64;
/// Identifies one logical request of the workload, numbered from 1 in issue order.
pub type ReqId = u64;

/// One entry of the trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Simulated time since the start of the run, in microseconds.
    pub t_us: u64,
    /// The host on which it happened.
    pub host: HostName,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// Who closed a connection, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloseReason {
    /// The local side closed the socket on its own (end of a keep-alive connection, pool eviction).
    Local,
    /// The local side closed after the peer had closed (FIN or RST seen).
    AfterPeerClose,
    /// The local side reset the socket (RST): closed with unread data or aborted.
    Reset,
    /// Closed by an inactivity (idle) timeout.
    IdleTimeout,
    /// Closed by a shutdown strategy.
    Shutdown,
    /// Closed because a shutdown deadline was reached.
    ShutdownDeadline,
    /// Closed by an injected per-connection fault.
    Fault,
    /// The host crashed: the socket vanished with its host.
    Crash,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self).unwrap_or_default();
        f.write_str(s.as_str().unwrap_or("?"))
    }
}

/// What the caller did with a response body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BodyEnd {
    /// Read to its end.
    Read,
    /// Dropped before its end.
    Dropped,
    /// Failed while reading (the connection closed or reset under it).
    Failed,
}

/// Something that happened during a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A client socket connected.
    Connected {
        /// Connection id.
        conn: ConnId,
        /// The server it connected to, `host:port`.
        to: String,
        /// Open fds on this host after the connect.
        fds: usize,
    },
    /// A connect attempt failed before a connection existed.
    ConnectFailed {
        /// Target `host:port`.
        to: String,
        /// Error kind (see [`crate::ErrorKind`]).
        kind: crate::ErrorKind,
        /// Error message.
        message: String,
    },
    /// A server accepted a connection.
    Accepted {
        /// Connection id.
        conn: ConnId,
        /// Listening port.
        port: u16,
        /// Open fds on this host after the accept.
        fds: usize,
    },
    /// An accept failed with EMFILE (the connection stays queued), or the kernel refused a
    /// queued or overflowing connection (kind `refused`).
    AcceptFailed {
        /// Listening port.
        port: u16,
        /// Error kind.
        kind: crate::ErrorKind,
    },
    /// A socket closed on this host.
    Closed {
        /// Connection id.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
    /// The peer's FIN or RST reached this socket (seen by the receive buffer, even when nobody
    /// reads).
    PeerClosed {
        /// Connection id.
        conn: ConnId,
        /// `true` for RST, `false` for FIN.
        reset: bool,
    },
    /// The client side started a request attempt.
    RequestStart {
        /// Request id.
        req: ReqId,
        /// HTTP method.
        method: String,
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// A request took a socket from a pool (or waited for one).
    Checkout {
        /// Request id.
        req: ReqId,
        /// Connection id, or `None` when the request is queued waiting for a socket.
        conn: Option<ConnId>,
        /// Whether the socket was reused from the pool.
        reused: bool,
    },
    /// The response head arrived.
    ResponseHead {
        /// Request id.
        req: ReqId,
        /// Connection the response came on, when known.
        conn: Option<ConnId>,
        /// HTTP status.
        status: u16,
    },
    /// The caller finished with the response body.
    BodyEnd {
        /// Request id.
        req: ReqId,
        /// How.
        how: BodyEnd,
        /// Bytes read.
        bytes: u64,
    },
    /// A request attempt failed.
    RequestFailed {
        /// Request id.
        req: ReqId,
        /// Attempt number, from 1.
        attempt: u32,
        /// Error kind (see [`crate::ErrorKind`]).
        kind: crate::ErrorKind,
        /// Error message.
        message: String,
        /// Whether another attempt follows.
        retrying: bool,
    },
    /// The server received a request head.
    ServerRequest {
        /// Connection id.
        conn: ConnId,
        /// HTTP method.
        method: String,
        /// The `x-seq` header of the request, when present.
        seq: Option<u64>,
    },
    /// The server finished writing a response.
    ServerResponse {
        /// Connection id.
        conn: ConnId,
        /// HTTP status.
        status: u16,
        /// Whether the response announced `connection: close`.
        close: bool,
    },
    /// A shutdown strategy started.
    ShutdownStart {
        /// The strategy name.
        strategy: String,
    },
    /// A shutdown finished.
    ShutdownEnd {
        /// Connections forced closed at the deadline.
        forced: usize,
    },
    /// A scheduled fault was applied.
    Fault {
        /// A one-line description.
        what: String,
    },
    /// At the end of the run, the client socket of `conn` had written the head of request
    /// `req` (its `x-seq`) and received not one byte since: that request was waiting on this
    /// connection.
    RequestWaiting {
        /// Connection id.
        conn: ConnId,
        /// Request id.
        req: ReqId,
        /// When the request head was written, µs.
        since_us: u64,
    },
    /// A per-connection fault acted on this end of a connection.
    ConnFault {
        /// Connection id.
        conn: ConnId,
        /// What it did, e.g. `reset after 1000 bytes`.
        what: String,
    },
    /// At the end of the run, bytes (or a FIN) sent to this host on `conn` had never arrived:
    /// lost to a partition or link break (turmoil does not retransmit) or still held. The
    /// stream stalled there.
    Undelivered {
        /// Connection id.
        conn: ConnId,
        /// The host that sent them.
        from: String,
        /// Bytes sent and never received.
        bytes: u64,
        /// Whether the sender's FIN is missing too.
        fin: bool,
        /// When the oldest missing byte (or the FIN) was sent, µs.
        since_us: u64,
    },
    /// A simulation limit was hit (a turmoil panic was caught); the run ended early.
    Limit {
        /// The limit's message.
        message: String,
    },
    /// A listener's backlog filled up: further connects wait unanswered until an accept makes
    /// room. Recorded once each time the backlog becomes full.
    BacklogFull {
        /// Listening port.
        port: u16,
        /// The backlog's length.
        backlog: usize,
    },
    /// A write found the socket's send buffer full because the peer's receive buffers are full
    /// (nobody reads there): the writer waits for the window to open. Recorded once per episode.
    WriteBlocked {
        /// Connection id.
        conn: ConnId,
        /// Bytes this end had sent on the connection when it blocked.
        sent: u64,
    },
    /// TCP retransmitted unacknowledged data (or a SYN) after its retransmission timeout: a
    /// segment or its acknowledgement was lost.
    Retransmit {
        /// Connection id (0 for a SYN of a connect not yet established).
        conn: ConnId,
        /// Bytes unacknowledged and sent again (0 for a SYN).
        bytes: u64,
        /// Which retransmission of this data this is (1, 2, ...).
        attempt: u32,
    },
    /// An HTTP/2 request attempt was ended by the server with a RST_STREAM or a GOAWAY frame;
    /// followed by its `RequestFailed`.
    H2Frame {
        /// Request id.
        req: ReqId,
        /// Connection, when the pool knows it.
        conn: Option<ConnId>,
        /// `RST_STREAM` or `GOAWAY`.
        frame: String,
        /// The error code, as RFC 9113 names it (`REFUSED_STREAM`, `NO_ERROR`, ...).
        code: String,
        /// Whether the server never processed the request (REFUSED_STREAM, or above a graceful
        /// GOAWAY's last stream id), so it may be retried whatever its method.
        unprocessed: bool,
    },
    /// The server sent GOAWAY on an HTTP/2 connection (a graceful shutdown): streams it
    /// accepted finish, later ones are refused.
    GoawaySent {
        /// Connection id.
        conn: ConnId,
    },
    /// Reading a response body failed (the total timeout expired, or the connection closed or
    /// reset under it); followed by its `BodyEnd { how: Failed }`.
    BodyError {
        /// Request id.
        req: ReqId,
        /// Error kind (see [`crate::ErrorKind`]).
        kind: crate::ErrorKind,
        /// Error message.
        message: String,
    },
}

/// The shared event log of one simulation. Cheap to clone; all clones append to the same log.
#[derive(Clone, Default)]
pub struct Trace {
    inner: Arc<Mutex<Log>>,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Log {
    records: Vec<Record>,
    /// Set when the run has ended: what is dropped while the world is torn down is not part of
    /// the run.
    sealed: bool,
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an event at simulated time `t_us` on `host`.
    pub fn push(&self, t_us: u64, host: impl Into<HostName>, event: Event) {
        let mut log = self.inner.lock().unwrap();
        if !log.sealed {
            log.records.push(Record {
                t_us,
                host: host.into(),
                event,
            });
        }
    }

    /// Ends the log: later events are ignored.
    pub fn seal(&self) {
        self.inner.lock().unwrap().sealed = true;
    }

    /// A copy of every record so far.
    pub fn records(&self) -> Vec<Record> {
        self.inner.lock().unwrap().records.clone()
    }

    /// Moves every record out, leaving the log empty (for the end of a run: no copy of a
    /// trace that can hold hundreds of thousands of records).
    pub fn take(&self) -> Vec<Record> {
        std::mem::take(&mut self.inner.lock().unwrap().records)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().records.len()
    }

    /// Whether the trace is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Renders records as JSON Lines, one record per line.
pub fn to_jsonl(records: &[Record]) -> String {
    let mut out = String::new();
    for r in records {
        out.push_str(&serde_json::to_string(r).expect("records serialise"));
        out.push('\n');
    }
    out
}

/// A stable 64-bit FNV-1a hash of the JSON Lines form, as 16 hex digits. Two runs have the same
/// hash exactly when their traces are byte-identical (up to hash collisions).
pub fn hash(records: &[Record]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in to_jsonl(records).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>14} {:<8} ", fmt_ms(self.t_us), self.host)?;
        match &self.event {
            Event::Connected { conn, to, fds } => write!(f, "connected      conn={conn} to={to} fds={fds}"),
            Event::ConnectFailed { to, kind, message } => {
                write!(f, "connect-failed to={to} kind={kind} ({message})")
            }
            Event::Accepted { conn, port, fds } => write!(f, "accepted       conn={conn} port={port} fds={fds}"),
            Event::AcceptFailed { port, kind } => write!(f, "accept-failed  port={port} kind={kind}"),
            Event::Closed { conn, reason } => write!(f, "closed         conn={conn} reason={reason}"),
            Event::PeerClosed { conn, reset } => {
                write!(f, "peer-closed    conn={conn} {}", if *reset { "rst" } else { "fin" })
            }
            Event::RequestStart { req, method, attempt } => {
                write!(f, "request        req={req} {method} attempt={attempt}")
            }
            Event::Checkout { req, conn, reused } => match conn {
                Some(c) => write!(f, "checkout       req={req} conn={c} reused={reused}"),
                None => write!(f, "queued         req={req}"),
            },
            Event::ResponseHead { req, conn, status } => match conn {
                Some(c) => write!(f, "response-head  req={req} conn={c} status={status}"),
                None => write!(f, "response-head  req={req} status={status}"),
            },
            Event::BodyEnd { req, how, bytes } => {
                write!(f, "body-end       req={req} how={how:?} bytes={bytes}")
            }
            Event::RequestFailed { req, attempt, kind, message, retrying } => write!(
                f,
                "request-failed req={req} attempt={attempt} kind={kind} retrying={retrying} ({message})"
            ),
            Event::ServerRequest { conn, method, seq } => match seq {
                Some(s) => write!(f, "srv-request    conn={conn} {method} seq={s}"),
                None => write!(f, "srv-request    conn={conn} {method}"),
            },
            Event::ServerResponse { conn, status, close } => {
                write!(f, "srv-response   conn={conn} status={status} close={close}")
            }
            Event::ShutdownStart { strategy } => write!(f, "shutdown-start strategy={strategy}"),
            Event::ShutdownEnd { forced } => write!(f, "shutdown-end   forced={forced}"),
            Event::Fault { what } => write!(f, "fault          {what}"),
            Event::RequestWaiting { conn, req, since_us } => write!(
                f,
                "WAITING        conn={conn} req={req} since={}",
                fmt_ms(*since_us)
            ),
            Event::ConnFault { conn, what } => write!(f, "conn-fault     conn={conn} {what}"),
            Event::Undelivered { conn, from, bytes, fin, since_us } => write!(
                f,
                "UNDELIVERED    conn={conn} from={from} bytes={bytes} fin={fin} since={}",
                fmt_ms(*since_us)
            ),
            Event::Limit { message } => write!(f, "LIMIT          {message}"),
            Event::BacklogFull { port, backlog } => {
                write!(f, "backlog-full   port={port} backlog={backlog}")
            }
            Event::BodyError { req, kind, message } => {
                write!(f, "body-error     req={req} kind={kind} ({message})")
            }
            Event::WriteBlocked { conn, sent } => {
                write!(f, "write-blocked  conn={conn} sent={sent}")
            }
            Event::Retransmit { conn, bytes, attempt } => {
                write!(f, "retransmit     conn={conn} bytes={bytes} attempt={attempt}")
            }
            Event::H2Frame { req, conn, frame, code, unprocessed } => {
                let on = conn.map(|c| format!(" conn={c}")).unwrap_or_default();
                write!(f, "h2-frame       req={req}{on} {frame} {code} unprocessed={unprocessed}")
            }
            Event::GoawaySent { conn } => write!(f, "goaway-sent    conn={conn}"),
        }
    }
}

/// A list of records rendered one per line, for people and snapshots.
#[derive(Debug)]
pub struct TraceText<'a>(pub &'a [Record]);

impl fmt::Display for TraceText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in self.0 {
            writeln!(f, "{r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Event, HostName, Record};

    #[test]
    fn a_host_name_compares_prints_and_serialises_as_the_plain_name() {
        let r = Record {
            t_us: 7,
            host: HostName::from("client"),
            event: Event::ShutdownEnd { forced: 0 },
        };
        assert_eq!(r.host, "client");
        let owned = String::from("client");
        assert!(r.host == *"client" && r.host == owned);
        assert_eq!(
            format!("{}|{:?}|{:>7}", r.host, r.host, r.host),
            "client|\"client\"| client"
        );
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"host\":\"client\""), "{json}");
        let back: Record = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
