//! A server of the team's own — plain hyper, a handler that waits with tokio's own timer —
//! runs under httpsim with no instrumentation: 120 simulated seconds cost no wall time.

use std::convert::Infallible;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};

use httpsim::net::HostNet;
use httpsim::workload::WorkloadKind;
use httpsim::{Event, RunEnd, Setup};

async fn slow_server(host: HostNet) {
    let mut listener = host.bind(80).await.expect("bind");
    while let Ok(stream) = listener.accept().await {
        tokio::task::spawn_local(async move {
            let svc = service_fn(|_req: Request<Incoming>| async {
                tokio::time::sleep(Duration::from_secs(120)).await;
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(stream, svc)
                .await;
        });
    }
}

#[test]
fn ten_requests_to_a_handler_sleeping_120_s_all_complete_at_120_s() {
    let mut setup = Setup::default();
    setup.world.duration(Duration::from_secs(600));
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = 10;
    setup.custom.server = Some(Rc::new(|host| Box::pin(slow_server(host))));

    let run = setup.run().expect("a valid setup");
    println!("simulated {:?} in {:?} wall", run.sim_time, run.wall_time);
    assert_eq!(run.end, RunEnd::Completed);
    let heads: Vec<u64> = run
        .records
        .iter()
        .filter(|r| matches!(r.event, Event::ResponseHead { .. }))
        .map(|r| r.t_us / 1_000_000)
        .collect();
    assert_eq!(heads, vec![120; 10], "every response at 120 s");
}
