//! The one socket type every simulated byte goes through.
//!
//! A [`SimStream`] wraps a turmoil TCP stream and adds what turmoil lacks and what httpsim needs:
//!
//! - **an fd** from the host's table, released when the socket is dropped;
//! - **a receive buffer drained by a pump task**, as a kernel would: the peer's FIN or RST is
//!   noticed even when nobody reads (a pooled socket whose response body is held unread still
//!   learns that the server closed it), and the application reads from that buffer;
//! - **RST semantics**: closing with unread data, or [`StreamHandle::set_close_reason`] with
//!   [`CloseReason::Reset`], makes the peer's next read fail with `ConnectionReset` once the
//!   close reaches it (turmoil itself only sends RST in narrow cases);
//! - **an activity clock** servers use for inactivity timeouts in any state;
//! - **per-connection faults** ([`super::conn_fault`]): every write goes through a
//!   `Wire`, which may delay, pace, slice, cut, reset or silence it;
//! - **vanished peers** (half-open): when one end vanishes (a `half-open` fault, a crash without
//!   FIN), its FIN never reaches the other end, whose reads wait and whose writes go nowhere;
//! - **byte accounting** (`net/flow.rs`): what left each end and what reached the other, so
//!   data lost by turmoil is reported on its connection at the end of a run;
//! - **trace events**: connect/accept (by the caller), peer close, local close with its reason,
//!   and on client sockets which request (`x-seq`) was written on which connection.
//!
//! It implements hyper's `rt::Read`/`rt::Write` directly and hyper-util's `Connection`, so real
//! hyper clients and servers run over it unchanged.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes};
use hyper::rt::{Read, ReadBufCursor, Write};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::clock;
use super::conn::{ConnShared, Side};
use super::conn_fault::Active;
use super::fd::Fd;
use super::ports::PortLease;
use super::wire::Wire;
use super::HostNet;
use crate::trace::{CloseReason, ConnId, Event};

/// The receive side: filled by the pump task, drained by the application.
pub(crate) struct Recv {
    chunks: VecDeque<Bytes>,
    buffered: usize,
    eof: bool,
    error: Option<io::ErrorKind>,
    read_waker: Option<Waker>,
}

impl Recv {
    /// Fails the application's reads with `kind` from now on (the socket is gone).
    pub(crate) fn fail(&mut self, kind: io::ErrorKind) {
        if self.error.is_none() {
            self.error = Some(kind);
            self.chunks.clear();
            self.buffered = 0;
        }
        self.wake_reader();
    }

    fn wake_reader(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
    }
}

/// Per-socket state other components may look at or act on while hyper owns the socket.
struct HandleInner {
    conn: ConnId,
    /// Simulated time (µs) of the last byte read or written.
    last_activity: Mutex<u64>,
    close_reason: Mutex<Option<CloseReason>>,
    /// `true` once the peer's FIN or RST arrived.
    peer_closed: watch::Sender<bool>,
}

/// A cheap, cloneable handle on a [`SimStream`]: its id, activity clock, peer-close signal, and
/// the reason to record when it closes.
#[derive(Clone)]
pub struct StreamHandle {
    inner: Arc<HandleInner>,
}

impl StreamHandle {
    /// The connection id (the same on both ends).
    pub fn conn(&self) -> ConnId {
        self.inner.conn
    }

    /// Simulated time (µs) of the last byte read or written on this socket.
    pub fn last_activity_us(&self) -> u64 {
        *self.inner.last_activity.lock().unwrap()
    }

    /// Sets the reason recorded when the socket closes. [`CloseReason::Reset`] (and reasons that
    /// imply an abort: shutdown deadline, faults) make the close an RST for the peer.
    pub fn set_close_reason(&self, reason: CloseReason) {
        *self.inner.close_reason.lock().unwrap() = Some(reason);
    }

    /// Whether the peer's FIN or RST has arrived.
    pub fn is_peer_closed(&self) -> bool {
        *self.inner.peer_closed.borrow()
    }

    /// Waits until the peer's FIN or RST arrives.
    pub async fn peer_closed(&self) {
        let mut rx = self.inner.peer_closed.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }

    fn touch(&self, now_us: u64) {
        *self.inner.last_activity.lock().unwrap() = now_us;
    }
}

/// A simulated TCP socket. See the module docs.
pub struct SimStream {
    host: HostNet,
    side: Side,
    pair: (SocketAddr, SocketAddr),
    shared: Arc<ConnShared>,
    handle: StreamHandle,
    wire: Wire,
    recv: Arc<Mutex<Recv>>,
    space: Arc<Notify>,
    pump: Option<JoinHandle<()>>,
    /// Timers of time-triggered faults.
    timers: Vec<JoinHandle<()>>,
    _fd: Fd,
}

