//! The team keeps pooled sockets 90 s; the server closes them after 5 s idle. A request every
//! 5 s meets a socket the server is closing: the idle-reuse race.

mod common;

use std::time::Duration;

use httpsim::workload::WorkloadKind;

#[test]
fn a_shorter_server_idle_timeout_races_the_pool() {
    let mut setup = common::team_setup(Default::default());
    setup.server.idle_timeout = Some(Duration::from_millis(4997));
    setup.workload.kind = WorkloadKind::Rate(0.2); // one request every 5 s
    setup.workload.requests = 3;
    setup.workload.path = "/items".into();

    let verdict = setup.check(&["no-idle-reuse-race", "no-lost-request"]);
    assert!(verdict.violated("no-idle-reuse-race"), "{verdict}");
    let race = &verdict.invariant("no-idle-reuse-race").unwrap().violations[0];
    assert!(
        race.message.starts_with("idle-reuse race: request 2"),
        "{}",
        race.message
    );
    assert_eq!(verdict.summary.first_error.as_ref().unwrap().kind, "closed");
    // Every request still ended (with a response or an error): nothing was lost.
    assert!(!verdict.violated("no-lost-request"), "{verdict}");
}
