//! Your own application (any tower service) inside httpsim's server: the `[server]` settings
//! apply to it and every check can judge it, with no instrumentation of its own.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use httpsim::server::{ShutdownPlan, ShutdownStrategy};
use httpsim::{Event, Setup};
use hyper::body::Incoming;

/// Answers after a wait on the application's own tokio timer.
fn slow_app(wait: Duration) -> Setup {
    let app = tower::service_fn(move |_req: http::Request<Incoming>| async move {
        tokio::time::sleep(wait).await;
        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("done"))))
    });
    let mut setup = Setup::default();
    setup.server.service(app);
    setup
}

#[test]
fn max_requests_per_socket_applies_to_your_service() {
    let mut setup = slow_app(Duration::from_millis(10));
    setup.server.max_requests_per_socket = Some(2);
    setup.workload.requests = 4;
    let verdict = setup.check(&["ordering", "no-lost-request"]);
    verdict.assert_holds();
    let accepted = verdict.run.records.iter();
    let accepted = accepted.filter(|r| matches!(r.event, Event::Accepted { .. }));
    assert_eq!(accepted.count(), 2, "two requests per socket: {verdict}");
}

#[test]
fn close_idle_shutdown_lets_your_in_flight_request_finish() {
    let mut setup = slow_app(Duration::from_secs(2));
    setup.workload.requests = 1;
    setup.server.shutdown = Some(ShutdownPlan {
        at: Duration::from_secs(1),
        strategy: ShutdownStrategy::CloseIdle,
        deadline: Some(Duration::from_secs(5)),
    });
    let verdict = setup.check(&["shutdown", "no-lost-request", "no-stall"]);
    verdict.assert_holds();
    assert_eq!(verdict.summary.statuses["200"], 1);
    let shutdown = verdict.summary.shutdown.as_ref().expect("a shutdown ran");
    assert!(shutdown.ended_ms.is_some_and(|e| e >= 2_000), "{verdict}");
}

#[test]
fn a_custom_server_that_records_nothing_cannot_be_judged_for_ordering() {
    let mut setup = Setup::default();
    setup.workload.requests = 3;
    #[allow(clippy::arc_with_non_send_sync)] // one thread; see setup.rs
    let config = std::sync::Arc::new(setup.server.clone());
    // httpsim's server with its events dropped: stands for a server run by hand.
    setup.custom.server = Some(std::rc::Rc::new(move |host| {
        Box::pin(httpsim::server::serve(host, config.clone()))
    }));
    let verdict = setup.check(&["ordering"]);
    assert!(
        verdict.invariant("ordering").unwrap().reason.is_none(),
        "{verdict}"
    );
    // The same run with the server's request events removed is not judged.
    let mut records = verdict.run.records.clone();
    records.retain(|r| !matches!(r.event, Event::ServerRequest { .. }));
    let ctx =
        httpsim::check::CheckContext::new(&records, &verdict.summary, &setup, &verdict.run.end);
    let result = httpsim::check::check("ordering", &ctx).unwrap();
    assert_eq!(result.verdict, httpsim::check::judge::Verdict::CannotJudge);
    assert!(result.reason.unwrap().starts_with("cannot judge:"));
}
