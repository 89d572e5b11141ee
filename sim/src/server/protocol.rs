//! Which HTTP the server speaks, and its HTTP/2 settings.
//!
//! - `http1` — hyper's `server::conn::http1` (the default, and the only protocol before
//!   HTTP/2 was added).
//! - `http2` — hyper's `server::conn::http2` with prior knowledge (h2c): the client opens with
//!   the HTTP/2 preface, there is no `Upgrade` and no TLS/ALPN.
//! - `auto` — hyper-util's `server::conn::auto::Builder`: reads the first bytes and serves
//!   HTTP/1.1 or HTTP/2 by what it finds, as most Rust servers (axum's `serve`) do.
//!
//! [`H2Settings`] are hyper's HTTP/2 builder knobs, unchanged: `None` leaves hyper's default.
//! They apply to `http2` and to the HTTP/2 side of `auto`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The protocol a server speaks. The default is [`Protocol::Http1`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 only.
    #[default]
    Http1,
    /// HTTP/2 with prior knowledge (h2c).
    Http2,
    /// HTTP/1.1 or HTTP/2, chosen per connection by its first bytes.
    Auto,
}

impl Protocol {
    /// The scenario name: `http1`, `http2` or `auto`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http1 => "http1",
            Protocol::Http2 => "http2",
            Protocol::Auto => "auto",
        }
    }

    /// Whether connections may speak HTTP/2.
    pub fn serves_h2(self) -> bool {
        self != Protocol::Http1
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Protocol {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "http1" => Ok(Protocol::Http1),
            "http2" => Ok(Protocol::Http2),
            "auto" => Ok(Protocol::Auto),
            _ => Err(()),
        }
    }
}

/// HTTP/2 settings of the server, each passed to hyper's `http2::Builder` as is. Every field
/// documents its default (`None`: hyper's own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct H2Settings {
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams a client may have open at once; a stream
    /// beyond it is reset with REFUSED_STREAM. The default is hyper's (200).
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE, bytes per stream. The default is hyper's (1 MiB).
    pub initial_stream_window_size: Option<u32>,
    /// The connection's flow-control window, bytes. The default is hyper's (1 MiB).
    pub initial_connection_window_size: Option<u32>,
    /// How often a PING is sent to check the peer is alive. The default is none (no pings).
    pub keep_alive_interval: Option<Duration>,
    /// How long a PING may go unanswered before the connection is closed. The default is
    /// hyper's (20 s); it only matters with an interval.
    pub keep_alive_timeout: Option<Duration>,
    /// Streams the client may reset before the server accepted them, before the connection is
    /// closed with GOAWAY (the "rapid reset" guard). The default is hyper's (20).
    pub max_pending_accept_reset_streams: Option<usize>,
}
