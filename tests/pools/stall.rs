//! Catalog case 1: a pool of 5 sockets, callers that never read the bodies, a server that
//! closes sockets idle for 180 s. Each held body keeps its socket checked out; only the
//! server's inactivity timeout frees them, so requests complete in batches of 5, 180 s apart.

use std::time::Duration;

use httpsim::client::{AgentConfig, BodyMode, PoolConfig};
use httpsim::server::Handler;
use httpsim::workload::WorkloadKind;
use httpsim::{RunEnd, Setup};

use crate::common::{batches, dump, heads, longest_gap, peak_live_sockets, secs};
use crate::Result;

fn setup(body: BodyMode) -> Setup {
    let mut s = Setup::default();
    s.world.duration(Duration::from_secs(900));
    s.server.idle_timeout = Some(Duration::from_secs(180));
    s.server.handler = Handler::Fixed {
        body_bytes: 64 * 1024,
        chunk_bytes: 16 * 1024,
        status: 200,
    };
    s.client.pool = PoolConfig::Agent(AgentConfig {
        max_sockets: 5,
        ..AgentConfig::default()
    });
    s.workload.kind = WorkloadKind::Sequential;
    s.workload.requests = 20;
    s.workload.body = body;
    s
}

#[test]
fn held_bodies_stall_five_sockets_until_the_server_idle_timeout() -> Result {
    let run = setup(BodyMode::Hold).run()?;
    dump(&run.records);
    assert_eq!(run.end, RunEnd::Completed);
    let times: Vec<u64> = heads(&run.records).iter().map(|h| h.1).collect();
    assert_eq!(times.len(), 20);
    let b = batches(&times, Duration::from_secs(10));
    let sizes: Vec<usize> = b.iter().map(Vec::len).collect();
    assert_eq!(sizes, [5, 5, 5, 5], "batches at {b:?}");
    for w in b.windows(2) {
        let gap = w[1][0] - w[0][w[0].len() - 1];
        assert!(
            (179_000_000..=181_000_000).contains(&gap),
            "gap between batches {}s, expected 180s ± 1s",
            secs(gap)
        );
    }
    assert!(peak_live_sockets(&run.records, "client") <= 5);
    Ok(())
}

#[test]
fn read_bodies_keep_five_sockets_flowing() -> Result {
    let run = setup(BodyMode::Read).run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let times: Vec<u64> = heads(&run.records).iter().map(|h| h.1).collect();
    assert_eq!(times.len(), 20);
    let gap = longest_gap(&times);
    assert!(gap <= 200_000, "longest gap {}s", secs(gap));
    Ok(())
}

/// Node 20's Agent: sockets stop reading once 16 KiB of a response wait unread.
fn node20(body_bytes: usize, body: BodyMode) -> Setup {
    let mut s = setup(body);
    s.server.handler = Handler::Fixed {
        body_bytes,
        chunk_bytes: 16 * 1024,
        status: 200,
    };
    s.client.pool = PoolConfig::Agent(AgentConfig {
        max_sockets: 5,
        read_pause: Some(16 * 1024),
        ..AgentConfig::default()
    });
    s
}

#[test]
fn held_64_kib_bodies_behind_a_16_kib_read_pause_stall_five_sockets_for_good() -> Result {
    let run = node20(64 * 1024, BodyMode::Hold).run()?;
    // The server's close waits behind unread data the socket no longer reads: never seen.
    assert_eq!(run.end, RunEnd::DurationReached);
    assert_eq!(heads(&run.records).len(), 5);
    let fds = run.peak_fds.get("client").copied();
    assert_eq!(
        fds,
        Some(5),
        "the held sockets keep their fds, nothing more opens"
    );
    Ok(())
}

#[test]
fn held_1_kib_bodies_behind_a_16_kib_read_pause_still_free_their_slots_at_the_idle_timeout(
) -> Result {
    let run = node20(1024, BodyMode::Hold).run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let times: Vec<u64> = heads(&run.records).iter().map(|h| h.1).collect();
    let sizes: Vec<usize> = batches(&times, Duration::from_secs(10))
        .iter()
        .map(Vec::len)
        .collect();
    assert_eq!(sizes, [5, 5, 5, 5]);
    Ok(())
}

#[test]
fn read_64_kib_bodies_behind_a_16_kib_read_pause_keep_flowing() -> Result {
    let run = node20(64 * 1024, BodyMode::Read).run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let times: Vec<u64> = heads(&run.records).iter().map(|h| h.1).collect();
    assert_eq!(times.len(), 20);
    assert!(longest_gap(&times) <= 200_000);
    Ok(())
}
