//! What the caller does with bodies, and the total timeout over them.

use std::convert::Infallible;
use std::rc::Rc;
use std::time::Duration;

use httpsim::client::{AgentConfig, BodyMode, ClientConfig, PoolConfig, Timeouts};
use httpsim::net::HostNet;
use httpsim::server::{Handler, ServerConfig};
use httpsim::trace::{BodyEnd, CloseReason, Record};
use httpsim::{ErrorKind, Event};

use crate::common::{get, heads, Rig};
use crate::Result;

fn agent(max_sockets: usize) -> ClientConfig {
    ClientConfig {
        pool: PoolConfig::Agent(AgentConfig {
            max_sockets,
            ..AgentConfig::default()
        }),
        ..ClientConfig::default()
    }
}

fn big_body(bytes: usize) -> ServerConfig {
    ServerConfig {
        handler: Handler::Fixed {
            body_bytes: bytes,
            chunk_bytes: 16 * 1024,
            status: 200,
        },
        ..ServerConfig::default()
    }
}

fn body_errors(records: &[Record]) -> Vec<(u64, ErrorKind)> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::BodyError { kind, .. } => Some((r.t_us, *kind)),
            _ => None,
        })
        .collect()
}

fn connects(records: &[Record]) -> usize {
    records
        .iter()
        .filter(|r| r.host == "client" && matches!(r.event, Event::Connected { .. }))
        .count()
}

/// A hyper server whose responses announce 1 MB and send 1000 bytes, then nothing: a body
/// that stops arriving (httpsim's handlers always finish their bodies).
fn stalling_server() -> httpsim::setup::ServerSoftware {
    use futures_util::StreamExt;
    use http_body_util::StreamBody;
    use hyper::body::Frame;

    Rc::new(|host: HostNet| {
        Box::pin(async move {
            let mut listener = host.bind(80).await.expect("bind");
            while let Ok(stream) = listener.accept().await {
                let svc = hyper::service::service_fn(|_req| async {
                    let first = futures_util::stream::iter([Ok::<_, Infallible>(Frame::data(
                        bytes::Bytes::from(vec![b'x'; 1000]),
                    ))]);
                    let body = StreamBody::new(first.chain(futures_util::stream::pending()));
                    http::Response::builder()
                        .header(http::header::CONTENT_LENGTH, 1_000_000)
                        .body(body)
                });
                tokio::task::spawn_local(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(stream, svc)
                        .await;
                });
            }
        })
    })
}

#[test]
fn the_total_timeout_bounds_a_body_that_stops_arriving() -> Result {
    for (name, pool) in [
        ("hyper-util", PoolConfig::default()),
        ("agent", PoolConfig::Agent(AgentConfig::default())),
        ("none", PoolConfig::None),
    ] {
        let client = ClientConfig {
            pool,
            timeouts: Timeouts {
                total: Some(Duration::from_secs(1)),
                ..Timeouts::default()
            },
            ..ClientConfig::default()
        };
        let mut rig = Rig::new(ServerConfig::default(), client);
        rig.software = Some(stalling_server());
        let run = rig.run(|d| async move { d.execute(&get(1)).await });
        assert_eq!(heads(&run.records).len(), 1, "{name}: the head arrived");
        assert_eq!(
            body_errors(&run.records),
            [(1_000_000, ErrorKind::Timeout)],
            "{name}: the body read fails at the 1 s total"
        );
        let end = run.records.iter().find_map(|r| match r.event {
            Event::BodyEnd { how, bytes, .. } => Some((how, bytes)),
            _ => None,
        });
        let (how, bytes) = end.ok_or("no body end")?;
        assert_eq!(how, BodyEnd::Failed, "{name}");
        assert_eq!(bytes, 1000, "{name}");
    }
    Ok(())
}

#[test]
fn a_body_read_after_the_total_timeout_fails_as_a_timeout() -> Result {
    let mut client = agent(1);
    client.timeouts.total = Some(Duration::from_secs(1));
    let mut rig = Rig::new(big_body(64 * 1024), client);
    rig.body = BodyMode::HoldThenRead(Duration::from_secs(2));
    let run = rig.run(|d| async move { d.execute(&get(1)).await });
    let errors = body_errors(&run.records);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].1, ErrorKind::Timeout);
    assert!(errors[0].0 >= 2_000_000, "read starts after the hold");
    Ok(())
}

#[test]
fn a_dropped_body_closes_its_agent_socket_and_frees_the_slot_at_once() -> Result {
    let mut rig = Rig::new(big_body(64 * 1024), agent(1));
    rig.body = BodyMode::Drop;
    let run = rig.run(|d| async move {
        for id in 1..=5 {
            d.execute(&get(id)).await;
        }
    });
    let h = heads(&run.records);
    assert_eq!(h.len(), 5);
    assert!(h[4].1 < 50_000, "no stall: last head at {} µs", h[4].1);
    assert_eq!(
        connects(&run.records),
        5,
        "an unfinished socket is never reused"
    );
    let resets = run
        .records
        .iter()
        .filter(|r| {
            r.host == "client"
                && matches!(
                    r.event,
                    Event::Closed {
                        reason: CloseReason::Reset,
                        ..
                    }
                )
        })
        .count();
    assert!(
        resets >= 4,
        "closing with unread data resets the socket ({resets})"
    );
    Ok(())
}

#[test]
fn a_held_then_read_body_keeps_its_socket_until_read_then_it_is_reused() -> Result {
    let mut rig = Rig::new(big_body(64 * 1024), agent(1));
    rig.body = BodyMode::HoldThenRead(Duration::from_secs(1));
    let run = rig.run(|d| async move {
        for id in 1..=3 {
            d.execute(&get(id)).await;
        }
    });
    let h: Vec<u64> = heads(&run.records).iter().map(|h| h.1 / 100_000).collect();
    // Heads at ~0 s, ~1 s, ~2 s (in tenths of a second).
    assert_eq!(h, [0, 10, 20], "each waits for the previous body");
    assert_eq!(connects(&run.records), 1, "the read socket is reused");
    let read = run
        .records
        .iter()
        .filter(|r| {
            matches!(
                r.event,
                Event::BodyEnd {
                    how: BodyEnd::Read,
                    bytes: 65536,
                    ..
                }
            )
        })
        .count();
    assert_eq!(read, 3);
    Ok(())
}
