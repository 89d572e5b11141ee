//! httpsim works as an ordinary dependency: the README's example, as a test.

use std::time::Duration;

use httpsim::prelude::*;

#[test]
fn burst_without_pool_hits_emfile_at_request_243() -> Result<(), SetupError> {
    let mut setup = Setup::default();
    setup.world.seed(3).duration(Duration::from_secs(120));
    setup.client.pool = PoolConfig::None; // one connection per request
    setup.client.fd_limit = Some(256);
    setup.client.fd_in_use = 14; // stdio, logs, ...
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = 2000;

    let run = setup.run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let first_emfile = run.records.iter().find_map(|r| match &r.event {
        Event::RequestFailed { req, kind, .. } if kind == "emfile" => Some(*req),
        _ => None,
    });
    assert_eq!(first_emfile, Some(243));
    assert_eq!(run.peak_fds["client"], 256);
    assert!(run.check(Invariant::FdLimit).passed);
    Ok(())
}
