//! Setups built in code, each with long quiet stretches, run the same with and without
//! fast-forward.

use std::time::Duration;

use httpsim::client::{BodyMode, PoolConfig};
use httpsim::net::{ConnFault, ConnFaultKind, Direction};
use httpsim::server::{Handler, ShutdownPlan, ShutdownStrategy};
use httpsim::workload::WorkloadKind;
use httpsim::{NetAction, RunEnd, Setup};

use crate::{same_with_and_without, Result};

const S: Duration = Duration::from_secs(1);

/// The benchmark's pool stall, smaller: 15 held GETs, 5 Agent sockets, 180 s server timeout
/// (three batches, two 180 s stalls between them).
fn pool_stall() -> Setup {
    httpsim::bench::idle::setup(15, 5, 180 * S)
}

#[test]
fn pool_stall_through_the_agent_is_jumped_over_and_unchanged() -> Result {
    let pair = same_with_and_without("pool stall", &pool_stall())?;
    assert_eq!(pair.on.end, RunEnd::Completed);
    assert!(pair.on.sim_time >= 360 * S, "two 180 s stalls expected");
    // Tick by tick: one step per simulated ms. Fast-forward: only the busy moments.
    assert!(
        pair.off.steps >= 360_000,
        "off took {} steps",
        pair.off.steps
    );
    assert!(
        pair.on.steps * 100 < pair.off.steps,
        "fast-forward took {} steps of {}",
        pair.on.steps,
        pair.off.steps
    );
    Ok(())
}

#[test]
fn faults_scheduled_inside_quiet_periods_apply_at_the_same_tick() -> Result {
    let mut setup = pool_stall();
    let (c, s) = ("client".to_string(), "server".to_string());
    let at = |ms: u64| Duration::from_micros(ms * 1000 + 437);
    setup.faults = vec![
        (
            at(50_000),
            NetAction::Latency {
                a: c.clone(),
                b: s.clone(),
                latency: Duration::from_millis(7),
            },
        ),
        (
            at(100_000),
            NetAction::Partition {
                a: c.clone(),
                b: s.clone(),
                oneway: false,
            },
        ),
        (
            at(100_500),
            NetAction::Repair {
                a: c.clone(),
                b: s.clone(),
                oneway: false,
            },
        ),
        (
            at(150_000),
            NetAction::Hold {
                a: c.clone(),
                b: s.clone(),
            },
        ),
        (at(150_002), NetAction::Release { a: c, b: s.clone() }),
        (at(300_000), NetAction::Bounce { host: s }),
    ];
    let pair = same_with_and_without("faults in quiet periods", &setup)?;
    assert!(pair.on.steps * 10 < pair.off.steps);
    Ok(())
}

#[test]
fn random_latency_with_timeouts_and_retries_is_unchanged_over_seeds() -> Result {
    for seed in 1..=4 {
        let mut setup = Setup::default();
        setup
            .world
            .seed(seed)
            .latency(Duration::from_millis(1), Duration::from_millis(20))
            .duration(120 * S);
        setup.server.handler = Handler::Delay {
            delay: Duration::from_millis(900 + 100 * seed),
            body_bytes: 2048,
            status: 200,
        };
        setup.server.idle_timeout = Some(7 * S);
        setup.client.pool = PoolConfig::HyperUtil {
            idle_timeout: Some(5 * S),
            max_idle_per_host: 2,
        };
        setup.client.timeouts.response = Some(Duration::from_millis(1050));
        setup.client.timeouts.total = Some(30 * S);
        setup.client.retry.attempts = 2;
        setup.client.retry.backoff = 2 * S;
        setup.workload.kind = WorkloadKind::Rate(0.25);
        setup.workload.requests = 8;
        let pair = same_with_and_without(&format!("random latency, seed {seed}"), &setup)?;
        assert!(pair.on.steps * 5 < pair.off.steps);
    }
    Ok(())
}

#[test]
fn every_server_shutdown_strategy_is_unchanged() -> Result {
    for strategy in ShutdownStrategy::ALL {
        let mut setup = Setup::default();
        setup.world.duration(300 * S);
        setup.server.idle_timeout = Some(60 * S);
        setup.server.handler = Handler::Delay {
            delay: 4 * S,
            body_bytes: 1024,
            status: 200,
        };
        setup.server.shutdown = Some(ShutdownPlan {
            at: Duration::from_millis(10_250),
            strategy,
            deadline: Some(30 * S),
        });
        setup.client.pool = PoolConfig::HyperUtil {
            idle_timeout: Some(90 * S),
            max_idle_per_host: 4,
        };
        setup.workload.kind = WorkloadKind::Rate(0.5);
        setup.workload.requests = 8;
        same_with_and_without(&format!("shutdown {strategy:?}"), &setup)?;
    }
    Ok(())
}

#[test]
fn per_connection_faults_are_unchanged() -> Result {
    let faults = [
        ConnFault::always(
            ConnFaultKind::SlowClose { delay: 20 * S },
            Direction::ToClient,
        ),
        ConnFault::always(
            ConnFaultKind::Reset {
                after_bytes: None,
                after: Some(Duration::from_millis(30_500)),
            },
            Direction::ToServer,
        ),
        ConnFault::always(
            ConnFaultKind::HalfOpen {
                after_bytes: None,
                after: Some(40 * S),
            },
            Direction::ToClient,
        ),
        ConnFault::always(
            ConnFaultKind::Latency {
                latency: Duration::from_millis(300),
                jitter: Duration::from_millis(200),
            },
            Direction::ToClient,
        ),
    ];
    for fault in faults {
        let mut setup = Setup::default();
        setup.world.duration(200 * S).conn_fault(fault.clone());
        setup.server.idle_timeout = Some(25 * S);
        setup.server.handler = Handler::Delay {
            delay: 2 * S,
            body_bytes: 4096,
            status: 200,
        };
        setup.client.timeouts.total = Some(60 * S);
        setup.workload.kind = WorkloadKind::Rate(0.1);
        setup.workload.requests = 6;
        setup.workload.body = BodyMode::Read;
        same_with_and_without(&format!("conn fault {fault:?}"), &setup)?;
    }
    Ok(())
}
