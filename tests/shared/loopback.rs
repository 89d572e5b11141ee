//! A real hyper HTTP/1.1 server on 127.0.0.1, on its own thread and single-threaded tokio
//! runtime (the single-threaded server host httpsim models), for the checks that compare the
//! simulation with real sockets. Shared by test binaries through `#[path]`.

use std::future::Future;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;

/// Serves every request on a fresh loopback port with `respond()`; returns the port. The
/// server lives as long as the test process.
pub fn serve<F, Fut>(respond: F) -> std::io::Result<u16>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
{
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    std_listener.set_nonblocking(true)?;
    let port = std_listener.local_addr()?.port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
            while let Ok((s, _)) = listener.accept().await {
                let respond = respond.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |_req| {
                        let res = respond();
                        async move { Ok::<_, std::convert::Infallible>(res.await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
    });
    Ok(port)
}
