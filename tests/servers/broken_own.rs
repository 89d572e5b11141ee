//! Your own broken code is caught by the checks that catch httpsim's broken variants, through
//! the public API alone.
//!
//! The server: your application as a tower service inside httpsim's server
//! (`setup.server.service`), which records the `server_request` / `server_response` /
//! `shutdown_start` events the checks read. A plain hyper server of yours run as
//! `custom.server` records none of them, and `shutdown` cannot judge it; that is why the
//! service route is the one to use. The broken application cancels its in-flight handlers on
//! its own shutdown signal (hyper then closes the connection unanswered), the bug that
//! `shutdown` catches in httpsim's `ShutdownDropsInFlight` server (tests/properties/server.rs).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use httpsim::server::{ShutdownPlan, ShutdownStrategy};
use httpsim::Setup;
use hyper::body::Incoming;

/// An application whose requests take 2 s, under a close-idle shutdown at 1 s; when
/// `cancels_at_shutdown`, its own shutdown signal (1 s after a request began, when the
/// server's shutdown starts) aborts the request.
fn app_under_shutdown(cancels_at_shutdown: bool) -> Setup {
    let app = tower::service_fn(move |_req: http::Request<Incoming>| async move {
        let work = tokio::time::sleep(Duration::from_secs(2));
        let signal = tokio::time::sleep(Duration::from_secs(1));
        tokio::select! {
            _ = work => Ok(http::Response::new(Full::new(Bytes::from("done")))),
            _ = signal, if cancels_at_shutdown => Err("shutting down: handler cancelled"),
        }
    });
    let mut setup = Setup::default();
    setup.server.service(app);
    setup.workload.requests = 1;
    setup.server.shutdown = Some(ShutdownPlan {
        at: Duration::from_secs(1),
        strategy: ShutdownStrategy::CloseIdle,
        deadline: Some(Duration::from_secs(5)),
    });
    setup
}

#[test]
fn shutdown_catches_your_service_dropping_its_in_flight_request() {
    let verdict = app_under_shutdown(true).check(&["shutdown", "no-lost-request"]);
    assert!(verdict.violated("shutdown"), "{verdict}");
    let shutdown = &verdict.invariant("shutdown").unwrap().violations;
    assert!(
        shutdown[0].message.contains("the shutdown lost it"),
        "{verdict}"
    );
    // It ended (as an error): lost to the shutdown, not lost by the client.
    assert!(!verdict.violated("no-lost-request"), "{verdict}");
}

#[test]
fn the_same_service_finishing_its_in_flight_request_passes() {
    let verdict = app_under_shutdown(false).check(&["shutdown", "no-lost-request"]);
    verdict.assert_holds();
}
