use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use httpsim::client::{PoolConfig, Retry, Timeouts};
use httpsim::fault::plan;
use httpsim::server::Handler;
use httpsim::trace::Record;
use httpsim::workload::WorkloadKind;
use httpsim::{ErrorKind, Event, NetAction, RunEnd, Setup};
use proptest::prelude::*;

use crate::Result;

/// From `start`, partitions every 450 ms for 150–400 ms, one of them one-way, and a link that
/// breaks at random (2 % of messages) in between.
fn hard_schedule(start: Duration) -> Vec<(Duration, NetAction)> {
    let (c, s) = ("client".to_string(), "server".to_string());
    let mut out = vec![(
        Duration::from_millis(10),
        NetAction::FailRate {
            a: c.clone(),
            b: s.clone(),
            rate: 0.02,
        },
    )];
    for i in 0..8u64 {
        let at = start + Duration::from_millis(i * 450);
        out.push((
            at,
            NetAction::Partition {
                a: c.clone(),
                b: s.clone(),
                oneway: i == 3,
            },
        ));
        out.push((
            at + Duration::from_millis(150 + 35 * i),
            NetAction::Repair {
                a: c.clone(),
                b: s.clone(),
                oneway: i == 3,
            },
        ));
    }
    out
}

fn post_setup(kind: WorkloadKind, seed: u64) -> Setup {
    let mut setup = Setup::default();
    setup
        .world
        .seed(seed)
        .latency(Duration::from_millis(1), Duration::from_millis(15))
        .duration(Duration::from_secs(600));
    setup.server.handler = Handler::Echo { status: 200 };
    setup.client.pool = PoolConfig::default();
    setup.client.timeouts = Timeouts {
        connect: Some(Duration::from_millis(500)),
        response: Some(Duration::from_secs(1)),
        total: Some(Duration::from_secs(2)),
    };
    setup.client.retry = Retry {
        attempts: 5,
        backoff: Duration::from_millis(50),
        non_idempotent_unwritten: true,
    };
    setup.workload.kind = kind;
    setup.workload.requests = 200;
    setup.workload.method = http::Method::POST;
    setup
}

/// How each request ended, from the client's side: `Ok(())` a response head, `Err(kind)` its
/// last attempt failed.
fn outcomes(records: &[Record]) -> Result<BTreeMap<u64, std::result::Result<(), ErrorKind>>> {
    let mut out = BTreeMap::new();
    for r in records {
        let (req, o) = match &r.event {
            Event::ResponseHead { req, .. } => (*req, Ok(())),
            Event::RequestFailed {
                req,
                kind,
                retrying: false,
                ..
            } => (*req, Err(*kind)),
            _ => continue,
        };
        if out.insert(req, o).is_some() {
            return Err(format!("request {req} ended twice").into());
        }
    }
    Ok(out)
}

fn server_seqs(records: &[Record]) -> Vec<u64> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::ServerRequest { seq, .. } => *seq,
            _ => None,
        })
        .collect()
}

/// Sequence numbers that reached the server after a larger one had: the reorderings.
pub fn out_of_order(seqs: &[u64]) -> Vec<u64> {
    let mut max = 0;
    let mut late = Vec::new();
    for &s in seqs {
        if s < max {
            late.push(s);
        }
        max = max.max(s);
    }
    late
}

/// The ordering guarantees of one run of sequential POSTs; returns (succeeded, failed).
fn assert_sequential_guarantees(records: &[Record], n: u64) -> Result<(usize, usize)> {
    let seqs = server_seqs(records);
    for w in seqs.windows(2) {
        if w[0] >= w[1] {
            return Err(format!("server saw seq {} then {}", w[0], w[1]).into());
        }
    }
    let received: BTreeSet<u64> = seqs.iter().copied().collect();
    let ends = outcomes(records)?;
    let mut ok = 0;
    let mut failed = 0;
    for req in 1..=n {
        match ends.get(&req) {
            Some(Ok(())) => {
                ok += 1;
                if !received.contains(&req) {
                    return Err(
                        format!("request {req} succeeded but the server never saw it").into(),
                    );
                }
            }
            Some(Err(kind)) => {
                failed += 1;
                if matches!(kind, ErrorKind::Emfile | ErrorKind::Other) {
                    return Err(format!("request {req} failed with an unclear kind {kind}").into());
                }
            }
            None => return Err(format!("request {req} never ended").into()),
        }
    }
    Ok((ok, failed))
}

