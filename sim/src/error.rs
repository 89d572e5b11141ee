//! Error classification shared by pools, checks and reports.
//!
//! Every request error a user sees is sorted into one [`ErrorKind`]; the names are part of the
//! JSON contract (`requests.errors`, `first_error.kind`). The bottom layer: it imports nothing
//! of httpsim. Classifying any error ([`ErrorKind::of`]) lives beside `client::ClientError`,
//! which it recognises.

use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

/// The raw OS error number of "Too many open files".
pub const EMFILE: i32 = 24;

/// The error a socket call gets when its host's fd table is full: EMFILE, "Too many open files
/// (os error 24)", as Linux gives it.
pub fn emfile() -> io::Error {
    io::Error::from_raw_os_error(EMFILE)
}

/// Whether `err` is an EMFILE error.
pub fn is_emfile(err: &io::Error) -> bool {
    err.raw_os_error() == Some(EMFILE)
}

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
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares by trace name, so that `kind == "emfile"` reads as it does in a trace line.
impl PartialEq<str> for ErrorKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

/// Compares by trace name (see the `str` impl).
impl PartialEq<&str> for ErrorKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorKind;

    #[test]
    fn serde_spelling_is_the_display_name_both_ways() {
        for k in ErrorKind::ALL {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{k}\""));
            assert_eq!(serde_json::from_str::<ErrorKind>(&json).unwrap(), k);
            assert!(k == k.as_str());
        }
    }
}
