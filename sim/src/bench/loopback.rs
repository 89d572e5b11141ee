//! The real-network baseline: the same hyper-util `Client` and hyper server over real tokio TCP
//! on 127.0.0.1, in a current-thread runtime of its own.
//!
//! This is the only place in httpsim that opens real sockets. It is not part of any simulation:
//! it runs after the simulated measurements, binds an ephemeral port on loopback only, and the
//! server task ends with its runtime when the requests are done.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// Wall time of `requests` sequential keep-alive GETs of `body_bytes` bodies, each read to the
/// end, over real loopback TCP.
pub(crate) fn sequential(requests: usize, body_bytes: usize) -> std::io::Result<Duration> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let body = Bytes::from(vec![b'x'; body_bytes]);
        let server = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let body = body.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |_req: Request<_>| {
                        let body = body.clone();
                        async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        let client: Client<HttpConnector, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let uri: http::Uri = format!("http://{addr}/")
            .parse()
            .map_err(std::io::Error::other)?;
        let start = Instant::now();
        for _ in 0..requests {
            let res = client
                .get(uri.clone())
                .await
                .map_err(std::io::Error::other)?;
            let body = res
                .into_body()
                .collect()
                .await
                .map_err(std::io::Error::other)?;
            if body.to_bytes().len() != body_bytes {
                return Err(std::io::Error::other("loopback run: short body"));
            }
        }
        let wall = start.elapsed();
        server.abort();
        Ok(wall)
    })
}
