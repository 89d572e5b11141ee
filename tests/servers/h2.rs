//! HTTP/2: your own service served over HTTP/2 (prior knowledge and `auto`), judged by the same
//! checks; a graceful shutdown sends GOAWAY and lets its streams finish; an HTTP/2 client
//! against an HTTP/1 server is a finding of the run, not a panic.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use httpsim::client::h2_pool::H2PoolConfig;
use httpsim::client::PoolConfig;
use httpsim::server::{Protocol, ShutdownPlan, ShutdownStrategy};
use httpsim::workload::WorkloadKind;
use httpsim::{Event, Setup};
use hyper::body::Incoming;

/// Your application: answers with its HTTP version after a wait on its own tokio timer.
fn versioned_app(wait: Duration) -> Setup {
    let app = tower::service_fn(move |req: http::Request<Incoming>| async move {
        tokio::time::sleep(wait).await;
        let body = format!("{:?}", req.version());
        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(body))))
    });
    let mut setup = Setup::default();
    setup.server.service(app);
    setup
}

fn h2_pool(max_connections: usize) -> PoolConfig {
    PoolConfig::H2(H2PoolConfig {
        max_connections,
        ..H2PoolConfig::default()
    })
}

#[test]
fn your_service_is_served_over_http2_on_one_connection() {
    let mut setup = versioned_app(Duration::from_millis(500));
    setup.server.protocol = Protocol::Http2;
    setup.client.pool = h2_pool(1);
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = 10;
    setup.workload.body = httpsim::client::BodyMode::Keep;
    let verdict = setup.check(&["ordering", "no-stall", "no-lost-request"]);
    verdict.assert_holds();
    assert_eq!(verdict.summary.statuses["200"], 10);
    let accepted = verdict.run.records.iter();
    let accepted = accepted.filter(|r| matches!(r.event, Event::Accepted { .. }));
    assert_eq!(
        accepted.count(),
        1,
        "ten streams, one connection: {verdict}"
    );
    for body in verdict.run.bodies.values() {
        assert_eq!(&body[..], b"HTTP/2.0", "{verdict}");
    }
    // Multiplexed: all ten finish after one wait, not ten.
    let last = verdict.summary.last_completion_ms;
    assert!(last < 600, "last completion at {last} ms: {verdict}");
}

#[test]
fn auto_serves_http1_and_http2_clients_alike() {
    for (pool, version) in [
        (PoolConfig::default(), &b"HTTP/1.1"[..]),
        (h2_pool(1), &b"HTTP/2.0"[..]),
    ] {
        let mut setup = versioned_app(Duration::from_millis(10));
        setup.server.protocol = Protocol::Auto;
        setup.client.pool = pool;
        setup.workload.requests = 3;
        setup.workload.body = httpsim::client::BodyMode::Keep;
        let verdict = setup.check(&["ordering", "no-lost-request"]);
        verdict.assert_holds();
        for body in verdict.run.bodies.values() {
            assert_eq!(&body[..], version, "{verdict}");
        }
    }
}

#[test]
fn graceful_shutdown_sends_goaway_and_your_streams_finish() {
    let mut setup = versioned_app(Duration::from_secs(2));
    setup.server.protocol = Protocol::Http2;
    setup.client.pool = h2_pool(1);
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = 20;
    setup.server.shutdown = Some(ShutdownPlan {
        at: Duration::from_secs(1),
        strategy: ShutdownStrategy::HyperGraceful,
        deadline: None,
    });
    let verdict = setup.check(&["shutdown", "no-lost-request", "no-stall"]);
    verdict.assert_holds();
    assert_eq!(verdict.summary.statuses["200"], 20, "{verdict}");
    let goaway = verdict.run.records.iter();
    let goaway = goaway.filter(|r| matches!(r.event, Event::GoawaySent { .. }));
    assert_eq!(goaway.count(), 1, "{verdict}");
}

