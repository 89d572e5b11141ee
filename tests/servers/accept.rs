//! A server with fd limit 100 and 300 clients connecting at once (no pool: one connection per
//! request). Each request waits 200 ms at the server, so the server serves in waves.

use std::collections::BTreeMap;
use std::time::Duration;

use httpsim::client::PoolConfig;
use httpsim::net::BacklogOverflow;
use httpsim::server::Handler;
use httpsim::workload::WorkloadKind;
use httpsim::{Event, RunEnd, RunResult, Setup};

use crate::Result;

fn burst() -> Setup {
    let mut setup = Setup::default();
    setup.world.seed(5).duration(Duration::from_secs(60));
    setup.server.fd_limit = Some(100);
    setup.server.handler = Handler::Delay {
        delay: Duration::from_millis(200),
        body_bytes: 512,
        status: 200,
    };
    setup.client.pool = PoolConfig::None;
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = 300;
    setup
}

/// How each request ended: `"response"` or the error kind. Panics if one ends twice.
fn endings(run: &RunResult) -> BTreeMap<u64, String> {
    let mut ended = BTreeMap::new();
    for r in &run.records {
        let (req, how) = match &r.event {
            Event::ResponseHead { req, .. } => (*req, "response".to_string()),
            Event::RequestFailed { req, kind, .. } => (*req, kind.to_string()),
            _ => continue,
        };
        assert!(
            ended.insert(req, how).is_none(),
            "request {req} ended twice"
        );
    }
    ended
}

fn count(run: &RunResult, pred: impl Fn(&Event) -> bool) -> usize {
    run.records.iter().filter(|r| pred(&r.event)).count()
}

#[test]
fn three_hundred_connects_at_an_fd_limit_of_one_hundred_all_get_served() -> Result {
    let run = burst().run()?;
    assert_eq!(run.end, RunEnd::Completed, "nothing hangs");
    let emfiles = count(
        &run,
        |e| matches!(e, Event::AcceptFailed { kind, .. } if kind == "emfile"),
    );
    assert!(emfiles > 0, "accept EMFILE is traced");
    assert_eq!(run.peak_fds["server"], 100);
    let ended = endings(&run);
    assert_eq!(ended.len(), 300, "every request ends");
    assert!(ended.values().all(|h| h == "response"), "{ended:?}");
    // The server kept serving after its first EMFILE: connections were accepted after it.
    let first_emfile = run
        .records
        .iter()
        .position(|r| matches!(r.event, Event::AcceptFailed { .. }))
        .unwrap();
    let accepted_after = run.records[first_emfile..]
        .iter()
        .filter(|r| matches!(r.event, Event::Accepted { .. }))
        .count();
    assert_eq!(accepted_after, 200);
    Ok(())
}

#[test]
fn connects_beyond_a_full_backlog_wait_by_default() -> Result {
    let mut setup = burst();
    setup.server.backlog = 50;
    let run = setup.run()?;
    assert_eq!(run.end, RunEnd::Completed);
    assert!(count(&run, |e| matches!(e, Event::BacklogFull { .. })) > 0);
    let ended = endings(&run);
    assert_eq!(ended.len(), 300);
    assert!(ended.values().all(|h| h == "response"), "{ended:?}");
    Ok(())
}

#[test]
fn connects_beyond_a_full_backlog_are_refused_when_asked() -> Result {
    let mut setup = burst();
    setup.server.backlog = 50;
    setup.server.backlog_overflow = BacklogOverflow::Refuse;
    let run = setup.run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let refused = count(
        &run,
        |e| matches!(e, Event::AcceptFailed { kind, .. } if kind == "refused"),
    );
    let ended = endings(&run);
    assert_eq!(ended.len(), 300, "every request ends");
    let served = ended.values().filter(|h| *h == "response").count();
    let failed: Vec<_> = ended.values().filter(|h| *h != "response").collect();
    assert!(refused > 0);
    assert_eq!(
        failed.len(),
        refused,
        "each refused connection fails one request"
    );
    assert!(
        failed.iter().all(|k| *k == "closed" || *k == "reset"),
        "clear errors: {failed:?}"
    );
    assert_eq!(served + refused, 300);
    Ok(())
}
