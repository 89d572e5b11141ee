//! The per-request policy around any [`Pool`]: timeouts, retries, and what the caller does with
//! the response body. Every attempt, head, body end and failure is traced here, so all pools are
//! observed the same way.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Method, Request, Response};

use super::{ClientError, Pool, RequestBody, ResponseBody};
use crate::error::ErrorKind;
use crate::net::{ConnInfo, HostNet};
use crate::trace::{BodyEnd, Event, ReqId};

/// Client timeouts, each optional; all run in simulated time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// Bounds the TCP connect. The default is none.
    pub connect: Option<Duration>,
    /// Bounds the wait for the response head, from the start of the attempt (time spent
    /// queued for a pooled socket counts). The default is none.
    pub response: Option<Duration>,
    /// Bounds the whole attempt, from its start to the end of the body: it bounds the head as
    /// `response` does, then the body read (a body read after [`BodyMode::HoldThenRead`]'s
    /// delay gets what is left). A body held unread is not bounded: nobody is reading it. The
    /// default is none.
    pub total: Option<Duration>,
}

/// The retry policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, including the first. The default is 1 (no retry).
    pub attempts: u32,
    /// Wait between attempts. The default is 0.
    pub backoff: Duration,
    /// Retry non-idempotent methods (POST) too, but only when none of the request was written.
    /// "Written" is decided per pool ([`ClientError::written`]): hyper-util's `Client` counts
    /// everything but a connect error as written; the Agent knows whether hyper took the
    /// request; a timeout of this driver always counts as written, because the driver cannot
    /// see how far the pool got. The default is `false`: only idempotent methods are retried.
    pub non_idempotent_unwritten: bool,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 1,
            backoff: Duration::ZERO,
            non_idempotent_unwritten: false,
        }
    }
}

impl Retry {
    /// Whether a failed attempt of `method` with error `e` may be retried (attempt count aside).
    /// A request the server never processed (HTTP/2 REFUSED_STREAM, or above GOAWAY's last
    /// stream id: [`ClientError::is_unprocessed`]) may always be retried.
    pub fn allows(&self, method: &Method, e: &ClientError) -> bool {
        if e.is_unprocessed() {
            return true;
        }
        let idempotent = matches!(
            *method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        if idempotent {
            return true;
        }
        // A POST whose bytes may have reached the server is never retried: it could run twice.
        self.non_idempotent_unwritten && !e.written()
    }
}

/// What the caller does with each response body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyMode {
    /// Read it to the end.
    Read,
    /// Drop it unread as soon as the head arrives.
    Drop,
    /// Keep it unread until the run ends.
    Hold,
    /// Keep it unread for a while, then read it to the end.
    HoldThenRead(Duration),
    /// Read it to the end and keep its bytes in the run's results
    /// ([`crate::RunResult::bodies`]), to assert on what your server answered.
    Keep,
}

/// Bodies the caller keeps unread, and body reads still running; shared by every request of a
/// workload.
#[derive(Default)]
pub struct BodyKeeper {
    held: RefCell<Vec<ResponseBody>>,
    /// The body reads, awaited one by one (newest first) by [`wait_reads`](Self::wait_reads).
    /// Awaited as join handles are, not as a count of running reads: how the client task wakes
    /// and yields while it awaits them decides the order in which its sockets close when it
    /// ends, and a count woken at the last read's end changed that order (a different trace;
    /// pinned by `tests/pools/body_reads.rs`). Not join handles themselves: a handle keeps its
    /// finished task's memory until the end of the run, which cost ~4 % of the per-request
    /// benchmark in cache misses.
    readers: RefCell<Vec<Rc<ReadSlot>>>,
    /// Bodies read to their end under [`BodyMode::Keep`], by request.
    kept: RefCell<std::collections::BTreeMap<ReqId, Bytes>>,
}

impl std::fmt::Debug for BodyKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyKeeper").finish_non_exhaustive()
    }
}

/// The end of one body read, as a join handle would report it.
#[derive(Default)]
struct ReadSlot {
    done: Cell<bool>,
    waiter: Cell<Option<std::task::Waker>>,
}

/// Held by a body read's task: marks its slot done when the task ends or is dropped with its
/// host, and wakes the waiter, where tokio would complete the task and wake its join handle.
struct ReadDone(Rc<ReadSlot>);

impl Drop for ReadDone {
    fn drop(&mut self) {
        self.0.done.set(true);
        if let Some(w) = self.0.waiter.take() {
            w.wake();
        }
    }
}

