//! A status expectation catches the 503s the service answers while its flag is on.

mod common;

use std::sync::atomic::Ordering;

use downstream::Flags;

#[test]
fn the_503s_are_counted_by_status() {
    let flags = Flags::default();
    flags.unavailable.store(true, Ordering::Relaxed);
    let mut setup = common::team_setup(flags);
    setup.workload.requests = 6;
    setup.workload.path = "/items".into();
    setup.workload.body = httpsim::client::BodyMode::Keep; // keep bodies to assert on them

    let verdict = setup.check(&["no-lost-request"]);
    verdict.assert_holds();
    // Every request "completed" (a head arrived), yet none was served.
    assert_eq!(verdict.summary.requests.completed, 6);
    assert_eq!(verdict.summary.statuses.get("200"), None);
    assert_eq!(verdict.summary.statuses["503"], 6, "{verdict}");
    assert_eq!(verdict.run.bodies[&6], "try later");
}
