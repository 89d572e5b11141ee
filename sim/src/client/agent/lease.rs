//! A checked-out socket ([`Lease`]) and the response body that keeps it checked out
//! ([`AgentBody`]).
//!
//! A socket is busy from checkout until its response body has been read to the end (then it
//! goes back to the pool) or the body is dropped unfinished (then it is closed: HTTP/1 cannot
//! abandon a response half-read and keep the connection).

use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;

use super::connect::Connect;
use super::state::Conn;
use super::Inner;

/// Where a checked-out socket is in its exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    /// Nothing written yet: the socket goes back to the pool as it is.
    Unused,
    /// A request was handed to hyper and its response is not finished: abandoning it closes the
    /// socket at once.
    Busy,
    /// The response was read to its end; `keep`: the socket may serve another request.
    Finished { keep: bool },
}

/// A socket checked out of the Agent. Dropping it ends the checkout as its [`Stage`] says.
pub(super) struct Lease<C: Connect, B: 'static> {
    pub(super) agent: Rc<Inner<C, B>>,
    pub(super) conn: Rc<Conn>,
    pub(super) sender: Option<SendRequest<B>>,
    pub(super) reused: bool,
    pub(super) stage: Stage,
}

impl<C: Connect, B: 'static> Drop for Lease<C, B> {
    fn drop(&mut self) {
        let sender = self.sender.take();
        match (self.stage, sender) {
            (Stage::Unused | Stage::Finished { keep: true }, Some(s)) => {
                self.agent.put_back(&self.conn, s)
            }
            (Stage::Busy, s) => {
                drop(s);
                self.agent.close(&self.conn, true);
            }
            (_, s) => {
                drop(s);
                self.agent.close(&self.conn, false);
            }
        }
    }
}

/// Ends a checkout from a type-erased body.
pub(super) trait Finish {
    fn finish(&mut self, keep: bool);
}

impl<C: Connect, B: 'static> Finish for Lease<C, B> {
    fn finish(&mut self, keep: bool) {
        self.stage = Stage::Finished { keep };
    }
}

/// The body of an Agent response. Its socket stays checked out until this body has been read
/// to the end (it then returns to the pool) or is dropped (the socket is then closed).
pub struct AgentBody {
    inner: Incoming,
    lease: Option<Box<dyn Finish>>,
    /// Whether the socket may be reused once the body is finished.
    keep: bool,
}

impl AgentBody {
    pub(super) fn new(inner: Incoming, lease: Box<dyn Finish>, keep: bool) -> Self {
        let mut body = Self {
            inner,
            lease: Some(lease),
            keep,
        };
        if body.inner.is_end_stream() {
            body.finish();
        }
        body
    }

    fn finish(&mut self) {
        if let Some(mut lease) = self.lease.take() {
            lease.finish(self.keep);
        }
    }
}

impl std::fmt::Debug for AgentBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentBody")
            .field("checked_out", &self.lease.is_some())
            .finish()
    }
}

impl Body for AgentBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_frame(cx);
        match &res {
            Poll::Ready(None) => this.finish(),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.finish(),
            // The exchange broke: the lease is dropped busy, which closes the socket.
            Poll::Ready(Some(Err(_))) => drop(this.lease.take()),
            _ => {}
        }
        res
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether a response head says its connection closes after it.
pub(super) fn closes_after(res: &http::Response<Incoming>) -> bool {
    let close = res
        .headers()
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("close"));
    close || res.version() == http::Version::HTTP_10
}
