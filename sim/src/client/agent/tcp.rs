//! The Agent on real TCP sockets: [`TcpConnector`] dials with tokio, and each [`TcpTransport`]
//! reads ahead of hyper as an event loop does, so that outside the simulation the Agent still
//! learns that a server closed a socket whose body is held unread, and
//! [`AgentConfig::read_pause`](super::AgentConfig::read_pause) stops that reading exactly as
//! the simulated socket's pump does (`net/stream.rs`). This is what makes a real-socket run of
//! the Agent comparable with a simulated one (docs/FIDELITY.md).
//!
//! Like everything the Agent runs, the read-ahead task is spawned with `spawn_local`: use it
//! inside a tokio `LocalSet`. It deliberately does not do TLS or name resolution beyond what
//! `tokio::net::TcpStream::connect` does.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use tokio::io::{AsyncReadExt, AsyncWrite};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::connect::{Connect, LocalBoxFuture, Transport, Watch};

/// Bytes a socket reads ahead of the application when no read pause is set: the simulation's
/// default receive buffer (`WorldBuilder::recv_buffer`), so both runs keep reading alike.
pub const DEFAULT_READ_AHEAD: usize = 256 * 1024;

/// Largest single read: an event loop's (libuv reads 64 KiB at a time), as in the simulation.
const READ_SIZE: usize = 64 * 1024;

/// Dials `host:port` of a URI over real TCP. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct TcpConnector {
    _private: (),
}

impl TcpConnector {
    /// A connector.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Connect for TcpConnector {
    type Stream = TcpTransport;

    fn connect(&self, uri: &Uri) -> LocalBoxFuture<io::Result<TcpTransport>> {
        let host = uri.host().unwrap_or("127.0.0.1").to_string();
        let port = uri.port_u16().unwrap_or(80);
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(TcpTransport::new(stream))
        })
    }
}

/// What the socket, its read-ahead task and its watch share.
struct Shared {
    chunks: RefCell<VecDeque<Bytes>>,
    buffered: Cell<usize>,
    eof: Cell<bool>,
    error: Cell<Option<io::ErrorKind>>,
    read_waker: RefCell<Option<Waker>>,
    /// Unread bytes at which reading ahead stops; 0: [`DEFAULT_READ_AHEAD`].
    pause: Cell<usize>,
    /// The application took bytes: room for the read-ahead task.
    space: Notify,
    peer_closed: Cell<bool>,
    peer_closed_wake: Notify,
    /// The local port: the socket's id in traces.
    id: u64,
}

impl Shared {
    fn wake_reader(&self) {
        if let Some(w) = self.read_waker.borrow_mut().take() {
            w.wake();
        }
    }
}

/// A real TCP socket that reads ahead of hyper. See the module docs.
pub struct TcpTransport {
    shared: Rc<Shared>,
    write: OwnedWriteHalf,
    pump: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTransport")
            .field("id", &self.shared.id)
            .finish_non_exhaustive()
    }
}

impl TcpTransport {
    /// Wraps a connected stream and starts reading ahead (needs a `LocalSet`).
    pub fn new(stream: tokio::net::TcpStream) -> Self {
        let id = stream
            .local_addr()
            .map(|a| u64::from(a.port()))
            .unwrap_or(0);
        let (read, write) = stream.into_split();
        let shared = Rc::new(Shared {
            chunks: RefCell::new(VecDeque::new()),
            buffered: Cell::new(0),
            eof: Cell::new(false),
            error: Cell::new(None),
            read_waker: RefCell::new(None),
            pause: Cell::new(0),
            space: Notify::new(),
            peer_closed: Cell::new(false),
            peer_closed_wake: Notify::new(),
            id,
        });
        let pump = tokio::task::spawn_local(read_ahead(read, shared.clone()));
        Self {
            shared,
            write,
            pump: Some(pump),
        }
    }
}

/// Reads the socket into the shared buffer while less than the pause (or the default read
/// ahead) is buffered; a read takes up to 64 KiB of what the kernel holds. The peer's close is
/// seen only if everything before it was read.
async fn read_ahead(mut read: OwnedReadHalf, shared: Rc<Shared>) {
    loop {
        loop {
            let room = shared.space.notified();
            let cap = match shared.pause.get() {
                0 => DEFAULT_READ_AHEAD,
                n => n,
            };
            if shared.buffered.get() < cap {
                break;
            }
            room.await;
        }
        let mut buf = BytesMut::with_capacity(READ_SIZE);
        match read.read_buf(&mut buf).await {
            Ok(0) => shared.eof.set(true),
            Ok(n) => {
                shared.buffered.set(shared.buffered.get() + n);
                shared.chunks.borrow_mut().push_back(buf.freeze());
                shared.wake_reader();
                continue;
            }
            Err(e) => {
                shared.error.set(Some(e.kind()));
                shared.chunks.borrow_mut().clear();
                shared.buffered.set(0);
            }
        }
        shared.wake_reader();
        shared.peer_closed.set(true);
        shared.peer_closed_wake.notify_waiters();
        return;
    }
}

impl Read for TcpTransport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let s = &self.shared;
        let mut chunks = s.chunks.borrow_mut();
        if let Some(chunk) = chunks.front_mut() {
            let n = chunk.len().min(buf.remaining());
            buf.put_slice(&chunk[..n]);
            chunk.advance(n);
            if chunk.is_empty() {
                chunks.pop_front();
            }
            s.buffered.set(s.buffered.get() - n);
            drop(chunks);
            s.space.notify_one();
            return Poll::Ready(Ok(()));
        }
        if let Some(kind) = s.error.get() {
            return Poll::Ready(Err(io::Error::new(kind, "connection reset by peer")));
        }
        if s.eof.get() {
            return Poll::Ready(Ok(()));
        }
        *s.read_waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Write for TcpTransport {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.write).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.write).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.write).poll_shutdown(cx)
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        // The read half goes with the task: with both halves gone the socket closes.
        if let Some(p) = self.pump.take() {
            p.abort();
        }
    }
}

/// The peer-close signal of a [`TcpTransport`].
struct TcpWatch(Rc<Shared>);

impl Watch for TcpWatch {
    fn id(&self) -> Option<u64> {
        Some(self.0.id)
    }

    fn is_peer_closed(&self) -> bool {
        self.0.peer_closed.get()
    }

    fn peer_closed(&self) -> LocalBoxFuture<()> {
        let s = self.0.clone();
        Box::pin(async move {
            loop {
                let woken = s.peer_closed_wake.notified();
                if s.peer_closed.get() {
                    return;
                }
                woken.await;
            }
        })
    }
}

impl Transport for TcpTransport {
    fn watch(&self) -> Option<Rc<dyn Watch>> {
        Some(Rc::new(TcpWatch(self.shared.clone())))
    }

    fn set_read_pause(&self, bytes: usize) {
        self.shared.pause.set(bytes);
        self.shared.space.notify_one();
    }
}
