//! Error classification shared by pools, checks and reports.
//!
//! Every request error a user sees is sorted into one [`ErrorKind`]; the names are part of the
//! JSON contract (`requests.errors`, `first_error.kind`).

use std::error::Error as StdError;
use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

use crate::net::fd::is_emfile;

/// The kind of a request error, as reported in traces, JSON and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// Too many open files (EMFILE) on connect or accept.
    Emfile,
    /// A configured timeout expired.
    Timeout,
    /// The connection was refused.
    Refused,
    /// The connection was reset (RST).
    Reset,
    /// The connection closed before the message completed.
    Closed,
    /// Another connect error.
    Connect,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Emfile,
        ErrorKind::Timeout,
        ErrorKind::Refused,
        ErrorKind::Reset,
        ErrorKind::Closed,
        ErrorKind::Connect,
        ErrorKind::Other,
    ];

    /// The name used in traces and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Emfile => "emfile",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Refused => "refused",
            ErrorKind::Reset => "reset",
            ErrorKind::Closed => "closed",
            ErrorKind::Connect => "connect",
            ErrorKind::Other => "other",
        }
    }

    /// Classifies an I/O error.
    pub fn of_io(e: &io::Error) -> ErrorKind {
        if is_emfile(e) {
            return ErrorKind::Emfile;
        }
        match e.kind() {
            io::ErrorKind::TimedOut => ErrorKind::Timeout,
            io::ErrorKind::ConnectionRefused => ErrorKind::Refused,
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => ErrorKind::Reset,
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionAborted => ErrorKind::Closed,
            _ => ErrorKind::Other,
        }
    }

    /// Classifies any error by walking its source chain: the innermost I/O error decides, then
    /// hyper's own categories (a message cut short is `closed`).
    pub fn of(e: &(dyn StdError + 'static)) -> ErrorKind {
        let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
        let mut hyper_kind = None;
        let mut is_connect = false;
        while let Some(err) = cur {
            if let Some(io) = err.downcast_ref::<io::Error>() {
                let k = ErrorKind::of_io(io);
                if k != ErrorKind::Other {
                    return k;
                }
            }
            if let Some(h) = err.downcast_ref::<hyper::Error>() {
                if h.is_incomplete_message() || h.is_canceled() {
                    hyper_kind.get_or_insert(ErrorKind::Closed);
                } else if h.is_timeout() {
                    hyper_kind.get_or_insert(ErrorKind::Timeout);
                }
            }
            if let Some(c) = err.downcast_ref::<hyper_util::client::legacy::Error>() {
                is_connect |= c.is_connect();
            }
            if let Some(t) = err.downcast_ref::<crate::client::ClientError>() {
                return t.kind();
            }
            // A caller's own timeouts: `tokio::time::timeout` and tower's `Timeout` layer.
            if err.is::<tokio::time::error::Elapsed>() || err.is::<tower::timeout::error::Elapsed>()
            {
                return ErrorKind::Timeout;
            }
            cur = err.source();
        }
        match hyper_kind {
            Some(k) => k,
            None if is_connect => ErrorKind::Connect,
            None => ErrorKind::Other,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
