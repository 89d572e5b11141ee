//! The baseline without httpsim: the same hyper-util `Client` and hyper server, over turmoil's
//! own `TcpStream` wrapped in hyper-util's `TokioIo`. No fd table, no pump task, no trace, no
//! checks: what httpsim's layers cost is the difference to this.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::{Request, Response};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioIo, TokioTimer};
use turmoil::net::{TcpListener, TcpStream};

use crate::client::hyper_util_pool::LocalExec;

/// turmoil's stream as hyper-util's `Client` wants it: `TokioIo` plus `Connection`.
pub(crate) struct BareIo(TokioIo<TcpStream>);

impl Read for BareIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl Write for BareIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl Connection for BareIo {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<BareIo>> + Send>>;

/// Dials `server:80` over turmoil, whatever the URI says.
#[derive(Clone)]
struct BareConnector;

impl tower::Service<http::Uri> for BareConnector {
    type Response = BareIo;
    type Error = io::Error;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: http::Uri) -> Self::Future {
        Box::pin(async { Ok(BareIo(TokioIo::new(TcpStream::connect("server:80").await?))) })
    }
}

/// The bare world: the same turmoil settings httpsim's world builder uses by default (1 ms tick,
/// 1 ms latency, large TCP capacity).
fn world(duration: Duration) -> turmoil::Sim<'static> {
    turmoil::Builder::new()
        .rng_seed(1)
        .tick_duration(Duration::from_millis(1))
        .simulation_duration(duration)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(1))
        .tcp_capacity(1 << 16)
        .build()
}

/// A hyper http1 server answering every request with `body_bytes` bytes, keep-alive.
async fn server(body_bytes: usize) -> turmoil::Result {
    let listener = TcpListener::bind("0.0.0.0:80").await?;
    let body = Bytes::from(vec![b'x'; body_bytes]);
    loop {
        let (tcp, _) = listener.accept().await?;
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
    let mut sim = world(Duration::from_secs(3600));
    sim.host("server", move || server(body_bytes));
    sim.client("client", async move {
        let client = client();
        for _ in 0..requests {
            let res = client.get("http://server/".parse()?).await?;
            let body = res.into_body().collect().await?.to_bytes();
            assert_eq!(body.len(), body_bytes, "bare run: short body");
        }
        Ok(())
    });
    sim.run().expect("bare sequential run completes");
    sim.elapsed()
}

/// `n` GETs at once, every response body held unread until all heads arrived, so `n`
/// connections are open together.
pub(crate) fn parallel_held(n: usize, body_bytes: usize) -> Duration {
    let mut sim = world(Duration::from_secs(3600));
    sim.host("server", move || server(body_bytes));
    sim.client("client", async move {
        let client = client();
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            let client = client.clone();
            tasks.push(tokio::task::spawn_local(async move {
                client
                    .get("http://server/".parse().expect("valid URI"))
                    .await
            }));
        }
        let mut held = Vec::with_capacity(n);
        for t in tasks {
            held.push(t.await??);
        }
        drop(held);
        Ok(())
    });
    sim.run().expect("bare parallel run completes");
    sim.elapsed()
}
