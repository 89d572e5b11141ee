//! The Agent: a bounded HTTP/1 connection pool on `hyper::client::conn::http1`, the kind of
//! pool hyper-util lacks (hyper issues #3785 and #2236 ask for a per-host limit) and the kind
//! Node.js's `http.Agent` is.
//!
//! - [`AgentConfig`] — limits per host and in total, free-socket limit, keep-alive, idle
//!   timeout, [`Scheduling`] (start here).
//! - [`Agent`] — the pool: [`Agent::request`] checks a socket out (a free one, a new one within
//!   the limits, or a place in a FIFO queue), writes the request and returns the response head.
//! - [`AgentBody`] — the response body; the socket stays checked out until it is read to the
//!   end or dropped. This is what makes unread bodies stall a bounded pool.
//! - [`connect`] — the [`Connect`] and [`Transport`] traits that make the Agent generic over
//!   its sockets, and the peer-close [`connect::Watch`] that frees slots of sockets whose peer
//!   hung up while their body was held unread.
//! - [`tcp`] — the Agent on real TCP sockets, reading ahead of hyper as the simulated socket
//!   does, so that real-socket runs compare with simulated ones.
//!
//! Rules the Agent keeps: a socket whose peer closed, or whose hyper connection ended, is never
//! handed out again and stops counting against the limits at once (its fd lives on until its
//! body is read or dropped, as a kernel keeps a half-closed socket); a request hyper hands back
//! unwritten (a reused socket that closed under it) is retried on another socket; a request that
//! was written is never retried here.
//!
//! It deliberately does not do HTTP/2, TLS, proxies, or retries of written requests (that is
//! the caller's policy: see [`crate::client::driver`]).

mod config;
pub mod connect;
mod error;
mod key;
mod lease;
mod state;
pub mod tcp;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use http::{HeaderValue, Request, Response, Uri};
use hyper::body::Body;
use tokio::sync::oneshot;

pub use config::{AgentConfig, Scheduling};
pub use connect::{Connect, ServiceConnector, Transport};
pub use error::AgentError;
use key::{pool_key, KeyCache};
pub use lease::AgentBody;

use lease::{Lease, Stage};
use state::{Conn, Grant, Idle, State, Waiter};

/// Put in a request's extensions to name it in [`AgentEvent`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestTag(pub u64);

/// Put in every response's extensions: the socket it came on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentConn {
    /// The socket's id, when its transport has one.
    pub id: Option<u64>,
    /// Whether the socket had served a request before.
    pub reused: bool,
}

/// What the Agent tells its observer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentEvent {
    /// A request found no free socket and no free slot, and waits in the queue.
    Queued {
        /// The request's [`RequestTag`].
        tag: Option<u64>,
    },
    /// A queued request got its turn (a free socket or permission to open one), in queue
    /// order. Its `Checkout` follows once the socket is ready.
    Served {
        /// The request's [`RequestTag`].
        tag: Option<u64>,
    },
    /// A request got a socket.
    Checkout {
        /// The request's [`RequestTag`].
        tag: Option<u64>,
        /// The socket's id.
        conn: Option<u64>,
        /// Whether it was a free socket (else a new one).
        reused: bool,
    },
}

/// Counts for one host, for tests and reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Sockets counted against `max_sockets` (connecting, busy, free).
    pub open: usize,
    /// Free sockets.
    pub free: usize,
    /// Requests waiting in the queue.
    pub waiting: usize,
}

/// A bounded connection pool. Cheap to clone; clones share the pool. Not `Send`: it lives on
/// one thread's local task set, as everything in a simulated host does.
pub struct Agent<C: Connect, B: 'static> {
    inner: Rc<Inner<C, B>>,
}

impl<C: Connect, B: 'static> std::fmt::Debug for Agent<C, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").finish_non_exhaustive()
    }
}

impl<C: Connect, B: 'static> Clone for Agent<C, B> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

