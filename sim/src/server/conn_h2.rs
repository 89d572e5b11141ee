//! One accepted connection served with HTTP/2: hyper's `server::conn::http2` (prior-knowledge
//! h2c, `protocol = "http2"`) or hyper-util's `server::conn::auto` (`protocol = "auto"`, HTTP/1.1
//! or HTTP/2 by the connection's first bytes), as a [`Drive`] for `conn`'s loop.
//!
//! Everything around the connection is `conn`'s and applies unchanged: the inactivity timeout,
//! in-flight tracking (per stream: a stream is in flight from its request to the end of its
//! response body), commands from the shutdown sequence. What differs is what they mean on the
//! wire:
//!
//! - `graceful` is hyper's HTTP/2 `graceful_shutdown`: a GOAWAY carrying the last stream id the
//!   server accepted; streams at or below it finish, streams above it were not processed (the
//!   client may retry them, whatever their method), and the connection closes when the last
//!   stream ends.
//! - `Close` (abort, the shutdown deadline, the idle timeout) drops the connection with its
//!   streams in flight: the socket closes under them, with no GOAWAY.
//! - `connection: close`, which the HTTP/1 strategies add to responses, is illegal in HTTP/2:
//!   hyper strips it (the trace's `srv-response close=` says what the service asked for).
//!
//! hyper runs each stream on a task of its own, given to an executor: [`LocalExec`] spawns it on
//! the current host's `LocalSet`, so a stream lives and dies with its server host, like the
//! connection task that spawned it, and its futures need not be `Send` (the service's state is
//! `Rc`). A `cpu` handler still blocks its host through the host's CPU model
//! ([`super::cpu`]); the stream tasks themselves are outside the connection's CPU gate.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use hyper::body::Incoming;
use hyper::Request;
use hyper_util::server::conn::auto;

use super::conn::{ConnIo, Drive, SvcFuture, Tracked, Watched};
use super::handler::BoxError;
use super::protocol::{H2Settings, Protocol};
use super::Shared;
use crate::client::hyper_util_pool::LocalExec;
use crate::net::clock::SimTimer;

/// The `[server]` HTTP/2 settings on a builder: hyper's `http2::Builder` and hyper-util's
/// `auto::Http2Builder` have the same setters but no common trait, hence a macro.
macro_rules! apply_h2 {
    ($b:expr, $h2:expr) => {{
        let h2: &H2Settings = $h2;
        $b.timer(SimTimer::new())
            .max_concurrent_streams(h2.max_concurrent_streams)
            .initial_stream_window_size(h2.initial_stream_window_size)
            .initial_connection_window_size(h2.initial_connection_window_size)
            .keep_alive_interval(h2.keep_alive_interval);
        if let Some(t) = h2.keep_alive_timeout {
            $b.keep_alive_timeout(t);
        }
        if let Some(n) = h2.max_pending_accept_reset_streams {
            $b.max_pending_accept_reset_streams(n);
        }
    }};
}

/// hyper's HTTP/2 connection (or hyper-util's auto-detecting one) over `io`, boxed.
pub(super) fn hyper_conn<S>(io: ConnIo, svc: S, shared: &Rc<Shared>) -> Pin<Box<dyn Drive>>
where
    S: hyper::service::Service<
            Request<Incoming>,
            Response = hyper::Response<Tracked>,
            Error = BoxError,
            Future = SvcFuture,
        > + 'static,
{
    let config = &shared.config;
    let watcher = shared.graceful.borrow().as_ref().map(|g| g.watcher());
    if config.protocol == Protocol::Auto {
        let mut builder = auto::Builder::new(LocalExec);
        builder
            .http1()
            .timer(SimTimer::new())
            .keep_alive(config.keep_alive)
            .header_read_timeout(config.header_read_timeout);
        apply_auto(&mut builder.http2(), &config.h2);
        let conn = builder.serve_connection(io, svc).into_owned();
        return match watcher {
            Some(w) => Box::pin(Watched(Box::pin(async move {
                let _ = w.watch(conn).await;
                Ok(())
            }))),
            None => Box::pin(AutoConn(Box::pin(conn))),
        };
    }
    let mut builder = hyper::server::conn::http2::Builder::new(LocalExec);
    apply_h2!(builder, &config.h2);
    let conn = builder.serve_connection(io, svc);
    match watcher {
        Some(w) => Box::pin(Watched(Box::pin(w.watch(conn)))),
        None => Box::pin(conn),
    }
}

/// The same settings on the HTTP/2 side of hyper-util's auto builder.
fn apply_auto(b: &mut auto::Http2Builder<'_, LocalExec>, h2: &H2Settings) {
    apply_h2!(b, h2);
}

impl<I, S, B> Drive for hyper::server::conn::http2::Connection<I, S, LocalExec>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    B: hyper::body::Body + 'static,
    B::Error: Into<BoxError>,
    LocalExec: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn graceful(self: Pin<&mut Self>) {
        hyper::server::conn::http2::Connection::graceful_shutdown(self);
    }
}

/// hyper-util's auto connection, its boxed error dropped (the loop only needs to know that the
/// connection ended; the socket's close is traced by the socket).
struct AutoConn<I, S>(Pin<Box<auto::Connection<'static, I, S, LocalExec>>>)
where
    S: hyper::service::HttpService<Incoming>;

impl<I, S> Future for AutoConn<I, S>
where
    S: hyper::service::Service<
            Request<Incoming>,
            Response = hyper::Response<Tracked>,
            Error = BoxError,
            Future = SvcFuture,
        > + 'static,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    type Output = hyper::Result<()>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx).map(|_| Ok(()))
    }
}

impl<I, S> Drive for AutoConn<I, S>
where
    S: hyper::service::Service<
            Request<Incoming>,
            Response = hyper::Response<Tracked>,
            Error = BoxError,
            Future = SvcFuture,
        > + 'static,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    fn graceful(mut self: Pin<&mut Self>) {
        self.0.as_mut().graceful_shutdown();
    }
}
