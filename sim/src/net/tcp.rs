//! The socket types under [`super::SimStream`] and [`super::SimListener`]: turmoil-net's TCP
//! sockets, each call scoped to the socket's host (see `engine.rs`), or — for `httpsim run
//! --real` — tokio's real loopback sockets (`real.rs`). Nothing above this file knows which.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use turmoil_net::shim::tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use turmoil_net::shim::tokio::net::{TcpListener, TcpStream};

use super::engine::{scoped, HostId};
use super::fill;
use super::real::{Place, RealNet};

/// Largest single read of a real socket (the simulated kernel hands over what it has).
const REAL_READ: usize = 64 * 1024;

/// A connected socket before it is split.
pub(crate) struct Tcp {
    inner: Option<Stream>,
}

enum Stream {
    Sim(HostId, TcpStream),
    Real(tokio::net::TcpStream, Arc<RealNet>),
}

impl Tcp {
    /// Connects from a host to `to` (a `host:port` name resolved by the simulation's DNS, or by
    /// the real host's peers).
    pub(crate) async fn connect(place: &Place, to: (&str, u16)) -> io::Result<Tcp> {
        let host = match place {
            Place::Sim(host) => *host,
            Place::Real(real) => {
                // A blocked relay holds the SYN.
                real.open().await;
                let s = tokio::net::TcpStream::connect(real.resolve(to.0, to.1)).await?;
                s.set_nodelay(true)?;
                return Ok(Tcp {
                    inner: Some(Stream::Real(s, real.clone())),
                });
            }
        };
        let mut fut = std::pin::pin!(scoped(host, || TcpStream::connect(to)));
        let stream = std::future::poll_fn(|cx| scoped(host, || fut.as_mut().poll(cx))).await?;
        Ok(Tcp {
            inner: Some(Stream::Sim(host, stream)),
        })
    }

    /// `(local, peer)` addresses.
    pub(crate) fn addrs(&self) -> io::Result<(SocketAddr, SocketAddr)> {
        match self.inner.as_ref().expect("live socket") {
            Stream::Sim(host, s) => scoped(*host, || Ok((s.local_addr()?, s.peer_addr()?))),
            Stream::Real(s, _) => Ok((s.local_addr()?, s.peer_addr()?)),
        }
    }

    /// Splits into the two halves the socket layer uses.
    pub(crate) fn split(mut self) -> (ReadHalf, WriteHalf) {
        match self.inner.take().expect("live socket") {
            Stream::Sim(host, s) => {
                let (rd, wr) = s.into_split();
                (
                    ReadHalf {
                        inner: Some(Read::Sim(host, rd)),
                    },
                    WriteHalf {
                        inner: Some(Write::Sim(host, wr)),
                    },
                )
            }
            Stream::Real(s, real) => {
                let (rd, wr) = s.into_split();
                (
                    ReadHalf {
                        inner: Some(Read::Real(rd)),
                    },
                    WriteHalf {
                        inner: Some(Write::Real(wr, real)),
                    },
                )
            }
        }
    }
}

impl Drop for Tcp {
    fn drop(&mut self) {
        if let Some(Stream::Sim(host, s)) = self.inner.take() {
            scoped(host, || drop(s));
        }
    }
}

/// The receiving half.
pub(crate) struct ReadHalf {
    inner: Option<Read>,
}

enum Read {
    Sim(HostId, OwnedReadHalf),
    Real(tokio::net::tcp::OwnedReadHalf),
}

