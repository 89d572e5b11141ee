//! turmoil-net's TCP sockets, each call scoped to the socket's host (see `engine.rs`).
//!
//! These are the only turmoil-net socket types in httpsim; [`super::SimStream`] and
//! [`super::SimListener`] are built on them.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use turmoil_net::shim::tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use turmoil_net::shim::tokio::net::{TcpListener, TcpStream};

use super::engine::{scoped, HostId};

/// A connected socket before it is split.
pub(crate) struct Tcp {
    host: HostId,
    inner: Option<TcpStream>,
}

impl Tcp {
    /// Connects from `host` to `to` (a `host:port` name resolved by the simulation's DNS).
    pub(crate) async fn connect(host: HostId, to: (&str, u16)) -> io::Result<Tcp> {
        let mut fut = std::pin::pin!(scoped(host, || TcpStream::connect(to)));
        let stream = std::future::poll_fn(|cx| scoped(host, || fut.as_mut().poll(cx))).await?;
        Ok(Tcp {
            host,
            inner: Some(stream),
        })
    }

    /// `(local, peer)` addresses.
    pub(crate) fn addrs(&self) -> io::Result<(SocketAddr, SocketAddr)> {
        let s = self.inner.as_ref().expect("live socket");
        scoped(self.host, || Ok((s.local_addr()?, s.peer_addr()?)))
    }

    /// Splits into the two halves the socket layer uses.
    pub(crate) fn split(mut self) -> (ReadHalf, WriteHalf) {
        let (rd, wr) = self.inner.take().expect("live socket").into_split();
        (
            ReadHalf {
                host: self.host,
                inner: Some(rd),
            },
            WriteHalf {
                host: self.host,
                inner: Some(wr),
            },
        )
    }
}

impl Drop for Tcp {
    fn drop(&mut self) {
        if let Some(s) = self.inner.take() {
            scoped(self.host, || drop(s));
        }
    }
}

/// The receiving half.
pub(crate) struct ReadHalf {
    host: HostId,
    inner: Option<OwnedReadHalf>,
}

impl ReadHalf {
    /// The next bytes received, at most `max`, copied once out of the kernel into a `Bytes` of
    /// exactly their length (no scratch buffer per socket: at 10k connections a 16 KiB one
    /// each was a third of the memory): `Ok(None)` at the peer's FIN.
    pub(crate) fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
        max: usize,
    ) -> Poll<io::Result<Option<Bytes>>> {
        let host = self.host;
        let Some(rd) = self.inner.as_mut() else {
            return Poll::Ready(Ok(None));
        };
        match scoped(host, || rd.poll_read_bytes(cx, max)) {
            Poll::Ready(Ok(b)) if b.is_empty() => Poll::Ready(Ok(None)),
            Poll::Ready(Ok(b)) => Poll::Ready(Ok(Some(b))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for ReadHalf {
    fn drop(&mut self) {
        if let Some(rd) = self.inner.take() {
            scoped(self.host, || drop(rd));
        }
    }
}

/// The sending half; dropping it sends the FIN.
pub(crate) struct WriteHalf {
    host: HostId,
    inner: Option<OwnedWriteHalf>,
}

impl WriteHalf {
    /// Writes what the send buffer takes of `buf`.
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let host = self.host;
        let Some(wr) = self.inner.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        };
        scoped(host, || Pin::new(wr).poll_write(cx, buf))
    }

    /// Writes the slices in order, as one write of them concatenated would; stops at the first
    /// that the send buffer does not take whole.
    pub(crate) fn poll_write_slices(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[&[u8]],
    ) -> Poll<io::Result<usize>> {
        let mut total = 0;
        for b in bufs {
            match self.poll_write(cx, b) {
                Poll::Ready(Ok(n)) => {
                    total += n;
                    if n < b.len() {
                        break;
                    }
                }
                Poll::Ready(Err(e)) if total == 0 => return Poll::Ready(Err(e)),
                Poll::Pending if total == 0 => return Poll::Pending,
                _ => break,
            }
        }
        Poll::Ready(Ok(total))
    }
}

impl Drop for WriteHalf {
    fn drop(&mut self) {
        if let Some(wr) = self.inner.take() {
            scoped(self.host, || drop(wr));
        }
    }
}

/// A listening socket.
pub(crate) struct Listener {
    host: HostId,
    inner: Option<TcpListener>,
}

impl Listener {
    /// Binds `0.0.0.0:port` on `host`.
    pub(crate) async fn bind(host: HostId, port: u16) -> io::Result<Listener> {
        let mut fut = std::pin::pin!(scoped(host, || TcpListener::bind(("0.0.0.0", port))));
        let l = std::future::poll_fn(|cx| scoped(host, || fut.as_mut().poll(cx))).await?;
        Ok(Listener {
            host,
            inner: Some(l),
        })
    }

    /// The next handshaken connection.
    pub(crate) async fn accept(&self) -> io::Result<Tcp> {
        let host = self.host;
        let l = self.inner.as_ref().expect("live listener");
        let (s, _) = std::future::poll_fn(|cx| scoped(host, || l.poll_accept(cx))).await?;
        Ok(Tcp {
            host,
            inner: Some(s),
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(l) = self.inner.take() {
            scoped(self.host, || drop(l));
        }
    }
}