type Observer = Rc<dyn Fn(&AgentEvent)>;

struct Inner<C: Connect, B: 'static> {
    config: AgentConfig,
    connector: C,
    observers: RefCell<Vec<Observer>>,
    state: RefCell<State<C, B>>,
    keys: KeyCache,
}

/// How many times a request hyper handed back unwritten is tried on another socket.
const UNWRITTEN_RETRIES: u32 = 8;

impl<C: Connect, B> Agent<C, B>
where
    B: Body + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// A pool dialling through `connector`.
    pub fn new(config: AgentConfig, connector: C) -> Self {
        Self {
            inner: Rc::new(Inner {
                config,
                connector,
                observers: RefCell::new(Vec::new()),
                state: RefCell::new(State::default()),
                keys: KeyCache::default(),
            }),
        }
    }

    /// Also calls `f` on every queueing, turn and checkout, after the observers added before.
    /// The default is no observer.
    pub fn add_observer(&self, f: impl Fn(&AgentEvent) + 'static) -> &Self {
        self.inner.observers.borrow_mut().push(Rc::new(f));
        self
    }

    /// The settings.
    pub fn config(&self) -> &AgentConfig {
        &self.inner.config
    }

    /// Sends `req` (absolute URI) on a pooled socket and resolves with the response head. The
    /// socket stays checked out until the returned body is read to its end or dropped.
    /// Dropping the returned future before the head arrives closes the socket if the request
    /// was already handed to hyper (HTTP/1 cannot cancel a written request), and leaves the
    /// queue otherwise.
    pub fn request(
        &self,
        req: Request<B>,
    ) -> impl std::future::Future<Output = Result<Response<AgentBody>, AgentError>> + 'static {
        let inner = self.inner.clone();
        async move { inner.request(req).await }
    }

    /// Counts for the host of `uri`.
    pub fn host_stats(&self, uri: &Uri) -> HostStats {
        let key = pool_key(uri);
        let st = self.inner.state.borrow();
        st.hosts
            .get(key.as_str())
            .map(|h| HostStats {
                open: h.open,
                free: h.free.len(),
                waiting: h.waiters.iter().filter(|w| !w.tx.is_closed()).count(),
            })
            .unwrap_or_default()
    }

    /// Checks the pool's invariants right now: limits respected, and no request waiting while
    /// its host has a free socket or a free slot. Meant for tests, between any two awaits.
    pub fn check_invariants(&self) -> Result<(), String> {
        let cfg = &self.inner.config;
        let st = self.inner.state.borrow();
        let total: usize = st.hosts.values().map(|h| h.open).sum();
        if total != st.total {
            return Err(format!("total {} but hosts sum to {total}", st.total));
        }
        if st.total > cfg.max_total_sockets {
            return Err(format!(
                "{} sockets open, limit {}",
                st.total, cfg.max_total_sockets
            ));
        }
        let free_anywhere = st.hosts.values().any(|h| !h.free.is_empty());
        for (key, h) in &st.hosts {
            if h.open > cfg.max_sockets {
                return Err(format!("{key}: {} open, limit {}", h.open, cfg.max_sockets));
            }
            let waiting = h.waiters.iter().filter(|w| !w.tx.is_closed()).count();
            if waiting == 0 {
                continue;
            }
            if !h.free.is_empty() {
                return Err(format!(
                    "{key}: {waiting} waiting with {} free",
                    h.free.len()
                ));
            }
            let slot_free =
                h.open < cfg.max_sockets && (st.total < cfg.max_total_sockets || free_anywhere);
            if slot_free {
                return Err(format!(
                    "{key}: {waiting} waiting with {} of {} sockets open",
                    h.open, cfg.max_sockets
                ));
            }
        }
        Ok(())
    }
}

