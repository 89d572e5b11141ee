//! What httpsim adds around hyper's connection: the inactivity timeout in any state, and a cap
//! on requests per socket.

use std::time::Duration;

use httpsim::client::BodyMode;
use httpsim::server::Handler;
use httpsim::trace::{BodyEnd, CloseReason};
use httpsim::workload::WorkloadKind;
use httpsim::{Event, RunEnd, Setup};

use crate::{assert_near, at, Result};

#[test]
fn inactivity_timeout_closes_a_socket_while_the_client_holds_its_response_unread() -> Result {
    // 1 MiB in 16 KiB chunks, held unread by the caller for 10 s; no header read timeout.
    // The client's buffers (256 KiB taken by its socket, 64 KiB in the kernel) fill, the window
    // closes, the server's send buffer fills and its write blocks (traced). Nothing in hyper
    // closes that socket; the inactivity timeout does, at 5 s after the last byte left. What was
    // in flight still arrives, then the FIN; the client learns of the close only when the
    // caller reads at 10 s, and the body ends short: the server never wrote the rest.
    let mut setup = Setup::default();
    setup.world.duration(Duration::from_secs(60));
    setup.server.handler = Handler::Fixed {
        body_bytes: 1 << 20,
        chunk_bytes: 16 * 1024,
        status: 200,
    };
    setup.server.idle_timeout = Some(Duration::from_secs(5));
    setup.workload.body = BodyMode::HoldThenRead(Duration::from_secs(10));
    let run = setup.run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let close = run
        .records
        .iter()
        .find(|r| r.host == "server" && matches!(r.event, Event::Closed { .. }))
        .expect("the server closes the socket");
    assert!(matches!(
        close.event,
        Event::Closed {
            reason: CloseReason::IdleTimeout,
            ..
        }
    ));
    assert_near(
        at(close),
        Duration::from_secs(5),
        Duration::from_millis(50),
        "close",
    );
    let peer_closed = run
        .records
        .iter()
        .find(|r| r.host == "client" && matches!(r.event, Event::PeerClosed { reset: false, .. }))
        .expect("the client's socket sees the FIN");
    assert_near(
        at(peer_closed),
        Duration::from_secs(10),
        Duration::from_millis(50),
        "fin",
    );
    let body_end = run
        .records
        .iter()
        .find_map(|r| match r.event {
            Event::BodyEnd { how, bytes, .. } => Some((at(r), how, bytes)),
            _ => None,
        })
        .expect("the caller reads at 10 s");
    assert_eq!(body_end.1, BodyEnd::Failed, "{body_end:?}");
    assert!(body_end.2 < 1 << 20, "{body_end:?}");
    assert!(
        run.records
            .iter()
            .any(|r| r.host == "server" && matches!(r.event, Event::WriteBlocked { .. })),
        "the server's write blocked on the full window"
    );
    assert_near(
        body_end.0,
        Duration::from_secs(10),
        Duration::from_millis(50),
        "read",
    );
    Ok(())
}

#[test]
fn max_requests_per_socket_closes_every_second_response() -> Result {
    let mut setup = Setup::default();
    setup.server.max_requests_per_socket = Some(2);
    setup.workload.kind = WorkloadKind::Sequential;
    setup.workload.requests = 6;
    let run = setup.run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let closes: Vec<bool> = run
        .records
        .iter()
        .filter_map(|r| match r.event {
            Event::ServerResponse { close, .. } => Some(close),
            _ => None,
        })
        .collect();
    assert_eq!(closes, [false, true, false, true, false, true]);
    let connects = run
        .records
        .iter()
        .filter(|r| matches!(r.event, Event::Connected { .. }))
        .count();
    assert_eq!(
        connects, 3,
        "the pool opens a new socket after each `connection: close`"
    );
    Ok(())
}
