//! What the server under test answers.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};

/// The body type every handler answers with.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;
/// A boxed error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How the server answers each request.
#[derive(Clone, Debug, PartialEq)]
pub enum Handler {
    /// A body of `body_bytes` bytes sent in chunks of `chunk_bytes`, at once.
    Fixed {
        /// Body size.
        body_bytes: usize,
        /// Chunk size; a body larger than one chunk takes several writes.
        chunk_bytes: usize,
        /// Status code.
        status: u16,
    },
    /// Waits `delay` asynchronously (other requests proceed), then answers like `Fixed`.
    Delay {
        /// The wait.
        delay: Duration,
        /// Body size.
        body_bytes: usize,
        /// Status code.
        status: u16,
    },
    /// Burns `busy` of CPU: the whole server host is blocked meanwhile, so requests on other
    /// connections wait too.
    Cpu {
        /// CPU time per request.
        busy: Duration,
        /// Body size.
        body_bytes: usize,
        /// Status code.
        status: u16,
    },
    /// Answers with the request body.
    Echo {
        /// Status code.
        status: u16,
    },
    /// Your own application: any tower service (an axum `Router`, a `tower::service_fn`, a tower
    /// stack), served by httpsim's server with every other server setting applying to it (see
    /// [`super::service`]).
    Service(super::Service),
}

impl Default for Handler {
    fn default() -> Self {
        Handler::Fixed {
            body_bytes: 4096,
            chunk_bytes: 16 * 1024,
            status: 200,
        }
    }
}

/// How many body buffers hyper queues before it flushes when it writes vectored (its
/// `MAX_BUF_LIST_BUFFERS`); a flattened write buffer holds ~400 KiB instead.
pub(crate) const HYPER_QUEUED_BUFS: usize = 16;

/// The frames of [`chunked_body`]`(len, chunk)`.
fn frames(len: usize, chunk: usize) -> usize {
    len.div_ceil(chunk.max(1))
}

impl Handler {
    /// The most data frames a response body of this handler has.
    pub(crate) fn max_body_frames(&self) -> usize {
        match self {
            Handler::Fixed {
                body_bytes,
                chunk_bytes,
                ..
            } => frames(*body_bytes, *chunk_bytes),
            Handler::Delay { body_bytes, .. } | Handler::Cpu { body_bytes, .. } => {
                frames(*body_bytes, 16 * 1024)
            }
            Handler::Echo { .. } => 1,
            // Unknown: hyper flattens its writes (see `SimStream::is_write_vectored`).
            Handler::Service(_) => usize::MAX,
        }
    }

    /// The status code this handler answers with; `None` for a [`Handler::Service`], whose
    /// answers are its own.
    pub fn status(&self) -> Option<u16> {
        match self {
            Handler::Fixed { status, .. }
            | Handler::Delay { status, .. }
            | Handler::Cpu { status, .. }
            | Handler::Echo { status } => Some(*status),
            Handler::Service(_) => None,
        }
    }

    /// Wraps any tower service as the handler (see [`super::Service::new`]).
    pub fn service<S, B>(svc: S) -> Self
    where
        S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + 'static,
        S::Error: Into<BoxError>,
        S::Future: 'static,
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Handler::Service(super::Service::new(svc))
    }
}

/// One chunk of `n` `x` bytes at `offset` of its body: a window of the static bytes every body
/// is made of ([`crate::net::fill`]), so a response allocates no body bytes of its own (filling
/// fresh ones was 4 % of a simulated request, and at 10k held responses each written-and-freed
/// 4 KiB buffer left that much memory touched), and a simulated socket sends it without a copy.
fn fill(offset: usize, n: usize) -> Bytes {
    crate::net::fill::chunk(offset, n)
}

