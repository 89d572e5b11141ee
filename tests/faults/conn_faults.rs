use std::time::Duration;

use httpsim::client::{PoolConfig, Timeouts};
use httpsim::net::{ConnFault, ConnFaultKind, Direction};
use httpsim::server::Handler;
use httpsim::trace::{BodyEnd, Record};
use httpsim::workload::WorkloadKind;
use httpsim::{Event, RunEnd, Setup};

use crate::Result;

/// One GET of a `body`-byte response under `fault`.
fn one_get(body: usize, fault: Option<ConnFault>) -> Setup {
    let mut setup = Setup::default();
    setup.world.seed(4).duration(Duration::from_secs(60));
    if let Some(f) = fault {
        setup.world.conn_fault(f);
    }
    setup.server.handler = Handler::Fixed {
        body_bytes: body,
        chunk_bytes: 16 * 1024,
        status: 200,
    };
    setup.client.pool = PoolConfig::default();
    setup
}

fn to_client(fault: ConnFaultKind) -> Option<ConnFault> {
    Some(ConnFault::always(fault, Direction::ToClient))
}

/// `(time µs, how, bytes)` of the first body end.
fn body_end(records: &[Record]) -> Result<(u64, BodyEnd, u64)> {
    records
        .iter()
        .find_map(|r| match r.event {
            Event::BodyEnd { how, bytes, .. } => Some((r.t_us, how, bytes)),
            _ => None,
        })
        .ok_or_else(|| "no body end".into())
}

fn head_ms(records: &[Record]) -> Result<f64> {
    crate::first_ms(records, |e| matches!(e, Event::ResponseHead { .. }))
        .ok_or_else(|| "no head".into())
}

fn fault_note(records: &[Record]) -> Option<String> {
    records.iter().find_map(|r| match &r.event {
        Event::ConnFault { what, .. } => Some(format!("{} {what}", r.host)),
        _ => None,
    })
}

#[test]
fn bandwidth_of_10_kb_per_second_turns_a_100_kb_body_into_10_seconds() -> Result {
    let fast = one_get(100_000, None).run()?;
    let (t_fast, _, _) = body_end(&fast.records)?;
    let run = one_get(
        100_000,
        to_client(ConnFaultKind::Bandwidth {
            bytes_per_sec: 10_000,
        }),
    )
    .run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let (t, how, bytes) = body_end(&run.records)?;
    assert_eq!((how, bytes), (BodyEnd::Read, 100_000));
    let secs = t as f64 / 1e6;
    eprintln!(
        "bandwidth: body read at {secs} s (without the fault: {} ms)",
        t_fast / 1000
    );
    assert!(
        (9.0..=11.0).contains(&secs),
        "100 KB at 10 KB/s took {secs} s"
    );
    assert!(t_fast < 50_000);
    Ok(())
}

#[test]
fn latency_with_jitter_delays_every_response_by_latency_plus_up_to_jitter() -> Result {
    let base = head_ms(&one_get(1000, None).run()?.records)?;
    let run = one_get(
        1000,
        to_client(ConnFaultKind::Latency {
            latency: Duration::from_millis(500),
            jitter: Duration::from_millis(100),
        }),
    )
    .run()?;
    let head = head_ms(&run.records)?;
    eprintln!("latency: head at {head} ms, {base} ms without");
    assert!(
        (base + 500.0..=base + 601.0).contains(&head),
        "head at {head} ms, base {base} ms"
    );
    Ok(())
}

#[test]
fn slicer_sends_a_body_in_small_pieces_with_delays() -> Result {
    let run = one_get(
        10_000,
        to_client(ConnFaultKind::Slicer {
            average: 100,
            variation: 20,
            delay: Duration::from_millis(10),
        }),
    )
    .run()?;
    let (t, how, bytes) = body_end(&run.records)?;
    assert_eq!((how, bytes), (BodyEnd::Read, 10_000));
    // ~10 100 bytes with the head, in pieces of 80..=120 bytes, 10 ms apart: 0.8 s to 1.3 s.
    let secs = t as f64 / 1e6;
    eprintln!("slicer: body read at {secs} s");
    assert!((0.8..=1.3).contains(&secs), "took {secs} s");
    Ok(())
}

