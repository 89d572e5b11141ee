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
//! - **trace events**: connect/accept (by the caller), peer close, local close with its reason.
//!
//! It implements hyper's `rt::Read`/`rt::Write` directly and hyper-util's `Connection`, so real
//! hyper clients and servers run over it unchanged.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use hyper::rt::{Read, ReadBufCursor, Write};
use tokio::io::{AsyncReadExt, AsyncWrite};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::clock;
use super::fd::Fd;
use super::HostNet;
use crate::trace::{CloseReason, ConnId, Event};

/// Which end of a connection a socket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Server,
}

impl Side {
    fn idx(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

#[derive(Default)]
struct SharedState {
    attached: [bool; 2],
    detached: [bool; 2],
    /// The end at this index reset the connection.
    reset: [bool; 2],
}

/// State both ends of one connection share: its id and out-of-band close semantics (RST).
pub(crate) struct ConnShared {
    id: ConnId,
    state: Mutex<SharedState>,
}

impl ConnShared {
    pub(crate) fn new(id: ConnId) -> Self {
        Self {
            id,
            state: Mutex::new(SharedState::default()),
        }
    }

    pub(crate) fn id(&self) -> ConnId {
        self.id
    }

    pub(crate) fn try_attach(&self, side: Side) -> bool {
        let mut s = self.state.lock().unwrap();
        if s.attached[side.idx()] {
            return false;
        }
        s.attached[side.idx()] = true;
        true
    }

    pub(crate) fn both_detached(&self) -> bool {
        let s = self.state.lock().unwrap();
        s.detached
            .iter()
            .zip(s.attached.iter())
            .all(|(d, a)| *d || !*a)
    }

    fn peer_reset(&self, me: Side) -> bool {
        let peer = 1 - me.idx();
        self.state.lock().unwrap().reset[peer]
    }
}

/// The receive side: filled by the pump task, drained by the application.
struct Recv {
    chunks: VecDeque<Bytes>,
    buffered: usize,
    eof: bool,
    error: Option<io::ErrorKind>,
    read_waker: Option<Waker>,
}

impl Recv {
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

    fn touch(&self) {
        *self.inner.last_activity.lock().unwrap() = clock::now_us();
    }
}

/// A simulated TCP socket. See the module docs.
pub struct SimStream {
    host: HostNet,
    side: Side,
    pair: (SocketAddr, SocketAddr),
    shared: Arc<ConnShared>,
    handle: StreamHandle,
    write: Option<turmoil::net::tcp::OwnedWriteHalf>,
    recv: Arc<Mutex<Recv>>,
    space: Arc<Notify>,
    pump: Option<JoinHandle<()>>,
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
    ) -> Self {
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
        let pump = tokio::task::spawn_local(pump(
            rd,
            recv.clone(),
            space.clone(),
            host.config().recv_buffer,
            shared.clone(),
            side,
            handle.clone(),
            host.clone(),
        ));
        Self {
            host,
            side,
            pair,
            shared,
            handle,
            write: Some(wr),
            recv,
            space,
            pump: Some(pump),
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

/// Moves bytes from turmoil's stream into the receive buffer, like a kernel does, so a FIN or RST
/// is noticed without the application reading. Stops taking data while the buffer is full,
/// which back-pressures the sender through turmoil's flow control.
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
) {
    loop {
        loop {
            let notified = space.notified();
            if recv.lock().unwrap().buffered < cap {
                break;
            }
            notified.await;
        }
        let mut probe = [0u8; 1];
        let outcome = match rd.peek(&mut probe).await {
            Ok(0) => Err(None),
            Ok(_) => {
                let mut buf = BytesMut::with_capacity(16 * 1024);
                match rd.read_buf(&mut buf).await {
                    Ok(0) => Err(None),
                    // A short read keeps an exact-size copy, not the 16 KiB buffer: an unread
                    // response held on each of 10k sockets would otherwise pin 160 MiB.
                    Ok(n) if n < buf.capacity() / 2 => Ok(Bytes::copy_from_slice(&buf)),
                    Ok(_) => Ok(buf.freeze()),
                    Err(e) => Err(Some(e.kind())),
                }
            }
            Err(e) => Err(Some(e.kind())),
        };
        let mut r = recv.lock().unwrap();
        match outcome {
            Ok(bytes) => {
                r.buffered += bytes.len();
                r.chunks.push_back(bytes);
                r.wake_reader();
            }
            Err(err) => {
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
            self.handle.touch();
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
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.shared.peer_reset(self.side) && self.recv.lock().unwrap().error.is_some() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let Some(wr) = self.write.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        };
        let res = Pin::new(wr).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = res {
            if n > 0 {
                self.handle.touch();
            }
        }
        res
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.write.as_mut() {
            Some(wr) => Pin::new(wr).poll_shutdown(cx),
            None => Poll::Ready(Ok(())),
        }
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
        let unread = self.recv.lock().unwrap().buffered > 0;
        let explicit = *self.handle.inner.close_reason.lock().unwrap();
        let reason = match explicit {
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
        {
            let mut s = self.shared.state.lock().unwrap();
            s.detached[self.side.idx()] = true;
            if reset {
                s.reset[self.side.idx()] = true;
            }
        }
        // Dropping the write half sends the FIN (turmoil), which the peer turns into an RST when
        // `reset` is set.
        self.write.take();
        self.host.record(Event::Closed {
            conn: self.conn(),
            reason,
        });
        self.host
            .net()
            .detach(self.pair.0, self.pair.1, &self.shared);
    }
}