impl<C: Connect, B> Inner<C, B>
where
    B: Body + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    async fn request(
        self: Rc<Self>,
        mut req: Request<B>,
    ) -> Result<Response<AgentBody>, AgentError> {
        let uri = req.uri().clone();
        let key = self.keys.key(&uri);
        let tag = req.extensions().get::<RequestTag>().map(|t| t.0);
        if !self.config.keep_alive {
            req.headers_mut()
                .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        crate::client::no_pool::to_origin_form(&mut req);
        let mut tries = 0;
        loop {
            tries += 1;
            let mut lease = self.checkout(&key, &uri, tag).await?;
            let reused = lease.reused;
            let sender = lease.sender.as_mut().expect("a fresh lease has its sender");
            if let Err(e) = sender.ready().await {
                // The socket closed before anything was written: drop it, try another.
                lease.stage = Stage::Busy;
                drop(lease);
                if reused && tries <= UNWRITTEN_RETRIES {
                    continue;
                }
                return Err(AgentError::request(e, false));
            }
            lease.stage = Stage::Busy;
            let sent = lease
                .sender
                .as_mut()
                .expect("a fresh lease has its sender")
                .try_send_request(req);
            match sent.await {
                Ok(res) => {
                    let keep = self.config.keep_alive && !lease::closes_after(&res);
                    let conn = AgentConn {
                        id: lease.conn.id,
                        reused,
                    };
                    let mut res = res.map(|b| AgentBody::new(b, Box::new(lease), keep));
                    res.extensions_mut().insert(conn);
                    return Ok(res);
                }
                Err(mut e) => {
                    drop(lease);
                    match e.take_message() {
                        // hyper handed the request back: nothing of it was written.
                        Some(back) if reused && tries <= UNWRITTEN_RETRIES => req = back,
                        Some(_) => return Err(AgentError::request(e.into_error(), false)),
                        None => return Err(AgentError::request(e.into_error(), true)),
                    }
                }
            }
        }
    }

    /// A socket for `key`: free, new, or after waiting in the queue.
    async fn checkout(
        self: &Rc<Self>,
        key: &Rc<str>,
        uri: &Uri,
        tag: Option<u64>,
    ) -> Result<Lease<C, B>, AgentError> {
        let mut rx = {
            let (tx, rx) = oneshot::channel();
            let mut st = self.state.borrow_mut();
            let seq = st.seq();
            st.host(key).waiters.push_back(Waiter { seq, tx });
            rx
        };
        self.dispatch();
        let grant = match rx.try_recv() {
            Ok(g) => g,
            Err(oneshot::error::TryRecvError::Empty) => {
                self.observe(AgentEvent::Queued { tag });
                let g = rx.await.map_err(|_| AgentError::gone())?;
                self.observe(AgentEvent::Served { tag });
                g
            }
            Err(oneshot::error::TryRecvError::Closed) => return Err(AgentError::gone()),
        };
        match grant {
            Grant::Reuse(Idle { conn, sender, .. }) => {
                self.observe(AgentEvent::Checkout {
                    tag,
                    conn: conn.id,
                    reused: true,
                });
                Ok(Lease {
                    agent: self.clone(),
                    conn,
                    sender: Some(sender),
                    reused: true,
                    stage: Stage::Unused,
                })
            }
            Grant::Connect(slot) => {
                let stream = self
                    .connector
                    .connect(uri)
                    .await
                    .map_err(AgentError::connect)?;
                if let Some(bytes) = self.config.read_pause {
                    stream.set_read_pause(bytes);
                }
                let watch = stream.watch();
                let (sender, connection) = hyper::client::conn::http1::handshake(stream)
                    .await
                    .map_err(AgentError::handshake)?;
                let conn = Rc::new(Conn::new(key.clone(), watch));
                slot.transfer();
                self.spawn_tasks(&conn, connection);
                self.observe(AgentEvent::Checkout {
                    tag,
                    conn: conn.id,
                    reused: false,
                });
                Ok(Lease {
                    agent: self.clone(),
                    conn,
                    sender: Some(sender),
                    reused: false,
                    stage: Stage::Unused,
                })
            }
        }
    }

    /// Runs hyper's connection, and watches for the peer's close.
    fn spawn_tasks(
        self: &Rc<Self>,
        conn: &Rc<Conn>,
        connection: hyper::client::conn::http1::Connection<C::Stream, B>,
    ) {
        let weak: Weak<Self> = Rc::downgrade(self);
        let c = conn.clone();
        let task = tokio::task::spawn_local(async move {
            let _ = connection.await;
            if let Some(agent) = weak.upgrade() {
                agent.close(&c, false);
            }
        });
        *conn.task.borrow_mut() = Some(task);
        if let Some(w) = conn.watch.clone() {
            let weak: Weak<Self> = Rc::downgrade(self);
            let c = conn.clone();
            let watcher = tokio::task::spawn_local(async move {
                w.peer_closed().await;
                if let Some(agent) = weak.upgrade() {
                    // A free socket is closed now; a busy one stops counting, and closes when
                    // its body is finished or dropped.
                    agent.close(&c, false);
                }
            });
            *conn.watcher.borrow_mut() = Some(watcher);
        }
    }
}

