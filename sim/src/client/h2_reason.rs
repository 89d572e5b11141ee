//! What an HTTP/2 failure says about a request: read from the `h2::Error` at the bottom of a
//! `hyper::Error`'s source chain.
//!
//! HTTP/2 tells a client which requests the server never processed (RFC 9113 §8.7): a stream
//! reset with REFUSED_STREAM, and a stream above the last stream id of a GOAWAY. Such a request
//! may be retried whatever its method — a POST included — because no byte of it reached the
//! application. Every other failure (a reset with another code, a connection that closed under
//! an accepted stream) keeps the HTTP/1 rule: only idempotent requests are retried.
//!
//! h2 reports a stream above GOAWAY's last stream id as a *remote GOAWAY* error on that stream;
//! streams at or below it go on. A GOAWAY with an error code (not NO_ERROR) closes every stream,
//! processed or not, so only a graceful GOAWAY (NO_ERROR) is taken as "not processed" here.

use std::error::Error;
use std::fmt;

use crate::error::ErrorKind;

/// Which HTTP/2 frame ended a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum H2Frame {
    /// RST_STREAM: the peer reset this stream.
    RstStream,
    /// GOAWAY: the peer is closing the connection.
    GoAway,
}

/// An HTTP/2 failure of one request, as the peer sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct H2Failure {
    /// The frame.
    pub frame: H2Frame,
    /// Its error code, as RFC 9113 names it (`REFUSED_STREAM`, `NO_ERROR`, `CANCEL`...).
    pub code: String,
    /// Whether the server never processed the request (REFUSED_STREAM, or above a graceful
    /// GOAWAY's last stream id): it may be retried whatever its method.
    pub unprocessed: bool,
}

impl H2Frame {
    /// The frame's name in RFC 9113: `RST_STREAM` or `GOAWAY`.
    pub fn name(self) -> &'static str {
        match self {
            H2Frame::RstStream => "RST_STREAM",
            H2Frame::GoAway => "GOAWAY",
        }
    }
}

impl fmt::Display for H2Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.frame.name(), self.code)
    }
}

impl H2Failure {
    /// The HTTP/2 failure in `e`'s source chain sent by the peer, if any.
    pub fn of(e: &(dyn Error + 'static)) -> Option<H2Failure> {
        let mut cur: Option<&(dyn Error + 'static)> = Some(e);
        while let Some(err) = cur {
            if let Some(h) = err.downcast_ref::<h2::Error>() {
                let reason = h.reason()?;
                if !h.is_remote() {
                    return None;
                }
                let code = code_name(reason);
                return Some(if h.is_go_away() {
                    H2Failure {
                        frame: H2Frame::GoAway,
                        unprocessed: reason == h2::Reason::NO_ERROR,
                        code,
                    }
                } else {
                    H2Failure {
                        frame: H2Frame::RstStream,
                        unprocessed: reason == h2::Reason::REFUSED_STREAM,
                        code,
                    }
                });
            }
            cur = err.source();
        }
        None
    }

    /// The error kind a request ended this way is counted under: a refused stream is
    /// `refused`, a stream cut by GOAWAY `closed`, any other reset `reset`.
    pub fn kind(&self) -> ErrorKind {
        match self.frame {
            H2Frame::GoAway => ErrorKind::Closed,
            H2Frame::RstStream if self.code == "REFUSED_STREAM" => ErrorKind::Refused,
            H2Frame::RstStream => ErrorKind::Reset,
        }
    }
}

/// RFC 9113's name of an error code (h2's `Debug` prints exactly it for known codes).
fn code_name(r: h2::Reason) -> String {
    format!("{r:?}")
}
