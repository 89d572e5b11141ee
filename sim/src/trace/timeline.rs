//! The trace re-indexed by request and by connection, so every check asks "what happened to
//! request 7" or "who held conn 3 at 12 s" without re-scanning the records.
//!
//! It only collects facts; it judges nothing. Times are µs of simulated time.
//!
//! Built once per run and read by every check, it allocates little per request: a request's
//! lists are [`Few`] (one item inline), its method a [`Method`] (the common ones without a
//! copy), its slot in a vector indexed by id.

mod id_set;

use std::borrow::Cow;
use std::collections::BTreeMap;

/// A request's list of attempts, heads, deliveries: nearly always empty or of one, which is
/// kept inline (a `Vec` each was an allocation and a free per list per request).
pub type Few<T> = smallvec::SmallVec<[T; 1]>;
pub(crate) use id_set::IdSet;

use crate::error::ErrorKind;
use crate::trace::{BodyEnd, CloseReason, ConnId, Event, HostName, Record, ReqId};

/// One attempt of a request, as the client driver saw it.
#[derive(Clone, Debug, Default)]
pub struct Attempt {
    /// Attempt number, from 1.
    pub number: u32,
    /// When it started.
    pub start: u64,
    /// When it ended (response head or failure); `None` if it never did.
    pub end: Option<u64>,
    /// The error kind when it failed.
    pub failed: Option<ErrorKind>,
    /// Whether the driver retried after it.
    pub retrying: bool,
}

/// An HTTP method as the trace names it: the standard ones borrowed, any other copied.
pub type Method = Cow<'static, str>;

/// `name` as a [`Method`], without a copy when it is a standard method.
fn method(name: &str) -> Method {
    const STANDARD: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
    ];
    match STANDARD.iter().find(|m| **m == name) {
        Some(m) => Cow::Borrowed(m),
        None => Cow::Owned(name.to_string()),
    }
}

/// Everything the trace says about one logical request.
#[derive(Clone, Debug, Default)]
pub struct ReqFacts {
    /// HTTP method.
    pub method: Method,
    /// Its attempts, in order.
    pub attempts: Few<Attempt>,
    /// Pool checkouts: `(time, conn, reused)`; `conn` is `None` while queued for a socket.
    pub checkouts: Few<(u64, Option<ConnId>, bool)>,
    /// Response heads: `(time, conn)`. More than one is a bug.
    pub heads: Few<(u64, Option<ConnId>)>,
    /// When the caller finished with the body, and how.
    pub body_end: Option<(u64, BodyEnd)>,
    /// Final failures (not retried): `(time, kind)`. More than one is a bug.
    pub failures: Few<(u64, ErrorKind)>,
    /// Server receptions of this request (by its `x-seq`): `(time, conn)`.
    pub delivered: Few<(u64, ConnId)>,
    /// At the end of the run, the connection this request was written on with nothing back
    /// since: `(conn, since)`.
    pub waiting_on: Option<(ConnId, u64)>,
}

impl ReqFacts {
    /// When the first attempt started.
    pub fn start(&self) -> u64 {
        self.attempts.first().map(|a| a.start).unwrap_or(0)
    }

    /// When the request ended (first head or final failure), if it did.
    pub fn end(&self) -> Option<u64> {
        let head = self.heads.first().map(|h| h.0);
        let fail = self.failures.first().map(|f| f.0);
        match (head, fail) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether it was still pending (started, not ended) at `t`.
    pub fn pending_at(&self, t: u64) -> bool {
        self.start() <= t && self.end().is_none_or(|e| e > t)
    }

    /// The socket it was last known to use at `t` (checkout or response head).
    pub fn conn_at(&self, t: u64) -> Option<ConnId> {
        let co = self
            .checkouts
            .iter()
            .rev()
            .filter(|c| c.0 <= t)
            .find_map(|c| c.1.map(|id| (c.0, id)));
        let head = self
            .heads
            .iter()
            .rev()
            .filter(|h| h.0 <= t)
            .find_map(|h| h.1.map(|id| (h.0, id)));
        match (co, head) {
            (Some(a), Some(b)) => Some(if b.0 >= a.0 { b.1 } else { a.1 }),
            (a, b) => a.or(b).map(|x| x.1),
        }
    }
}

/// A server request on one connection, matched to its response in FIFO order (HTTP/1.1).
#[derive(Clone, Debug)]
pub struct ServerExchange {
    /// When the request head arrived.
    pub at: u64,
    /// The request's `x-seq`, when present.
    pub seq: Option<ReqId>,
    /// HTTP method.
    pub method: Method,
    /// When the server finished the response, and whether it announced `connection: close`.
    pub response: Option<(u64, bool)>,
}

/// Everything the trace says about one connection.
#[derive(Clone, Debug, Default)]
pub struct ConnFacts {
    /// `host:port` it was dialled to (client side).
    pub to: String,
    /// When the client side connected.
    pub connected: Option<u64>,
    /// When the server side accepted.
    pub accepted: Option<u64>,
    /// When and why the client side closed.
    pub client_closed: Option<(u64, CloseReason)>,
    /// When and why the server side closed.
    pub server_closed: Option<(u64, CloseReason)>,
    /// Every `closed` event of either side, in trace order: `(time, host, reason)` (what the
    /// report's timeline draws as ticks).
    pub closes: Vec<(u64, HostName, CloseReason)>,
    /// Requests the server received on it, in order.
    pub exchanges: Vec<ServerExchange>,
}

impl ConnFacts {
    /// Whether the client side was open at `t`.
    pub fn client_open_at(&self, t: u64) -> bool {
        self.connected.is_some_and(|c| c <= t) && self.client_closed.is_none_or(|c| c.0 > t)
    }

