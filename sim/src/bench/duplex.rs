//! The floor under every simulated figure: the same hyper-util `Client` and hyper server over
//! `tokio::io::duplex` pipes, in one current-thread runtime — no network at all, no kernel, no
//! packets, no timers. What remains is hyper's own cost per request.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioIo;
use tokio::io::DuplexStream;

use super::io::Io;
use crate::client::hyper_util_pool::LocalExec;

/// Opens a pipe per connection and serves its far end with hyper on a local task.
#[derive(Clone)]
struct PipeConnector {
    body: Bytes,
}

impl tower::Service<http::Uri> for PipeConnector {
    type Response = Io<DuplexStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Io<DuplexStream>>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: http::Uri) -> Self::Future {
        let (near, far) = tokio::io::duplex(64 * 1024);
        let body = self.body.clone();
        tokio::task::spawn_local(async move {
            let svc = hyper::service::service_fn(move |_req: Request<hyper::body::Incoming>| {
                let body = body.clone();
                async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(far), svc)
                .await;
        });
        Box::pin(async move { Ok(Io(TokioIo::new(near))) })
    }
}

/// `requests` sequential keep-alive GETs of `body_bytes` bodies, each read to the end; the
/// wall time they took.
pub fn sequential(requests: usize, body_bytes: usize) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let set = tokio::task::LocalSet::new();
    let start = Instant::now();
    set.block_on(&rt, async move {
        let client: Client<PipeConnector, Empty<Bytes>> =
            Client::builder(LocalExec).build(PipeConnector {
                body: Bytes::from(vec![b'x'; body_bytes]),
            });
        for _ in 0..requests {
            let res = client
                .get("http://server/".parse().expect("valid URI"))
                .await
                .expect("duplex request");
            let body = res.into_body().collect().await.expect("duplex body");
            assert_eq!(body.to_bytes().len(), body_bytes, "duplex run: short body");
        }
    });
    start.elapsed()
}
