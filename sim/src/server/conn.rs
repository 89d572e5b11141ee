//! One accepted connection: hyper's `http1` state machine over a simulated socket (or, for
//! `protocol = "http2" | "auto"`, the one `conn_h2` builds), plus what hyper does not do on its
//! own.
//!
//! - **An inactivity timeout** around the connection: a socket with no byte read or written for
//!   `idle_timeout` is closed whatever hyper is doing — waiting for the next request, or stuck
//!   writing a response the client never reads (hyper's `header_read_timeout` covers neither the
//!   second case nor a slow body).
//! - **Commands from the shutdown sequence**: `Graceful` calls hyper's own
//!   `Connection::graceful_shutdown` (keep-alive off: an in-flight response goes out with
//!   `connection: close`, then hyper closes the socket; an idle connection closes at once);
//!   `Close(reason)` drops the connection now, recording `reason` on the socket.
//! - **In-flight tracking**: a request is in flight from the moment hyper hands it to the
//!   service until hyper drops its response body (fully written into the socket, or abandoned).
//!   A connection is idle when nothing is in flight and no write is blocked on the socket.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::net::clock::SimTimer;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::service::service_fn;
use hyper::Request;
use tokio::sync::Notify;

use super::cpu::CpuToken;
use super::handler::{self, BoxError, ResponseBody};
use super::{idle_expired, Shared};
use crate::net::SimStream;
use crate::trace::{CloseReason, Event};

/// What the shutdown sequence asks of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// Keep serving.
    Run,
    /// hyper's graceful shutdown: finish the response in flight with `connection: close`.
    Graceful,
    /// Close now, recording this reason.
    Close(CloseReason),
}

/// The state of one connection the server and its shutdown sequence look at.
pub(crate) struct ConnStatus {
    in_flight: Cell<u32>,
    requests: Cell<u64>,
    write_blocked: Cell<bool>,
    /// A graceful shutdown strategy is closing this connection.
    pub(crate) closing: Cell<bool>,
    /// The service itself adds `connection: close` to responses (http-terminator does).
    pub(crate) close_header: Cell<bool>,
    /// The connection speaks HTTP/2 (`protocol = "http2"`, or `auto` once a request came as
    /// HTTP/2): a graceful close is a GOAWAY, and `connection: close` means nothing.
    pub(crate) h2: Cell<bool>,
    /// The latest command, and how many were given: a `Cell` and a `Notify` rather than a
    /// `watch` channel (~350 bytes per connection at 10k connections).
    cmd: Cell<Command>,
    cmd_count: Cell<u64>,
    cmd_wake: Notify,
}

impl ConnStatus {
    /// Nothing in flight and nothing stuck in the socket's send path.
    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.get() == 0 && !self.write_blocked.get()
    }

    pub(crate) fn command(&self, cmd: Command) {
        self.cmd.set(cmd);
        self.cmd_count.set(self.cmd_count.get() + 1);
        self.cmd_wake.notify_waiters();
    }
}

/// Registers `stream` with the server and starts serving it on its own task, behind the host's
/// CPU gate.
pub(crate) fn start(stream: SimStream, shared: Rc<Shared>) {
    let id = stream.conn();
    let status = Rc::new(ConnStatus {
        in_flight: Cell::new(0),
        requests: Cell::new(0),
        write_blocked: Cell::new(false),
        closing: Cell::new(false),
        close_header: Cell::new(false),
        h2: Cell::new(shared.config.protocol == super::Protocol::Http2),
        cmd: Cell::new(Command::Run),
        cmd_count: Cell::new(0),
        cmd_wake: Notify::new(),
    });
    shared.conns.borrow_mut().insert(id, status.clone());
    let task = shared.cpu.gate(
        CpuToken(id),
        serve_conn(Box::new(stream), shared.clone(), status),
    );
    tokio::task::spawn_local(task);
}

/// A hyper connection future the shutdown sequence can ask to finish gracefully.
pub(super) trait Drive: Future<Output = hyper::Result<()>> {
    fn graceful(self: Pin<&mut Self>);
}

impl<I, S, B> Drive for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    I: Read + Write + Unpin + 'static,
    B: Body + 'static,
    B::Error: Into<BoxError>,
{
    fn graceful(self: Pin<&mut Self>) {
        hyper::server::conn::http1::Connection::graceful_shutdown(self);
    }
}

/// A connection watched by hyper-util's `GracefulShutdown`: the watcher, not httpsim, calls
/// `graceful_shutdown` when the shutdown is signalled.
pub(super) struct Watched(pub(super) Pin<Box<dyn Future<Output = hyper::Result<()>>>>);

