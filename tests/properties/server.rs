//! A hyper server with a keep-alive shutdown, correct by default and breakable on purpose
//! ([`ServerBug`]), run as `Setup::custom.server`.
//!
//! The correct shutdown is `close-idle`: at `at` it stops accepting, closes idle connections at
//! once, lets in-flight requests finish with `connection: close` (hyper's graceful shutdown), and
//! forces whatever is left at the deadline. It traces `shutdown_start` / `shutdown_end` and every
//! request and response like httpsim's own server.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::TokioTimer;
use tokio::sync::watch;

use httpsim::net::{HostNet, SimStream};
use httpsim::server::handler::{chunked_body, ResponseBody};
use httpsim::server::idle_expired;
use httpsim::setup::ServerSoftware;
use httpsim::trace::{CloseReason, Event};

/// A deliberate bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerBug {
    /// A correct server.
    None,
    /// The shutdown closes every connection at once, in-flight requests included.
    ShutdownDropsInFlight,
    /// The accept loop returns on the first EMFILE (the listener is dropped; existing
    /// connections are still served).
    AcceptDiesOnEmfile,
}

/// What the server does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerSpec {
    /// Listening port.
    pub port: u16,
    /// How long each request takes (asynchronously).
    pub delay: Duration,
    /// Response body size.
    pub body_bytes: usize,
    /// Keep-alive between requests.
    pub keep_alive: bool,
    /// Inactivity timeout per socket.
    pub idle_timeout: Option<Duration>,
    /// Shutdown: when it starts, and its deadline.
    pub shutdown: Option<(Duration, Duration)>,
    /// The bug.
    pub bug: ServerBug,
}

impl Default for ServerSpec {
    fn default() -> Self {
        Self {
            port: 80,
            delay: Duration::ZERO,
            body_bytes: 512,
            keep_alive: true,
            idle_timeout: None,
            shutdown: None,
            bug: ServerBug::None,
        }
    }
}

/// The server as software for `Setup::custom.server`.
pub fn software(spec: ServerSpec) -> ServerSoftware {
    Rc::new(move |host| Box::pin(serve(host, spec)))
}

/// How a connection is asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Run,
    Graceful,
    Force,
}

async fn serve(host: HostNet, spec: ServerSpec) {
    let mut listener = host.bind(spec.port).await.expect("bind");
    let (stop_tx, stop_rx) = watch::channel(Stop::Run);
    let live = Rc::new(Cell::new(0usize));
    let shutdown_at = async {
        match spec.shutdown {
            Some((at, _)) => tokio::time::sleep(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(shutdown_at);
    loop {
        tokio::select! {
            // Fixed branch order: tokio's default random pick is not seeded by the simulation.
            biased;
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    live.set(live.get() + 1);
                    let live = live.clone();
                    let rx = stop_rx.clone();
                    tokio::task::spawn_local(async move {
                        serve_conn(stream, spec, rx).await;
                        live.set(live.get() - 1);
                    });
                }
                Err(_) if spec.bug == ServerBug::AcceptDiesOnEmfile => {
                    drop(listener);
                    // The process lives on; nothing accepts any more.
                    std::future::pending::<()>().await;
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            _ = &mut shutdown_at => break,
        }
    }
    // Shutdown: stop accepting first.
    drop(listener);
    let deadline = spec.shutdown.map(|s| s.1).unwrap_or_default();
    match spec.bug {
        ServerBug::ShutdownDropsInFlight => {
            host.record(Event::ShutdownStart {
                strategy: "close-all".into(),
            });
            let forced = live.get();
            stop_tx.send_replace(Stop::Force);
            tokio::task::yield_now().await;
            host.record(Event::ShutdownEnd { forced });
        }
        _ => {
            host.record(Event::ShutdownStart {
                strategy: "close-idle".into(),
            });
            stop_tx.send_replace(Stop::Graceful);
            let drained = async {
                while live.get() > 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            };
            let forced = match tokio::time::timeout(deadline, drained).await {
                Ok(()) => 0,
                Err(_) => {
                    let n = live.get();
                    stop_tx.send_replace(Stop::Force);
                    tokio::task::yield_now().await;
                    n
                }
            };
            host.record(Event::ShutdownEnd { forced });
        }
    }
    std::future::pending::<()>().await;
}

async fn serve_conn(stream: SimStream, spec: ServerSpec, mut stop: watch::Receiver<Stop>) {
    let handle = stream.handle();
    let host = stream.host().clone();
    let conn_id = stream.conn();
    let closing = Rc::new(Cell::new(!spec.keep_alive));
    let svc = {
        let closing = closing.clone();
        service_fn(move |req: Request<Incoming>| {
            let host = host.clone();
            let closing = closing.clone();
            async move {
                let seq = httpsim::server::request_seq(&req);
                host.record(Event::ServerRequest {
                    conn: conn_id,
                    method: req.method().to_string(),
                    seq,
                });
                if !spec.delay.is_zero() {
                    tokio::time::sleep(spec.delay).await;
                }
                host.record(Event::ServerResponse {
                    conn: conn_id,
                    status: 200,
                    close: closing.get(),
                });
                let body: ResponseBody = chunked_body(spec.body_bytes, 16 * 1024);
                hyper::Response::builder()
                    .header(http::header::CONTENT_LENGTH, spec.body_bytes)
                    .body(body)
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).keep_alive(spec.keep_alive);
    let conn = builder.serve_connection(stream, svc);
    tokio::pin!(conn);
    let idle = async {
        match spec.idle_timeout {
            Some(t) => idle_expired(&handle, t).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(idle);
    let mut graceful = false;
    loop {
        let was_graceful = graceful;
        tokio::select! {
            // Fixed branch order: tokio's default random pick is not seeded by the simulation.
            biased;
            _ = conn.as_mut() => return,
            _ = &mut idle => {
                handle.set_close_reason(CloseReason::IdleTimeout);
                return;
            }
            changed = stop.wait_for(move |s| *s != Stop::Run && (!was_graceful || *s == Stop::Force)) => {
                match changed.map(|s| *s) {
                    Ok(Stop::Graceful) => {
                        graceful = true;
                        closing.set(true);
                        handle.set_close_reason(CloseReason::Shutdown);
                        conn.as_mut().graceful_shutdown();
                    }
                    Ok(_) => {
                        handle.set_close_reason(if graceful {
                            CloseReason::ShutdownDeadline
                        } else {
                            CloseReason::Shutdown
                        });
                        return;
                    }
                    Err(_) => return,
                }
            }
        }
    }
}