/// Waits for one read as `JoinHandle::poll` does: one unit of tokio's cooperative budget per
/// poll that finds it done, none while it is still running.
fn poll_read_slot(slot: &ReadSlot, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
    let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
    if slot.done.get() {
        coop.made_progress();
        std::task::Poll::Ready(())
    } else {
        slot.waiter.set(Some(cx.waker().clone()));
        std::task::Poll::Pending
    }
}

impl BodyKeeper {
    /// Waits for every body read to finish.
    pub async fn wait_reads(&self) {
        loop {
            let next = self.readers.borrow_mut().pop();
            match next {
                Some(slot) => std::future::poll_fn(|cx| poll_read_slot(&slot, cx)).await,
                None => return,
            }
        }
    }

    /// Drops every held body (the caller gives them up).
    pub fn release_held(&self) {
        self.held.borrow_mut().clear();
    }

    /// The bodies kept under [`BodyMode::Keep`], by request; the keeper forgets them.
    pub fn take_kept(&self) -> std::collections::BTreeMap<ReqId, Bytes> {
        std::mem::take(&mut *self.kept.borrow_mut())
    }
}

/// How one logical request ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// A response head arrived (status).
    Response(u16),
    /// Every attempt failed; the last error.
    Failed(ClientError),
}

/// One logical request as the workload issues it.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    /// Request number, from 1.
    pub id: ReqId,
    /// Method.
    pub method: Method,
    /// Absolute URI, e.g. `http://server:80/`.
    pub uri: http::Uri,
    /// Headers of the caller's own (none by default).
    pub headers: http::HeaderMap,
    /// Body to send (POSTs carry `seq=<id>`).
    pub body: Bytes,
}

impl RequestSpec {
    /// The request: method, URI, `x-seq` (a static name: a `&str` name is parsed and allocated
    /// on every request), `content-length` when there is a body. Built in place rather than
    /// through `Request::builder`, which moves its parts at every step.
    fn build(&self) -> Request<RequestBody> {
        let mut req = Request::new(RequestBody::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        let headers = req.headers_mut();
        if !self.headers.is_empty() {
            headers.clone_from(&self.headers);
        }
        headers.insert(crate::seq::SEQ_NAME.clone(), self.id.into());
        if !self.body.is_empty() {
            headers.insert(http::header::CONTENT_LENGTH, self.body.len().into());
        }
        req
    }
}

/// Everything the driver needs, shared by the requests of one workload.
pub struct Driver {
    /// The client host.
    pub host: HostNet,
    /// The pool under test.
    pub pool: Box<dyn Pool>,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Retries.
    pub retry: Retry,
    /// What to do with bodies.
    pub body: BodyMode,
    /// Bodies held and being read.
    pub keeper: BodyKeeper,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Runs `spec` through the pool with the policy; resolves when its head arrived or every
    /// attempt failed. The body is handled in the background as [`BodyMode`] says.
    pub async fn execute(self: &Rc<Self>, spec: &RequestSpec) -> Outcome {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.host.record(Event::RequestStart {
                req: spec.id,
                method: spec.method.as_str().to_owned(),
                attempt,
            });
            // Read only when a total timeout needs it (a clock read is a runtime lookup).
            let started = self.timeouts.total.map(|_| crate::net::clock::instant());
            let head_limit = match (self.timeouts.response, self.timeouts.total) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let send = self.pool.send(spec.id, spec.build());
            let res = if self.pool.numbers_attempts() {
                // The client's own retries (through `adapt::Attempts`) number on from here.
                let scope = Rc::new(super::adapt::AttemptScope {
                    req: spec.id,
                    host: self.host.clone(),
                    attempt: Cell::new(attempt),
                    method: spec.method.as_str().to_owned(),
                    calls: Cell::new(0),
                    failed: RefCell::new(None),
                });
                let res =
                    await_head(super::adapt::ATTEMPT.scope(scope.clone(), send), head_limit).await;
                attempt = scope.attempt.get();
                res
            } else {
                await_head(send, head_limit).await
            };
            match res {
                Ok(res) => {
                    let conn = res.extensions().get::<ConnInfo>().map(|c| c.conn);
                    self.host.record(Event::ResponseHead {
                        req: spec.id,
                        conn,
                        status: res.status().as_u16(),
                    });
                    let status = res.status().as_u16();
                    let deadline = started.zip(self.timeouts.total).map(|(s, t)| s + t);
                    self.handle_body(spec.id, res.into_body(), deadline);
                    crate::progress::note_end(crate::net::clock::now_us());
                    return Outcome::Response(status);
                }
                Err(e) => {
                    let retrying =
                        attempt < self.retry.attempts && self.retry.allows(&spec.method, &e);
                    if let Some(h2) = e.h2() {
                        self.host.record(Event::H2Frame {
                            req: spec.id,
                            conn: e.conn(),
                            frame: h2.frame.name().to_string(),
                            code: h2.code.clone(),
                            unprocessed: h2.unprocessed,
                        });
                    }
                    self.host.record(Event::RequestFailed {
                        req: spec.id,
                        attempt,
                        kind: e.kind(),
                        message: e.to_string(),
                        retrying,
                    });
                    if !retrying {
                        crate::progress::note_end(crate::net::clock::now_us());
                        return Outcome::Failed(e);
                    }
                    if !self.retry.backoff.is_zero() {
                        crate::net::clock::sleep(self.retry.backoff).await;
                    }
                }
            }
        }
    }

