//! Catalog case 1's worked oracle: 20 requests at once, each answered after 3 s. A pool of 5
//! sockets per host serves them 5 at a time (the last at 12 s); hyper-util's `Client`, which has
//! no per-host limit, opens 20 sockets and serves them all at 3 s.

use std::time::Duration;

use httpsim::client::{AgentConfig, PoolConfig};
use httpsim::server::Handler;
use httpsim::workload::WorkloadKind;
use httpsim::{RunEnd, Setup};

use crate::common::{dump, heads, peak_live_sockets, secs};
use crate::Result;

fn burst(pool: PoolConfig) -> Setup {
    let mut s = Setup::default();
    s.world
        .latency(Duration::from_millis(1), Duration::from_millis(1))
        .duration(Duration::from_secs(60));
    s.server.handler = Handler::Delay {
        delay: Duration::from_secs(3),
        body_bytes: 1024,
        status: 200,
    };
    s.client.pool = pool;
    s.workload.kind = WorkloadKind::Parallel;
    s.workload.requests = 20;
    s
}

fn last_head_us(setup: &Setup) -> Result<(u64, usize)> {
    let run = setup.run()?;
    dump(&run.records);
    assert_eq!(run.end, RunEnd::Completed);
    let h = heads(&run.records);
    assert_eq!(h.len(), 20, "every request gets its response");
    let last = h.iter().map(|h| h.1).max().ok_or("no response")?;
    Ok((last, peak_live_sockets(&run.records, "client")))
}

#[test]
fn twenty_slow_requests_through_five_agent_sockets_finish_at_twelve_seconds() -> Result {
    let agent = PoolConfig::Agent(AgentConfig {
        max_sockets: 5,
        ..AgentConfig::default()
    });
    let (last, peak) = last_head_us(&burst(agent))?;
    assert!(
        (11_800_000..=12_200_000).contains(&last),
        "last response at {}s, expected 12s ± 0.2s",
        secs(last)
    );
    assert_eq!(peak, 5, "the Agent opens exactly its 5 sockets");
    Ok(())
}

#[test]
fn twenty_slow_requests_through_hyper_util_finish_at_three_seconds() -> Result {
    let (last, peak) = last_head_us(&burst(PoolConfig::default()))?;
    assert!(
        (2_800_000..=3_200_000).contains(&last),
        "last response at {}s, expected 3s ± 0.2s",
        secs(last)
    );
    assert_eq!(peak, 20, "hyper-util opens a socket per concurrent request");
    Ok(())
}

#[test]
fn an_agent_run_is_byte_identical_across_runs() -> Result {
    let mut setup = burst(PoolConfig::Agent(AgentConfig {
        max_sockets: 3,
        ..AgentConfig::default()
    }));
    setup
        .world
        .seed(11)
        .latency(Duration::from_millis(1), Duration::from_millis(15));
    let a = setup.run()?;
    let b = setup.run()?;
    assert_eq!(
        httpsim::trace::hash(&a.records),
        httpsim::trace::hash(&b.records)
    );
    assert_eq!(a.records, b.records);
    Ok(())
}
