//! A small bounded pool on `hyper::client::conn::http1`, correct by default and breakable on
//! purpose ([`PoolBug`]), to show that the properties catch real pool bugs.
//!
//! It behaves like a per-host agent: at most `max_sockets` sockets are checked out at once
//! (others queue, traced as `queued`), a socket returns to the idle list when its response body
//! has been read to the end and the response did not say `connection: close`, and a body dropped
//! early closes its socket. Every checkout is traced, as httpsim's pools do.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use httpsim::client::{box_body, ClientError, Pool, RequestBody, SendFuture};
use httpsim::net::{ConnInfo, HostNet};
use httpsim::trace::{ConnId, Event, ReqId};

/// A deliberate bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolBug {
    /// A correct pool.
    None,
    /// Sockets are never given back: neither reused nor released (a leaked permit).
    NeverReturnsSockets,
    /// A socket goes back to the idle list even when its response said `connection: close`,
    /// and is reused without checking it is still open.
    ReusesAfterClose,
    /// A request that failed after being written is sent again on a new socket, POSTs too.
    ResendsWrittenPosts,
}

struct Idle {
    conn: ConnId,
    sender: SendRequest<RequestBody>,
    slot: Arc<Slot>,
}

/// A socket's claim on one of the pool's places. Freed when its response is finished, or when
/// the peer closes the socket (as an agent drops a socket on its `close` event, even while the
/// caller still holds an unread body).
struct Slot {
    permit: Mutex<Option<OwnedSemaphorePermit>>,
    leaked: bool,
}

impl Slot {
    fn free(&self) {
        if let Some(p) = self.permit.lock().unwrap().take() {
            if self.leaked {
                p.forget();
            }
        }
    }
}

struct Shared {
    host: HostNet,
    bug: PoolBug,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Idle>>,
    /// Sockets the buggy pool never gave back (kept open).
    leaked: Mutex<Vec<SendRequest<RequestBody>>>,
}

/// The pool. Cheap to clone.
#[derive(Clone)]
pub struct TestPool {
    shared: Arc<Shared>,
}

impl TestPool {
    /// A pool on `host` with at most `max_sockets` sockets in use, with `bug`.
    pub fn new(host: HostNet, max_sockets: usize, bug: PoolBug) -> Self {
        Self {
            shared: Arc::new(Shared {
                host,
                bug,
                permits: Arc::new(Semaphore::new(max_sockets)),
                idle: Mutex::new(Vec::new()),
                leaked: Mutex::new(Vec::new()),
            }),
        }
    }
}

impl Pool for TestPool {
    fn send(&self, id: ReqId, req: Request<RequestBody>) -> SendFuture {
        let shared = self.shared.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let tries = if shared.bug == PoolBug::ResendsWrittenPosts {
                4
            } else {
                1
            };
            // The buggy retry: once a try has failed after writing, keep trying whatever the
            // error, as a naive "retry on failure" wrapper does.
            let mut written = false;
            let mut last = None;
            for n in 0..tries {
                if n > 0 {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                match send_once(&shared, id, &parts, body.clone()).await {
                    Ok(res) => return Ok(res),
                    Err(e) => {
                        written |= e.written();
                        if !written {
                            return Err(e);
                        }
                        last = Some(e);
                    }
                }
            }
            Err(last.expect("at least one try"))
        })
    }
}

async fn send_once(
    shared: &Arc<Shared>,
    id: ReqId,
    parts: &http::request::Parts,
    body: Bytes,
) -> Result<hyper::Response<httpsim::client::ResponseBody>, ClientError> {
    let permit = match shared.permits.clone().try_acquire_owned() {
        Ok(p) => p,
        Err(_) => {
            shared.host.record(Event::Checkout {
                req: id,
                conn: None,
                reused: false,
            });
            shared
                .permits
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed")
        }
    };
    let (conn, mut sender, slot, reused) = checkout(shared, &parts.uri).await?;
    *slot.permit.lock().unwrap() = Some(permit);
    // Freed if this future is dropped (a caller's timeout) or fails before the response.
    let mut guard = FreeOnDrop(Some(slot.clone()));
    shared.host.record(Event::Checkout {
        req: id,
        conn: Some(conn),
        reused,
    });
    let mut req = Request::from_parts(parts.clone(), RequestBody::new(body));
    origin_form(&mut req);
    let res = match sender.send_request(req).await {
        Ok(res) => res,
        // Written unless hyper handed the request back unsent.
        Err(e) => return Err(ClientError::from_error(&e, true)),
    };
    guard.0 = None;
    let close = res
        .headers()
        .get(http::header::CONNECTION)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    let (mut head, incoming) = res.into_parts();
    head.extensions.insert(ConnInfo { conn });
    let done = Returner {
        shared: shared.clone(),
        conn,
        sender: Some(sender),
        slot,
        close,
    };
    let body = Tracked {
        inner: incoming,
        done: Some(done),
    };
    Ok(hyper::Response::from_parts(head, box_body(body)))
}