impl ReadHalf {
    /// The next bytes received, at most `max`, as the received chunks (or parts of them) they
    /// lie in: the first returned, any further ones appended to `more`; `Ok(None)` at the
    /// peer's FIN. No scratch buffer per socket (at 10k connections a 16 KiB one each was a
    /// third of the memory), and no copy: a simulated kernel hands over its received segments
    /// as they are, a range across two of them (a response head and its body) as both, where
    /// it would otherwise gather them into a new buffer.
    pub(crate) fn poll_pieces(
        &mut self,
        cx: &mut Context<'_>,
        max: usize,
        more: &mut Vec<Bytes>,
    ) -> Poll<io::Result<Option<Bytes>>> {
        let (host, rd) = match self.inner.as_mut() {
            None => return Poll::Ready(Ok(None)),
            Some(Read::Real(rd)) => return poll_real_chunk(rd, cx, max),
            Some(Read::Sim(host, rd)) => (*host, rd),
        };
        match scoped(host, || rd.poll_read_pieces(cx, max, more)) {
            Poll::Ready(Ok(b)) if b.is_empty() => Poll::Ready(Ok(None)),
            Poll::Ready(Ok(b)) => Poll::Ready(Ok(Some(b))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// One read of a real socket into a buffer of what it got.
fn poll_real_chunk(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    cx: &mut Context<'_>,
    max: usize,
) -> Poll<io::Result<Option<Bytes>>> {
    let mut buf = BytesMut::zeroed(max.clamp(1, REAL_READ));
    let mut rb = ReadBuf::new(&mut buf);
    match Pin::new(rd).poll_read(cx, &mut rb) {
        Poll::Ready(Ok(())) => {
            let n = rb.filled().len();
            if n == 0 {
                return Poll::Ready(Ok(None));
            }
            buf.truncate(n);
            Poll::Ready(Ok(Some(buf.freeze())))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

impl Drop for ReadHalf {
    fn drop(&mut self) {
        if let Some(Read::Sim(host, rd)) = self.inner.take() {
            scoped(host, || drop(rd));
        }
    }
}

/// The sending half; dropping it sends the FIN.
pub(crate) struct WriteHalf {
    inner: Option<Write>,
}

enum Write {
    Sim(HostId, OwnedWriteHalf),
    Real(tokio::net::tcp::OwnedWriteHalf, Arc<RealNet>),
}

impl WriteHalf {
    /// Writes what the send buffer takes of `buf`.
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.inner.as_mut() {
            None => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            Some(Write::Real(wr, real)) => {
                // A blocked relay holds the bytes.
                if real.poll_open(cx).is_pending() {
                    return Poll::Pending;
                }
                Pin::new(wr).poll_write(cx, buf)
            }
            Some(Write::Sim(host, wr)) => {
                let host = *host;
                scoped(host, || sim_write(wr, cx, &[buf]))
            }
        }
    }

    /// Writes the slices in order, as one write of them concatenated would; stops at the first
    /// that the send buffer does not take whole. A simulated kernel takes them without a copy
    /// where they are windows of the static body bytes ([`super::fill`]), else copied once,
    /// each run of them as one chunk of its send buffer.
    pub(crate) fn poll_write_slices(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[&[u8]],
    ) -> Poll<io::Result<usize>> {
        if let Some(Write::Sim(host, wr)) = self.inner.as_mut() {
            let host = *host;
            return scoped(host, || sim_write(wr, cx, bufs));
        }
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

/// Writes of at most this many bytes are copied into the kernel as one chunk. The kernel
/// gathers up to 16 KiB of its send buffer into one segment under segmentation offload
/// (turmoil-net fork, `TSO_GATHER_MAX`), so a response head and its body window would be
/// copied together at segmentation anyway; only a larger write gains from sharing its windows.
const SMALL_WRITE: usize = 16 * 1024;

/// One write of `bufs` to a simulated socket, in runs: windows of the static body bytes
/// (adjacent ones merged) are shared with the kernel, any other slices up to the next window
/// are copied into it as one chunk. Stops at the first run the send buffer does not take
/// whole, so the kernel takes exactly what one write of the concatenation would.
fn sim_write(
    wr: &mut OwnedWriteHalf,
    cx: &mut Context<'_>,
    bufs: &[&[u8]],
) -> Poll<io::Result<usize>> {
    // A small write is copied whole, as one chunk: a segment of it would gather its runs into
    // one new buffer anyway (see `SMALL_WRITE`), one allocation and one copy more.
    if bufs.iter().map(|b| b.len()).sum::<usize>() <= SMALL_WRITE {
        return wr.poll_write_slices(cx, bufs);
    }
    let (mut total, mut i) = (0, 0);
    while i < bufs.len() {
        let (res, offered) = match fill::window(bufs[i]) {
            Some(mut range) => {
                i += 1;
                while let Some(next) = bufs.get(i).and_then(|b| fill::window(b)) {
                    if next.start != range.end {
                        break;
                    }
                    range.end = next.end;
                    i += 1;
                }
                let offered = range.len();
                (wr.poll_write_shared(cx, &fill::shared(range)), offered)
            }
            None => {
                let start = i;
                i += 1;
                while i < bufs.len() && fill::window(bufs[i]).is_none() {
                    i += 1;
                }
                let run = &bufs[start..i];
                let offered = run.iter().map(|b| b.len()).sum();
                (wr.poll_write_slices(cx, run), offered)
            }
        };
        match res {
            Poll::Ready(Ok(n)) => {
                total += n;
                if n < offered {
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

impl Drop for WriteHalf {
    fn drop(&mut self) {
        match self.inner.take() {
            Some(Write::Sim(host, wr)) => {
                scoped(host, || drop(wr));
            }
            // A blocked relay holds the FIN too: the half closes when the block lifts.
            Some(Write::Real(wr, real)) if real.is_blocked() => {
                tokio::task::spawn_local(async move {
                    real.open().await;
                    drop(wr);
                });
            }
            _ => {}
        }
    }
}

/// A listening socket.
pub(crate) struct Listener {
    inner: Option<Listen>,
}

enum Listen {
    Sim(HostId, TcpListener),
    Real(tokio::net::TcpListener, Arc<RealNet>),
}

impl Listener {
    /// Binds `0.0.0.0:port` on a simulated host; on a real one, the loopback address its
    /// [`super::real::RealNet`] names for `port`, published once bound.
    pub(crate) async fn bind(place: &Place, port: u16) -> io::Result<Listener> {
        let host = match place {
            Place::Sim(host) => *host,
            Place::Real(real) => {
                let l = tokio::net::TcpListener::bind(real.listen_addr(port)).await?;
                real.set_bound(port, l.local_addr()?);
                return Ok(Listener {
                    inner: Some(Listen::Real(l, real.clone())),
                });
            }
        };
        let mut fut = std::pin::pin!(scoped(host, || TcpListener::bind(("0.0.0.0", port))));
        let l = std::future::poll_fn(|cx| scoped(host, || fut.as_mut().poll(cx))).await?;
        Ok(Listener {
            inner: Some(Listen::Sim(host, l)),
        })
    }

    /// Whether this listener is a real socket (its accepts can fail with the kernel's EMFILE).
    pub(crate) fn is_real(&self) -> bool {
        matches!(self.inner, Some(Listen::Real(..)))
    }

    /// The next handshaken connection.
    pub(crate) async fn accept(&self) -> io::Result<Tcp> {
        let (host, l) = match self.inner.as_ref().expect("live listener") {
            Listen::Real(l, real) => {
                let (s, _) = l.accept().await?;
                s.set_nodelay(true)?;
                return Ok(Tcp {
                    inner: Some(Stream::Real(s, real.clone())),
                });
            }
            Listen::Sim(host, l) => (*host, l),
        };
        let (s, _) = std::future::poll_fn(|cx| scoped(host, || l.poll_accept(cx))).await?;
        Ok(Tcp {
            inner: Some(Stream::Sim(host, s)),
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(Listen::Sim(host, l)) = self.inner.take() {
            scoped(host, || drop(l));
        }
    }
}
