//! Your own client as the client under test, in one line: adapters from what a team already
//! has to a [`Pool`].
//!
//! - [`service`] — any `tower::Service<Request<B>>` answering `Response<_>`: a hyper-util
//!   `Client` you built with your own `Builder` over [`SimConnector`](crate::net::SimConnector), or your wrapper around it
//!   with retries and timeouts. Start here.
//! - [`from_fn`] — a raw connection factory for code that talks to sockets itself: it gets the
//!   client host (whose [`HostNet::connect`] hands out `TcpStream`-shaped sockets; wrap one in
//!   `hyper_util::rt::TokioIo` for tokio's `AsyncRead`/`AsyncWrite`) and the request.
//! - [`Attempts`] — a tower layer to put *under* your own retry layer, so each of its attempts
//!   shows in the trace as an attempt of the request (`attempt = 2, 3, …`).
//!
//! Every adapter is a [`PoolFactory`]: set it with
//! `setup.custom.pool = Some(adapter)`. Errors are classified through their whole source chain
//! ([`crate::ErrorKind::of`]): tokio's and tower's `Elapsed` and hyper's timeouts are `timeout`;
//! I/O kinds are `refused`, `reset`, `closed`, `emfile`.
//!
//! Nothing in your client records events: the sockets it gets from the client host spot every
//! request head they write (by its `x-seq` header) and trace which socket it went out on, and
//! whether that socket carried an earlier request — what httpsim's own Agent records itself — so
//! `ordering` judges a socket reused after `connection: close` in your client as in httpsim's.
//!
//! What the adapters deliberately leave to you: the client's own timers. A hyper-util `Client`
//! needs a timer for its pool (`pool_timer`); inside the simulation any tokio-based one runs in
//! simulated time.

use std::cell::Cell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::{Request, Response};
use tower::ServiceExt;

use super::{box_body, BoxError, ClientError, Pool, RequestBody, SendFuture};
use crate::error::ErrorKind;
use crate::net::HostNet;
use crate::setup::PoolFactory;
use crate::trace::{Event, ReqId};

/// Puts any tower service in as the client under test. `make` builds it on the client host
/// (call [`SimConnector::new`](crate::net::SimConnector::new) with the host you are given); it is called once per run.
///
/// Each request reaches the service as `Request<B>` with `B` built from the request's bytes
/// (`Full<Bytes>`, axum's `Body`, `String`… any `From<Bytes>` body).
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use httpsim::client::adapt;
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
///
/// let mut setup = httpsim::Setup::default();
/// setup.custom.pool = Some(adapt::service(|host| {
///     Client::builder(httpsim::client::hyper_util_pool::LocalExec)
///         .pool_idle_timeout(std::time::Duration::from_secs(90))
///         .build::<_, Full<Bytes>>(httpsim::net::SimConnector::new(host))
/// }));
/// # let _ = TokioExecutor::new();
/// ```
pub fn service<F, S, B, RB>(make: F) -> PoolFactory
where
    F: Fn(HostNet) -> S + 'static,
    S: tower::Service<Request<B>, Response = Response<RB>> + Clone + 'static,
    S::Error: Into<BoxError>,
    S::Future: 'static,
    B: From<Bytes> + 'static,
    RB: hyper::body::Body<Data = Bytes> + 'static,
    RB::Error: Into<BoxError>,
{
    Rc::new(move |host: HostNet| {
        host.record_request_writes();
        Box::new(ServicePool {
            svc: make(host),
            _body: PhantomData,
        }) as Box<dyn Pool>
    })
}

/// A [`Pool`] over a tower service (see [`service`]).
#[derive(Debug)]
pub struct ServicePool<S, B> {
    svc: S,
    _body: PhantomData<fn(B)>,
}

impl<S, B, RB> Pool for ServicePool<S, B>
where
    S: tower::Service<Request<B>, Response = Response<RB>> + Clone + 'static,
    S::Error: Into<BoxError>,
    S::Future: 'static,
    B: From<Bytes> + 'static,
    RB: hyper::body::Body<Data = Bytes> + 'static,
    RB::Error: Into<BoxError>,
{
    fn send(&self, _id: ReqId, req: Request<RequestBody>) -> SendFuture {
        let svc = self.svc.clone();
        let req = req.map(|b| B::from(b.into_bytes()));
        Box::pin(async move {
            match svc.oneshot(req).await {
                Ok(res) => Ok(res.map(box_body)),
                Err(e) => Err(classify(e.into())),
            }
        })
    }
}