    /// Whether the server side was open at `t`.
    pub fn server_open_at(&self, t: u64) -> bool {
        self.accepted.is_some_and(|a| a <= t) && self.server_closed.is_none_or(|c| c.0 > t)
    }

    /// Requests the server had received but not answered at `t`.
    pub fn unanswered_at(&self, t: u64) -> Vec<&ServerExchange> {
        self.exchanges
            .iter()
            .filter(|x| x.at <= t && x.response.is_none_or(|r| r.0 > t))
            .collect()
    }
}

/// The trace, indexed.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    /// Requests by id.
    pub reqs: IdMap<ReqFacts>,
    /// Connections by id.
    pub conns: IdMap<ConnFacts>,
    /// Scheduled faults applied: `(time, description)`.
    pub faults: Vec<(u64, String)>,
    /// EMFILE and refused events: `(time, host, "connect" | "accept", kind)`.
    pub fd_errors: Vec<(u64, String, &'static str, ErrorKind)>,
    /// Shutdown start `(time, strategy)`.
    pub shutdown_start: Option<(u64, String)>,
    /// Shutdown end `(time, forced)`.
    pub shutdown_end: Option<(u64, usize)>,
    /// Time of the last record.
    pub end_us: u64,
}

impl Timeline {
    /// Indexes `records`; `server_host` tells which side a `closed` event belongs to.
    pub fn new(records: &[Record], server_host: &str) -> Timeline {
        let mut tl = Timeline::default();
        // Responses match exchanges in FIFO order, so the first unanswered exchange of a
        // connection is at index "responses so far" (a scan for it was quadratic in the
        // requests of a keep-alive connection).
        let mut answered: IdMap<usize> = IdMap::new(records.len());
        let mut reqs: IdMap<ReqFacts> = IdMap::new(records.len());
        let mut conns: IdMap<ConnFacts> = IdMap::new(records.len());
        for r in records {
            let t = r.t_us;
            tl.end_us = tl.end_us.max(t);
            match &r.event {
                Event::Connected { conn, to, .. } => {
                    let c = conns.entry(*conn);
                    c.to = to.clone();
                    c.connected = Some(t);
                }
                Event::Accepted { conn, .. } => {
                    conns.entry(*conn).accepted = Some(t);
                }
                Event::Closed { conn, reason } => {
                    let c = conns.entry(*conn);
                    // Compared here only: a name compare per record was a tenth of the cost.
                    let slot = if r.host == server_host {
                        &mut c.server_closed
                    } else {
                        &mut c.client_closed
                    };
                    slot.get_or_insert((t, *reason));
                    c.closes.push((t, r.host.clone(), *reason));
                }
                Event::ConnectFailed { kind, .. } => {
                    if *kind == ErrorKind::Emfile {
                        tl.fd_errors.push((t, r.host.to_string(), "connect", *kind));
                    }
                }
                Event::AcceptFailed { kind, .. } => {
                    tl.fd_errors.push((t, r.host.to_string(), "accept", *kind));
                }
                Event::RequestStart {
                    req,
                    method,
                    attempt,
                } => {
                    let f = reqs.entry(*req);
                    f.method = self::method(method.as_ref());
                    f.attempts.push(Attempt {
                        number: *attempt,
                        start: t,
                        ..Attempt::default()
                    });
                }
                Event::Checkout { req, conn, reused } => {
                    let f = reqs.entry(*req);
                    f.checkouts.push((t, *conn, *reused));
                }
                Event::ResponseHead { req, conn, .. } => {
                    let f = reqs.entry(*req);
                    f.heads.push((t, *conn));
                    if let Some(a) = f.attempts.last_mut() {
                        a.end.get_or_insert(t);
                    }
                }
                Event::BodyEnd { req, how, .. } => {
                    reqs.entry(*req).body_end = Some((t, *how));
                }
                Event::RequestFailed {
                    req,
                    attempt,
                    kind,
                    retrying,
                    ..
                } => {
                    let f = reqs.entry(*req);
                    if let Some(a) = f.attempts.iter_mut().rev().find(|a| a.number == *attempt) {
                        a.end.get_or_insert(t);
                        a.failed = Some(*kind);
                        a.retrying = *retrying;
                    }
                    if !retrying {
                        f.failures.push((t, *kind));
                    }
                }
                Event::ServerRequest { conn, method, seq } => {
                    conns.entry(*conn).exchanges.push(ServerExchange {
                        at: t,
                        seq: *seq,
                        method: self::method(method.as_ref()),
                        response: None,
                    });
                    if let Some(s) = seq {
                        reqs.entry(*s).delivered.push((t, *conn));
                    }
                }
                Event::ServerResponse { conn, close, .. } => {
                    let c = conns.entry(*conn);
                    let next = answered.entry(*conn);
                    if let Some(x) = c.exchanges.get_mut(*next) {
                        x.response = Some((t, *close));
                        *next += 1;
                    }
                }
                Event::ShutdownStart { strategy } => {
                    tl.shutdown_start.get_or_insert((t, strategy.clone()));
                }
                Event::ShutdownEnd { forced } => {
                    tl.shutdown_end.get_or_insert((t, *forced));
                }
                Event::Fault { what } => tl.faults.push((t, what.clone())),
                Event::PeerClosed { .. }
                | Event::Limit { .. }
                | Event::BacklogFull { .. }
                | Event::BodyError { .. }
                | Event::ConnFault { .. }
                | Event::Undelivered { .. }
                | Event::WriteBlocked { .. }
                | Event::Retransmit { .. }
                | Event::H2Frame { .. }
                | Event::GoawaySent { .. } => {}
                Event::RequestWaiting {
                    conn,
                    req,
                    since_us,
                } => {
                    reqs.entry(*req).waiting_on = Some((*conn, *since_us));
                }
            }
        }
        tl.reqs = reqs;
        tl.conns = conns;
        tl
    }

