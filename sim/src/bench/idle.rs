//! Idle-time compression: the pool-stall case, where nearly all simulated time is quiet.
//!
//! 200 GETs are issued at once through the bounded Agent pool of at most 5 sockets; callers hold
//! every response body unread, so a socket stays busy until the server's 180 s inactivity timeout
//! closes it and the Agent, seeing the peer's close through the socket's pump, frees the slot.
//! Requests complete in 40 batches of 5, about 180 s apart: about 2 simulated hours in which the
//! network carries a few hundred segments.

use std::time::Duration;

use crate::client::{AgentConfig, BodyMode, PoolConfig, Scheduling};
use crate::server::Handler;
use crate::workload::WorkloadKind;
use crate::Setup;

/// The pool-stall setup: `requests` parallel GETs, bodies held, an Agent pool of
/// `max_sockets`, 64 KiB responses, server inactivity timeout `idle`, 1 ms tick and latency.
pub fn setup(requests: u64, max_sockets: usize, idle: Duration) -> Setup {
    let mut setup = Setup::default();
    let batches = requests.div_ceil(max_sockets as u64);
    setup
        .world
        .tick(Duration::from_millis(1))
        .duration(idle * (batches as u32 + 2));
    setup.server.idle_timeout = Some(idle);
    // 64 KiB, as in the catalog case: more than hyper buffers for a body nobody polls, so the
    // connection stays busy until the server closes it (a 4 KiB body would be taken in whole and
    // the connection freed at once).
    setup.server.handler = Handler::Fixed {
        body_bytes: 65536,
        chunk_bytes: 16384,
        status: 200,
    };
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = requests;
    setup.workload.body = BodyMode::Hold;
    setup.client.pool = PoolConfig::Agent(AgentConfig {
        max_sockets,
        scheduling: Scheduling::Fifo,
        ..AgentConfig::default()
    });
    setup
}

/// A server of the user's kind for the user-timer case: plain hyper on httpsim's sockets, its
/// handler waiting `nap` with tokio's own `sleep` (no httpsim timer anywhere).
async fn napping_server(host: crate::net::HostNet, nap: Duration) {
    let Ok(mut listener) = host.bind(80).await else {
        return;
    };
    loop {
        let Ok(stream) = listener.accept().await else {
            continue;
        };
        tokio::task::spawn_local(async move {
            let svc = hyper::service::service_fn(
                move |_req: hyper::Request<hyper::body::Incoming>| async move {
                    tokio::time::sleep(nap).await;
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        http_body_util::Full::new(bytes::Bytes::from_static(b"done")),
                    ))
                },
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(stream, svc)
                .await;
        });
    }
}

/// The user-timer case: `requests` sequential GETs to a server of the user's kind whose
/// handler sleeps `nap` with raw `tokio::time::sleep`: nearly all of the run is a timer httpsim
/// did not make.
pub fn user_setup(requests: u64, nap: Duration) -> Setup {
    let mut setup = Setup::default();
    setup.world.duration(nap * (requests as u32 + 2));
    setup.workload.kind = WorkloadKind::Sequential;
    setup.workload.requests = requests;
    setup.custom.server = Some(std::rc::Rc::new(move |host| {
        Box::pin(napping_server(host, nap))
    }));
    setup
}
