//! HTTP/2 settings of a client, shared by hyper-util's `Client` under `http2_only` and the
//! bounded [`super::h2_pool::H2Pool`]. Each is passed to hyper's HTTP/2 client builder as is.

use std::time::Duration;

/// A client's HTTP/2 settings. Every field documents its default (`None`: hyper's own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct H2ClientSettings {
    /// How often a PING is sent to check the server is alive. The default is none (no pings: a
    /// half-open connection is found only by a request's own timeout).
    pub keep_alive_interval: Option<Duration>,
    /// How long a PING may go unanswered before the connection is closed (its requests fail
    /// with `timeout`). The default is hyper's (20 s); it only matters with an interval.
    pub keep_alive_timeout: Option<Duration>,
    /// Ping while no stream is open, too. The default is `false` (hyper's).
    pub keep_alive_while_idle: bool,
    /// BDP-based adaptive flow-control windows. The default is `false` (hyper's).
    pub adaptive_window: bool,
    /// Locally reset streams kept to absorb frames still in flight for them. The default is
    /// hyper's (10).
    pub max_concurrent_reset_streams: Option<usize>,
    /// Streams the client opens before the server's SETTINGS tell it the real limit. The
    /// default is hyper's (100); h2's own default was unlimited, so a burst opened more streams
    /// than a server allowing fewer accepts, and those were refused (REFUSED_STREAM).
    pub initial_max_send_streams: Option<usize>,
}

impl H2ClientSettings {
    /// Applies the settings to hyper's HTTP/2 client builder.
    pub fn apply<E: Clone>(&self, b: &mut hyper::client::conn::http2::Builder<E>) {
        b.timer(crate::net::clock::SimTimer::new())
            .keep_alive_interval(self.keep_alive_interval)
            .keep_alive_while_idle(self.keep_alive_while_idle)
            .adaptive_window(self.adaptive_window)
            .initial_max_send_streams(self.initial_max_send_streams);
        if let Some(t) = self.keep_alive_timeout {
            b.keep_alive_timeout(t);
        }
        if let Some(n) = self.max_concurrent_reset_streams {
            b.max_concurrent_reset_streams(n);
        }
    }
}
