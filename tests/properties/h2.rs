//! **HTTP/2 under faults**: random fault schedules over an HTTP/2 server and pool —
//! partitions, server crashes with and without FIN (a vanished host), latency changes, and a
//! graceful shutdown (GOAWAY) at a random time — never lose a request silently: every request
//! ends in a response or a classified error, and a request the server refused as unprocessed
//! (REFUSED_STREAM, or above GOAWAY's last stream id) is retried, at most `attempts` times in
//! all.
//!
//! Checks: `no-lost-request`, plus the retry accounting read from the trace.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::Method;
use proptest::prelude::*;

use httpsim::check::no_lost_request;
use httpsim::client::h2_pool::H2PoolConfig;
use httpsim::client::h2_settings::H2ClientSettings;
use httpsim::client::{PoolConfig, Retry};
use httpsim::server::{Handler, Protocol, ShutdownPlan, ShutdownStrategy};
use httpsim::workload::WorkloadKind;
use httpsim::{ErrorKind, Event, NetAction, Setup};

use crate::faults::{self, Allow, Fault};
use crate::harness::{check_property, verdict, Check};
use crate::Result;

/// Unprocessed refusals retried across the cases of a run: the property must have exercised
/// the HTTP/2 retry rule, not only passed over schedules where it never came up.
static RETRIED_REFUSALS: AtomicUsize = AtomicUsize::new(0);

/// CI default case count (`PROPTEST_CASES` raises it): each case is a whole HTTP/2 run.
const CASES: u32 = 48;

#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    latency_ms: (u64, u64),
    /// `None`: hyper-util's `Client` with `http2_only`; else (streams, connections).
    pool: Option<(usize, usize)>,
    server_streams: u32,
    requests: u64,
    parallel: bool,
    post: bool,
    attempts: u32,
    pings: bool,
    /// Crashes are without FIN (the host vanishes).
    vanish: bool,
    goaway_at_ms: Option<u64>,
    faults: Vec<Fault>,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        (any::<u64>(), (1u64..5, 0u64..10)),
        (
            prop_oneof![Just(None), (1usize..40, 1usize..3).prop_map(Some)],
            1u32..60,
        ),
        (5u64..60, any::<bool>(), any::<bool>(), 1u32..4),
        (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(0u64..2500),
        ),
        faults::schedule(
            Allow {
                partition: true,
                crash: true,
                latency: true,
            },
            3,
            3000,
        ),
    )
        .prop_map(
            |(
                (seed, (lo, spread)),
                (pool, server_streams),
                (requests, parallel, post, attempts),
                (pings, vanish, goaway_at_ms),
                faults,
            )| Case {
                seed,
                latency_ms: (lo, lo + spread),
                pool,
                server_streams,
                requests,
                parallel,
                post,
                attempts,
                pings,
                vanish,
                goaway_at_ms,
                faults,
            },
        )
}

fn setup(case: &Case) -> Setup {
    let ms = Duration::from_millis;
    let mut s = Setup::default();
    s.world
        .seed(case.seed)
        .latency(ms(case.latency_ms.0), ms(case.latency_ms.1))
        .duration(Duration::from_secs(60));
    s.server.protocol = Protocol::Http2;
    s.server.h2.max_concurrent_streams = Some(case.server_streams);
    s.server.handler = Handler::Delay {
        delay: ms(200),
        body_bytes: 128,
        status: 200,
    };
    s.server.shutdown = case.goaway_at_ms.map(|at| ShutdownPlan {
        at: ms(at),
        strategy: ShutdownStrategy::HyperGraceful,
        deadline: Some(ms(3000)),
    });
    let settings = H2ClientSettings {
        keep_alive_interval: case.pings.then(|| ms(500)),
        keep_alive_timeout: case.pings.then(|| ms(1000)),
        // More streams than the server allows before its SETTINGS arrive: refusals happen.
        initial_max_send_streams: Some(100),
        ..H2ClientSettings::default()
    };
    s.client.pool = match case.pool {
        None => PoolConfig::HyperUtilH2 {
            idle_timeout: Some(Duration::from_secs(90)),
            settings,
        },
        Some((streams, conns)) => PoolConfig::H2(H2PoolConfig {
            max_streams_per_connection: streams,
            max_connections: conns,
            settings,
        }),
    };
    // Every request ends: a vanished server is given up on after 5 s at most.
    s.client.timeouts.total = Some(ms(5000));
    s.client.retry = Retry {
        attempts: case.attempts,
        backoff: ms(20),
        non_idempotent_unwritten: false,
    };
    s.workload.kind = if case.parallel {
        WorkloadKind::Parallel
    } else {
        WorkloadKind::Rate(50.0)
    };
    s.workload.requests = case.requests;
    s.workload.method = if case.post { Method::POST } else { Method::GET };
    s.faults = faults::actions(&case.faults, ms(case.latency_ms.1));
    if case.vanish {
        for (_, a) in &mut s.faults {
            if let NetAction::Crash { host } = a {
                *a = NetAction::Vanish { host: host.clone() };
            }
        }
    }
    s
}

fn holds(case: &Case) -> std::result::Result<(), String> {
    let checks: [Check; 1] = [("no-lost-request", &no_lost_request::check)];
    let (run, res) = verdict(&setup(case), &checks);
    res?;
    let mut errors = Vec::new();
    // The attempt each unprocessed refusal came on, by request: it must be retried unless it
    // was the last attempt allowed.
    let mut refused: Vec<(u64, bool)> = Vec::new();
    for r in &run.records {
        match &r.event {
            Event::RequestStart { req, attempt, .. } if *attempt > case.attempts => {
                errors.push(format!(
                    "request {req} made attempt {attempt} of {}",
                    case.attempts
                ));
            }
            Event::H2Frame {
                req,
                unprocessed: true,
                ..
            } => refused.push((*req, true)),
            Event::RequestFailed {
                req,
                attempt,
                kind,
                retrying,
                message,
            } => {
                if *kind == ErrorKind::Other {
                    errors.push(format!(
                        "request {req} attempt {attempt} failed unclassified (kind other): \
                         {message}"
                    ));
                }
                if let Some(i) = refused.iter().position(|(r, _)| r == req) {
                    refused.remove(i);
                    if *retrying {
                        RETRIED_REFUSALS.fetch_add(1, Ordering::Relaxed);
                    }
                    if !*retrying && *attempt < case.attempts {
                        errors.push(format!(
                            "request {req} was refused unprocessed on attempt {attempt} of {} \
                             and not retried",
                            case.attempts
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

#[test]
fn h2_requests_end_and_unprocessed_ones_are_retried_under_faults() -> Result {
    check_property(
        "h2::h2_requests_end_and_unprocessed_ones_are_retried_under_faults",
        "proptest-regressions/h2.txt",
        CASES,
        cases(),
        holds,
    )?;
    assert!(
        RETRIED_REFUSALS.load(Ordering::Relaxed) > 0,
        "no case refused a stream and retried it: the schedules never exercised the rule"
    );
    Ok(())
}
