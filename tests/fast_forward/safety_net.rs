//! A timer made behind httpsim's back (`tokio::time` directly) is not in the registry: a jump
//! that skips it ends the run as a limit instead of producing a trace that differs from tick by
//! tick.

use std::time::Duration;

use httpsim::net::clock;
use httpsim::{Event, RunEnd, WorldBuilder};

use crate::Result;

fn sleeper(fast_forward: bool, registered: bool) -> (RunEnd, Vec<httpsim::Record>, u64) {
    let mut world = WorldBuilder::new()
        .duration(Duration::from_secs(60))
        .fast_forward(fast_forward)
        .build();
    world.client("client", None, 0, move |_host| async move {
        if registered {
            clock::sleep(Duration::from_secs(10)).await;
        } else {
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    });
    let end = world.run();
    let steps = world.steps();
    (end, world.net().trace().records(), steps)
}

#[test]
fn an_unregistered_timer_skipped_by_a_jump_ends_the_run_as_a_limit() -> Result {
    let (end, records, _) = sleeper(true, false);
    let RunEnd::Limit(message) = end else {
        return Err(format!("expected a limit, got {end:?}").into());
    };
    assert!(
        message.contains("fast-forward skipped an unregistered timer"),
        "{message}"
    );
    assert!(records.iter().any(|r| r.host == "client"
        && matches!(&r.event, Event::Limit { message } if message.contains("unregistered timer"))));
    // Tick by tick, the same software simply completes.
    let (end, _, steps) = sleeper(false, false);
    assert_eq!(end, RunEnd::Completed);
    assert!(steps >= 10_000);
    Ok(())
}

#[test]
fn a_registered_timer_is_reached_in_a_handful_of_steps() -> Result {
    let (end, records, steps) = sleeper(true, true);
    assert_eq!(end, RunEnd::Completed);
    assert!(records.is_empty());
    assert!(steps < 10, "took {steps} steps");
    Ok(())
}

#[test]
fn a_setup_with_custom_components_runs_tick_by_tick_unless_told_otherwise() -> Result {
    use httpsim::workload::WorkloadKind;
    use std::rc::Rc;

    let mut setup = httpsim::Setup::default();
    // A custom server that only sleeps, behind the registry's back: httpsim cannot vouch for
    // custom software, so fast-forward stays off.
    setup.custom.server = Some(Rc::new(|_host| {
        Box::pin(async { tokio::time::sleep(Duration::from_secs(3600)).await })
    }));
    setup.workload.kind = WorkloadKind::Rate(0.1);
    setup.workload.requests = 2;
    let run = setup.run()?;
    assert!(
        run.sim_time >= Duration::from_secs(10),
        "{:?}",
        run.sim_time
    );
    assert!(
        u128::from(run.steps) >= run.sim_time.as_millis(),
        "{} steps for {:?}: fast-forward was on",
        run.steps,
        run.sim_time
    );
    Ok(())
}