impl<C: Connect, B: 'static> Inner<C, B> {
    fn observe(&self, e: AgentEvent) {
        let observers = self.observers.borrow().clone();
        for f in observers {
            f(&e);
        }
    }

    /// `conn` will not serve again: it stops counting against the limits, leaves the free
    /// list, and — with `abort` — its socket is closed at once instead of when hyper is done.
    fn close(self: &Rc<Self>, conn: &Rc<Conn>, abort: bool) {
        let removed = {
            let mut st = self.state.borrow_mut();
            let removed = st.remove_free(conn);
            st.kill(conn);
            removed
        };
        if abort {
            if let Some(t) = conn.task.borrow_mut().take() {
                t.abort();
            }
        }
        drop(removed);
        self.dispatch();
    }

    /// A socket whose exchange finished cleanly goes back to the free list (or to the first
    /// waiter), unless it cannot serve again.
    fn put_back(
        self: &Rc<Self>,
        conn: &Rc<Conn>,
        sender: hyper::client::conn::http1::SendRequest<B>,
    ) {
        if !self.config.keep_alive || !conn.usable(&sender) {
            drop(sender);
            self.close(conn, false);
            return;
        }
        let overflow = {
            let mut st = self.state.borrow_mut();
            let freed = st.seq();
            let h = st.host(&conn.key);
            if h.waiters.is_empty() && h.free.len() >= self.config.max_free_sockets {
                Some(sender)
            } else {
                conn.idle_gen.set(conn.idle_gen.get() + 1);
                h.free.push_back(Idle {
                    conn: conn.clone(),
                    sender,
                    freed,
                });
                None
            }
        };
        if let Some(sender) = overflow {
            drop(sender);
            self.close(conn, false);
            return;
        }
        if let Some(t) = self.config.idle_timeout {
            let weak = Rc::downgrade(self);
            let c = conn.clone();
            let gen = conn.idle_gen.get();
            tokio::task::spawn_local(async move {
                crate::net::clock::sleep(t).await;
                if let Some(agent) = weak.upgrade() {
                    agent.expire(&c, gen);
                }
            });
        }
        self.dispatch();
    }

    /// Closes `conn` if it is still free since the moment `gen` was taken.
    fn expire(self: &Rc<Self>, conn: &Rc<Conn>, gen: u64) {
        let still_free = conn.idle_gen.get() == gen
            && self
                .state
                .borrow()
                .hosts
                .get(&conn.key)
                .is_some_and(|h| h.free.iter().any(|f| Rc::ptr_eq(&f.conn, conn)));
        if still_free {
            if let Some(w) = &conn.watch {
                w.closing(connect::PoolClose::IdleTimeout);
            }
            self.close(conn, false);
        }
    }
}
