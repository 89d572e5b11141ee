use std::time::Duration;

use httpsim::check::Invariant;
use httpsim::client::{PoolConfig, Timeouts};
use httpsim::workload::WorkloadKind;
use httpsim::{Event, NetAction, RunEnd, Setup};

use crate::Result;

/// Request 1 at 0 s leaves an idle pooled socket; the server vanishes at 1 s without FIN;
/// request 2 goes out at 2 s on that socket.
fn vanishing_server(timeouts: Timeouts) -> Setup {
    let mut setup = Setup::default();
    setup.world.seed(3).duration(Duration::from_secs(30));
    setup.client.pool = PoolConfig::default();
    setup.client.timeouts = timeouts;
    setup.workload.kind = WorkloadKind::Rate(0.5);
    setup.workload.requests = 2;
    setup.faults = vec![(
        Duration::from_secs(1),
        NetAction::Vanish {
            host: "server".into(),
        },
    )];
    setup
}

#[test]
fn a_vanished_server_fails_the_next_request_at_the_response_timeout() -> Result {
    let run = vanishing_server(Timeouts {
        response: Some(Duration::from_secs(3)),
        ..Timeouts::default()
    })
    .run()?;
    assert_eq!(run.end, RunEnd::Completed);
    // The client never heard of the crash: no peer-closed on its socket.
    assert!(
        crate::all(&run.records, |e| matches!(e, Event::PeerClosed { .. })).is_empty(),
        "a vanished peer must not send FIN or RST"
    );
    let failed = crate::all(&run.records, |e| {
        matches!(e, Event::RequestFailed { req: 2, .. })
    });
    let [f] = failed.as_slice() else {
        return Err(format!("expected one failure of request 2, got {failed:?}").into());
    };
    let Event::RequestFailed { kind, .. } = &f.event else {
        unreachable!()
    };
    assert_eq!(kind, "timeout");
    assert_eq!(
        f.t_us, 5_000_000,
        "request 2 starts at 2 s and times out 3 s later"
    );
    // It went out on the pooled socket of request 1.
    let checkouts: Vec<_> = crate::all(&run.records, |e| matches!(e, Event::Connected { .. }));
    assert_eq!(
        checkouts.len(),
        1,
        "request 2 must reuse the idle pooled socket"
    );
    Ok(())
}

#[test]
fn a_vanished_server_without_timeout_leaves_the_request_waiting_on_the_named_socket() -> Result {
    let run = vanishing_server(Timeouts::default()).run()?;
    assert_eq!(run.end, RunEnd::DurationReached);
    let conn = run
        .records
        .iter()
        .find_map(|r| match r.event {
            Event::ResponseHead { req: 1, conn, .. } => conn,
            _ => None,
        })
        .ok_or("request 1 had no response")?;
    let waiting = crate::all(&run.records, |e| matches!(e, Event::RequestWaiting { .. }));
    let [w] = waiting.as_slice() else {
        return Err(format!("expected one waiting request, got {waiting:?}").into());
    };
    assert_eq!(w.host, "client");
    assert_eq!(
        w.event,
        Event::RequestWaiting {
            conn,
            req: 2,
            since_us: 2_000_000
        }
    );
    assert_eq!(run.summary().requests.completed, 1);

    // The no-stall check turns that into a verdict that names the socket.
    let verdict = run.check(Invariant::NoStall);
    assert!(!verdict.passed);
    let named = format!("request 2 was written on conn {conn} at 2 s");
    assert!(
        verdict
            .violations
            .iter()
            .any(|v| v.message.contains(&named)),
        "the stall names the socket: {:#?}",
        verdict.violations
    );
    Ok(())
}

#[test]
fn a_crash_with_fin_closes_the_pooled_socket_and_the_next_request_is_refused() -> Result {
    let mut setup = vanishing_server(Timeouts {
        response: Some(Duration::from_secs(3)),
        ..Timeouts::default()
    });
    setup.faults = vec![(
        Duration::from_secs(1),
        NetAction::Crash {
            host: "server".into(),
        },
    )];
    let run = setup.run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let crash_close = crate::all(
        &run.records,
        |e| matches!(e, Event::Closed { reason, .. } if reason.to_string() == "crash"),
    );
    assert_eq!(crash_close.len(), 1, "the server's socket closes by crash");
    assert_eq!(crash_close[0].host, "server");
    let peer = crate::first_ms(&run.records, |e| {
        matches!(e, Event::PeerClosed { reset: false, .. })
    })
    .ok_or("the client never saw the FIN")?;
    assert!((1000.0..1100.0).contains(&peer), "FIN seen at {peer} ms");
    // Request 2 needs a new connection; the crashed server's kernel is up but nothing listens,
    // so it answers the SYN with a reset: refused one round trip after request 2 starts (2 s).
    let failed = crate::all(&run.records, |e| {
        matches!(e, Event::RequestFailed { req: 2, .. })
    });
    assert_eq!(failed.len(), 1);
    assert!(
        (2_000_000..2_010_000).contains(&failed[0].t_us),
        "{:?}",
        failed[0]
    );
    assert!(matches!(&failed[0].event, Event::RequestFailed { kind, .. } if kind == "refused"));
    Ok(())
}

/// A server crashed with its keep-alive socket open and bounced 1 ms later serves again: the
/// crashed server's sockets are still closing (FIN sent, not yet acknowledged) when the new one
/// binds port 80, which a real server's listener (tokio sets `SO_REUSEADDR`) may do.
#[test]
fn a_server_bounced_while_its_old_sockets_close_listens_again() -> Result {
    let mut setup = Setup::default();
    setup.world.seed(5).duration(Duration::from_secs(30));
    setup.client.pool = PoolConfig::default();
    setup.workload.kind = WorkloadKind::Rate(0.5);
    setup.workload.requests = 3;
    let server = || "server".to_string();
    setup.faults = vec![
        (Duration::from_secs(1), NetAction::Crash { host: server() }),
        (
            Duration::from_millis(1001),
            NetAction::Bounce { host: server() },
        ),
    ];
    let run = setup.run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let s = run.summary();
    assert_eq!(
        (s.requests.completed, s.requests.failed),
        (3, 0),
        "the bounced server must answer requests 2 and 3 (sent at 2 s and 4 s)"
    );
    assert!(run.check(Invariant::NoLostRequest).passed);
    Ok(())
}
