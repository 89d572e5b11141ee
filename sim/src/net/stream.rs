//! The one socket type every simulated byte goes through.
//!
//! A [`SimStream`] wraps a turmoil-net TCP stream (a simulated kernel's socket) and adds what
//! httpsim needs:
//!
//! - **an fd** from the host's table, released when the socket is dropped;
//! - **a receive buffer drained by a pump task**, as a kernel would: the peer's FIN or RST is
//!   noticed even when nobody reads (a pooled socket whose response body is held unread still
//!   learns that the server closed it), and the application reads from that buffer;
//! - **RST semantics**: closing with unread data, or [`StreamHandle::set_close_reason`] with
//!   [`CloseReason::Reset`], makes the peer's next read fail with `ConnectionReset` once the
//!   close reaches it (the kernel itself resets only what it still holds unread);
//! - **an activity clock** servers use for inactivity timeouts in any state;
//! - **per-connection faults** ([`super::conn_fault`]): every write goes through a
//!   `Wire`, which may delay, pace, slice, cut, reset or silence it;
//! - **vanished peers** (half-open): when one end vanishes (a `half-open` fault, a crash without
//!   FIN), its FIN never reaches the other end, whose reads wait and whose writes go nowhere;
//! - **byte accounting** (`net/flow.rs`): what left each end and what reached the other, so
//!   data the network kept (partition, hold) is reported on its connection at the end of a run;
//! - **trace events**: connect/accept (by the caller), peer close, local close with its reason,
//!   and on client sockets which request (`x-seq`) was written on which connection.
//!
//! It implements hyper's `rt::Read`/`rt::Write` directly and hyper-util's `Connection`, so real
//! hyper clients and servers run over it unchanged.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use hyper::rt::{Read, ReadBufCursor, Write};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::clock;
use super::conn::{ConnShared, Side};
use super::conn_fault::Active;
pub use super::core::StreamHandle;
use super::core::{Core, Piece, Recv};
use super::fd::Fd;
use super::ports::PortLease;
use super::wire::Wire;
use super::HostNet;
use crate::trace::{CloseReason, ConnId, Event};

/// A simulated TCP socket. See the module docs.
pub struct SimStream {
    /// `(client address, server address)`.
    pair: (SocketAddr, SocketAddr),
    handle: StreamHandle,
    wire: Wire,
    pump: Option<JoinHandle<()>>,
    /// Timers of time-triggered faults.
    timers: Vec<JoinHandle<()>>,
    _fd: Fd,
}

impl std::fmt::Debug for SimStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimStream")
            .field("conn", &self.handle.conn())
            .field("host", &self.host().name())
            .finish()
    }
}

