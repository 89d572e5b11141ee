use std::time::Duration;

use httpsim::bench::idle;
use httpsim::client::BodyMode;
use httpsim::trace::hash;
use httpsim::workload::WorkloadKind;
use httpsim::{Event, NetAction, RunEnd, Setup};

use crate::Result;

/// Runs `setup` ticking through every millisecond, then skipping quiet periods; returns both
/// traces' hashes after checking the records are equal.
fn same_trace_both_ways(setup: &mut Setup) -> Result<httpsim::RunResult> {
    setup.world.fast_forward(false);
    let ticked = setup.run();
    setup.world.fast_forward(true);
    let skipped = setup.run();
    assert_eq!(ticked.end, skipped.end);
    assert_eq!(ticked.sim_time, skipped.sim_time);
    assert_eq!(hash(&ticked.records), hash(&skipped.records));
    assert_eq!(ticked.records, skipped.records);
    Ok(skipped)
}

#[test]
fn a_pool_stall_skipped_in_jumps_has_the_same_trace_as_ticked() -> Result {
    let mut setup = idle::setup(15, 5, Duration::from_secs(20));
    let run = same_trace_both_ways(&mut setup)?;
    assert_eq!(run.end, RunEnd::Completed);
    let summary = run.summary();
    assert_eq!(summary.requests.completed, 15);
    // Three batches of five, separated by the 20 s inactivity timeout.
    assert!(
        (19_000..=21_000).contains(&summary.longest_stall_ms),
        "stall {} ms",
        summary.longest_stall_ms
    );
    assert!(run.sim_time >= Duration::from_secs(40));
    Ok(())
}

#[test]
fn faults_scheduled_inside_quiet_periods_land_at_the_same_time() -> Result {
    let mut setup = idle::setup(10, 5, Duration::from_secs(15));
    setup
        .world
        .seed(11)
        .latency(Duration::from_millis(1), Duration::from_millis(25));
    let (c, s) = ("client".to_string(), "server".to_string());
    setup.faults = vec![
        (
            Duration::from_millis(7_333),
            NetAction::Hold {
                a: c.clone(),
                b: s.clone(),
            },
        ),
        (
            Duration::from_millis(9_001),
            NetAction::Release {
                a: c.clone(),
                b: s.clone(),
            },
        ),
        (
            Duration::from_millis(12_500),
            NetAction::Latency {
                a: c,
                b: s,
                latency: Duration::from_millis(40),
            },
        ),
    ];
    let run = same_trace_both_ways(&mut setup)?;
    let faults: Vec<u64> = run
        .records
        .iter()
        .filter(|r| matches!(r.event, Event::Fault { .. }))
        .map(|r| r.t_us)
        .collect();
    assert_eq!(faults, vec![7_333_000, 9_001_000, 12_500_000]);
    Ok(())
}

#[test]
fn request_timeouts_and_random_latency_fire_at_the_same_times() -> Result {
    let mut setup = Setup::default();
    setup
        .world
        .seed(5)
        .latency(Duration::from_millis(1), Duration::from_millis(30))
        .duration(Duration::from_secs(120));
    setup.server.handler = httpsim::server::Handler::Delay {
        delay: Duration::from_secs(3),
        body_bytes: 1024,
        status: 200,
    };
    setup.client.timeouts.response = Some(Duration::from_millis(2_500));
    setup.workload.kind = WorkloadKind::Rate(0.5);
    setup.workload.requests = 6;
    setup.workload.body = BodyMode::Read;
    let run = same_trace_both_ways(&mut setup)?;
    let summary = run.summary();
    assert_eq!(
        summary.requests.failed, 6,
        "every request times out at 2.5 s"
    );
    Ok(())
}
