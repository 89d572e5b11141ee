use std::time::Duration;

use httpsim::client::{AgentConfig, BodyMode, PoolConfig};
use httpsim::server::Handler;
use httpsim::workload::WorkloadKind;
use httpsim::{Event, RunEnd, Setup};

use crate::Result;

fn sequential_gets(loss: f64) -> httpsim::RunResult {
    let mut setup = Setup::default();
    setup
        .world
        .seed(5)
        .loss(loss)
        .latency(Duration::from_millis(1), Duration::from_millis(5))
        .duration(Duration::from_secs(3600));
    setup.server.handler = Handler::Fixed {
        body_bytes: 4096,
        chunk_bytes: 4096,
        status: 200,
    };
    setup.workload.kind = WorkloadKind::Sequential;
    setup.workload.requests = 2000;
    setup.run().expect("a valid setup")
}

fn retransmits(run: &httpsim::RunResult) -> usize {
    run.records
        .iter()
        .filter(|r| matches!(r.event, Event::Retransmit { .. }))
        .count()
}

#[test]
fn one_percent_loss_is_recovered_by_retransmission_and_every_get_completes_in_order() -> Result {
    let run = sequential_gets(0.01);
    assert_eq!(run.end, RunEnd::Completed);
    let heads: Vec<u64> = run
        .records
        .iter()
        .filter_map(|r| match r.event {
            Event::ResponseHead { req, .. } => Some(req),
            _ => None,
        })
        .collect();
    assert_eq!(
        heads,
        (1..=2000).collect::<Vec<u64>>(),
        "all, in send order"
    );
    assert!(retransmits(&run) > 0, "losses were retransmitted");
    assert_eq!(run.summary().requests.failed, 0);
    Ok(())
}

#[test]
fn without_loss_nothing_is_retransmitted() -> Result {
    let run = sequential_gets(0.0);
    assert_eq!(run.end, RunEnd::Completed);
    assert_eq!(retransmits(&run), 0);
    Ok(())
}

#[test]
fn a_64_kib_response_held_unread_blocks_the_servers_write() -> Result {
    let mut setup = Setup::default();
    // Real-size buffers: 16 KiB taken by the client socket, 16 KiB in each kernel buffer.
    setup
        .world
        .recv_buffer(16 * 1024)
        .tcp_buffers(16 * 1024, 16 * 1024)
        .duration(Duration::from_secs(60));
    setup.server.handler = Handler::Fixed {
        body_bytes: 64 * 1024,
        chunk_bytes: 16 * 1024,
        status: 200,
    };
    setup.client.pool = PoolConfig::Agent(AgentConfig::default());
    setup.workload.requests = 1;
    setup.workload.body = BodyMode::Hold;
    let run = setup.run()?;
    let blocked = run
        .records
        .iter()
        .find(|r| matches!(r.event, Event::WriteBlocked { .. }))
        .ok_or("the server's write never blocked")?;
    assert_eq!(blocked.host, "server");
    let Event::WriteBlocked { sent, .. } = blocked.event else {
        unreachable!()
    };
    assert!(sent < 64 * 1024, "blocked after {sent} bytes");
    Ok(())
}
