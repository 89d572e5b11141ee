//! **Fd exhaustion**: under a connection storm against small fd limits, open fds never exceed a
//! host's limit, every client EMFILE reaches the caller as an error, every request ends, and
//! once fds free up the system recovers (later requests succeed) — over pools, server and client
//! fd limits, arrival rates and handler delays.
//!
//! Checks: `fd-limit`, `no-lost-request`.

use std::time::Duration;

use proptest::prelude::*;

use httpsim::check::{fd_limit, no_lost_request};
use httpsim::server::Handler;
use httpsim::workload::WorkloadKind;
use httpsim::Setup;

use crate::harness::{cases_to_catch, check_property, verdict, Check};
use crate::pool::{PoolBug, PoolKind};
use crate::server::{software, ServerBug, ServerSpec};
use crate::Result;

/// CI default case count (`PROPTEST_CASES` raises it).
const CASES: u32 = 256;

/// Which server: httpsim's own, or the test server (which can be broken).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ServerKind {
    Httpsim,
    Test,
}

#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    latency_ms: (u64, u64),
    pool: PoolKind,
    server: ServerKind,
    server_fd_limit: usize,
    client_fd_limit: Option<usize>,
    per_second: u32,
    requests: u64,
    handler_delay_ms: u64,
}

fn cases(broken_server: bool) -> impl Strategy<Value = Case> {
    let pool = prop_oneof![
        Just(PoolKind::HyperUtil),
        Just(PoolKind::NoPool),
        (1usize..8).prop_map(PoolKind::Bounded)
    ];
    let server = if broken_server {
        Just(ServerKind::Test).boxed()
    } else {
        prop_oneof![Just(ServerKind::Httpsim), Just(ServerKind::Test)].boxed()
    };
    (
        any::<u64>(),
        (1u64..5, 0u64..10),
        pool,
        server,
        2usize..10,
        proptest::option::of(2usize..30),
        20u32..400,
        10u64..60,
        20u64..500,
    )
        .prop_map(
            |(seed, (lo, spread), pool, server, sfd, cfd, rate, requests, delay)| Case {
                seed,
                latency_ms: (lo, lo + spread),
                pool,
                server,
                server_fd_limit: sfd,
                client_fd_limit: cfd,
                per_second: rate,
                requests,
                handler_delay_ms: delay,
            },
        )
}

fn setup(case: &Case, bug: ServerBug) -> Setup {
    let ms = Duration::from_millis;
    let mut s = Setup::default();
    s.world
        .seed(case.seed)
        .latency(ms(case.latency_ms.0), ms(case.latency_ms.1))
        .duration(Duration::from_secs(60));
    s.server.fd_limit = Some(case.server_fd_limit);
    // Idle keep-alive sockets must give their fds back, or backlogged ones starve (see below).
    s.server.idle_timeout = Some(ms(2000));
    s.server.handler = Handler::Delay {
        delay: ms(case.handler_delay_ms),
        body_bytes: 256,
        status: 200,
    };
    s.client.fd_limit = case.client_fd_limit;
    s.workload.kind = WorkloadKind::Rate(f64::from(case.per_second));
    s.workload.requests = case.requests;
    case.pool.install(&mut s, PoolBug::None);
    if case.server == ServerKind::Test {
        s.custom.server = Some(software(ServerSpec {
            delay: ms(case.handler_delay_ms),
            body_bytes: 256,
            idle_timeout: Some(ms(2000)),
            bug,
            ..ServerSpec::default()
        }));
    }
    s
}

fn holds(case: &Case, bug: ServerBug) -> std::result::Result<(), String> {
    let checks: [Check; 2] = [
        ("fd-limit", &fd_limit::check),
        ("no-lost-request", &no_lost_request::check),
    ];
    verdict(&setup(case, bug), &checks).1
}

#[test]
fn fd_storms_stay_within_limits_and_recover() -> Result {
    check_property(
        "fd_exhaustion::fd_storms_stay_within_limits_and_recover",
        "proptest-regressions/fd_exhaustion.txt",
        CASES,
        cases(false),
        |c| holds(c, ServerBug::None),
    )
}

#[test]
fn fd_limit_catches_an_accept_loop_that_dies_on_emfile() -> Result {
    let (n, report) = cases_to_catch(
        "fd_exhaustion::fd_limit_catches_an_accept_loop_that_dies_on_emfile",
        CASES,
        cases(true),
        |c| holds(c, ServerBug::AcceptDiesOnEmfile),
    )?;
    println!("caught after {n} case(s)\n{report}");
    Ok(())
}

/// Found by this property: a keep-alive server at its fd limit whose idle connections are never
/// closed keeps every fd; hyper-util's pool parks a request on a freshly connected socket that
/// sits in the server's backlog, never accepted. Without timeouts the request hangs for ever.
/// (The property's servers therefore close idle sockets after 2 s.)
#[test]
fn keep_alive_server_at_its_fd_limit_without_idle_timeout_starves_backlogged_sockets() -> Result {
    let case = Case {
        seed: 0,
        latency_ms: (1, 1),
        pool: PoolKind::HyperUtil,
        server: ServerKind::Httpsim,
        server_fd_limit: 2,
        client_fd_limit: None,
        per_second: 30,
        requests: 10,
        handler_delay_ms: 65,
    };
    let mut s = setup(&case, ServerBug::None);
    s.server.idle_timeout = None;
    let checks: [Check; 1] = [("no-lost-request", &no_lost_request::check)];
    let err = verdict(&s, &checks).1.expect_err("request 4 hangs");
    assert!(
        err.contains("1 request(s) never ended")
            && err.contains("request 4 had not reached the server"),
        "{err}"
    );
    Ok(())
}
