use std::time::Duration;

use httpsim::client::{PoolConfig, Timeouts};
use httpsim::server::Handler;
use httpsim::{Event, NetAction, RunEnd, Setup};

use crate::Result;

/// The server thinks for 1 s; the link is partitioned from 500 ms (and repaired at 1500 ms when
/// `repair`), so the response it sends at 1 s is lost. TCP retransmits it (200 ms, 400 ms, ...
/// after the send): with the repair it arrives at the first retransmission after 1500 ms;
/// without, it never does.
fn response_lost(timeouts: Timeouts, repair: bool) -> Setup {
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
    setup.faults = vec![(
        Duration::from_millis(500),
        NetAction::Partition {
            a: a.clone(),
            b: b.clone(),
            oneway: false,
        },
    )];
    if repair {
        setup.faults.push((
            Duration::from_millis(1500),
            NetAction::Repair {
                a,
                b,
                oneway: false,
            },
        ));
    }
    setup
}

#[test]
fn a_response_lost_to_a_partition_is_retransmitted_and_arrives_after_the_repair() -> Result {
    let run = response_lost(Timeouts::default(), true).run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let head = crate::first_ms(&run.records, |e| matches!(e, Event::ResponseHead { .. }))
        .ok_or("the response never arrived")?;
    // Sent at 1 s; retransmitted at 1.2 s and 1.6 s (200 ms, doubling): the second is after
    // the repair at 1.5 s.
    assert!((1500.0..1700.0).contains(&head), "response at {head} ms");
    let retransmits = crate::all(&run.records, |e| matches!(e, Event::Retransmit { .. }));
    assert!(
        retransmits.iter().any(|r| r.host == "server"),
        "the server retransmitted: {retransmits:?}"
    );
    Ok(())
}

#[test]
fn a_response_lost_to_a_partition_that_never_heals_is_reported_as_undelivered() -> Result {
    let run = response_lost(Timeouts::default(), false).run()?;
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
    let run = response_lost(
        Timeouts {
            response: Some(Duration::from_secs(4)),
            ..Timeouts::default()
        },
        false,
    )
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