    /// Requests pending at `t`.
    pub fn pending_at(&self, t: u64) -> Vec<ReqId> {
        self.reqs
            .iter()
            .filter(|(_, f)| !f.attempts.is_empty() && f.pending_at(t))
            .map(|(id, _)| *id)
            .collect()
    }
}

/// Facts by id, in id order. Ids are small and dense (numbered from 1), so they index a
/// vector; ids above a bound (records from elsewhere) go to a map. Read like a `BTreeMap`:
/// `get`, `map[&id]`, `for (id, facts) in &map`. (A map built at the end, or a map lookup per
/// record, was most of a timeline's cost.)
#[derive(Clone, Debug)]
pub struct IdMap<T> {
    slots: Vec<Option<(u64, T)>>,
    bound: u64,
    rest: BTreeMap<u64, T>,
    len: usize,
}

impl<T> Default for IdMap<T> {
    fn default() -> Self {
        Self::new(0)
    }
}

impl<T> IdMap<T> {
    /// Slots for ids up to `bound` (capped at 2^20), grown as they are used. A trace's length
    /// bounds the ids it names.
    pub(crate) fn new(bound: usize) -> Self {
        Self {
            slots: Vec::new(),
            bound: bound.min(1 << 20) as u64,
            rest: BTreeMap::new(),
            len: 0,
        }
    }

    /// The facts of `id`.
    pub fn get(&self, id: &u64) -> Option<&T> {
        if *id > self.bound {
            return self.rest.get(id);
        }
        match self.slots.get(*id as usize) {
            Some(Some((_, v))) => Some(v),
            _ => None,
        }
    }

    /// Whether `id` has facts.
    pub fn contains_key(&self, id: &u64) -> bool {
        self.get(id).is_some()
    }

    /// Every `(id, facts)`, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&u64, &T)> {
        self.slots
            .iter()
            .flatten()
            .map(|(k, v)| (k, v))
            .chain(self.rest.iter())
    }

    /// Every facts, in id order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.iter().map(|(_, v)| v)
    }

    /// How many ids have facts.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no id has facts.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<T: Default> IdMap<T> {
    /// The facts of `id`, made empty on first use.
    pub(crate) fn entry(&mut self, id: u64) -> &mut T {
        if id > self.bound {
            if !self.rest.contains_key(&id) {
                self.len += 1;
            }
            return self.rest.entry(id).or_default();
        }
        let i = id as usize;
        if i >= self.slots.len() {
            // Ids come one more at a time: grow by doubling (up to the bound), not by one.
            let len = (i + 1)
                .max(self.slots.len() * 2)
                .min(self.bound as usize + 1);
            self.slots.resize_with(len, || None);
        }
        let slot = &mut self.slots[i];
        if slot.is_none() {
            self.len += 1;
        }
        &mut slot.get_or_insert_with(|| (id, T::default())).1
    }
}

impl<'a, T> IntoIterator for &'a IdMap<T> {
    type Item = (&'a u64, &'a T);
    type IntoIter = Box<dyn Iterator<Item = (&'a u64, &'a T)> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<T> std::ops::Index<&u64> for IdMap<T> {
    type Output = T;
    fn index(&self, id: &u64) -> &T {
        self.get(id).expect("no facts for this id")
    }
}