#[test]
fn sequential_posts_under_partitions_arrive_in_order_and_once() -> Result {
    let mut setup = post_setup(WorkloadKind::Sequential, 11);
    setup.faults = hard_schedule(Duration::from_millis(300));
    let run = setup.run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let (ok, failed) = assert_sequential_guarantees(&run.records, 200)?;
    // The schedule must bite: some requests fail, some are retried, most succeed.
    let retried = crate::all(&run.records, |e| {
        matches!(e, Event::RequestFailed { retrying: true, .. })
    })
    .len();
    let timeouts = crate::all(
        &run.records,
        |e| matches!(e, Event::RequestFailed { kind, .. } if kind == "timeout"),
    )
    .len();
    eprintln!(
        "sequential: {ok} ok, {failed} failed, {retried} retried attempts, {timeouts} timeouts"
    );
    assert!(failed > 0, "the faults never made a request fail");
    assert!(retried > 0, "no unwritten POST was retried");
    assert!(ok >= 150, "only {ok} of 200 succeeded");
    Ok(())
}

#[test]
fn concurrent_posts_under_partitions_reorder_and_the_reorderings_are_listed() -> Result {
    let mut setup = post_setup(WorkloadKind::Parallel, 11);
    // The first partition cuts the burst while it is in flight.
    setup.faults = hard_schedule(Duration::from_millis(8));
    let run = setup.run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let seqs = server_seqs(&run.records);
    let late = out_of_order(&seqs);
    eprintln!(
        "concurrent: {} arrivals, {} out of order: {:?}",
        seqs.len(),
        late.len(),
        &late[..late.len().min(20)]
    );
    assert!(!late.is_empty(), "200 concurrent POSTs never reordered");
    let ends = outcomes(&run.records)?;
    let failed = ends.values().filter(|o| o.is_err()).count();
    eprintln!("concurrent: {failed} of {} failed", ends.len());
    assert_eq!(ends.len(), 200, "every POST ends in success or an error");
    assert!(failed > 0, "the schedule never hit the burst");
    // Each listed number did arrive after a larger one.
    for s in &late {
        let pos = seqs
            .iter()
            .position(|x| x == s)
            .ok_or("listed seq never arrived")?;
        assert!(
            seqs[..pos].iter().any(|x| x > s),
            "seq {s} listed but in order"
        );
    }
    // Still never twice, and every success was received.
    let unique: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(unique.len(), seqs.len(), "a POST reached the server twice");
    for (req, o) in outcomes(&run.records)? {
        if o.is_ok() {
            assert!(unique.contains(&req), "request {req} succeeded unseen");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("HTTPSIM_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(12),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Under any generated schedule (partitions, holds, latency, link breaks), sequential POSTs
    /// reach the server in order and at most once, and every success was received. proptest
    /// shrinks a failing schedule to its few decisive faults.
    #[test]
    fn sequential_posts_keep_order_under_any_fault_plan(
        p in plan::plan(8, Duration::from_millis(300), false),
        seed in 1u64..1000,
    ) {
        let mut setup = post_setup(WorkloadKind::Sequential, seed);
        setup.workload.requests = 40;
        setup.faults = p.schedule("client", "server").0;
        let run = setup.run()?;
        prop_assert_eq!(&run.end, &RunEnd::Completed);
        assert_sequential_guarantees(&run.records, 40).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}
