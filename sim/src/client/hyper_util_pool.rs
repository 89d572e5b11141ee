//! The real hyper-util legacy `Client`, dialling through simulated sockets.

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use crate::net::clock::SimTimer;
use hyper::Request;
use hyper_util::client::legacy::Client;

use super::h2_settings::H2ClientSettings;
use super::{ClientError, Pool, RequestBody, SendFuture};
use crate::net::{HostNet, SimConnector};
use crate::trace::ReqId;

/// Runs hyper's connection tasks on the host's local task set, so they live and die with the
/// simulated host.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, fut: F) {
        tokio::task::spawn_local(fut);
    }
}

/// hyper-util's `Client` with its pool timer on simulated time.
pub struct HyperUtilPool {
    client: Client<SimConnector, RequestBody>,
    /// The `host` header hyper-util would add, made once rather than per request; `None` for
    /// HTTP/2, where hyper-util adds none.
    host: Option<HostHeader>,
}

/// The `host` header of an HTTP/1 request, as hyper-util's `Client` adds it when the request has
/// none (its `set_host`, on by default): the URI's host, with the port unless it is the
/// scheme's default. Adding it before hyper-util does puts the same header at the same place of
/// the header map (last, as no header is added in between), so the same bytes go on the wire;
/// hyper-util then finds it set. Why: hyper-util builds the value afresh for every request (a
/// parse of the URI's port and an allocation, ~1 k instructions a request).
#[derive(Default)]
struct HostHeader {
    /// The latest value, by whether the scheme is secure and the URI's authority.
    latest: RefCell<Option<(bool, http::uri::Authority, http::HeaderValue)>>,
}

impl HostHeader {
    /// Adds the `host` header to `req` unless it has one.
    fn set(&self, req: &mut Request<RequestBody>) {
        let Some(authority) = req.uri().authority() else {
            // hyper-util refuses a request without an authority before it looks at headers.
            return;
        };
        let secure = matches!(req.uri().scheme_str(), Some("wss" | "https"));
        let mut latest = self.latest.borrow_mut();
        let value = match &*latest {
            Some((s, a, v)) if *s == secure && a == authority => v.clone(),
            _ => {
                let Some(v) = host_value(req.uri(), secure) else {
                    return;
                };
                *latest = Some((secure, authority.clone(), v.clone()));
                v
            }
        };
        if let http::header::Entry::Vacant(e) = req.headers_mut().entry(http::header::HOST) {
            e.insert(value);
        }
    }
}

/// The `host` header hyper-util 0.1 makes for `uri` (`send_request` with its
/// `get_non_default_port`).
fn host_value(uri: &http::Uri, secure: bool) -> Option<http::HeaderValue> {
    let hostname = uri.host()?;
    let port = match (uri.port().map(|p| p.as_u16()), secure) {
        (Some(443), true) | (Some(80), false) => None,
        _ => uri.port(),
    };
    match port {
        Some(port) => http::HeaderValue::from_str(&format!("{hostname}:{port}")).ok(),
        None => http::HeaderValue::from_str(hostname).ok(),
    }
}

impl std::fmt::Debug for HyperUtilPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperUtilPool").finish_non_exhaustive()
    }
}

impl HyperUtilPool {
    /// A client on `host`. `idle_timeout`: how long idle sockets stay pooled (`None`: forever).
    pub fn new(
        host: HostNet,
        connect_timeout: Option<Duration>,
        idle_timeout: Option<Duration>,
        max_idle_per_host: usize,
    ) -> Self {
        Self::build(host, connect_timeout, idle_timeout, max_idle_per_host, None)
    }

    /// The same client speaking HTTP/2 only (`http2_only`, prior knowledge: there is no TLS to
    /// negotiate it), with `settings`. hyper-util keeps one HTTP/2 connection per host and
    /// multiplexes every request on it; it opens another only when that one is gone.
    pub fn http2(
        host: HostNet,
        connect_timeout: Option<Duration>,
        idle_timeout: Option<Duration>,
        settings: &H2ClientSettings,
    ) -> Self {
        Self::build(
            host,
            connect_timeout,
            idle_timeout,
            usize::MAX,
            Some(settings),
        )
    }

    fn build(
        host: HostNet,
        connect_timeout: Option<Duration>,
        idle_timeout: Option<Duration>,
        max_idle_per_host: usize,
        http2: Option<&H2ClientSettings>,
    ) -> Self {
        let mut connector = SimConnector::new(host);
        connector.set_connect_timeout(connect_timeout);
        let mut builder = Client::builder(LocalExec);
        builder
            .pool_timer(SimTimer::new())
            .timer(SimTimer::new())
            .pool_idle_timeout(idle_timeout)
            .pool_max_idle_per_host(max_idle_per_host);
        if let Some(h2) = http2 {
            builder
                .http2_only(true)
                .http2_keep_alive_interval(h2.keep_alive_interval)
                .http2_keep_alive_while_idle(h2.keep_alive_while_idle)
                .http2_adaptive_window(h2.adaptive_window)
                .http2_initial_max_send_streams(h2.initial_max_send_streams);
            if let Some(t) = h2.keep_alive_timeout {
                builder.http2_keep_alive_timeout(t);
            }
            if let Some(n) = h2.max_concurrent_reset_streams {
                builder.http2_max_concurrent_reset_streams(n);
            }
        }
        Self {
            client: builder.build(connector),
            host: http2.is_none().then(HostHeader::default),
        }
    }
}

impl Pool for HyperUtilPool {
    fn numbers_attempts(&self) -> bool {
        false
    }

    fn send(&self, _id: ReqId, mut req: Request<RequestBody>) -> SendFuture {
        if let Some(host) = &self.host {
            host.set(&mut req);
        }
        let fut = self.client.request(req);
        Box::pin(async move {
            match fut.await {
                Ok(res) => Ok(res.map(super::box_body)),
                Err(e) => Err(ClientError::from_error(&e, !e.is_connect())),
            }
        })
    }
}
