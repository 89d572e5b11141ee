//! Reading figures from a trace.

use std::collections::BTreeMap;
use std::time::Duration;

use httpsim::trace::{Event, Record};

/// `(request, µs)` of every response head, in time order.
pub fn heads(records: &[Record]) -> Vec<(u64, u64)> {
    records
        .iter()
        .filter_map(|r| match r.event {
            Event::ResponseHead { req, .. } => Some((req, r.t_us)),
            _ => None,
        })
        .collect()
}

/// Splits head times into batches: a new batch starts after a silence longer than `gap`.
pub fn batches(times: &[u64], gap: Duration) -> Vec<Vec<u64>> {
    let gap = gap.as_micros() as u64;
    let mut out: Vec<Vec<u64>> = Vec::new();
    for &t in times {
        match out.last_mut() {
            Some(b) if t - *b.last().expect("batches are never empty") <= gap => b.push(t),
            _ => out.push(vec![t]),
        }
    }
    out
}

/// The longest silence between consecutive head times, µs.
pub fn longest_gap(times: &[u64]) -> u64 {
    times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
}

/// The most client sockets alive at once on `host` (connected, neither closed nor closed by the
/// peer), from the trace.
pub fn peak_live_sockets(records: &[Record], host: &str) -> usize {
    let mut live: BTreeMap<u64, ()> = BTreeMap::new();
    let mut peak = 0;
    for r in records.iter().filter(|r| r.host == host) {
        match r.event {
            Event::Connected { conn, .. } => {
                live.insert(conn, ());
            }
            Event::Closed { conn, .. } | Event::PeerClosed { conn, .. } => {
                live.remove(&conn);
            }
            _ => {}
        }
        peak = peak.max(live.len());
    }
    peak
}

/// Prints the trace when `HTTPSIM_TRACE` is set (`HTTPSIM_TRACE=1 cargo test --test pools NAME
/// -- --nocapture`).
pub fn dump(records: &[Record]) {
    if std::env::var_os("HTTPSIM_TRACE").is_some() {
        eprintln!("{}", httpsim::trace::TraceText(records));
    }
}

/// Seconds, for messages.
pub fn secs(us: u64) -> f64 {
    us as f64 / 1e6
}
