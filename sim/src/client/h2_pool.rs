//! A bounded HTTP/2 pool: many streams per connection, a few connections per host.
//!
//! Modelled on what Go's `http2.Transport` and hyper-util do with HTTP/2, with both of their
//! limits made explicit: a request takes a stream on the first open connection with fewer than
//! `max_streams_per_connection` streams in flight; when every connection is full, a new one is
//! dialled, up to `max_connections` (dialled or dialling); beyond that the request waits until a
//! stream ends. With `max_connections = 1` this is the single multiplexed connection that stalls
//! once its streams are all busy (Go's `MaxConnsPerHost` with HTTP/2, golang/go#34941).
//!
//! A stream is counted from its checkout until the response body is finished or dropped: a body
//! the caller holds unread keeps its stream, as it does on the wire.
//!
//! A connection that received GOAWAY, or closed, takes no new streams; streams it refused are
//! failed back to the request driver, which retries them under [`super::Retry`] (an unprocessed
//! request may be retried whatever its method: [`super::h2_reason`]).
//!
//! Every checkout is traced as [`Event::Checkout`] (`conn = None` while the request waits for a
//! stream), so `no-stall` can say which connection's streams were all busy.
//!
//! Waiters are woken together when a stream or a connection ends and race in the order the
//! executor polls them (deterministic, not FIFO): unlike the Agent, this pool makes no fairness
//! promise.

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::client::conn::http2::SendRequest;
use hyper::Request;
use tokio::sync::Notify;

use super::h2_settings::H2ClientSettings;
use super::hyper_util_pool::LocalExec;
use super::{BoxError, ClientError, Pool, RequestBody, SendFuture};
use crate::net::{ConnInfo, HostNet};
use crate::trace::{ConnId, Event, ReqId};

/// Settings of the bounded HTTP/2 pool. Every field documents its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct H2PoolConfig {
    /// Streams in flight on one connection before the pool uses (or opens) another. The
    /// default is 100 (Go's and hyper's assumption before the server's SETTINGS arrive).
    pub max_streams_per_connection: usize,
    /// Connections to the host, open or being dialled. The default is 1.
    pub max_connections: usize,
    /// HTTP/2 settings of each connection. The default is hyper's.
    pub settings: H2ClientSettings,
}

impl Default for H2PoolConfig {
    fn default() -> Self {
        Self {
            max_streams_per_connection: 100,
            max_connections: 1,
            settings: H2ClientSettings::default(),
        }
    }
}

/// The bounded HTTP/2 pool on a simulated host.
pub struct H2Pool {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for H2Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Pool")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Inner {
    host: HostNet,
    connect_timeout: Option<Duration>,
    config: H2PoolConfig,
    /// Open connections, oldest first: a request takes the first with a free stream.
    conns: RefCell<Vec<Rc<Conn>>>,
    /// Connections being dialled (they count against `max_connections`).
    dialling: Cell<usize>,
    /// A stream or a connection ended: waiters look again.
    changed: Notify,
}

struct Conn {
    id: ConnId,
    sender: SendRequest<RequestBody>,
    streams: Cell<usize>,
    /// GOAWAY received or the connection ended: no new streams.
    draining: Cell<bool>,
}

impl H2Pool {
    /// A pool on `host`; `connect_timeout` bounds each dial.
    pub fn new(host: HostNet, config: H2PoolConfig, connect_timeout: Option<Duration>) -> Self {
        Self {
            inner: Rc::new(Inner {
                host,
                connect_timeout,
                config,
                conns: RefCell::new(Vec::new()),
                dialling: Cell::new(0),
                changed: Notify::new(),
            }),
        }
    }
}

