//! The real hyper-util legacy `Client`, dialling through simulated sockets.

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
        }
    }
}

impl Pool for HyperUtilPool {
    fn numbers_attempts(&self) -> bool {
        false
    }

    fn send(&self, _id: ReqId, req: Request<RequestBody>) -> SendFuture {
        let fut = self.client.request(req);
        Box::pin(async move {
            match fut.await {
                Ok(res) => Ok(res.map(super::box_body)),
                Err(e) => Err(ClientError::from_error(&e, !e.is_connect())),
            }
        })
    }
}
