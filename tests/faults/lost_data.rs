use std::time::Duration;

use httpsim::client::{PoolConfig, Timeouts};
use httpsim::server::Handler;
use httpsim::{Event, NetAction, RunEnd, Setup};

use crate::Result;

/// The server thinks for 1 s; the link is partitioned from 500 ms to 1500 ms, so the response
/// it sends at 1 s is lost. turmoil does not retransmit: the stream stalls for good even after
/// the repair.
fn response_lost(timeouts: Timeouts) -> Setup {
    let mut setup = Setup::default();
    setup.world.seed(5).duration(Duration::from_secs(20));
    setup.server.handler = Handler::Delay {
        delay: Duration::from_secs(1),
        body_bytes: 2000,
        status: 200,
    };
    setup.client.pool = PoolConfig::default();
    setup.client.timeouts = timeouts;
    let (a, b) = ("client".to_string(), "server".to_string());
    setup.faults = vec![
        (
            Duration::from_millis(500),
            NetAction::Partition {
                a: a.clone(),
                b: b.clone(),
                oneway: false,
            },
        ),
        (
            Duration::from_millis(1500),
            NetAction::Repair {
                a,
                b,
                oneway: false,
            },
        ),
    ];
    setup
}

#[test]
fn a_response_lost_to_a_partition_is_reported_as_undelivered_on_its_connection() -> Result {
    let run = response_lost(Timeouts::default()).run()?;
    assert_eq!(run.end, RunEnd::DurationReached);
    let und = crate::all(&run.records, |e| matches!(e, Event::Undelivered { .. }));
    let [u] = und.as_slice() else {
        return Err(format!("expected one undelivered report, got {und:?}").into());
    };
    assert_eq!(u.host, "client", "reported on the host that waits");
    let Event::Undelivered {
        conn,
        from,
        bytes,
        fin,
        since_us,
    } = &u.event
    else {
        unreachable!()
    };
    assert_eq!(from, "server");
    assert!(
        *bytes >= 2000,
        "the whole response is missing: {bytes} bytes"
    );
    assert!(!fin);
    assert!(
        (1_000_000..1_010_000).contains(since_us),
        "sent when the handler answered, not {since_us} µs"
    );
    // And the request is named as waiting on that same connection.
    let waiting = crate::all(
        &run.records,
        |e| matches!(e, Event::RequestWaiting { req: 1, conn: c, .. } if c == conn),
    );
    assert_eq!(waiting.len(), 1);
    assert_eq!(run.summary().requests.completed, 0);
    Ok(())
}

#[test]
fn a_response_lost_to_a_partition_fails_at_the_response_timeout() -> Result {
    let run = response_lost(Timeouts {
        response: Some(Duration::from_secs(4)),
        ..Timeouts::default()
    })
    .run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let failed = crate::all(
        &run.records,
        |e| matches!(e, Event::RequestFailed { req: 1, kind, .. } if kind == "timeout"),
    );
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].t_us, 4_000_000);
    Ok(())
}
