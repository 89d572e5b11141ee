//! **Ordering**: sequential POSTs reach the server in send order and each exactly once, and
//! responses on a connection come back in request order — under partitions, server crashes and
//! latency changes, over every pool, with keep-alive on or off.
//!
//! Checks: `ordering`, `no-lost-request`, `bounded-timeouts`. Every case sets a response
//! timeout well above the longest round trip the schedule can cause, so a request given up on
//! cannot arrive after its successor (turmoil drops partitioned messages; it never delays them).

use std::time::Duration;

use hyper::Method;
use proptest::prelude::*;

use httpsim::check::{bounded_timeouts, no_lost_request, ordering};
use httpsim::client::Retry;
use httpsim::server::Handler;
use httpsim::workload::WorkloadKind;
use httpsim::Setup;

use crate::faults::{self, Allow, Fault};
use crate::harness::{cases_to_catch, check_property, verdict, Check};
use crate::pool::{PoolBug, PoolKind};
use crate::Result;

/// CI default case count (`PROPTEST_CASES` raises it).
const CASES: u32 = 256;

/// Which pool a case runs.
#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    latency_ms: (u64, u64),
    pool: PoolKind,
    keep_alive: bool,
    handler_delay_ms: u64,
    requests: u64,
    response_timeout_ms: u64,
    faults: Vec<Fault>,
}

/// Cases; `broken`: the pool is the broken test pool (only its size varies).
fn cases(broken: bool) -> impl Strategy<Value = Case> {
    let bounded = (1usize..4).prop_map(PoolKind::Bounded);
    let pool = if broken {
        bounded.boxed()
    } else {
        prop_oneof![Just(PoolKind::HyperUtil), Just(PoolKind::NoPool), bounded].boxed()
    };
    (
        any::<u64>(),
        (1u64..5, 0u64..20),
        pool,
        any::<bool>(),
        0u64..150,
        5u64..25,
        1000u64..3000,
        faults::schedule(
            Allow {
                partition: true,
                crash: true,
                latency: true,
            },
            4,
            3000,
        ),
    )
        .prop_map(
            |(seed, (lo, spread), pool, keep_alive, delay, requests, timeout, faults)| Case {
                seed,
                latency_ms: (lo, lo + spread),
                pool,
                keep_alive,
                handler_delay_ms: delay,
                requests,
                response_timeout_ms: timeout,
                faults,
            },
        )
}

fn setup(case: &Case, bug: Option<PoolBug>) -> Setup {
    let ms = Duration::from_millis;
    let mut s = Setup::default();
    s.world
        .seed(case.seed)
        .latency(ms(case.latency_ms.0), ms(case.latency_ms.1))
        .duration(Duration::from_secs(60));
    s.server.keep_alive = case.keep_alive;
    s.server.handler = Handler::Delay {
        delay: ms(case.handler_delay_ms),
        body_bytes: 128,
        status: 200,
    };
    s.client.timeouts.response = Some(ms(case.response_timeout_ms));
    s.client.retry = Retry {
        attempts: 2,
        backoff: ms(50),
        non_idempotent_unwritten: true,
    };
    s.workload.kind = WorkloadKind::Sequential;
    s.workload.method = Method::POST;
    s.workload.requests = case.requests;
    s.faults = faults::actions(&case.faults, ms(case.latency_ms.1));
    case.pool.install(&mut s, bug.unwrap_or(PoolBug::None));
    s
}

fn holds(case: &Case, bug: Option<PoolBug>) -> std::result::Result<(), String> {
    let checks: [Check; 3] = [
        ("ordering", &ordering::check),
        ("no-lost-request", &no_lost_request::check),
        ("bounded-timeouts", &bounded_timeouts::check),
    ];
    verdict(&setup(case, bug), &checks).1
}

#[test]
fn sequential_posts_arrive_in_order_once_under_faults() -> Result {
    check_property(
        "ordering::sequential_posts_arrive_in_order_once_under_faults",
        "proptest-regressions/ordering.txt",
        CASES,
        cases(false),
        |c| holds(c, None),
    )
}

#[test]
fn ordering_catches_a_pool_that_resends_written_posts() -> Result {
    let (n, report) = cases_to_catch(
        "ordering::ordering_catches_a_pool_that_resends_written_posts",
        CASES,
        cases(true),
        |c| holds(c, Some(PoolBug::ResendsWrittenPosts)),
    )?;
    println!("caught after {n} case(s)\n{report}");
    assert!(report.contains("was delivered"), "{report}");
    Ok(())
}

#[test]
fn ordering_catches_a_pool_that_reuses_a_socket_after_connection_close() -> Result {
    let (n, report) = cases_to_catch(
        "ordering::ordering_catches_a_pool_that_reuses_a_socket_after_connection_close",
        CASES,
        cases(true),
        |c| holds(c, Some(PoolBug::ReusesAfterClose)),
    )?;
    println!("caught after {n} case(s)\n{report}");
    assert!(report.contains("connection: close"), "{report}");
    Ok(())
}
