//! Your own application as the server under test: any `tower::Service` that hyper could serve
//! (an axum `Router`, a `tower::service_fn`, a tower stack), run *inside* httpsim's
//! server.
//!
//! Everything around the application stays httpsim's: the listener (port, backlog, overflow,
//! fd limit, accept backoff), hyper's connection (keep-alive, header read timeout), the
//! inactivity timeout, `max_requests_per_socket`, every shutdown strategy, and the trace events
//! every check reads (`server_request`, `server_response`). So a user writes
//! `setup.server.service(router)` and nothing else: no instrumentation of their own.
//!
//! The CPU model applies where the application asks for it: inside a request, [`busy`] burns
//! simulated CPU on the server host exactly as the `cpu` handler does (every other piece of
//! server work on the host waits).
//!
//! Not covered: services that need `Send` futures across threads are fine (they are polled on
//! one thread), but a service's own background tasks spawned with `tokio::spawn` run outside
//! the simulated host (use `tokio::task::spawn_local`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::{Request, Response};
use tower::ServiceExt;

use super::cpu::{CpuToken, HostCpu};
use super::handler::{BoxError, ResponseBody};

/// What a [`Service`] returns for one request.
pub type ServiceFuture = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, BoxError>>>>;

/// Any tower service, type-erased, as the application of httpsim's server. Cheap to clone;
/// clones share the service. Build it with [`Service::new`] (or
/// [`ServerConfig::service`](super::ServerConfig::service)).
#[derive(Clone)]
pub struct Service(Rc<dyn Fn(Request<Incoming>) -> ServiceFuture>);

impl Service {
    /// Wraps `svc`: every request is handled by a clone of it, called once (`oneshot`), as
    /// hyper-util's and axum's own servers do.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use httpsim::server::Service;
    ///
    /// let hello = tower::service_fn(|_req: http::Request<hyper::body::Incoming>| async {
    ///     Ok::<_, Infallible>(http::Response::new(http_body_util::Full::new(
    ///         bytes::Bytes::from("hello"),
    ///     )))
    /// });
    /// let mut setup = httpsim::Setup::default();
    /// setup.server.handler = httpsim::server::Handler::Service(Service::new(hello));
    /// ```
    pub fn new<S, B>(svc: S) -> Self
    where
        S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + 'static,
        S::Error: Into<BoxError>,
        S::Future: 'static,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Service(Rc::new(move |req| {
            let svc = svc.clone();
            Box::pin(async move {
                let res = svc.oneshot(req).await.map_err(Into::into)?;
                Ok(res.map(|b| b.map_err(Into::into).boxed_unsync()))
            })
        }))
    }

    /// Calls the service for `req`, with [`busy`] bound to `cpu` on behalf of `token`.
    pub(crate) fn call(
        &self,
        req: Request<Incoming>,
        cpu: HostCpu,
        token: CpuToken,
    ) -> impl Future<Output = Result<Response<ResponseBody>, BoxError>> {
        CURRENT_CPU.scope((cpu, token), (self.0)(req))
    }
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Service(..)")
    }
}

impl PartialEq for Service {
    /// The same service (clones of one [`Service`]).
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

tokio::task_local! {
    /// The CPU of the host serving the current request, and the token of its connection.
    static CURRENT_CPU: (HostCpu, CpuToken);
}

/// Burns `d` of CPU on the server host, from inside a request of a [`Service`]: the whole host
/// is blocked meanwhile (other connections wait), as the `cpu` handler does. Outside such a
/// request it is an asynchronous sleep of `d` (there is no host CPU to burn).
pub async fn busy(d: Duration) {
    let current = CURRENT_CPU.try_with(|(cpu, token)| (cpu.clone(), *token));
    match current {
        Ok((cpu, token)) => cpu.burn(token, d).await,
        Err(_) => crate::net::clock::sleep(d).await,
    }
}
