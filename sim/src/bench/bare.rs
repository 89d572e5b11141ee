//! The baseline without httpsim: the same hyper-util `Client` and hyper server, over
//! turmoil-net's own `TcpStream` wrapped in hyper-util's `TokioIo`. No fd table, no pump task, no trace, no
//! checks: what httpsim's layers cost is the difference to this.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::task::LocalSet;
use turmoil_net::shim::tokio::net::{TcpListener, TcpStream};

use super::io::Io;
use crate::client::hyper_util_pool::LocalExec;

type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<Io<TcpStream>>> + Send>>;

/// Dials `server:80` over turmoil-net, whatever the URI says.
#[derive(Clone)]
struct BareConnector;

impl tower::Service<http::Uri> for BareConnector {
    type Response = Io<TcpStream>;
    type Error = io::Error;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: http::Uri) -> Self::Future {
        Box::pin(async { Ok(Io(TokioIo::new(TcpStream::connect("server:80").await?))) })
    }
}

/// The bare harness: the smallest event-driven loop that runs hyper on turmoil-net — one paused
/// runtime, one `LocalSet` per host polled with the host current, every packet delivered after
/// 1 ms on tokio's clock. No fd table, no pump, no faults, no trace.
fn run_bare<F: Future<Output = ()> + 'static>(body_bytes: usize, client: F) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    // The kernel's accept queue as httpsim configures it (`WorldBuilder`'s `tcp_capacity`), so
    // that the scale points' thousands of SYNs at once are queued, not dropped and retried 1 s
    // later.
    let mut net =
        turmoil_net::Net::with_config(turmoil_net::KernelConfig::default().default_backlog(65536));
    let server_id = net.add_host("server");
    let client_id = net.add_host("client");
    let guard = net.enter();
    let start = tokio::time::Instant::now();
    let elapsed = rt.block_on(async {
        let start = tokio::time::Instant::now();
        let mut sets = [(server_id, LocalSet::new()), (client_id, LocalSet::new())];
        sets[0].1.spawn_local(server(body_bytes));
        let done = sets[1].1.spawn_local(client);
        let mut pending: BTreeMap<(tokio::time::Instant, u64), turmoil_net::Packet> =
            BTreeMap::new();
        let (mut seq, mut out) = (0u64, Vec::new());
        let mut timer = Box::pin(tokio::time::sleep(Duration::ZERO));
        std::future::poll_fn(|cx| loop {
            let now = tokio::time::Instant::now();
            while let Some(e) = pending.first_entry() {
                if e.key().0 > now {
                    break;
                }
                guard.deliver(e.remove());
            }
            for (id, set) in sets.iter_mut() {
                turmoil_net::set_current(*id);
                let _ = Pin::new(set).poll(cx);
            }
            if done.is_finished() {
                return Poll::Ready(());
            }
            guard.egress_all(&mut out);
            let sent = !out.is_empty();
            for pkt in out.drain(..) {
                seq += 1;
                pending.insert((now + Duration::from_millis(1), seq), pkt);
            }
            if sent {
                continue;
            }
            // The next packet due, or the kernels' next timer (a SYN retried after a full
            // accept queue dropped it).
            let next_packet = pending.first_key_value().map(|((at, _), _)| *at);
            let next = match (next_packet, guard.next_deadline()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let Some(at) = next {
                timer.as_mut().reset(at);
                if timer.as_mut().poll(cx).is_ready() {
                    continue;
                }
            }
            return Poll::Pending;
        })
        .await;
        for (id, set) in sets {
            turmoil_net::set_current(id);
            drop(set);
        }
        tokio::time::Instant::now() - start
    });
    let _ = start;
    drop(rt);
    drop(guard);
    elapsed
}

/// A hyper http1 server answering every request with `body_bytes` bytes, keep-alive.
async fn server(body_bytes: usize) {
    let listener = TcpListener::bind("0.0.0.0:80").await.expect("bind");
    let body = Bytes::from(vec![b'x'; body_bytes]);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let body = body.clone();
        tokio::task::spawn_local(async move {
            let svc = hyper::service::service_fn(move |_req: Request<hyper::body::Incoming>| {
                let body = body.clone();
                async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

fn client() -> Client<BareConnector, Empty<Bytes>> {
    Client::builder(LocalExec)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(BareConnector)
}

/// `requests` sequential keep-alive GETs of `body_bytes` bodies, each body read to the end.
/// Returns the simulated time the run took.
pub fn sequential(requests: usize, body_bytes: usize) -> Duration {
    run_bare(body_bytes, async move {
        let client = client();
        for _ in 0..requests {
            let res = client
                .get("http://server/".parse().expect("valid URI"))
                .await
                .expect("bare request");
            let body = res
                .into_body()
                .collect()
                .await
                .expect("bare body")
                .to_bytes();
            assert_eq!(body.len(), body_bytes, "bare run: short body");
        }
    })
}

/// `n` GETs at once, each on a connection of its own (hyper's `client::conn::http1`, as
/// httpsim's scale point), every response body held unread until all heads arrived, so `n`
/// connections are open together.
pub(crate) fn parallel_held(n: usize, body_bytes: usize) -> Duration {
    run_bare(body_bytes, async move {
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            tasks.push(tokio::task::spawn_local(async move {
                let tcp = TcpStream::connect("server:80").await?;
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
                tokio::task::spawn_local(conn);
                let req = Request::get("http://server/")
                    .body(Empty::<Bytes>::new())
                    .expect("valid request");
                Ok::<_, Box<dyn std::error::Error>>(sender.send_request(req).await?)
            }));
        }
        let mut held = Vec::with_capacity(n);
        for t in tasks {
            held.push(t.await.expect("task").expect("bare request"));
        }
        drop(held);
    })
}
