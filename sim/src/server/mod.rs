//! The HTTP server under test: real hyper `http1` connections over simulated sockets.
//!
//! - [`ServerConfig`] — port, keep-alive, timeouts, handler, fd limit (start here).
//! - [`handler`] — what the server answers: fixed bodies, delays, CPU burns, echo.
//! - [`cpu`] — the host CPU model behind the `cpu` handler.
//!
//! The accept loop survives EMFILE: it backs off and keeps serving. Each connection runs hyper's
//! own connection state machine; httpsim adds an **inactivity timeout** around it that closes a
//! socket idle in any state (between requests, or with a response the client never reads),
//! which hyper's timeouts do not cover.

pub mod cpu;
pub mod handler;

use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::TokioTimer;

pub use cpu::HostCpu;
pub use handler::Handler;

use crate::net::{clock, HostNet, SimStream, StreamHandle};
use crate::trace::{CloseReason, Event};

/// Settings of the server under test. Every field documents its default.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    /// Host name. The default is `server`.
    pub host: String,
    /// Listening port. The default is 80.
    pub port: u16,
    /// The host's fd limit. The default is unlimited.
    pub fd_limit: Option<usize>,
    /// Fds already in use on the host. The default is 0.
    pub fd_in_use: usize,
    /// Whether connections are kept alive between requests. The default is `true`.
    pub keep_alive: bool,
    /// Inactivity timeout: a socket with no byte read or written for this long is closed, in any
    /// state. The default is none.
    pub idle_timeout: Option<Duration>,
    /// hyper's header read timeout (it also bounds the wait for the next request on an idle
    /// keep-alive connection). The default is none: unlike hyper's own default of 30 s, httpsim
    /// sets no header timeout unless asked, so that only configured timeouts shape a run.
    pub header_read_timeout: Option<Duration>,
    /// What the server answers. The default is a 4 KiB body.
    pub handler: Handler,
    /// How long the accept loop sleeps after EMFILE before accepting again. The default is 10 ms.
    pub accept_backoff: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "server".into(),
            port: 80,
            fd_limit: None,
            fd_in_use: 0,
            keep_alive: true,
            idle_timeout: None,
            header_read_timeout: None,
            handler: Handler::default(),
            accept_backoff: Duration::from_millis(10),
        }
    }
}

/// Runs the server on `host` until its software is stopped (crash) or the run ends.
pub async fn serve(host: HostNet, config: Arc<ServerConfig>) {
    let mut listener = match host.bind(config.port).await {
        Ok(l) => l,
        Err(e) => panic!("server {}: bind port {}: {e}", host.name(), config.port),
    };
    let cpu = HostCpu::new();
    loop {
        cpu.idle().await;
        match listener.accept().await {
            Ok(stream) => {
                tokio::task::spawn_local(serve_conn(stream, config.clone(), cpu.clone()));
            }
            Err(_) => {
                // EMFILE (traced by the listener): back off, keep serving.
                tokio::time::sleep(config.accept_backoff).await;
            }
        }
    }
}

async fn serve_conn(stream: SimStream, config: Arc<ServerConfig>, cpu: HostCpu) {
    let handle = stream.handle();
    let host = stream.host().clone();
    let conn_id = stream.conn();
    let svc = {
        let config = config.clone();
        let host = host.clone();
        service_fn(move |req: Request<Incoming>| {
            let config = config.clone();
            let host = host.clone();
            let cpu = cpu.clone();
            async move {
                let seq = req
                    .headers()
                    .get("x-seq")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|s| s.parse().ok());
                host.record(Event::ServerRequest {
                    conn: conn_id,
                    method: req.method().to_string(),
                    seq,
                });
                let res = handler::respond(&config.handler, req, &cpu).await;
                if let Ok(r) = &res {
                    host.record(Event::ServerResponse {
                        conn: conn_id,
                        status: r.status().as_u16(),
                        close: !config.keep_alive,
                    });
                }
                res
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(config.keep_alive)
        .header_read_timeout(config.header_read_timeout);
    let conn = builder.serve_connection(stream, svc);
    match config.idle_timeout {
        Some(t) => {
            tokio::select! {
                _ = conn => {}
                _ = idle_expired(&handle, t) => handle.set_close_reason(CloseReason::IdleTimeout),
            }
        }
        None => {
            let _ = conn.await;
        }
    }
}

/// Completes once `handle` has seen no byte read or written for `timeout`.
pub async fn idle_expired(handle: &StreamHandle, timeout: Duration) {
    let t_us = timeout.as_micros() as u64;
    loop {
        let deadline = handle.last_activity_us() + t_us;
        let now = clock::now_us();
        if now >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_micros(deadline - now)).await;
    }
}