#[test]
fn slow_close_delays_the_fin_the_peer_sees() -> Result {
    // The server closes an idle keep-alive socket after 1 s; the client's pool holds it until
    // request 2, 10 s later. How long after the server's close does the client see the FIN?
    let fin_delay_ms = |fault: Option<ConnFault>| -> Result<f64> {
        let mut setup = one_get(100, fault);
        setup.server.idle_timeout = Some(Duration::from_secs(1));
        setup.workload.kind = WorkloadKind::Rate(0.1);
        setup.workload.requests = 2;
        let run = setup.run()?;
        let closed = crate::first_ms(&run.records, |e| matches!(e, Event::Closed { conn: 1, .. }))
            .ok_or("the server never closed")?;
        let fin = run
            .records
            .iter()
            .find(|r| {
                r.host == "client"
                    && matches!(
                        r.event,
                        Event::PeerClosed {
                            conn: 1,
                            reset: false
                        }
                    )
            })
            .ok_or("the client never saw the FIN")?;
        Ok(fin.t_us as f64 / 1000.0 - closed)
    };
    let plain = fin_delay_ms(None)?;
    let slow = fin_delay_ms(to_client(ConnFaultKind::SlowClose {
        delay: Duration::from_secs(2),
    }))?;
    eprintln!("slow close: FIN seen {plain} ms after the close, {slow} ms with the fault");
    assert!(plain < 10.0);
    assert!(
        (2000.0..2010.0).contains(&slow),
        "FIN {slow} ms after the close"
    );
    Ok(())
}

#[test]
fn reset_after_1000_bytes_fails_the_request_with_an_rst() -> Result {
    let run = one_get(
        10_000,
        to_client(ConnFaultKind::Reset {
            after_bytes: Some(1000),
            after: None,
        }),
    )
    .run()?;
    // The RST arrives right behind the first 1000 bytes and, as on Linux, discards what the
    // client had not read yet: the request fails with `reset`, no head.
    let failed = crate::all(
        &run.records,
        |e| matches!(e, Event::RequestFailed { kind, .. } if kind == "reset"),
    );
    assert_eq!(failed.len(), 1);
    assert_eq!(
        fault_note(&run.records).as_deref(),
        Some("server reset after 1000 bytes")
    );
    let rst = crate::all(&run.records, |e| {
        matches!(e, Event::PeerClosed { reset: true, .. })
    });
    assert_eq!(rst.len(), 1);
    assert_eq!(rst[0].host, "client");
    let server_close = crate::all(
        &run.records,
        |e| matches!(e, Event::Closed { reason, .. } if reason.to_string() == "fault"),
    );
    assert_eq!(
        server_close.len(),
        1,
        "the server socket closes by the fault"
    );
    Ok(())
}

#[test]
fn reset_after_bytes_mid_body_cuts_the_body_the_client_is_reading() -> Result {
    // Sliced into 1000-byte pieces 50 ms apart, the head arrives long before byte 5000 trips.
    let mut setup = one_get(
        10_000,
        to_client(ConnFaultKind::Reset {
            after_bytes: Some(5000),
            after: None,
        }),
    );
    setup.world.conn_fault(ConnFault::always(
        ConnFaultKind::Slicer {
            average: 1000,
            variation: 0,
            delay: Duration::from_millis(50),
        },
        Direction::ToClient,
    ));
    let run = setup.run()?;
    let (_, how, bytes) = body_end(&run.records)?;
    assert_eq!(how, BodyEnd::Failed);
    assert!((1000..5000).contains(&bytes), "read {bytes} bytes of body");
    Ok(())
}