#[test]
fn an_http2_client_against_an_http1_server_fails_its_requests_without_panicking() {
    let mut setup = versioned_app(Duration::from_millis(10));
    setup.client.pool = h2_pool(1);
    setup.workload.requests = 2;
    let verdict = setup.check(&["no-lost-request"]);
    verdict.assert_holds();
    assert_eq!(verdict.summary.requests.failed, 2, "{verdict}");
}

/// A client that forgets a request its HTTP/2 connection refused to send after GOAWAY (the
/// connection was closing): the caller never hears back — hyper#2500's symptom.
struct DropsOnGoaway(httpsim::client::h2_pool::H2Pool);

impl httpsim::client::Pool for DropsOnGoaway {
    fn send(
        &self,
        id: u64,
        req: http::Request<httpsim::client::RequestBody>,
    ) -> httpsim::client::SendFuture {
        let fut = self.0.send(id, req);
        Box::pin(async move {
            match fut.await {
                Err(e) if e.conn().is_some() && !e.written() => std::future::pending().await,
                other => other,
            }
        })
    }
}

/// 40 POSTs at 20 a second; a graceful shutdown at 975 ms with 20 streams in flight.
fn goaway_mid_stream(broken: bool) -> httpsim::Verdict {
    let mut setup = versioned_app(Duration::from_secs(2));
    setup.server.protocol = Protocol::Http2;
    setup.workload.kind = WorkloadKind::Rate(20.0);
    setup.workload.requests = 40;
    setup.workload.method = hyper::Method::POST;
    setup.server.shutdown = Some(ShutdownPlan {
        at: Duration::from_millis(975),
        strategy: ShutdownStrategy::HyperGraceful,
        deadline: None,
    });
    let config = H2PoolConfig::default();
    setup.custom.pool = Some(std::rc::Rc::new(move |host| {
        let pool = httpsim::client::h2_pool::H2Pool::new(host, config, None);
        if broken {
            Box::new(DropsOnGoaway(pool)) as Box<dyn httpsim::client::Pool>
        } else {
            Box::new(pool)
        }
    }));
    setup.check(&["no-lost-request", "shutdown"])
}

#[test]
fn a_client_that_drops_requests_on_goaway_is_caught_by_no_lost_request() {
    let fixed = goaway_mid_stream(false);
    fixed.assert_holds();
    assert_eq!(fixed.summary.statuses["200"], 20, "{fixed}");
    let broken = goaway_mid_stream(true);
    let lost = broken.invariant("no-lost-request").expect("judged");
    assert!(!lost.passed, "{broken}");
    assert!(
        lost.violations[0].message.contains("never ended"),
        "{broken}"
    );
    assert_eq!(
        broken.summary.statuses["200"], 20,
        "the 20 streams finish: {broken}"
    );
}

/// Streams of one connection answered out of order (the first request waits longest) are
/// HTTP/2 working as designed: `ordering` does not hold responses to request order on an
/// HTTP/2 connection, where HTTP/1.1's rule would call each one a crossed response.
#[test]
fn streams_answered_out_of_order_are_not_an_ordering_violation() {
    let app = tower::service_fn(|req: http::Request<Incoming>| async move {
        let seq = httpsim::seq::request_seq(&req).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(1000 - 100 * seq.min(9))).await;
        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("ok"))))
    });
    let mut setup = Setup::default();
    setup.server.service(app);
    setup.server.protocol = Protocol::Http2;
    setup.client.pool = h2_pool(1);
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = 5;
    let verdict = setup.check(&["ordering", "no-lost-request"]);
    verdict.assert_holds();
    // The last request sent was answered first.
    let heads: Vec<u64> = verdict
        .run
        .records
        .iter()
        .filter_map(|r| match r.event {
            Event::ResponseHead { req, .. } => Some(req),
            _ => None,
        })
        .collect();
    assert_eq!(heads, [5, 4, 3, 2, 1], "{verdict}");
}
