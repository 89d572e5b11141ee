//! The README's examples, verbatim: if one stops compiling or passing, CI says so.

use std::time::Duration;

use axum::{routing::get, Router};
use bytes::Bytes;
use http_body_util::Full;
use httpsim::client::{adapt, hyper_util_pool::LocalExec};
use httpsim::{net::SimConnector, workload::WorkloadKind, NetAction, Setup};
use hyper_util::client::legacy::Client;

// README example 1
#[test]
fn my_router_keeps_order_across_a_partition() {
    let app = Router::new().route("/", get(|| async { "hello" }));
    let mut setup = Setup::default();
    setup.server.service(app); // your router, inside httpsim's server
    setup.workload.requests = 20;
    setup.workload.kind = WorkloadKind::Rate(10.0);
    let (a, b) = ("client".to_string(), "server".to_string());
    // A 1 s partition; what was sent meanwhile is delivered when it heals.
    setup.faults.push((
        Duration::from_secs(1),
        NetAction::Hold {
            a: a.clone(),
            b: b.clone(),
        },
    ));
    setup
        .faults
        .push((Duration::from_secs(2), NetAction::Release { a, b }));
    setup.check(&["ordering", "no-stall"]).assert_holds();
}

// README example 2
#[test]
fn my_client_gives_up_on_a_latency_spike() {
    let mut setup = Setup::default();
    setup.custom.pool = Some(adapt::service(|host| {
        let client = Client::builder(LocalExec).build::<_, Full<Bytes>>(SimConnector::new(host));
        tower::ServiceBuilder::new()
            .timeout(Duration::from_secs(1)) // your own timeout
            .service(client)
    }));
    setup.workload.requests = 3;
    let (a, b) = ("client".to_string(), "server".to_string());
    let latency = Duration::from_secs(3);
    setup
        .faults
        .push((Duration::ZERO, NetAction::Latency { a, b, latency }));
    let verdict = setup.check(&["no-lost-request"]);
    verdict.assert_holds();
    assert_eq!(verdict.summary.requests.errors["timeout"], 3, "{verdict}");
}

// README example 3
#[test]
fn my_scenario_passes() {
    let scenario = httpsim::scenario::load("scenarios/items.toml".as_ref()).unwrap();
    let outcome = httpsim::scenario::run(&scenario, scenario.default_seed()).unwrap();
    assert!(outcome.passed, "{:#?}", outcome.expectations);
}
