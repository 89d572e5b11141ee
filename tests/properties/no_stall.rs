//! **No-stall draining**: a pool drains its queue — no interval longer than the no-stall bound
//! with requests pending and nothing progressing (unless a client timeout explains it), and every
//! request ends — over pool sizes, parallel and rate workloads, callers that read or drop
//! bodies, slow handlers, latency changes, with and without client timeouts.
//!
//! Checks: `no-stall` (default bound: 5 s + handler delay), `no-lost-request`,
//! `bounded-timeouts`. Plus the diagnosis of the catalog's held-body stall, pinned as text.

use std::rc::Rc;
use std::time::Duration;

use proptest::prelude::*;

use httpsim::check::{bounded_timeouts, no_lost_request, no_stall};
use httpsim::client::BodyMode;
use httpsim::server::Handler;
use httpsim::workload::WorkloadKind;
use httpsim::Setup;

use crate::faults::{self, Allow, Fault};
use crate::harness::{cases_to_catch, check_property, verdict, Arrivals, Check};
use crate::pool::{PoolBug, PoolKind, TestPool};
use crate::Result;

/// CI default case count (`PROPTEST_CASES` raises it).
const CASES: u32 = 256;

#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    latency_ms: (u64, u64),
    pool: PoolKind,
    arrivals: Arrivals,
    requests: u64,
    read_bodies: bool,
    handler_delay_ms: u64,
    response_timeout_ms: Option<u64>,
    faults: Vec<Fault>,
}

fn cases(broken: bool) -> impl Strategy<Value = Case> {
    let bounded = (1usize..6).prop_map(PoolKind::Bounded);
    let pool = if broken {
        bounded.boxed()
    } else {
        prop_oneof![Just(PoolKind::HyperUtil), Just(PoolKind::NoPool), bounded].boxed()
    };
    let arrivals = prop_oneof![
        Just(Arrivals::Parallel),
        (5u32..200).prop_map(Arrivals::PerSecond)
    ];
    (
        any::<u64>(),
        (1u64..5, 0u64..20),
        pool,
        arrivals,
        5u64..40,
        any::<bool>(),
        0u64..300,
        proptest::option::of(1000u64..5000),
        faults::schedule(
            Allow {
                partition: false,
                crash: false,
                latency: true,
            },
            3,
            2000,
        ),
    )
        .prop_map(
            |(seed, (lo, spread), pool, arrivals, requests, read, delay, timeout, faults)| Case {
                seed,
                latency_ms: (lo, lo + spread),
                pool,
                arrivals,
                requests,
                read_bodies: read,
                handler_delay_ms: delay,
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
        // Four times the largest no-stall bound a case can have (5.3 s): long enough to see a
        // stall, short enough that a stuck case costs little.
        .duration(Duration::from_secs(20));
    s.server.handler = Handler::Delay {
        delay: ms(case.handler_delay_ms),
        body_bytes: 2048,
        status: 200,
    };
    s.client.timeouts.response = case.response_timeout_ms.map(ms);
    s.workload.kind = case.arrivals.kind();
    s.workload.requests = case.requests;
    s.workload.body = if case.read_bodies {
        BodyMode::Read
    } else {
        BodyMode::Drop
    };
    s.faults = faults::actions(&case.faults, ms(case.latency_ms.1));
    case.pool.install(&mut s, bug.unwrap_or(PoolBug::None));
    s
}

fn holds(case: &Case, bug: Option<PoolBug>) -> std::result::Result<(), String> {
    let checks: [Check; 3] = [
        ("no-stall", &no_stall::check),
        ("no-lost-request", &no_lost_request::check),
        ("bounded-timeouts", &bounded_timeouts::check),
    ];
    verdict(&setup(case, bug), &checks).1
}

#[test]
fn pools_drain_without_stalls() -> Result {
    check_property(
        "no_stall::pools_drain_without_stalls",
        "proptest-regressions/no_stall.txt",
        CASES,
        cases(false),
        |c| holds(c, None),
    )
}

#[test]
fn no_stall_catches_a_pool_that_never_returns_sockets() -> Result {
    let (n, report) = cases_to_catch(
        "no_stall::no_stall_catches_a_pool_that_never_returns_sockets",
        CASES,
        cases(true),
        |c| holds(c, Some(PoolBug::NeverReturnsSockets)),
    )?;
    println!("caught after {n} case(s)\n{report}");
    assert!(report.contains("no-stall"), "{report}");
    Ok(())
}

/// The catalog's first case: 20 requests at once through 5 sockets, callers that never read
/// bodies, a server that closes sockets idle for 180 s. The stall is found and explained.
#[test]
fn held_bodies_stall_is_diagnosed_as_sockets_held_by_unread_bodies() -> Result {
    let mut s = Setup::default();
    s.world.seed(1).duration(Duration::from_secs(800));
    s.server.idle_timeout = Some(Duration::from_secs(180));
    s.workload.kind = WorkloadKind::Parallel;
    s.workload.requests = 20;
    s.workload.body = BodyMode::Hold;
    s.custom.pool = Some(Rc::new(|host| {
        Box::new(TestPool::new(host, 5, PoolBug::None))
    }));
    let checks: [Check; 1] = [("no-stall", &no_stall::check)];
    let (run, verdict) = verdict(&s, &checks);
    let violations = no_stall::check(&run.context());
    assert!(verdict.is_err());
    assert_eq!(violations.len(), 3, "three gaps of 180 s: {violations:#?}");
    let first = &violations[0].message;
    assert!(
        first.starts_with(
            "requests 6-20 waited 180.004 s: all 5 sockets to server:80 were held by responses \
             whose bodies were never read; they were queued in the pool for a socket; it ended \
             when the server"
        ),
        "{first}"
    );
    // The server's close reason is `local` today (see the report); either way conns 1-5.
    assert!(first.contains("closed conn 1-5"), "{first}");
    assert_eq!(violations[0].requests, (6..=20).collect::<Vec<_>>());
    assert_eq!(
        run.summary().requests.completed,
        20,
        "every batch drains in the end"
    );
    Ok(())
}