/// An idle socket, or a new one.
async fn checkout(
    shared: &Arc<Shared>,
    uri: &http::Uri,
) -> Result<(ConnId, SendRequest<RequestBody>, Arc<Slot>, bool), ClientError> {
    loop {
        let Some(idle) = shared.idle.lock().unwrap().pop() else {
            break;
        };
        // A correct pool skips sockets the server has closed; the buggy one does not look.
        if shared.bug == PoolBug::ReusesAfterClose || !idle.sender.is_closed() {
            return Ok((idle.conn, idle.sender, idle.slot, true));
        }
    }
    let host = uri.host().unwrap_or("server").to_string();
    let port = uri.port_u16().unwrap_or(80);
    let stream = shared
        .host
        .connect(&host, port)
        .await
        .map_err(|e| ClientError::from_error(&e, false))?;
    let conn = stream.conn();
    let handle = stream.handle();
    let (sender, connection) = hyper::client::conn::http1::handshake(stream)
        .await
        .map_err(|e| ClientError::from_error(&e, false))?;
    tokio::task::spawn_local(connection);
    let slot = Arc::new(Slot {
        permit: Mutex::new(None),
        leaked: shared.bug == PoolBug::NeverReturnsSockets,
    });
    let watched = slot.clone();
    tokio::task::spawn_local(async move {
        handle.peer_closed().await;
        watched.free();
    });
    Ok((conn, sender, slot, false))
}

fn origin_form(req: &mut Request<RequestBody>) {
    let uri = req.uri().clone();
    if let Some(a) = uri.authority() {
        if let Ok(v) = http::HeaderValue::from_str(a.as_str()) {
            req.headers_mut().insert(http::header::HOST, v);
        }
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    *req.uri_mut() = path.parse().expect("a path is a valid URI");
}

/// Frees a slot when dropped.
struct FreeOnDrop(Option<Arc<Slot>>);

impl Drop for FreeOnDrop {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            s.free();
        }
    }
}

/// Gives the socket back when the body is finished (read to the end) or closes it (dropped
/// early), and frees its slot.
struct Returner {
    shared: Arc<Shared>,
    conn: ConnId,
    sender: Option<SendRequest<RequestBody>>,
    slot: Arc<Slot>,
    close: bool,
}

impl Returner {
    fn finish(mut self, read_to_end: bool) {
        let sender = self.sender.take().expect("finished once");
        let idle = Idle {
            conn: self.conn,
            sender,
            slot: self.slot.clone(),
        };
        match self.shared.bug {
            // Neither reused nor freed: the socket stays open and its place is gone.
            PoolBug::NeverReturnsSockets => {
                self.shared.leaked.lock().unwrap().push(idle.sender);
                return;
            }
            PoolBug::ReusesAfterClose if read_to_end => self.shared.idle.lock().unwrap().push(idle),
            _ if read_to_end && !self.close => self.shared.idle.lock().unwrap().push(idle),
            _ => drop(idle),
        }
        self.slot.free();
    }
}

/// A response body that tells its [`Returner`] how it ended.
struct Tracked {
    inner: Incoming,
    done: Option<Returner>,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let res = Pin::new(&mut self.inner).poll_frame(cx);
        match &res {
            Poll::Ready(None) => {
                if let Some(d) = self.done.take() {
                    d.finish(true);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(d) = self.done.take() {
                    d.finish(false);
                }
            }
            _ => {}
        }
        res
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(d) = self.done.take() {
            d.finish(false);
        }
    }
}

/// Which pool a property case runs: hyper-util's, none, or the test pool bounded to `n` sockets
/// (which can be broken).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    HyperUtil,
    NoPool,
    Bounded(usize),
}

impl PoolKind {
    /// Puts this pool into `s`; `bug` applies to the test pool only.
    pub fn install(self, s: &mut httpsim::Setup, bug: PoolBug) {
        match self {
            PoolKind::HyperUtil => {}
            PoolKind::NoPool => s.client.pool = httpsim::client::PoolConfig::None,
            PoolKind::Bounded(n) => {
                s.custom.pool = Some(std::rc::Rc::new(move |host| {
                    Box::new(TestPool::new(host, n, bug))
                }));
            }
        }
    }
}
