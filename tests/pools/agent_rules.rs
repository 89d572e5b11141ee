//! The Agent's options, one rule each: which free socket is reused, how many stay free, when
//! a free socket times out, and what keep-alive off means.

use std::collections::BTreeMap;
use std::time::Duration;

use httpsim::client::{AgentConfig, ClientConfig, PoolConfig, Scheduling};
use httpsim::server::{Handler, ServerConfig};
use httpsim::trace::{CloseReason, Record};
use httpsim::Event;

use crate::common::{get, Rig};
use crate::Result;

fn agent(config: AgentConfig) -> ClientConfig {
    ClientConfig {
        pool: PoolConfig::Agent(config),
        ..ClientConfig::default()
    }
}

fn slow_server() -> ServerConfig {
    ServerConfig {
        handler: Handler::Delay {
            delay: Duration::from_millis(100),
            body_bytes: 1024,
            status: 200,
        },
        ..ServerConfig::default()
    }
}

/// Runs `first` requests at once, waits for their bodies, then runs one more; returns the
/// trace.
fn burst_then_one(config: AgentConfig, first: u64) -> Vec<Record> {
    let rig = Rig::new(slow_server(), agent(config));
    rig.run(move |d| async move {
        let mut tasks = Vec::new();
        for id in 1..=first {
            let d = d.clone();
            tasks.push(tokio::task::spawn_local(async move {
                d.execute(&get(id)).await
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        d.keeper.wait_reads().await;
        d.execute(&get(first + 1)).await;
    })
    .records
}

fn conn_of(records: &[Record]) -> BTreeMap<u64, u64> {
    records
        .iter()
        .filter_map(|r| match r.event {
            Event::ResponseHead {
                req, conn: Some(c), ..
            } => Some((req, c)),
            _ => None,
        })
        .collect()
}

/// Connections in the order their bodies were finished (and their sockets freed).
fn freed_order(records: &[Record], conns: &BTreeMap<u64, u64>) -> Vec<u64> {
    records
        .iter()
        .filter_map(|r| match r.event {
            Event::BodyEnd { req, .. } => conns.get(&req).copied(),
            _ => None,
        })
        .collect()
}

#[test]
fn fifo_reuses_the_socket_freed_first_and_lifo_the_one_freed_last() -> Result {
    for (scheduling, pick) in [(Scheduling::Fifo, 0), (Scheduling::Lifo, 2)] {
        let records = burst_then_one(
            AgentConfig {
                scheduling,
                ..AgentConfig::default()
            },
            3,
        );
        let conns = conn_of(&records);
        let freed = freed_order(&records, &conns);
        assert_eq!(freed.len(), 4);
        assert_eq!(conns.len(), 4);
        assert_eq!(conns[&4], freed[pick], "{scheduling}: freed {freed:?}");
    }
    Ok(())
}

/// `(µs, conn, reason)` of every client socket close.
fn client_closes(records: &[Record]) -> Vec<(u64, u64, CloseReason)> {
    records
        .iter()
        .filter_map(|r| match r.event {
            Event::Closed { conn, reason } if r.host == "client" => Some((r.t_us, conn, reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn sockets_freed_beyond_max_free_sockets_are_closed() -> Result {
    let records = burst_then_one(
        AgentConfig {
            max_free_sockets: 1,
            ..AgentConfig::default()
        },
        3,
    );
    let conns = conn_of(&records);
    let freed = freed_order(&records, &conns);
    // Of three sockets freed together, the first stays free; the other two are closed then.
    let freed_at = records
        .iter()
        .find(|r| matches!(r.event, Event::BodyEnd { .. }))
        .map(|r| r.t_us)
        .ok_or("no body was read")?;
    let closed_when_freed: Vec<u64> = client_closes(&records)
        .iter()
        .filter(|c| c.0 == freed_at)
        .map(|c| c.1)
        .collect();
    assert_eq!(closed_when_freed, freed[1..3], "freed {freed:?}");
    assert_eq!(conns[&4], freed[0], "the one kept free is reused");
    Ok(())
}

#[test]
fn a_free_socket_is_closed_at_the_agent_idle_timeout() -> Result {
    let rig = Rig::new(
        ServerConfig::default(),
        agent(AgentConfig {
            idle_timeout: Some(Duration::from_secs(2)),
            ..AgentConfig::default()
        }),
    );
    let run = rig.run(|d| async move {
        d.execute(&get(1)).await;
        d.keeper.wait_reads().await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        d.execute(&get(2)).await;
    });
    let closes = client_closes(&run.records);
    assert_eq!(
        closes[0],
        (2_004_000, 1, CloseReason::IdleTimeout),
        "freed at 4 ms (handshake, request, response), closed 2 s later"
    );
    let connects = run
        .records
        .iter()
        .filter(|r| matches!(r.event, Event::Connected { .. }))
        .count();
    assert_eq!(connects, 2, "the second request dials again");
    Ok(())
}

#[test]
fn without_keep_alive_every_request_gets_a_new_socket_closed_after_its_response() -> Result {
    let rig = Rig::new(
        ServerConfig::default(),
        agent(AgentConfig {
            keep_alive: false,
            max_sockets: 1,
            ..AgentConfig::default()
        }),
    );
    let run = rig.run(|d| async move {
        for id in 1..=3 {
            d.execute(&get(id)).await;
        }
    });
    let conns = conn_of(&run.records);
    assert_eq!(conns.values().collect::<Vec<_>>(), [&1, &2, &3]);
    let reused = run
        .records
        .iter()
        .any(|r| matches!(r.event, Event::Checkout { reused: true, .. }));
    assert!(!reused);
    // hyper's client closes the socket itself once the `connection: close` exchange is done.
    assert_eq!(client_closes(&run.records).len(), 3);
    Ok(())
}

#[test]
fn scheduling_parses_from_the_scenario_spelling() -> Result {
    assert_eq!("fifo".parse::<Scheduling>()?, Scheduling::Fifo);
    assert_eq!("lifo".parse::<Scheduling>()?, Scheduling::Lifo);
    let err = "random".parse::<Scheduling>().unwrap_err();
    assert!(err.contains("expected \"fifo\" or \"lifo\""), "{err}");
    assert_eq!(AgentConfig::default().scheduling, Scheduling::Lifo);
    Ok(())
}
