use std::time::Duration;

use httpsim::server::Handler;
use httpsim::workload::WorkloadKind;
use httpsim::{Event, RunEnd, Setup};

use crate::{assert_near, at, Result};

/// Ten requests at once over ten pooled connections.
fn ten_parallel(handler: Handler) -> Setup {
    let mut setup = Setup::default();
    setup.world.duration(Duration::from_secs(60));
    setup.server.handler = handler;
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = 10;
    setup
}

fn head_times(run: &httpsim::RunResult) -> Vec<Duration> {
    let mut t: Vec<_> = run
        .records
        .iter()
        .filter(|r| matches!(r.event, Event::ResponseHead { status: 200, .. }))
        .map(at)
        .collect();
    t.sort();
    t
}

#[test]
fn ten_requests_waiting_four_seconds_asynchronously_all_finish_at_four_seconds() -> Result {
    let run = ten_parallel(Handler::Delay {
        delay: Duration::from_secs(4),
        body_bytes: 1024,
        status: 200,
    })
    .run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let heads = head_times(&run);
    assert_eq!(heads.len(), 10);
    for t in heads {
        assert_near(
            t,
            Duration::from_secs(4),
            Duration::from_millis(100),
            "response",
        );
    }
    Ok(())
}

#[test]
fn ten_requests_burning_one_second_of_cpu_finish_one_per_second() -> Result {
    let run = ten_parallel(Handler::Cpu {
        busy: Duration::from_secs(1),
        body_bytes: 1024,
        status: 200,
    })
    .run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let heads = head_times(&run);
    assert_eq!(heads.len(), 10);
    for (k, t) in heads.into_iter().enumerate() {
        let want = Duration::from_secs(k as u64 + 1);
        assert_near(
            t,
            want,
            Duration::from_millis(100),
            &format!("response {}", k + 1),
        );
    }
    Ok(())
}

#[test]
fn a_cpu_burn_blocks_reading_on_other_connections() -> Result {
    // Two requests arrive at once on two connections; each burns 2 s. While the first burns,
    // the second connection is not even read: the whole host is blocked, not just a handler.
    let mut setup = ten_parallel(Handler::Cpu {
        busy: Duration::from_secs(2),
        body_bytes: 16,
        status: 200,
    });
    setup.workload.requests = 2;
    let run = setup.run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let heads = head_times(&run);
    assert_eq!(heads.len(), 2);
    assert_near(
        heads[0],
        Duration::from_secs(2),
        Duration::from_millis(50),
        "first",
    );
    assert_near(
        heads[1],
        Duration::from_secs(4),
        Duration::from_millis(50),
        "second",
    );
    let second_read = run
        .records
        .iter()
        .filter(|r| matches!(r.event, Event::ServerRequest { .. }))
        .map(at)
        .nth(1)
        .expect("two requests reach the server");
    assert!(
        second_read >= Duration::from_secs(2),
        "read at {second_read:?}"
    );
    Ok(())
}
