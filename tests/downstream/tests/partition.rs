//! The team's router and client across a 3 s partition: what is sent meanwhile is lost, and
//! TCP's retransmission delivers it once the link is repaired.

mod common;

use std::time::Duration;

use httpsim::{CheckOptions, NetAction};

#[test]
fn order_and_progress_survive_a_3s_partition() {
    let mut setup = common::team_setup(Default::default());
    setup.workload.requests = 20;
    setup.workload.path = "/items".into();
    setup.workload.kind = httpsim::workload::WorkloadKind::Rate(4.0);
    let (a, b) = ("client".to_string(), "server".to_string());
    let oneway = false;
    setup.faults.push((
        Duration::from_secs(1),
        NetAction::Partition {
            a: a.clone(),
            b: b.clone(),
            oneway,
        },
    ));
    setup
        .faults
        .push((Duration::from_secs(4), NetAction::Repair { a, b, oneway }));

    let bound = CheckOptions {
        no_stall_bound: Some(Duration::from_secs(5)),
    };
    let verdict = setup.check_with(&["ordering", "no-stall", "no-lost-request"], bound);
    verdict.assert_holds();
    assert_eq!(verdict.summary.statuses["200"], 20);
    // Requests sent during the partition waited for it: the last answer came after the repair.
    assert!(verdict.summary.last_completion_ms >= 4_000, "{verdict}");
}
