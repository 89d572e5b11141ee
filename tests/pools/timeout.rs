//! Catalog case 3: no network. The server's messages are held (nothing arrives, not even the
//! connect's answer), or the link is partitioned after the request reached the server. With a
//! 1 s total timeout the request fails as a timeout at 1 s and the caller's fallback value is
//! used; without a timeout it is still pending at 15 s. Every pool behaves the same, because
//! the timeout is the driver's, in simulated time.

use std::time::Duration;

use httpsim::client::driver::Outcome;
use httpsim::client::{AgentConfig, ClientConfig, PoolConfig, Retry, Timeouts};
use httpsim::server::{Handler, ServerConfig};
use httpsim::trace::Record;
use httpsim::{ErrorKind, Event, NetAction, RunEnd};

use crate::common::{get, Rig, Scripted};
use crate::Result;

/// What the caller ended up with: the status, or its fallback when the request timed out.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Status(u16),
    Fallback,
    Error(String),
}

/// One GET from a caller that falls back on a timeout, with `faults` applied; the server
/// answers after 500 ms. Returns the run and when (µs) the caller got which value.
fn one_request(
    pool: PoolConfig,
    timeouts: Timeouts,
    retry: Retry,
    faults: &[(Duration, NetAction)],
) -> Scripted<(u64, Value)> {
    let server = ServerConfig {
        handler: Handler::Delay {
            delay: Duration::from_millis(500),
            body_bytes: 100,
            status: 200,
        },
        ..ServerConfig::default()
    };
    let client = ClientConfig {
        pool,
        timeouts,
        retry,
        ..ClientConfig::default()
    };
    {
        let mut rig = Rig::new(server, client);
        rig.world.duration(Duration::from_secs(15));
        rig.faults = faults.to_vec();
        rig
    }
    .run(|driver| async move {
        let v = match driver.execute(&get(1)).await {
            Outcome::Response(s) => Value::Status(s),
            Outcome::Failed(e) if e.is_timeout() => Value::Fallback,
            Outcome::Failed(e) => Value::Error(e.to_string()),
        };
        (httpsim::net::clock::now_us(), v)
    })
}

fn pools() -> Vec<(&'static str, PoolConfig)> {
    vec![
        ("hyper-util", PoolConfig::default()),
        (
            "agent",
            PoolConfig::Agent(AgentConfig {
                max_sockets: 5,
                ..AgentConfig::default()
            }),
        ),
        ("none", PoolConfig::None),
    ]
}

fn held() -> Vec<(Duration, NetAction)> {
    vec![(
        Duration::ZERO,
        NetAction::Hold {
            a: "client".into(),
            b: "server".into(),
        },
    )]
}

/// The request reaches the server at 2 ms; the link goes down before the answer (at 502 ms).
fn partitioned_after_connect() -> Vec<(Duration, NetAction)> {
    vec![(
        Duration::from_millis(100),
        NetAction::Partition {
            a: "client".into(),
            b: "server".into(),
            oneway: false,
        },
    )]
}

fn total(t: Duration) -> Timeouts {
    Timeouts {
        total: Some(t),
        ..Timeouts::default()
    }
}

fn failures(records: &[Record]) -> Vec<(u64, ErrorKind, bool)> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::RequestFailed { kind, retrying, .. } => Some((r.t_us, *kind, *retrying)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_one_second_timeout_falls_back_at_one_second_when_the_server_is_unreachable() -> Result {
    for (fault, faults) in [("hold", held()), ("partition", partitioned_after_connect())] {
        for (name, pool) in pools() {
            let o = one_request(
                pool,
                total(Duration::from_secs(1)),
                Retry::default(),
                &faults,
            );
            let (at, value) = o
                .value
                .ok_or(format!("{fault}/{name}: the caller never returned"))?;
            assert_eq!(value, Value::Fallback, "{fault}/{name}");
            assert!(
                (1_000_000..=1_001_000).contains(&at),
                "{fault}/{name}: fallback at {at}µs, expected 1 s (± one 1 ms tick)"
            );
            assert_eq!(
                failures(&o.records),
                [(at, ErrorKind::Timeout, false)],
                "{fault}/{name}"
            );
            assert_eq!(o.end, RunEnd::Completed, "{fault}/{name}");
        }
    }
    Ok(())
}

#[test]
fn without_a_timeout_the_request_is_still_pending_at_fifteen_seconds() -> Result {
    for (fault, faults) in [("hold", held()), ("partition", partitioned_after_connect())] {
        for (name, pool) in pools() {
            let o = one_request(pool, Timeouts::default(), Retry::default(), &faults);
            assert_eq!(o.end, RunEnd::DurationReached, "{fault}/{name}");
            assert_eq!(o.value, None, "{fault}/{name}: the caller is still waiting");
            let ended = o.records.iter().any(|r| {
                matches!(
                    r.event,
                    Event::ResponseHead { .. } | Event::RequestFailed { .. }
                )
            });
            assert!(!ended, "{fault}/{name}: no head and no error by 15 s");
        }
    }
    Ok(())
}

#[test]
fn each_retry_of_a_timed_out_get_is_traced_and_counted() -> Result {
    let retry = Retry {
        attempts: 3,
        backoff: Duration::from_millis(100),
        ..Retry::default()
    };
    for (name, pool) in pools() {
        let o = one_request(pool, total(Duration::from_secs(1)), retry, &held());
        let f = failures(&o.records);
        let expect: Vec<(u64, ErrorKind, bool)> = vec![
            (1_000_000, ErrorKind::Timeout, true),
            (2_100_000, ErrorKind::Timeout, true),
            (3_200_000, ErrorKind::Timeout, false),
        ];
        assert_eq!(f, expect, "{name}");
        let starts = o
            .records
            .iter()
            .filter(|r| matches!(r.event, Event::RequestStart { .. }))
            .count();
        assert_eq!(starts, 3, "{name}: three attempts");
        assert_eq!(o.value.map(|v| v.1), Some(Value::Fallback), "{name}");
    }
    Ok(())
}
