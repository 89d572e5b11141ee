use std::time::Duration;

use httpsim::client::PoolConfig;
use httpsim::workload::WorkloadKind;
use httpsim::{Event, RunEnd, Setup};

use crate::Result;

/// 2000 requests at once, no pool, client fd limit 256 with 14 fds already taken.
fn burst() -> Setup {
    let mut setup = Setup::default();
    setup.world.seed(3).duration(Duration::from_secs(120));
    setup.client.pool = PoolConfig::None;
    setup.client.fd_limit = Some(256);
    setup.client.fd_in_use = 14;
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = 2000;
    setup
}

#[test]
fn burst_without_pool_hits_emfile_at_request_243() -> Result {
    let run = burst().run()?;
    assert_eq!(run.end, RunEnd::Completed, "nothing hangs, nothing panics");

    let first_emfile = run.records.iter().find_map(|r| match &r.event {
        Event::RequestFailed { req, kind, .. } if kind == "emfile" => Some(*req),
        _ => None,
    });
    assert_eq!(first_emfile, Some(243));

    let peak = run.peak_fds["client"];
    assert_eq!(
        peak, 256,
        "open fds reach the limit exactly and never pass it"
    );

    let mut ended = vec![None; 2001];
    for r in &run.records {
        match &r.event {
            Event::ResponseHead { req, .. } => {
                assert!(ended[*req as usize].replace("response").is_none());
            }
            Event::RequestFailed {
                req, kind, message, ..
            } => {
                assert_eq!(kind, "emfile", "request {req}: {message}");
                assert!(
                    message.contains("Too many open files (os error 24)"),
                    "{message}"
                );
                assert!(ended[*req as usize].replace("emfile").is_none());
            }
            _ => {}
        }
    }
    let responses = ended.iter().filter(|e| **e == Some("response")).count();
    let emfiles = ended.iter().filter(|e| **e == Some("emfile")).count();
    assert_eq!(responses + emfiles, 2000, "every request ends exactly once");
    assert_eq!(responses, 242);
    Ok(())
}
