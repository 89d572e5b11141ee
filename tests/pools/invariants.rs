//! Agent invariants under generated workloads: never more than `max_sockets` live sockets per
//! host, queued requests served in FIFO order, and no request waiting while a socket or a slot
//! is free. Each case is a small simulation: random pool settings, server delay and idle
//! timeout, what the caller does with bodies, and when each request starts.
//!
//! Cases default to 24; `PROPTEST_CASES` raises them.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use httpsim::client::agent::{Agent, AgentEvent};
use httpsim::client::agent_pool::AgentPool;
use httpsim::client::{AgentConfig, BodyMode, ClientConfig, PoolConfig, RequestBody, Scheduling};
use httpsim::net::SimConnector;
use httpsim::server::{Handler, ServerConfig};
use httpsim::RunEnd;
use proptest::prelude::*;

use crate::common::{get, heads, peak_live_sockets, Rig};

#[derive(Clone, Debug)]
struct Case {
    config: AgentConfig,
    server_delay_ms: u64,
    server_idle_ms: Option<u64>,
    body: BodyMode,
    /// Start time of each request, ms.
    starts: Vec<u64>,
}

fn case() -> impl Strategy<Value = Case> {
    let config = (
        1usize..=4,
        any::<bool>(),
        prop_oneof![Just(Scheduling::Fifo), Just(Scheduling::Lifo)],
        prop::option::of(50u64..2000),
        1usize..=4,
    )
        .prop_map(
            |(max_sockets, keep_alive, scheduling, idle, max_free)| AgentConfig {
                max_sockets,
                keep_alive,
                scheduling,
                idle_timeout: idle.map(Duration::from_millis),
                max_free_sockets: max_free,
                ..AgentConfig::default()
            },
        );
    let body = prop_oneof![
        Just(BodyMode::Read),
        Just(BodyMode::Drop),
        (0u64..800).prop_map(|ms| BodyMode::HoldThenRead(Duration::from_millis(ms))),
    ];
    (
        config,
        0u64..300,
        prop::option::of(100u64..2000),
        body,
        prop::collection::vec(0u64..1500, 1..24),
    )
        .prop_map(
            |(config, server_delay_ms, server_idle_ms, body, mut starts)| {
                starts.sort_unstable();
                Case {
                    config,
                    server_delay_ms,
                    server_idle_ms,
                    body,
                    starts,
                }
            },
        )
}

/// What a case observed.
#[derive(Clone, Debug, Default)]
struct Seen {
    /// The first broken pool invariant, sampled every millisecond.
    violation: Option<String>,
    /// Agent events in order.
    events: Vec<AgentEvent>,
}

fn run(case: &Case) -> (httpsim::RunEnd, Vec<httpsim::Record>, Seen) {
    let server = ServerConfig {
        handler: Handler::Delay {
            delay: Duration::from_millis(case.server_delay_ms),
            body_bytes: 32 * 1024,
            status: 200,
        },
        idle_timeout: case.server_idle_ms.map(Duration::from_millis),
        ..ServerConfig::default()
    };
    let client = ClientConfig {
        pool: PoolConfig::Agent(case.config.clone()),
        ..ClientConfig::default()
    };
    let mut rig = Rig::new(server, client);
    rig.world.duration(Duration::from_secs(120));
    rig.body = case.body;
    let seen: Rc<RefCell<Seen>> = Rc::default();
    type A = Agent<SimConnector, RequestBody>;
    let agent: Rc<RefCell<Option<A>>> = Rc::default();
    {
        let agent = agent.clone();
        let seen = seen.clone();
        let config = case.config.clone();
        rig.pool = Some(Rc::new(move |host| {
            let pool = AgentPool::new(host, config.clone(), None);
            let seen = seen.clone();
            pool.agent()
                .add_observer(move |e| seen.borrow_mut().events.push(*e));
            *agent.borrow_mut() = Some(pool.agent().clone());
            Box::new(pool)
        }));
    }
    let starts = case.starts.clone();
    let sampler_seen = seen.clone();
    let out = rig.run(move |d| async move {
        let agent = agent.borrow().clone().expect("the pool is built first");
        let uri: http::Uri = "http://server:80/".parse().expect("uri");
        let sampler = tokio::task::spawn_local(async move {
            loop {
                if let Err(v) = agent.check_invariants() {
                    let mut s = sampler_seen.borrow_mut();
                    let at = httpsim::net::clock::now_us();
                    s.violation
                        .get_or_insert(format!("at {at} µs: {v} ({:?})", agent.host_stats(&uri)));
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        let mut tasks = Vec::new();
        for (i, start) in starts.into_iter().enumerate() {
            let d = d.clone();
            tasks.push(tokio::task::spawn_local(async move {
                tokio::time::sleep(Duration::from_millis(start)).await;
                d.execute(&get(i as u64 + 1)).await
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        d.keeper.wait_reads().await;
        sampler.abort();
    });
    let seen = seen.borrow().clone();
    (out.end, out.records, seen)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn the_agent_keeps_its_limits_serves_waiters_in_order_and_never_idles_a_waiter(c in case()) {
        let (end, records, seen) = run(&c);
        prop_assert_eq!(end, RunEnd::Completed, "every request ends: nobody waits forever");
        // A server idle timeout shorter than its delay closes sockets under requests: those
        // fail (as closed), which is the server's doing; each request must still end.
        let failed = records.iter().filter(|r| matches!(
            r.event,
            httpsim::Event::RequestFailed { retrying: false, .. }
        )).count();
        prop_assert_eq!(heads(&records).len() + failed, c.starts.len(), "every request ends");
        prop_assert!(seen.violation.is_none(), "{:?}", seen.violation);
        let peak = peak_live_sockets(&records, "client");
        prop_assert!(peak <= c.config.max_sockets, "{} live sockets, limit {}", peak, c.config.max_sockets);
        let queued: Vec<u64> = seen.events.iter().filter_map(|e| match e {
            AgentEvent::Queued { tag } => *tag,
            _ => None,
        }).collect();
        let served: Vec<u64> = seen.events.iter().filter_map(|e| match e {
            AgentEvent::Served { tag } => *tag,
            _ => None,
        }).collect();
        prop_assert_eq!(&served, &queued, "waiters are served in the order they queued");
    }
}