impl std::fmt::Debug for SimStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimStream")
            .field("conn", &self.handle.conn())
            .field("host", &self.host.name())
            .finish()
    }
}

impl SimStream {
    /// `pair` is `(client address, server address)` whichever side this is.
    pub(crate) fn new(
        host: HostNet,
        tcp: turmoil::net::TcpStream,
        fd: Fd,
        shared: Arc<ConnShared>,
        side: Side,
        pair: (SocketAddr, SocketAddr),
        port: Option<PortLease>,
    ) -> Self {
        let port = port.map(Arc::new);
        let (rd, wr) = tcp.into_split();
        let (peer_closed, _) = watch::channel(false);
        let handle = StreamHandle {
            inner: Arc::new(HandleInner {
                conn: shared.id(),
                last_activity: Mutex::new(clock::now_us()),
                close_reason: Mutex::new(None),
                peer_closed,
            }),
        };
        let recv = Arc::new(Mutex::new(Recv {
            chunks: VecDeque::new(),
            buffered: 0,
            eof: false,
            error: None,
            read_waker: None,
        }));
        let space = Arc::new(Notify::new());
        shared.set_host(side, host.name());
        let config = host.config();
        let active = Active::roll(&config.conn_faults, config.seed, shared.id(), side);
        let time_trips = active.time_trips.clone();
        let wire = Wire::new(
            wr,
            active,
            config.recv_buffer,
            shared.clone(),
            recv.clone(),
            side,
            host.clone(),
            config.seed,
            port.clone(),
            handle.clone(),
        );
        let timers = time_trips
            .into_iter()
            .map(|(after, trip)| {
                let wire = wire.clone();
                tokio::task::spawn_local(async move {
                    crate::net::clock::sleep(after).await;
                    wire.trip_now(trip, format!("after {after:?}"));
                })
            })
            .collect();
        let pump = tokio::task::spawn_local(pump(
            rd,
            recv.clone(),
            space.clone(),
            host.config().recv_buffer,
            shared.clone(),
            side,
            handle.clone(),
            host.clone(),
            port,
        ));
        Self {
            host,
            side,
            pair,
            shared,
            handle,
            wire,
            recv,
            space,
            pump: Some(pump),
            timers,
            _fd: fd,
        }
    }

    /// The connection id (the same on both ends).
    pub fn conn(&self) -> ConnId {
        self.handle.conn()
    }

    /// A handle on this socket that stays valid while hyper owns the socket.
    pub fn handle(&self) -> StreamHandle {
        self.handle.clone()
    }

    /// The host this socket lives on.
    pub fn host(&self) -> &HostNet {
        &self.host
    }
}

/// Largest chunk the pump moves at once.
const PUMP_CHUNK: usize = 16 * 1024;

/// Moves bytes from turmoil's stream into the receive buffer, like a kernel does, so a FIN or RST
/// is noticed without the application reading. Stops taking data while the buffer is full; the
/// rest then waits in turmoil's queues. turmoil's flow control counts segments, not bytes, and
/// httpsim sizes it (`tcp_capacity`) for bursts, so in practice a sender is never blocked: a
/// server whose response is not read finishes writing and sees its socket idle.
#[allow(clippy::too_many_arguments)]
async fn pump(
    mut rd: turmoil::net::tcp::OwnedReadHalf,
    recv: Arc<Mutex<Recv>>,
    space: Arc<Notify>,
    cap: usize,
    shared: Arc<ConnShared>,
    side: Side,
    handle: StreamHandle,
    host: HostNet,
    // Held while the read half lives: the port is free once both halves are gone.
    _port: Option<Arc<PortLease>>,
) {
    loop {
        loop {
            let notified = space.notified();
            if recv.lock().unwrap().buffered < cap {
                break;
            }
            shared.set_recv_full(side, true);
            notified.await;
        }
        shared.set_recv_full(side, false);
        // The next segment as it arrived (patched turmoil, `poll_recv_chunk`): no probe, no
        // buffer of our own, no copy. Segments are exact-size copies of what the peer wrote, so
        // a held response pins only its own bytes. At most 16 KiB per chunk, as the former
        // 16 KiB read buffer took.
        let outcome = match std::future::poll_fn(|cx| rd.poll_recv_chunk(cx, PUMP_CHUNK)).await {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(None),
            Err(e) => Err(Some(e.kind())),
        };
        if shared.vanished(side) {
            // This end is gone: whatever still arrives is for nobody.
            if outcome.is_err() {
                return;
            }
            continue;
        }
        if outcome.is_err() && shared.peer_vanished(side) {
            // The peer vanished: its FIN (or the RST turmoil answers with) never reaches us.
            // Reads wait until a timeout of the application notices.
            return;
        }
        let mut r = recv.lock().unwrap();
        match outcome {
            Ok(bytes) => {
                shared.on_received(side, bytes.len() as u64);
                if r.error.is_none() && !r.eof {
                    r.buffered += bytes.len();
                    r.chunks.push_back(bytes);
                    r.wake_reader();
                }
            }
            Err(err) => {
                shared.on_fin_received(side);
                // A FIN from a peer that reset the connection is delivered as an RST: the
                // unread data is discarded and reads fail.
                let reset = err.is_some() || shared.peer_reset(side);
                if reset {
                    r.error = Some(err.unwrap_or(io::ErrorKind::ConnectionReset));
                    r.chunks.clear();
                    r.buffered = 0;
                } else {
                    r.eof = true;
                }
                r.wake_reader();
                drop(r);
                host.record(Event::PeerClosed {
                    conn: shared.id(),
                    reset,
                });
                handle.inner.peer_closed.send_replace(true);
                return;
            }
        }
    }
}