    fn handle_body(
        self: &Rc<Self>,
        req: ReqId,
        body: ResponseBody,
        deadline: Option<tokio::time::Instant>,
    ) {
        match self.body {
            BodyMode::Drop => {
                drop(body);
                self.host.record(Event::BodyEnd {
                    req,
                    how: BodyEnd::Dropped,
                    bytes: 0,
                });
            }
            BodyMode::Hold => self.keeper.held.borrow_mut().push(body),
            BodyMode::Read | BodyMode::HoldThenRead(_) | BodyMode::Keep => {
                let delay = match self.body {
                    BodyMode::HoldThenRead(d) => d,
                    _ => Duration::ZERO,
                };
                let host = self.host.clone();
                let slot = Rc::new(ReadSlot::default());
                let done = ReadDone(slot.clone());
                // Only a kept body's task holds the driver (a reference more changes nothing
                // else: the run's other bodies end as before).
                let keeper = (self.body == BodyMode::Keep).then(|| self.clone());
                tokio::task::spawn_local(async move {
                    let _done = done;
                    if !delay.is_zero() {
                        crate::net::clock::sleep(delay).await;
                    }
                    let mut kept = keeper.as_ref().map(|_| Vec::new());
                    let (how, bytes, err) = read_to_end(body, deadline, kept.as_mut()).await;
                    if let (Some(d), Some(k)) = (&keeper, kept) {
                        d.keeper.kept.borrow_mut().insert(req, Bytes::from(k));
                    }
                    if let Some(e) = err {
                        host.record(Event::BodyError {
                            req,
                            kind: e.kind(),
                            message: e.to_string(),
                        });
                    }
                    host.record(Event::BodyEnd { req, how, bytes });
                });
                self.keeper.readers.borrow_mut().push(slot);
            }
        }
    }
}

/// Waits for the response head of `send`, within `limit` if any.
async fn await_head<F>(
    send: F,
    limit: Option<Duration>,
) -> Result<Response<ResponseBody>, ClientError>
where
    F: std::future::Future<Output = Result<Response<ResponseBody>, ClientError>>,
{
    match limit {
        Some(t) => match crate::net::clock::timeout(t, send).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::new(
                ErrorKind::Timeout,
                format!("no response head within {t:?}"),
                // The pool's future is dropped mid-way: assume the worst.
                true,
            )),
        },
        None => send.await,
    }
}

/// Reads `body` to its end, within `deadline`. Returns how it ended, the bytes read, and the
/// typed error when it failed.
async fn read_to_end(
    mut body: ResponseBody,
    deadline: Option<tokio::time::Instant>,
    mut keep: Option<&mut Vec<u8>>,
) -> (BodyEnd, u64, Option<ClientError>) {
    let mut bytes = 0u64;
    loop {
        let frame = match deadline {
            Some(d) => match crate::net::clock::timeout_at(d, body.frame()).await {
                Ok(f) => f,
                Err(_) => {
                    let e = ClientError::new(
                        ErrorKind::Timeout,
                        "total timeout expired while reading the body",
                        true,
                    );
                    return (BodyEnd::Failed, bytes, Some(e));
                }
            },
            None => body.frame().await,
        };
        match frame {
            None => return (BodyEnd::Read, bytes, None),
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    bytes += d.len() as u64;
                    if let Some(k) = keep.as_deref_mut() {
                        k.extend_from_slice(d);
                    }
                }
            }
            Some(Err(e)) => {
                let e = ClientError::from_error(&*e, true);
                return (BodyEnd::Failed, bytes, Some(e));
            }
        }
    }
}
