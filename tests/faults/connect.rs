use std::time::Duration;

use httpsim::client::{PoolConfig, Timeouts};
use httpsim::net::ConnectMode;
use httpsim::{ErrorKind, Event, NetAction, RunEnd, Setup};

use crate::Result;

fn partitioned_from_the_start(heal_at: Option<Duration>) -> Setup {
    let mut setup = Setup::default();
    setup.world.seed(9).duration(Duration::from_secs(300));
    setup.client.pool = PoolConfig::default();
    let (a, b) = ("client".to_string(), "server".to_string());
    setup.faults = vec![(
        Duration::ZERO,
        NetAction::Partition {
            a: a.clone(),
            b: b.clone(),
            oneway: false,
        },
    )];
    if let Some(t) = heal_at {
        setup.faults.push((
            t,
            NetAction::Repair {
                a,
                b,
                oneway: false,
            },
        ));
    }
    setup
}

fn failure(run: &httpsim::RunResult) -> Result<(u64, ErrorKind)> {
    run.records
        .iter()
        .find_map(|r| match &r.event {
            Event::RequestFailed { kind, .. } => Some((r.t_us, *kind)),
            _ => None,
        })
        .ok_or_else(|| "no request failed".into())
}

#[test]
fn connect_across_a_partition_times_out_at_the_connect_timeout_by_default() -> Result {
    let mut setup = partitioned_from_the_start(None);
    setup.client.timeouts = Timeouts {
        connect: Some(Duration::from_secs(2)),
        ..Timeouts::default()
    };
    let run = setup.run()?;
    assert_eq!(run.end, RunEnd::Completed);
    assert_eq!(failure(&run)?, (2_000_000, ErrorKind::Timeout));
    Ok(())
}

#[test]
fn connect_across_a_partition_without_timeout_gives_up_after_127_seconds_of_syn_retries() -> Result
{
    let run = partitioned_from_the_start(None).run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let (t, kind) = failure(&run)?;
    assert_eq!((t, kind), (127_000_000, ErrorKind::Timeout));
    let cf = crate::all(&run.records, |e| matches!(e, Event::ConnectFailed { .. }));
    assert!(
        matches!(&cf[0].event, Event::ConnectFailed { message, .. } if message.contains("SYN unanswered")),
        "{cf:?}"
    );
    Ok(())
}

#[test]
fn connect_across_a_partition_succeeds_at_the_syn_retransmission_after_it_heals() -> Result {
    // SYNs at 0, 1 s, 3 s, 7 s: the partition heals at 2.5 s, the SYN at 3 s gets through.
    let run = partitioned_from_the_start(Some(Duration::from_millis(2500))).run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let connected = crate::first_ms(&run.records, |e| matches!(e, Event::Connected { .. }))
        .ok_or("never connected")?;
    assert!(
        (3000.0..3010.0).contains(&connected),
        "connected at {connected} ms"
    );
    assert_eq!(run.summary().requests.completed, 1);
    Ok(())
}

#[test]
fn turmoil_mode_refuses_a_connect_across_a_partition_at_once() -> Result {
    let mut setup = partitioned_from_the_start(None);
    setup.world.connect_mode(ConnectMode::Refuse);
    let run = setup.run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let (t, kind) = failure(&run)?;
    assert_eq!(t, 0);
    assert!(
        matches!(kind, ErrorKind::Refused | ErrorKind::Connect),
        "kind {kind}"
    );
    Ok(())
}