impl Read for SimStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let mut r = self.recv.lock().unwrap();
        if let Some(chunk) = r.chunks.front_mut() {
            let n = chunk.len().min(buf.remaining());
            buf.put_slice(&chunk[..n]);
            chunk.advance(n);
            if chunk.is_empty() {
                r.chunks.pop_front();
            }
            r.buffered -= n;
            drop(r);
            self.space.notify_one();
            self.handle.touch(clock::now_us());
            return Poll::Ready(Ok(()));
        }
        if let Some(kind) = r.error {
            return Poll::Ready(Err(io::Error::new(kind, "connection reset by peer")));
        }
        if r.eof {
            return Poll::Ready(Ok(()));
        }
        r.read_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Write for SimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.shared.peer_reset(self.side) && self.recv.lock().unwrap().error.is_some() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        // One clock reading per write: the clock is a lookup in turmoil's world, and the send,
        // the activity clock and the request's write time all happen at this instant.
        let now = clock::now_us();
        let res = self.wire.poll_write(cx, buf, now);
        if let Poll::Ready(Ok(n)) = res {
            if n > 0 {
                self.handle.touch(now);
                if self.side == Side::Client {
                    if let Some(req) = request_seq(&buf[..n]) {
                        self.shared.on_request_written(req, now);
                    }
                }
            }
        }
        res
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.wire.poll_shutdown()
    }
}

impl hyper_util::client::legacy::connect::Connection for SimStream {
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        hyper_util::client::legacy::connect::Connected::new()
            .extra(super::ConnInfo { conn: self.conn() })
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        if let Some(p) = self.pump.take() {
            p.abort();
        }
        for t in self.timers.drain(..) {
            t.abort();
        }
        let unread = self.recv.lock().unwrap().buffered > 0;
        let explicit = *self.handle.inner.close_reason.lock().unwrap();
        let crash = self.host.crashing();
        if crash == Some(false) {
            // A crash without FIN: the socket vanishes with its host.
            self.shared.set_vanished(self.side);
        }
        let reason = match explicit {
            _ if crash.is_some() => CloseReason::Crash,
            Some(r) => r,
            None if unread => CloseReason::Reset,
            None if self.handle.is_peer_closed() => CloseReason::AfterPeerClose,
            None => CloseReason::Local,
        };
        let reset = unread
            || matches!(
                reason,
                CloseReason::Reset | CloseReason::ShutdownDeadline | CloseReason::Fault
            );
        self.shared.detach(self.side, reset);
        // The FIN (turmoil's, once queued bytes and any slow-close delay are through), which the
        // peer turns into an RST when `reset` is set.
        self.wire.on_drop(reset);
        self.host.record(Event::Closed {
            conn: self.conn(),
            reason,
        });
        self.host
            .net()
            .detach(self.pair.0, self.pair.1, &self.shared);
    }
}

/// The `x-seq` of an HTTP/1 request head at the start of `buf`, if `buf` starts one. hyper
/// writes a request head in one piece, so a head is never split across two calls here.
fn request_seq(buf: &[u8]) -> Option<u64> {
    let method_end = buf.iter().take(8).position(|b| *b == b' ')?;
    if method_end == 0 || !buf[..method_end].iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(buf.len());
    let head = &buf[..head_end];
    let key = b"\r\nx-seq:";
    let at = head
        .windows(key.len())
        .position(|w| w.eq_ignore_ascii_case(key))?;
    let rest = &head[at + key.len()..];
    let digits: String = rest
        .iter()
        .skip_while(|b| **b == b' ')
        .take_while(|b| b.is_ascii_digit())
        .map(|b| *b as char)
        .collect();
    digits.parse().ok()
}
