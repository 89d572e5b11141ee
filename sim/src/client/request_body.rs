//! [`RequestBody`]: the body of every request a pool sends.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

/// A request body: all its bytes in one frame, like `http_body_util::Full<Bytes>` (same frames,
/// same `is_end_stream` and exact size hint, so the same bytes on the wire), but one pointer wide
/// instead of four.
///
/// Why it matters: hyper-util's client queues each request in a per-connection channel whose
/// first block has room for 32 requests, so every byte of the body type costs 32 bytes per
/// connection (and again in the request future). With one connection per request at 10k
/// connections this was about 1.4 KiB per connection for `Full<Bytes>`. Most requests are GETs
/// with no body, which hold no allocation at all.
#[derive(Debug, Default)]
pub struct RequestBody {
    /// The bytes not yet polled; `None` when empty or already sent.
    data: Option<Box<Bytes>>,
}

impl RequestBody {
    /// A body of `bytes` (an empty `bytes` is an empty body).
    pub fn new(bytes: Bytes) -> Self {
        let data = (!bytes.is_empty()).then(|| Box::new(bytes));
        Self { data }
    }
}

impl RequestBody {
    /// The bytes not yet sent (all of them for a body never polled).
    pub fn into_bytes(self) -> Bytes {
        self.data.map(|b| *b).unwrap_or_default()
    }
}

impl From<Bytes> for RequestBody {
    fn from(bytes: Bytes) -> Self {
        Self::new(bytes)
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().data.take().map(|b| Ok(Frame::data(*b))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |b| b.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    fn frames(body: impl Body<Data = Bytes, Error = Infallible> + Unpin) -> Vec<Bytes> {
        let mut body = body;
        let mut out = Vec::new();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        while let Poll::Ready(Some(f)) = Pin::new(&mut body).poll_frame(&mut cx) {
            out.push(f.unwrap().into_data().unwrap());
        }
        out
    }

    #[test]
    fn behaves_like_a_full_body() {
        for bytes in [Bytes::new(), Bytes::from_static(b"seq=7")] {
            let ours = RequestBody::new(bytes.clone());
            let full = Full::new(bytes.clone());
            assert_eq!(ours.is_end_stream(), full.is_end_stream());
            assert_eq!(ours.size_hint().exact(), full.size_hint().exact());
            assert_eq!(frames(ours), frames(full));
        }
        assert_eq!(std::mem::size_of::<RequestBody>(), 8);
    }
}
