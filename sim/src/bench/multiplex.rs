//! HTTP/2 beside HTTP/1.1: the same requests, 100 in flight at a time, multiplexed as streams on
//! one HTTP/2 connection (httpsim's `h2` pool, one connection of 100 streams) against 100
//! HTTP/1.1 connections (the Agent, 100 sockets). Every request is issued at once and the pool
//! holds all but 100 back, so both sides keep exactly 100 in flight.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::h2_pool::H2PoolConfig;
use crate::client::{AgentConfig, BodyMode, PoolConfig};
use crate::server::{Handler, Protocol};
use crate::workload::WorkloadKind;
use crate::Setup;

/// In flight at a time, on both sides.
const IN_FLIGHT: usize = 100;

/// One side of the comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Side {
    /// Connections the run opened.
    pub connections: u64,
    /// Wall ms of the run, its summary and every invariant.
    pub wall_ms: f64,
    /// Wall µs per request.
    pub wall_us_per_request: f64,
    /// Simulated ms until the last response head.
    pub sim_ms: f64,
}

/// The HTTP/2 figure and its HTTP/1.1 counterpart.
#[derive(Clone, Debug, Serialize)]
pub struct Multiplex {
    /// Requests per run.
    pub requests: usize,
    /// In flight at a time.
    pub in_flight: usize,
    /// One HTTP/2 connection, `in_flight` streams.
    pub http2: Side,
    /// `in_flight` HTTP/1.1 keep-alive connections.
    pub http1: Side,
}

/// The setup of one side: `requests` GETs at once, 4 KiB bodies read, 1 ms latency.
pub fn setup(requests: usize, http2: bool) -> Setup {
    let mut s = Setup::default();
    s.world.duration(Duration::from_secs(3600));
    s.server.handler = Handler::Fixed {
        body_bytes: 4096,
        chunk_bytes: 4096,
        status: 200,
    };
    if http2 {
        s.server.protocol = Protocol::Http2;
        s.server.h2.max_concurrent_streams = Some(IN_FLIGHT as u32);
        s.client.pool = PoolConfig::H2(H2PoolConfig {
            max_streams_per_connection: IN_FLIGHT,
            max_connections: 1,
            ..H2PoolConfig::default()
        });
    } else {
        s.client.pool = PoolConfig::Agent(AgentConfig {
            max_sockets: IN_FLIGHT,
            ..AgentConfig::default()
        });
    }
    s.workload.kind = WorkloadKind::Parallel;
    s.workload.requests = requests as u64;
    s.workload.body = BodyMode::Read;
    s
}

fn side(requests: usize, http2: bool, repeat: usize) -> Side {
    let setup = setup(requests, http2);
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        let (run, _) = super::run_and_check(&setup);
        best = best.min(start.elapsed());
        last = Some(run);
    }
    let run = last.expect("at least one run");
    let summary = run.summary();
    let connections = run
        .records
        .iter()
        .filter(|r| matches!(r.event, crate::Event::Connected { .. }))
        .count() as u64;
    let wall_ms = best.as_secs_f64() * 1e3;
    Side {
        connections,
        wall_ms,
        wall_us_per_request: wall_ms * 1e3 / requests as f64,
        sim_ms: summary.last_completion_ms as f64,
    }
}

/// Measures both sides, `repeat` times each, keeping the fastest.
pub fn measure(requests: usize, repeat: usize) -> Multiplex {
    Multiplex {
        requests,
        in_flight: IN_FLIGHT,
        http2: side(requests, true, repeat),
        http1: side(requests, false, repeat),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http2_keeps_one_connection_where_http1_opens_one_per_request_in_flight() {
        let m = measure(300, 1);
        assert_eq!(m.http2.connections, 1, "{m:?}");
        assert_eq!(m.http1.connections, IN_FLIGHT as u64, "{m:?}");
        // Three rounds of 100 in flight on both sides: the same simulated time, about.
        assert!(m.http2.sim_ms < 50.0 && m.http1.sim_ms < 50.0, "{m:?}");
    }
}