/// A body of `len` bytes in chunks of `chunk` bytes.
pub fn chunked_body(len: usize, chunk: usize) -> ResponseBody {
    let chunk = chunk.max(1);
    if len > 0 && len <= chunk {
        // One chunk: a full body, which hyper writes with its end in one step.
        return full_body(fill(0, len));
    }
    // Made as they are sent: a body of many chunks costs no memory up front.
    let frames = (0..len.div_ceil(chunk)).map(move |i| {
        let n = (len - i * chunk).min(chunk);
        Ok::<_, BoxError>(Frame::data(fill(i * chunk, n)))
    });
    StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
}

/// A body holding `bytes` in one frame.
pub fn full_body(bytes: Bytes) -> ResponseBody {
    Full::new(bytes)
        .map_err(|e: Infallible| match e {})
        .boxed_unsync()
}

/// The response of a handler that answers at once ([`Handler::Fixed`]), as [`respond`] would
/// give it; `None` for the others. Lets the connection answer without [`respond`]'s future,
/// which is sized for the handlers that wait (a timer, the CPU, the request body, your
/// service) and was copied whole into every request's boxed future.
pub(crate) fn respond_now(handler: &Handler) -> Option<Result<Response<ResponseBody>, BoxError>> {
    match handler {
        Handler::Fixed {
            body_bytes,
            chunk_bytes,
            status,
        } => {
            let body = chunked_body(*body_bytes, *chunk_bytes);
            Some(response(body, *body_bytes, *status))
        }
        _ => None,
    }
}

/// Builds the response for `req`; `cpu` is the host's CPU, burnt on behalf of `token` (the
/// request's connection).
pub(crate) async fn respond(
    handler: &Handler,
    req: Request<Incoming>,
    cpu: &super::cpu::HostCpu,
    token: super::cpu::CpuToken,
) -> Result<Response<ResponseBody>, BoxError> {
    let (body, len) = match handler {
        Handler::Fixed { .. } => {
            return respond_now(handler).expect("a fixed handler answers at once");
        }
        Handler::Delay {
            delay, body_bytes, ..
        } => {
            crate::net::clock::sleep(*delay).await;
            (chunked_body(*body_bytes, 16 * 1024), *body_bytes)
        }
        Handler::Cpu {
            busy, body_bytes, ..
        } => {
            cpu.burn(token, *busy).await;
            (chunked_body(*body_bytes, 16 * 1024), *body_bytes)
        }
        Handler::Echo { .. } => {
            let bytes = req.into_body().collect().await?.to_bytes();
            let n = bytes.len();
            (full_body(bytes), n)
        }
        Handler::Service(svc) => return svc.call(req, cpu.clone(), token).await,
    };
    response(body, len, handler.status().unwrap_or(200))
}

/// A response of `status` with `body` (`len` bytes), with `content-length` unless hyper writes
/// it by itself.
fn response(
    body: ResponseBody,
    len: usize,
    status: u16,
) -> Result<Response<ResponseBody>, BoxError> {
    // Built in place rather than through `Response::builder`, which moves its parts at every
    // step.
    let status = http::StatusCode::from_u16(status).map_err(http::Error::from)?;
    let write_length = !hyper_writes_length(&body, len, status.as_u16());
    let mut res = Response::new(body);
    *res.status_mut() = status;
    if write_length {
        res.headers_mut()
            .insert(http::header::CONTENT_LENGTH, len.into());
    }
    Ok(res)
}

/// Whether hyper writes `content-length: len` for `body` by itself, exactly as it writes the
/// header when the handler sets it: the body knows its exact non-zero length and the status may
/// carry a length (hyper's `Server::can_have_content_length`; httpsim sends no `CONNECT`).
///
/// Why: hyper keeps a response's header map per connection once it allocated one (it reuses it
/// for the next response), about 600 bytes per held connection for this one header. The same
/// headers and as many bytes go on the wire, though not always in the same order: the header's
/// place among the others may change (hyper writes it after the map's headers, e.g. after
/// `connection: close`).
fn hyper_writes_length(body: &ResponseBody, len: usize, status: u16) -> bool {
    use hyper::body::Body as _;
    len > 0
        && body.size_hint().exact() == Some(len as u64)
        && !(100..200).contains(&status)
        && status != 204
        && status != 304
}
