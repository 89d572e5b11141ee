//! How the Agent opens sockets, and what it may learn about them while hyper owns them.
//!
//! The Agent is generic over a [`Connect`]or so it can be used outside the simulation: wrap any
//! `tower::Service<Uri>` (hyper-util's `HttpConnector`, for instance) in [`ServiceConnector`].
//! In httpsim it dials through [`SimConnector`].
//!
//! A [`Transport`] may offer a [`Watch`]: a connection id for traces and a signal that the peer
//! closed the socket. The signal matters: once a response body is held unread, hyper stops
//! reading the socket and never sees the peer's FIN, so without it a pool cannot free that slot.
//! A transport without a watch still works; its dead sockets are found when hyper next reads.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;

use http::Uri;

use crate::net::{SimConnector, SimStream, StreamHandle};
use crate::trace::CloseReason;

/// A boxed, non-`Send` future.
pub type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// Opens sockets for the Agent.
pub trait Connect: 'static {
    /// The socket type.
    type Stream: Transport;
    /// Opens a socket to the host and port of `uri`.
    fn connect(&self, uri: &Uri) -> LocalBoxFuture<io::Result<Self::Stream>>;
}

/// A socket the Agent can run HTTP/1 over.
pub trait Transport: hyper::rt::Read + hyper::rt::Write + Unpin + 'static {
    /// What the Agent may observe about this socket after handing it to hyper. The default is
    /// nothing.
    fn watch(&self) -> Option<Rc<dyn Watch>> {
        None
    }

    /// Stops the socket reading ahead of the application once `bytes` of unread data are
    /// buffered (the Agent's [`AgentConfig::read_pause`](super::AgentConfig::read_pause)):
    /// what arrives after that waits in the kernel, and a close behind it is not seen. The
    /// default does nothing (a transport that never reads ahead).
    fn set_read_pause(&self, _bytes: usize) {}
}

/// Why the Agent closes a socket, for transports that record it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolClose {
    /// A free socket reached the Agent's idle timeout.
    IdleTimeout,
}

/// Observes one socket while hyper owns it.
pub trait Watch {
    /// An id naming the socket in traces.
    fn id(&self) -> Option<u64>;
    /// Whether the peer has closed the socket (FIN or RST seen).
    fn is_peer_closed(&self) -> bool;
    /// Resolves when the peer closes the socket.
    fn peer_closed(&self) -> LocalBoxFuture<()>;
    /// Called just before the Agent closes the socket on purpose. The default does nothing.
    fn closing(&self, _why: PoolClose) {}
}

impl Watch for StreamHandle {
    fn id(&self) -> Option<u64> {
        Some(self.conn())
    }

    fn is_peer_closed(&self) -> bool {
        StreamHandle::is_peer_closed(self)
    }

    fn peer_closed(&self) -> LocalBoxFuture<()> {
        let h = self.clone();
        Box::pin(async move { h.peer_closed().await })
    }

    fn closing(&self, why: PoolClose) {
        match why {
            PoolClose::IdleTimeout => self.set_close_reason(CloseReason::IdleTimeout),
        }
    }
}

impl Transport for SimStream {
    fn watch(&self) -> Option<Rc<dyn Watch>> {
        Some(Rc::new(self.handle()))
    }

    fn set_read_pause(&self, bytes: usize) {
        self.handle().set_read_pause(bytes);
    }
}

impl<T> Transport for hyper_util::rt::TokioIo<T> where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static
{
}

impl Connect for SimConnector {
    type Stream = SimStream;

    fn connect(&self, uri: &Uri) -> LocalBoxFuture<io::Result<SimStream>> {
        let mut svc = self.clone();
        let uri = uri.clone();
        Box::pin(async move { tower::Service::call(&mut svc, uri).await })
    }
}

/// Adapts any `tower::Service<Uri>` connector (hyper-util's `HttpConnector`, for instance).
#[derive(Clone, Debug)]
pub struct ServiceConnector<S>(pub S);

impl<S> Connect for ServiceConnector<S>
where
    S: tower::Service<Uri> + Clone + 'static,
    S::Response: Transport,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: 'static,
{
    type Stream = S::Response;

    fn connect(&self, uri: &Uri) -> LocalBoxFuture<io::Result<S::Response>> {
        let mut svc = self.0.clone();
        let uri = uri.clone();
        Box::pin(async move {
            futures_util::future::poll_fn(|cx| svc.poll_ready(cx))
                .await
                .map_err(io::Error::other)?;
            svc.call(uri).await.map_err(io::Error::other)
        })
    }
}