impl SimStream {
    /// `pair` is `(client address, server address)` whichever side this is.
    pub(crate) fn new(
        host: HostNet,
        tcp: super::tcp::Tcp,
        fd: Fd,
        shared: Arc<ConnShared>,
        side: Side,
        pair: (SocketAddr, SocketAddr),
        port: Option<PortLease>,
    ) -> Self {
        let port = port.map(Arc::new);
        let (rd, wr) = tcp.split();
        shared.set_host(side, host.name_arc());
        let config = host.config();
        let active = Active::roll(&config.conn_faults, config.seed, shared.id(), side);
        let time_trips = active.time_trips.clone();
        let (recv_buffer, seed) = (config.recv_buffer, config.seed);
        let handle = StreamHandle {
            inner: Arc::new(Core {
                conn: shared.id(),
                side,
                host,
                shared,
                last_activity: Mutex::new(clock::now_us()),
                close_reason: Mutex::new(None),
                peer_closed: AtomicBool::new(false),
                peer_closed_wake: Notify::new(),
                recv: Mutex::new(Recv {
                    chunks: VecDeque::new(),
                    buffered: 0,
                    eof: false,
                    error: None,
                    read_waker: None,
                }),
                space: Notify::new(),
                read_pause: std::sync::atomic::AtomicUsize::new(0),
                shaper: Notify::new(),
            }),
        };
        let wire = Wire::new(wr, active, recv_buffer, seed, port.clone(), handle.clone());
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
        let pump = tokio::task::spawn_local(pump(rd, handle.clone(), recv_buffer, port));
        Self {
            pair,
            handle,
            wire,
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
        &self.handle.inner.host
    }

    fn core(&self) -> &Core {
        &self.handle.inner
    }
}

/// Largest chunk the pump moves at once.
const PUMP_CHUNK: usize = 16 * 1024;

/// Largest chunk the pump moves at once on a socket with a read pause: an event loop's read
/// (libuv reads 64 KiB at a time).
const PAUSED_READ: usize = 64 * 1024;

/// Moves bytes from the kernel's socket into the receive buffer, so a FIN or RST is noticed
/// without the application reading (as an event loop that keeps reading does). Stops taking
/// data while the buffer is full (`WorldBuilder::recv_buffer`); the rest then fills the
/// kernel's receive buffer, the advertised window closes, and the peer's writes block once its
/// send buffer is full too (traced there as `write_blocked`).
async fn pump(
    mut rd: super::tcp::ReadHalf,
    handle: StreamHandle,
    cap: usize,
    // Held while the read half lives: the port is free once both halves are gone.
    _port: Option<Arc<PortLease>>,
) {
    let core = &*handle.inner;
    let (shared, side) = (&core.shared, core.side);
    // The pieces of a read after its first (see below): almost always none.
    let mut more = Vec::new();
    loop {
        let paused_at = core.read_pause.load(std::sync::atomic::Ordering::Relaxed);
        let cap = if paused_at > 0 { paused_at } else { cap };
        loop {
            let notified = core.space.notified();
            if core.recv.lock().unwrap().buffered < cap {
                break;
            }
            shared.set_recv_full(side, true);
            notified.await;
        }
        shared.set_recv_full(side, false);
        // What the kernel has received, at most 16 KiB at a time, copied out exactly: a held
        // response pins only its own bytes.
        let room = cap.saturating_sub(core.recv.lock().unwrap().buffered);
        let max = if paused_at > 0 {
            PAUSED_READ
        } else {
            PUMP_CHUNK.min(room).max(1)
        };
        // One read, as the received chunks it spans: almost always one; a read across a
        // response head and its body is both, not gathered into a new buffer.
        more.clear();
        let outcome = match std::future::poll_fn(|cx| rd.poll_pieces(cx, max, &mut more)).await {
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
            // The peer vanished: its FIN (or a reset) never reaches us.
            // Reads wait until a timeout of the application notices.
            return;
        }
        let mut r = core.recv.lock().unwrap();
        match outcome {
            Ok(first) => {
                let n = first.len() + more.iter().map(Bytes::len).sum::<usize>();
                shared.on_received(side, n as u64);
                if r.error.is_none() && !r.eof {
                    r.buffered += n;
                    r.chunks.push_back(Piece {
                        bytes: first,
                        ends_read: more.is_empty(),
                    });
                    let last = more.len();
                    for (i, bytes) in more.drain(..).enumerate() {
                        r.chunks.push_back(Piece {
                            bytes,
                            ends_read: i + 1 == last,
                        });
                    }
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
                core.host.record(Event::PeerClosed {
                    conn: shared.id(),
                    reset,
                });
                handle.set_peer_closed();
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
        let mut r = self.core().recv.lock().unwrap();
        if !r.chunks.is_empty() {
            // What is left of the pump's oldest read, as far as `buf` takes it.
            let mut n = 0;
            while let Some(piece) = r.chunks.front_mut() {
                let take = piece.bytes.len().min(buf.remaining());
                buf.put_slice(&piece.bytes[..take]);
                piece.bytes.advance(take);
                n += take;
                if !piece.bytes.is_empty() {
                    break;
                }
                let ends_read = piece.ends_read;
                r.chunks.pop_front();
                if ends_read {
                    break;
                }
            }
            r.buffered -= n;
            drop(r);
            self.core().space.notify_one();
            self.handle.touch(clock::now_us());
            return Poll::Ready(Ok(()));
        }
        if let Some(kind) = r.error {
            return Poll::Ready(Err(io::Error::new(kind, "connection reset by peer")));
        }
        if r.eof {
            return Poll::Ready(Ok(()));
        }
        // hyper polls a read again after each one: keep the waker it already left.
        if !r
            .read_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            r.read_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl SimStream {
    /// Writes the bytes of `bufs`, in order, as one write (the kernel takes them as it would one
    /// buffer: same bytes, same instant, same window).
    fn write_slices(&self, cx: &mut Context<'_>, bufs: &[&[u8]]) -> Poll<io::Result<usize>> {
        let core = self.core();
        if core.shared.peer_reset(core.side) && core.recv.lock().unwrap().error.is_some() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        // One clock reading per write: the send, the activity clock and the request's write time
        // all happen at this instant.
        let now = clock::now_us();
        let res = self.wire.poll_write_slices(cx, bufs, now);
        if let Poll::Ready(Ok(n)) = res {
            if n > 0 {
                self.handle.touch(now);
                if core.side == Side::Client {
                    // A request head is hyper's first buffer.
                    let head = bufs.first().copied().unwrap_or_default();
                    if let Some(req) = request_seq(&head[..n.min(head.len())]) {
                        let reused = core.shared.on_request_written(req, now);
                        if core.host.records_request_writes() {
                            core.host.record(Event::Checkout {
                                req,
                                conn: Some(core.conn),
                                reused,
                            });
                        }
                    }
                }
            }
        }
        res
    }
}

impl Write for SimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_slices(cx, &[buf])
    }

    /// Vectored writes go out as one write, exactly as the same bytes flattened would (with
    /// segmentation offload a large shared body may leave as a segment of its own, at the same
    /// instant: only the packet count differs): hyper then queues a response body (often shared
    /// static bytes) instead of copying it into its 8 KiB write buffer, which at 10k held
    /// connections was 4 KB of touched memory each. Only where
    /// [`is_write_vectored`](Write::is_write_vectored) says so.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        const MAX: usize = 64;
        let mut slices: [&[u8]; MAX] = [&[]; MAX];
        let mut n = 0;
        for b in bufs.iter().filter(|b| !b.is_empty()) {
            if n == MAX {
                break;
            }
            slices[n] = b;
            n += 1;
        }
        self.write_slices(cx, &slices[..n])
    }

    /// Client sockets only. hyper queues at most 16 body buffers before it flushes, where a
    /// flattened write buffer waits for ~400 KiB, so a body of more than 16 frames would leave
    /// in more writes, hence more segments than before, each with its own latency draw (a
    /// different trace under jittered latency). A request body is one frame (`RequestBody`),
    /// so client writes are unchanged; httpsim's own server opts in for handlers whose bodies
    /// have at most 16 frames (`server/conn.rs`), and a custom server keeps flattened writes.
    fn is_write_vectored(&self) -> bool {
        self.core().side == Side::Client
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
        let core = &*self.handle.inner;
        let unread = {
            // Handles may outlive the socket: what it buffered is freed now.
            let mut r = core.recv.lock().unwrap();
            let unread = r.buffered > 0;
            r.chunks = VecDeque::new();
            unread
        };
        let explicit = *core.close_reason.lock().unwrap();
        let crash = core.host.crashing();
        if crash == Some(false) {
            // A crash without FIN: the socket vanishes with its host.
            core.shared.set_vanished(core.side);
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
        core.shared.detach(core.side, reset);
        // The FIN (the kernel's, once queued bytes and any slow-close delay are through), which the
        // peer turns into an RST when `reset` is set.
        self.wire.on_drop(reset);
        core.host.record(Event::Closed {
            conn: core.conn,
            reason,
        });
        core.host
            .net()
            .detach(self.pair.0, self.pair.1, &core.shared);
    }
}

/// The `x-seq` of an HTTP/1 request head at the start of `buf`, if `buf` starts one. hyper
/// writes a request head in one piece, so a head is never split across two calls here.
fn request_seq(buf: &[u8]) -> Option<u64> {
    let method_end = buf.iter().take(8).position(|b| *b == b' ')?;
    if method_end == 0 || !buf[..method_end].iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    // Line by line (every header line starts after a `\r\n`) up to the blank line that ends
    // the head: the first `x-seq:` line, in any case (`crate::seq`).
    let mut from = method_end;
    loop {
        let nl = from + buf[from..].iter().position(|b| *b == b'\n')?;
        let line = &buf[nl + 1..];
        if buf[nl - 1] == b'\r' {
            if line.starts_with(b"\r\n") {
                return None;
            }
            if let Some(value) = crate::seq::header_line_value(line) {
                let digits = value.iter().skip_while(|b| **b == b' ');
                let (mut n, mut any) = (0u64, false);
                for d in digits.take_while(|b| b.is_ascii_digit()) {
                    n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
                    any = true;
                }
                return any.then_some(n);
            }
        }
        from = nl + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::request_seq;

    #[test]
    fn request_seq_reads_the_x_seq_line_of_a_request_head() {
        let cases: &[(&[u8], Option<u64>)] = &[
            (b"GET / HTTP/1.1\r\nx-seq: 17\r\nhost: s\r\n\r\n", Some(17)),
            (
                b"POST /a HTTP/1.1\r\nhost: s\r\nX-Seq:  4\r\n\r\nseq=4",
                Some(4),
            ),
            (b"GET / HTTP/1.1\r\nhost: s\r\n\r\nx-seq: 9\r\n", None),
            (b"GET / HTTP/1.1\r\nhost: s\r\nx-seq: 3", Some(3)),
            (b"GET / HTTP/1.1\r\nx-seq: \r\n\r\n", None),
            (
                b"GET / HTTP/1.1\r\nx-seq: 99999999999999999999\r\n\r\n",
                None,
            ),
            (b"HTTP/1.1 200 OK\r\nx-seq: 5\r\n\r\n", None),
            (b"get / HTTP/1.1\r\nx-seq: 5\r\n\r\n", None),
            (b"seq=4", None),
            (b"", None),
        ];
        for (buf, want) in cases {
            assert_eq!(
                request_seq(buf),
                *want,
                "{:?}",
                String::from_utf8_lossy(buf)
            );
        }
    }
}