impl Inner {
    /// A stream on a connection with room, dialling one if allowed, waiting otherwise.
    async fn checkout(self: &Rc<Self>, req: ReqId, uri: &http::Uri) -> Result<Stream, ClientError> {
        let mut queued = false;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            self.conns
                .borrow_mut()
                .retain(|c| !(c.draining.get() && c.streams.get() == 0));
            let free = self
                .conns
                .borrow()
                .iter()
                .find(|c| {
                    !c.draining.get()
                        && !c.sender.is_closed()
                        && c.streams.get() < self.config.max_streams_per_connection
                })
                .cloned();
            if let Some(conn) = free {
                self.host.record(Event::Checkout {
                    req,
                    conn: Some(conn.id),
                    reused: true,
                });
                return Ok(Stream::open(conn, self));
            }
            let open = self
                .conns
                .borrow()
                .iter()
                .filter(|c| !c.draining.get())
                .count();
            if open + self.dialling.get() < self.config.max_connections {
                self.dialling.set(self.dialling.get() + 1);
                let dialled = self.dial(uri).await;
                self.dialling.set(self.dialling.get() - 1);
                self.changed.notify_waiters();
                let conn = dialled?;
                self.conns.borrow_mut().push(conn.clone());
                self.host.record(Event::Checkout {
                    req,
                    conn: Some(conn.id),
                    reused: false,
                });
                return Ok(Stream::open(conn, self));
            }
            if !queued {
                queued = true;
                self.host.record(Event::Checkout {
                    req,
                    conn: None,
                    reused: false,
                });
            }
            changed.await;
        }
    }

    /// Connects and runs the HTTP/2 handshake; the connection's task runs on the host.
    async fn dial(self: &Rc<Self>, uri: &http::Uri) -> Result<Rc<Conn>, ClientError> {
        let stream = super::no_pool::connect_for(&self.host, uri, self.connect_timeout).await?;
        let id = stream.conn();
        let mut builder = hyper::client::conn::http2::Builder::new(LocalExec);
        self.config.settings.apply(&mut builder);
        let (sender, connection) = builder
            .handshake(stream)
            .await
            .map_err(|e| ClientError::from_error(&e, false).on_conn(id))?;
        let conn = Rc::new(Conn {
            id,
            sender,
            streams: Cell::new(0),
            draining: Cell::new(false),
        });
        let weak: Weak<Conn> = Rc::downgrade(&conn);
        let pool: Weak<Inner> = Rc::downgrade(self);
        tokio::task::spawn_local(async move {
            let _ = connection.await;
            if let Some(c) = weak.upgrade() {
                c.draining.set(true);
            }
            if let Some(p) = pool.upgrade() {
                p.changed.notify_waiters();
            }
        });
        Ok(conn)
    }
}

/// One stream in flight on a connection: counted until dropped (with the response body).
struct Stream {
    conn: Rc<Conn>,
    pool: Weak<Inner>,
}

impl Stream {
    fn open(conn: Rc<Conn>, pool: &Rc<Inner>) -> Self {
        conn.streams.set(conn.streams.get() + 1);
        Self {
            conn,
            pool: Rc::downgrade(pool),
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.conn.streams.set(self.conn.streams.get() - 1);
        if let Some(p) = self.pool.upgrade() {
            p.changed.notify_waiters();
        }
    }
}

impl Pool for H2Pool {
    fn numbers_attempts(&self) -> bool {
        false
    }

    fn send(&self, id: ReqId, req: Request<RequestBody>) -> SendFuture {
        let inner = self.inner.clone();
        Box::pin(async move {
            let stream = inner.checkout(id, req.uri()).await?;
            let conn = stream.conn.id;
            let mut sender = stream.conn.sender.clone();
            match sender.send_request(req).await {
                Ok(mut res) => {
                    res.extensions_mut().insert(ConnInfo { conn });
                    Ok(res.map(|body| {
                        super::box_body(Counted {
                            inner: body,
                            _stream: stream,
                        })
                    }))
                }
                Err(e) => {
                    // A request hyper never handed to the connection was not written.
                    let err = ClientError::from_error(&e, !e.is_canceled()).on_conn(conn);
                    let goaway = err
                        .h2()
                        .is_some_and(|h| h.frame == super::h2_reason::H2Frame::GoAway);
                    if goaway || sender.is_closed() {
                        stream.conn.draining.set(true);
                    }
                    Err(err)
                }
            }
        })
    }
}

/// A response body that keeps its stream counted until it is finished or dropped.
struct Counted {
    inner: hyper::body::Incoming,
    _stream: Stream,
}

impl Body for Counted {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map(|f| f.map(|r| r.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