/// A request error as the driver reports it. Written unless the chain shows a connect error
/// (nothing of the request left the host).
pub fn classify(e: BoxError) -> ClientError {
    let kind = ErrorKind::of(&*e);
    let mut connect = matches!(
        kind,
        ErrorKind::Refused | ErrorKind::Emfile | ErrorKind::Connect
    );
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&*e);
    while let Some(err) = cur {
        if let Some(c) = err.downcast_ref::<hyper_util::client::legacy::Error>() {
            connect |= c.is_connect();
        }
        cur = err.source();
    }
    ClientError::from_error(&*e, !connect)
}

/// The future a [`from_fn`] function returns.
pub type FnFuture = Pin<Box<dyn Future<Output = Result<Response<super::ResponseBody>, BoxError>>>>;

/// Puts a function of yours in as the client: it gets the client host (dial with
/// [`HostNet::connect`]) and each request with its body as bytes, and answers with the
/// response head (its body boxed with [`box_body`]). For clients that manage sockets
/// themselves; a response should carry a [`crate::net::ConnInfo`] in its extensions so traces
/// can say which socket served it.
pub fn from_fn<F>(f: F) -> PoolFactory
where
    F: Fn(HostNet, Request<Bytes>) -> FnFuture + 'static,
{
    let f = Rc::new(f);
    Rc::new(move |host: HostNet| {
        host.record_request_writes();
        Box::new(FnPool {
            host,
            f: f.clone() as Rc<dyn Fn(HostNet, Request<Bytes>) -> FnFuture>,
        }) as Box<dyn Pool>
    })
}

struct FnPool {
    host: HostNet,
    f: Rc<dyn Fn(HostNet, Request<Bytes>) -> FnFuture>,
}

impl Pool for FnPool {
    fn send(&self, _id: ReqId, req: Request<RequestBody>) -> SendFuture {
        let fut = (self.f)(self.host.clone(), req.map(RequestBody::into_bytes));
        Box::pin(async move { fut.await.map_err(classify) })
    }
}

/// The request the driver is sending on this task, so that [`Attempts`] can number the
/// attempts of a client's own retries.
pub(crate) struct AttemptScope {
    pub(crate) req: ReqId,
    pub(crate) host: HostNet,
    /// The attempt number of the latest attempt (the driver's own count, then every inner one).
    pub(crate) attempt: Cell<u32>,
    pub(crate) method: String,
    /// Calls that went through [`Attempts`] in this send.
    pub(crate) calls: Cell<u32>,
    /// The error of the latest call through [`Attempts`], if it failed: traced as a retried
    /// failure only once a next attempt shows it was retried (else the driver traces the end).
    pub(crate) failed: std::cell::RefCell<Option<ClientError>>,
}

tokio::task_local! {
    pub(crate) static ATTEMPT: Rc<AttemptScope>;
}

/// A tower layer that makes a client's own retries visible: put it *below* your retry layer
/// (next to the connection pool), and every call after the first within one request is traced
/// as a new attempt, the failure before it as a failed attempt that is being retried.
#[derive(Clone, Copy, Debug, Default)]
pub struct Attempts;

impl<S> tower::Layer<S> for Attempts {
    type Service = AttemptsService<S>;
    fn layer(&self, inner: S) -> AttemptsService<S> {
        AttemptsService { inner }
    }
}

/// The service of [`Attempts`].
#[derive(Clone, Debug)]
pub struct AttemptsService<S> {
    inner: S,
}

impl<S, R> tower::Service<R> for AttemptsService<S>
where
    S: tower::Service<R>,
    S::Error: Into<BoxError>,
    S::Future: 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let scope = ATTEMPT.try_with(|s| s.clone()).ok();
        if let Some(s) = &scope {
            let n = s.calls.get() + 1;
            s.calls.set(n);
            if n > 1 {
                if let Some(e) = s.failed.borrow_mut().take() {
                    s.host.record(Event::RequestFailed {
                        req: s.req,
                        attempt: s.attempt.get(),
                        kind: e.kind(),
                        message: e.to_string(),
                        retrying: true,
                    });
                }
                let attempt = s.attempt.get() + 1;
                s.attempt.set(attempt);
                s.host.record(Event::RequestStart {
                    req: s.req,
                    method: s.method.clone(),
                    attempt,
                });
            }
        }
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await.map_err(Into::into);
            if let (Some(s), Err(e)) = (&scope, &res) {
                *s.failed.borrow_mut() = Some(ClientError::from_error(&**e, true));
            }
            res
        })
    }
}