#[test]
fn reset_after_a_time_fails_a_slow_request_with_reset() -> Result {
    let mut setup = one_get(
        100,
        to_client(ConnFaultKind::Reset {
            after_bytes: None,
            after: Some(Duration::from_millis(500)),
        }),
    );
    setup.server.handler = Handler::Delay {
        delay: Duration::from_secs(1),
        body_bytes: 100,
        status: 200,
    };
    let run = setup.run()?;
    let failed = crate::all(&run.records, |e| matches!(e, Event::RequestFailed { .. }));
    let [f] = failed.as_slice() else {
        return Err(format!("expected one failure, got {failed:?}").into());
    };
    assert!(
        matches!(&f.event, Event::RequestFailed { kind, .. } if kind == "reset" || kind == "closed"),
        "{f:?}"
    );
    assert!(
        (500_000..510_000).contains(&f.t_us),
        "failed at {} µs",
        f.t_us
    );
    Ok(())
}

#[test]
fn limit_data_closes_the_direction_after_1000_bytes() -> Result {
    let run = one_get(10_000, to_client(ConnFaultKind::LimitData { bytes: 1000 })).run()?;
    let (_, how, bytes) = body_end(&run.records)?;
    assert_eq!(how, BodyEnd::Failed);
    assert!(bytes < 1000, "read {bytes} bytes");
    assert_eq!(
        fault_note(&run.records).as_deref(),
        Some("server limit-data after 1000 bytes: direction closed")
    );
    let fin = crate::all(&run.records, |e| {
        matches!(e, Event::PeerClosed { reset: false, .. })
    });
    assert_eq!(fin.len(), 1, "a FIN, not an RST");
    Ok(())
}

#[test]
fn half_open_leaves_the_reader_waiting_until_its_timeout() -> Result {
    let mut setup = one_get(
        10_000,
        to_client(ConnFaultKind::HalfOpen {
            after_bytes: Some(2000),
            after: None,
        }),
    );
    setup.client.timeouts = Timeouts {
        total: Some(Duration::from_secs(3)),
        ..Timeouts::default()
    };
    let run = setup.run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let (t, how, _) = body_end(&run.records)?;
    assert_eq!(how, BodyEnd::Failed);
    assert_eq!(
        t, 3_000_000,
        "the body read fails at the total timeout, not before"
    );
    assert!(
        crate::all(&run.records, |e| matches!(e, Event::PeerClosed { .. }))
            .iter()
            .all(|r| r.host != "client"),
        "the client must see neither FIN nor RST"
    );
    assert_eq!(
        fault_note(&run.records).as_deref(),
        Some("server half-open after 2000 bytes: this end vanished")
    );
    Ok(())
}

#[test]
fn a_probable_fault_hits_some_connections_the_same_ones_for_the_same_seed() -> Result {
    let slow_requests = |seed: u64| -> Result<Vec<u64>> {
        let mut setup = Setup::default();
        setup.world.seed(seed).conn_fault(ConnFault {
            fault: ConnFaultKind::Latency {
                latency: Duration::from_millis(300),
                jitter: Duration::ZERO,
            },
            direction: Direction::ToClient,
            probability: 0.5,
        });
        setup.client.pool = PoolConfig::None;
        setup.workload.kind = WorkloadKind::Sequential;
        setup.workload.requests = 40;
        let run = setup.run()?;
        let mut start = 0;
        let mut slow = Vec::new();
        for r in &run.records {
            match r.event {
                Event::RequestStart { .. } => start = r.t_us,
                Event::ResponseHead { req, .. } if r.t_us - start >= 300_000 => slow.push(req),
                _ => {}
            }
        }
        Ok(slow)
    };
    let a = slow_requests(21)?;
    assert!((8..=32).contains(&a.len()), "{} of 40 slowed", a.len());
    assert_eq!(a, slow_requests(21)?, "same seed, same connections");
    assert_ne!(
        a,
        slow_requests(22)?,
        "another seed draws other connections"
    );
    Ok(())
}
