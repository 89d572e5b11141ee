//! **Keep-alive shutdown**: a server shutting down with keep-alive connections open ends by its
//! deadline, loses no request it had received, closes idle sockets within a tick and answers
//! what it accepted — over pools, arrival patterns, handler delays, shutdown times and
//! deadlines. And clients do not reuse the sockets it closes (`connection: close`).
//!
//! The server is the test server (`server.rs`) with the `close-idle` strategy, run as a custom
//! server so the property runs on this branch; httpsim's own shutdown strategies can join the
//! strategy once `ServerConfig` carries a shutdown plan (wire `check::shutdown::plan`).
//!
//! Checks: `shutdown` (with the plan), `no-lost-request`, `ordering`.

use std::rc::Rc;
use std::time::Duration;

use proptest::prelude::*;

use httpsim::check::shutdown::{self, ShutdownPlan};
use httpsim::check::{no_lost_request, ordering, CheckContext, Violation};
use httpsim::Setup;

use crate::harness::{cases_to_catch, check_property, verdict, Arrivals, Check};
use crate::pool::{PoolBug, TestPool};
use crate::server::{software, ServerBug, ServerSpec};
use crate::Result;

/// CI default case count (`PROPTEST_CASES` raises it).
const CASES: u32 = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PoolKind {
    HyperUtil,
    Bounded(usize),
}

#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    latency_ms: (u64, u64),
    pool: PoolKind,
    arrivals: Arrivals,
    requests: u64,
    handler_delay_ms: u64,
    shutdown_at_ms: u64,
    deadline_ms: u64,
}

fn cases() -> impl Strategy<Value = Case> {
    let pool = prop_oneof![
        Just(PoolKind::HyperUtil),
        (1usize..5).prop_map(PoolKind::Bounded)
    ];
    let arrivals = prop_oneof![
        Just(Arrivals::Parallel),
        (10u32..200).prop_map(Arrivals::PerSecond)
    ];
    (
        any::<u64>(),
        (1u64..5, 0u64..10),
        pool,
        arrivals,
        5u64..40,
        0u64..400,
        0u64..1500,
        50u64..2000,
    )
        .prop_map(
            |(seed, (lo, spread), pool, arrivals, requests, delay, at, deadline)| Case {
                seed,
                latency_ms: (lo, lo + spread),
                pool,
                arrivals,
                requests,
                handler_delay_ms: delay,
                shutdown_at_ms: at,
                deadline_ms: deadline,
            },
        )
}

fn setup(case: &Case, bug: ServerBug) -> (Setup, ShutdownPlan) {
    let ms = Duration::from_millis;
    let mut s = Setup::default();
    s.world
        .seed(case.seed)
        .latency(ms(case.latency_ms.0), ms(case.latency_ms.1))
        .duration(Duration::from_secs(30));
    s.workload.kind = case.arrivals.kind();
    s.workload.requests = case.requests;
    if let PoolKind::Bounded(n) = case.pool {
        s.custom.pool = Some(Rc::new(move |host| {
            Box::new(TestPool::new(host, n, PoolBug::None))
        }));
    }
    let (at, deadline) = (ms(case.shutdown_at_ms), ms(case.deadline_ms));
    s.custom.server = Some(software(ServerSpec {
        delay: ms(case.handler_delay_ms),
        shutdown: Some((at, deadline)),
        bug,
        ..ServerSpec::default()
    }));
    let plan = ShutdownPlan {
        at: Some(at),
        deadline: Some(deadline),
    };
    (s, plan)
}

fn holds(case: &Case, bug: ServerBug) -> std::result::Result<(), String> {
    let (setup, plan) = setup(case, bug);
    let with_plan =
        move |ctx: &CheckContext| -> Vec<Violation> { shutdown::check_with_plan(ctx, plan) };
    let checks: [Check; 3] = [
        ("shutdown", &with_plan),
        ("no-lost-request", &no_lost_request::check),
        ("ordering", &ordering::check),
    ];
    verdict(&setup, &checks).1
}

#[test]
fn keep_alive_shutdown_ends_in_time_and_loses_nothing() -> Result {
    check_property(
        "shutdown::keep_alive_shutdown_ends_in_time_and_loses_nothing",
        "proptest-regressions/shutdown.txt",
        CASES,
        cases(),
        |c| holds(c, ServerBug::None),
    )
}

#[test]
fn shutdown_catches_a_server_that_drops_in_flight_requests() -> Result {
    let (n, report) = cases_to_catch(
        "shutdown::shutdown_catches_a_server_that_drops_in_flight_requests",
        CASES,
        cases(),
        |c| holds(c, ServerBug::ShutdownDropsInFlight),
    )?;
    println!("caught after {n} case(s)\n{report}");
    assert!(report.contains("the shutdown lost it"), "{report}");
    Ok(())
}
