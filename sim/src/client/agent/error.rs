//! The Agent's error: what failed, and whether any of the request may have been written.

use std::fmt;
use std::io;

/// Where a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Opening the socket (nothing was written).
    Connect,
    /// Sending the request or waiting for the response head.
    Request,
    /// The Agent was dropped while the request waited for a socket.
    Gone,
}

/// Why an [`super::Agent`] request failed.
#[derive(Debug)]
pub struct AgentError {
    stage: Stage,
    written: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl AgentError {
    pub(super) fn connect(e: io::Error) -> Self {
        Self {
            stage: Stage::Connect,
            written: false,
            source: Some(Box::new(e)),
        }
    }

    pub(super) fn handshake(e: hyper::Error) -> Self {
        Self {
            stage: Stage::Connect,
            written: false,
            source: Some(Box::new(e)),
        }
    }

    /// `written`: whether hyper may have put any of the request on the wire (it had not when
    /// hyper hands the request back).
    pub(super) fn request(e: hyper::Error, written: bool) -> Self {
        Self {
            stage: Stage::Request,
            written,
            source: Some(Box::new(e)),
        }
    }

    pub(super) fn gone() -> Self {
        Self {
            stage: Stage::Gone,
            written: false,
            source: None,
        }
    }

    /// The socket could not be opened; nothing was written.
    pub fn is_connect(&self) -> bool {
        self.stage == Stage::Connect
    }

    /// Whether any of the request may have reached the wire. A request that was not written is
    /// safe to retry whatever its method.
    pub fn written(&self) -> bool {
        self.written
    }

    /// The connection closed before the response was complete ("connection closed before
    /// message completed").
    pub fn is_closed(&self) -> bool {
        self.hyper().is_some_and(|h| h.is_incomplete_message())
    }

    fn hyper(&self) -> Option<&hyper::Error> {
        self.source.as_ref().and_then(|s| s.downcast_ref())
    }
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The cause is the source, so error reporters that walk the chain print it once.
        f.write_str(match self.stage {
            Stage::Connect => "connect failed",
            Stage::Request => "request failed",
            Stage::Gone => "agent dropped while the request waited",
        })
    }
}

impl std::error::Error for AgentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}
