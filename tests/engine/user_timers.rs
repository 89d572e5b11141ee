use std::convert::Infallible;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;

use httpsim::client::hyper_util_pool::LocalExec;
use httpsim::net::{HostNet, SimConnector};
use httpsim::workload::WorkloadKind;
use httpsim::{Event, RunEnd, Setup, WorldBuilder};

use crate::Result;

/// A server of the user's kind: plain hyper, a handler that sleeps with tokio's own timer.
async fn sleepy_server(host: HostNet, nap: Duration) {
    let mut listener = host.bind(80).await.expect("bind");
    loop {
        let Ok(stream) = listener.accept().await else {
            continue;
        };
        tokio::task::spawn_local(async move {
            let svc = service_fn(move |_req: Request<Incoming>| async move {
                tokio::time::sleep(nap).await;
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"done"))))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(stream, svc)
                .await;
        });
    }
}

#[test]
fn ten_parallel_requests_to_a_handler_sleeping_120_s_with_tokio_all_complete_at_120_s() -> Result {
    let mut setup = Setup::default();
    setup.world.duration(Duration::from_secs(600));
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = 10;
    setup.custom.server = Some(Rc::new(|host| {
        Box::pin(sleepy_server(host, Duration::from_secs(120)))
    }));
    let wall = std::time::Instant::now();
    let run = setup.run()?;
    eprintln!("10 × sleep(120 s): {:?} wall", wall.elapsed());
    assert_eq!(run.end, RunEnd::Completed);
    let heads: Vec<u64> = run
        .records
        .iter()
        .filter(|r| matches!(r.event, Event::ResponseHead { .. }))
        .map(|r| r.t_us)
        .collect();
    assert_eq!(heads.len(), 10);
    for t in heads {
        assert!(
            (120_000_000..120_100_000).contains(&t),
            "a response at {t} µs, not at 120 s"
        );
    }
    Ok(())
}

#[test]
fn a_twenty_hour_idle_in_your_own_client_code_is_jumped_and_the_next_request_succeeds() -> Result {
    let mut world = WorldBuilder::new()
        .duration(Duration::from_secs(30 * 3600))
        .build();
    world.host("server", None, 0, |host| {
        sleepy_server(host, Duration::ZERO)
    });
    let done = Rc::new(std::cell::Cell::new(0));
    let seen = done.clone();
    world.client("client", None, 0, move |host| async move {
        let client: Client<SimConnector, Empty<Bytes>> =
            Client::builder(LocalExec).build(SimConnector::new(host));
        for i in 0..2 {
            if i == 1 {
                tokio::time::sleep(Duration::from_secs(20 * 3600)).await;
            }
            let res = client.get("http://server/".parse().unwrap()).await.unwrap();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"done");
            seen.set(seen.get() + 1);
        }
    });
    let wall = std::time::Instant::now();
    let end = world.run();
    eprintln!("20 h idle: {:?} wall", wall.elapsed());
    assert_eq!(end, RunEnd::Completed);
    assert_eq!(done.get(), 2, "both requests answered");
    assert!(world.elapsed() >= Duration::from_secs(20 * 3600));
    assert!(
        world.steps() < 1000,
        "{} driver turns for two idles",
        world.steps()
    );
    Ok(())
}
