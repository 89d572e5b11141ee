//! The HTTP/2 rules: values hyper's and h2's builders would panic on (a window above 2^31 − 1,
//! RFC 9113 §6.9.2) or that could never work (a pool of 0 streams, a zero ping interval that
//! would ping in a loop).

use super::{opt_duration, rule, R};
use crate::client::h2_settings::H2ClientSettings;
use crate::server::H2Settings;

/// The largest flow-control window HTTP/2 allows.
const MAX_WINDOW: u32 = (1 << 31) - 1;

pub(super) fn check_server(h2: &H2Settings) -> R {
    for (key, w) in [
        (
            "server.initial_stream_window_size",
            h2.initial_stream_window_size,
        ),
        (
            "server.initial_connection_window_size",
            h2.initial_connection_window_size,
        ),
    ] {
        rule(
            w.is_none_or(|w| w <= MAX_WINDOW),
            key,
            || format!("a window of {} bytes", w.unwrap_or(0)),
            "at most 2147483647 bytes (2^31 - 1, RFC 9113)",
        )?;
    }
    ping("server", h2.keep_alive_interval, h2.keep_alive_timeout)
}

pub(super) fn check_client(h2: &H2ClientSettings) -> R {
    rule(
        h2.initial_max_send_streams != Some(0),
        "client.pool.initial_max_send_streams",
        || "0 streams: no request could be sent before SETTINGS".into(),
        "at least 1",
    )?;
    ping("client.pool", h2.keep_alive_interval, h2.keep_alive_timeout)
}

pub(super) fn check_pool(max_streams: usize, max_connections: usize) -> R {
    rule(
        max_streams > 0,
        "client.pool.max_streams_per_connection",
        || "0 streams per connection".into(),
        "at least 1",
    )?;
    rule(
        max_connections > 0,
        "client.pool.max_connections",
        || "0 connections".into(),
        "at least 1",
    )
}

fn ping(
    prefix: &str,
    interval: Option<std::time::Duration>,
    timeout: Option<std::time::Duration>,
) -> R {
    let key = format!("{prefix}.keep_alive_interval");
    rule(
        interval.is_none_or(|i| !i.is_zero()),
        &key,
        || "a ping interval of 0".into(),
        "a positive duration such as \"10s\"",
    )?;
    opt_duration(&key, interval)?;
    opt_duration(&format!("{prefix}.keep_alive_timeout"), timeout)
}