impl Future for Watched {
    type Output = hyper::Result<()>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl Drive for Watched {
    fn graceful(self: Pin<&mut Self>) {}
}

/// What the service returns for one request: boxed, so hyper's per-connection slot for it
/// (allocated once per connection, the size of the service future) stays a pointer wide while
/// the connection idles or its response is held (at 10k connections the unboxed future cost
/// ~1.3 KB each for the whole run).
pub(super) type SvcFuture =
    Pin<Box<dyn Future<Output = Result<hyper::Response<Tracked>, BoxError>> + 'static>>;

/// hyper's connection over `stream`, boxed. Built outside `serve_conn` so its parts (socket,
/// service, builder) are not kept a second time in `serve_conn`'s own state.
fn hyper_conn(
    stream: SimStream,
    shared: &Rc<Shared>,
    status: &Rc<ConnStatus>,
) -> Pin<Box<dyn Drive>> {
    let host = stream.host().clone();
    let conn_id = stream.conn();
    let svc = {
        let shared = shared.clone();
        let status = status.clone();
        service_fn(move |req: Request<Incoming>| -> SvcFuture {
            let shared = shared.clone();
            let status = status.clone();
            let host = host.clone();
            Box::pin(async move {
                let guard = InFlight::start(status.clone(), shared.clone());
                let n = status.requests.get() + 1;
                status.requests.set(n);
                if req.version() == http::Version::HTTP_2 {
                    status.h2.set(true);
                }
                let seq = super::request_seq(&req);
                host.record(Event::ServerRequest {
                    conn: conn_id,
                    method: req.method().as_str().to_owned(),
                    seq,
                });
                let config = &shared.config;
                let res = match handler::respond_now(&config.handler) {
                    // The request goes where `respond` would have dropped it: before the
                    // response is traced.
                    Some(res) => {
                        drop(req);
                        res?
                    }
                    // Boxed: its future, sized for the handlers that wait, stays out of the
                    // one every request boxes.
                    None => {
                        let cpu = &shared.cpu;
                        Box::pin(handler::respond(
                            &config.handler,
                            req,
                            cpu,
                            CpuToken(conn_id),
                        ))
                        .await?
                    }
                };
                let last = config.max_requests_per_socket.is_some_and(|m| n >= m);
                let header = last || status.close_header.get();
                // HTTP/2 has no `connection: close` (hyper strips it; GOAWAY says it instead).
                let close =
                    (header || !config.keep_alive || status.closing.get()) && !status.h2.get();
                host.record(Event::ServerResponse {
                    conn: conn_id,
                    status: res.status().as_u16(),
                    close,
                });
                let mut res = res.map(|inner| Tracked {
                    inner,
                    _guard: guard,
                });
                if header {
                    res.headers_mut().insert(
                        http::header::CONNECTION,
                        http::HeaderValue::from_static("close"),
                    );
                }
                Ok::<_, BoxError>(res)
            })
        })
    };
    let config = &shared.config;
    let io = ConnIo {
        inner: stream,
        status: status.clone(),
        vectored: config.handler.max_body_frames() <= handler::HYPER_QUEUED_BUFS,
    };
    if config.protocol.serves_h2() {
        return super::conn_h2::hyper_conn(io, svc, shared);
    }
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(SimTimer::new())
        .keep_alive(config.keep_alive)
        .header_read_timeout(config.header_read_timeout);
    let conn = builder.serve_connection(io, svc);
    let watcher = shared.graceful.borrow().as_ref().map(|g| g.watcher());
    match watcher {
        Some(w) => Box::pin(Watched(Box::pin(w.watch(conn)))),
        None => Box::pin(conn),
    }
}

/// Serves one connection until hyper is done with it or it is closed. `stream` comes boxed:
/// an argument stays in the task's state for the task's whole life, and the socket moves into
/// hyper's connection at once.
async fn serve_conn(stream: Box<SimStream>, shared: Rc<Shared>, status: Rc<ConnStatus>) {
    let handle = stream.handle();
    let conn_id = stream.conn();
    let mut conn = hyper_conn(*stream, &shared, &status);
    let config = &shared.config;
    // Commands given before this point are not for this connection (as a `watch` receiver
    // subscribed now would not see them).
    let mut seen = status.cmd_count.get();
    let reason = loop {
        let idle = async {
            match config.idle_timeout {
                Some(t) => idle_expired(&handle, t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            // Fixed branch order: tokio's default random pick is not seeded by the simulation.
            biased;
            _ = conn.as_mut() => break None,
            _ = idle => break Some(CloseReason::IdleTimeout),
            _ = next_command(&status, seen) => {
                seen = status.cmd_count.get();
                let c = status.cmd.get();
                match c {
                    Command::Run => {}
                    Command::Graceful => conn.as_mut().graceful(),
                    Command::Close(reason) => break Some(reason),
                }
            }
        }
    };
    match reason {
        Some(r) => handle.set_close_reason(r),
        None if status.closing.get() && !handle.is_peer_closed() => {
            handle.set_close_reason(CloseReason::Shutdown)
        }
        None => {}
    }
    // Dropping hyper's connection drops the socket: its close is traced now, before the
    // shutdown sequence can see the registry empty.
    drop(conn);
    shared.conns.borrow_mut().remove(&conn_id);
    shared.changed.notify_waiters();
}

/// Waits until more than `seen` commands were given.
async fn next_command(status: &ConnStatus, seen: u64) {
    loop {
        // Created before the check: `notify_waiters` also wakes a `Notified` not yet polled.
        let woken = status.cmd_wake.notified();
        if status.cmd_count.get() != seen {
            return;
        }
        woken.await;
    }
}

/// Counts a request in flight for as long as it lives.
struct InFlight {
    status: Rc<ConnStatus>,
    shared: Rc<Shared>,
}

impl InFlight {
    fn start(status: Rc<ConnStatus>, shared: Rc<Shared>) -> Self {
        status.in_flight.set(status.in_flight.get() + 1);
        Self { status, shared }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.status.in_flight.set(self.status.in_flight.get() - 1);
        self.shared.changed.notify_waiters();
    }
}

/// A response body that keeps its request in flight until hyper drops it.
pub(super) struct Tracked {
    inner: ResponseBody,
    _guard: InFlight,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket as hyper sees it: notes when a write is blocked (the peer does not read), so a
/// connection with a response stuck in its send path is not taken for idle.
pub(super) struct ConnIo {
    inner: SimStream,
    status: Rc<ConnStatus>,
    /// hyper may write vectored: the handler's bodies have at most
    /// [`handler::HYPER_QUEUED_BUFS`] frames, so hyper's queued writes are exactly its
    /// flattened ones (see `SimStream::is_write_vectored`).
    vectored: bool,
}

impl Read for ConnIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl Write for ConnIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.status.write_blocked.set(res.is_pending());
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.status.write_blocked.set(res.is_pending());
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
