//! Your own client as the client under test: a hyper-util `Client` built with your own
//! `Builder`, wrapped in your own retry; `client::adapt::Attempts` under the retry makes each of
//! its attempts visible, and the idle-reuse race it hides from the caller is still named.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use httpsim::client::{adapt, hyper_util_pool::LocalExec, BoxError};
use httpsim::net::SimConnector;
use httpsim::workload::WorkloadKind;
use httpsim::{Event, Setup};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use tower::ServiceExt;

type Req = http::Request<Full<Bytes>>;

/// Tries each request twice at most, as a team's retry wrapper would.
fn retrying_client(
    host: httpsim::net::HostNet,
) -> impl tower::Service<Req, Response = http::Response<Incoming>, Error = BoxError> + Clone {
    let client = Client::builder(LocalExec).build::<_, Full<Bytes>>(SimConnector::new(host));
    let inner = tower::ServiceBuilder::new()
        .layer(adapt::Attempts)
        .service(client);
    tower::service_fn(move |req: Req| {
        let inner = inner.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let mut last = None;
            for _ in 0..2 {
                let mut r = http::Request::new(Full::new(bytes.clone()));
                *r.method_mut() = parts.method.clone();
                *r.uri_mut() = parts.uri.clone();
                *r.headers_mut() = parts.headers.clone();
                match inner.clone().oneshot(r).await {
                    Ok(res) => return Ok(res),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.expect("two attempts were made"))
        }
    })
}

#[test]
fn your_retry_hides_the_idle_reuse_race_from_the_caller_not_from_the_trace() {
    let mut setup = Setup::default();
    setup.server.idle_timeout = Some(Duration::from_millis(4997));
    setup.custom.pool = Some(adapt::service(retrying_client));
    setup.workload.kind = WorkloadKind::Rate(0.2);
    setup.workload.requests = 3;

    let verdict = setup.check(&["no-lost-request", "no-idle-reuse-race"]);
    assert_eq!(verdict.summary.requests.failed, 0, "{verdict}");
    let second_attempts: Vec<u64> = verdict
        .run
        .records
        .iter()
        .filter_map(|r| match r.event {
            Event::RequestStart {
                req, attempt: 2, ..
            } => Some(req),
            _ => None,
        })
        .collect();
    assert_eq!(second_attempts.first(), Some(&2), "{verdict}");
    let race = &verdict.invariant("no-idle-reuse-race").unwrap().violations;
    assert!(
        race[0].message.contains("request 2 (attempt 1)"),
        "{verdict}"
    );
    assert!(race[0].message.contains("and was retried"), "{verdict}");
    assert!(!verdict.violated("no-lost-request"), "{verdict}");
}
