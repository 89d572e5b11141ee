//! hyper-util's pool with many checkouts to one host at once. Every request that finds no idle
//! connection parks a waiter and races a connect; the connect wins and the waiter is dropped.
//! The vendored pool sweeps dropped waiters in amortised O(1) (`vendor/README.md`) instead of
//! on every drop; these runs show it still answers every request, reuses the connections once
//! they are idle, and that the sweep left no stale waiter to take a returned connection.

use std::time::Duration;

use httpsim::client::driver::Outcome;
use httpsim::client::{BodyMode, ClientConfig, PoolConfig};
use httpsim::server::{Handler, ServerConfig};
use httpsim::workload::WorkloadKind;
use httpsim::{Event, RunEnd, Setup};

use crate::common::{get, Rig};
use crate::Result;

fn burst(requests: u64) -> Setup {
    let mut setup = Setup::default();
    setup.world.duration(Duration::from_secs(60));
    setup.server.handler = Handler::Delay {
        delay: Duration::from_millis(50),
        body_bytes: 512,
        status: 200,
    };
    setup.client.pool = PoolConfig::default();
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = requests;
    setup.workload.body = BodyMode::Read;
    setup
}

#[test]
fn a_burst_of_600_requests_to_one_host_is_answered_in_full() -> Result {
    let run = burst(600).run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let s = run.summary();
    assert_eq!((s.requests.completed, s.requests.failed), (600, 0));
    // Every request raced its own connect: 600 sockets, each answered once.
    let connected = run
        .records
        .iter()
        .filter(|r| matches!(r.event, Event::Connected { .. }))
        .count();
    assert_eq!(connected, 600);
    Ok(())
}

#[test]
fn after_a_burst_the_idle_connections_serve_the_next_wave() -> Result {
    // Two waves of 100 at once, 2 s apart. The first drops 100 checkouts (each connect beat
    // its waiter); the second finds those 100 connections idle and opens none. A dropped
    // waiter left in the pool would have been handed a returned connection and lost it.
    let server = ServerConfig {
        handler: Handler::Delay {
            delay: Duration::from_millis(50),
            body_bytes: 512,
            status: 200,
        },
        ..ServerConfig::default()
    };
    let rig = Rig::new(server, ClientConfig::default());
    let ran = rig.run(|driver| async move {
        let mut statuses = Vec::new();
        for wave in 0..2u64 {
            let tasks: Vec<_> = (1..=100)
                .map(|i| {
                    let driver = driver.clone();
                    tokio::task::spawn_local(
                        async move { driver.execute(&get(wave * 100 + i)).await },
                    )
                })
                .collect();
            for t in tasks {
                statuses.push(matches!(t.await, Ok(Outcome::Response(200))));
            }
            httpsim::net::clock::sleep(Duration::from_secs(2)).await;
        }
        statuses
    });
    assert_eq!(ran.end, RunEnd::Completed);
    let statuses = ran.value.ok_or("the script finished")?;
    assert_eq!(
        statuses.iter().filter(|ok| **ok).count(),
        200,
        "every request answered"
    );
    let connected: Vec<u64> = ran
        .records
        .iter()
        .filter(|r| matches!(r.event, Event::Connected { .. }))
        .map(|r| r.t_us)
        .collect();
    assert_eq!(
        connected.len(),
        100,
        "the second wave reused the first's connections"
    );
    assert!(
        connected.iter().all(|t| *t < 1_000_000),
        "all opened in the first wave"
    );
    Ok(())
}
