//! Your own broken code is caught by the checks that catch httpsim's broken variants, through
//! the public API alone.
//!
//! The server: your application as a tower service inside httpsim's server
//! (`setup.server.service`), which records the `server_request` / `server_response` /
//! `shutdown_start` events the checks read. A plain hyper server of yours run as
//! `custom.server` records none of them, and `shutdown` cannot judge it; that is why the
//! service route is the one to use. The broken application cancels its in-flight handlers on
//! its own shutdown signal (hyper then closes the connection unanswered), the bug that
//! `shutdown` catches in httpsim's `ShutdownDropsInFlight` server (tests/properties/server.rs).
//!
//! The client: your own raw HTTP/1.1 client over sockets from `host.connect`, through
//! `client::adapt::from_fn`, with no instrumentation at all: the sockets trace which one each
//! request head went out on. The broken client keeps its socket after `connection: close`,
//! the bug `ordering` catches in httpsim's `PoolBug::ReusesAfterClose` pool
//! (tests/properties/ordering.rs).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use httpsim::client::{adapt, box_body};
use httpsim::net::SimStream;
use httpsim::server::{ShutdownPlan, ShutdownStrategy};
use httpsim::Setup;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An application whose requests take 2 s, under a close-idle shutdown at 1 s; when
/// `cancels_at_shutdown`, its own shutdown signal (1 s after a request began, when the
/// server's shutdown starts) aborts the request.
fn app_under_shutdown(cancels_at_shutdown: bool) -> Setup {
    let app = tower::service_fn(move |_req: http::Request<Incoming>| async move {
        let work = tokio::time::sleep(Duration::from_secs(2));
        let signal = tokio::time::sleep(Duration::from_secs(1));
        tokio::select! {
            _ = work => Ok(http::Response::new(Full::new(Bytes::from("done")))),
            _ = signal, if cancels_at_shutdown => Err("shutting down: handler cancelled"),
        }
    });
    let mut setup = Setup::default();
    setup.server.service(app);
    setup.workload.requests = 1;
    setup.server.shutdown = Some(ShutdownPlan {
        at: Duration::from_secs(1),
        strategy: ShutdownStrategy::CloseIdle,
        deadline: Some(Duration::from_secs(5)),
    });
    setup
}

#[test]
fn shutdown_catches_your_service_dropping_its_in_flight_request() {
    let verdict = app_under_shutdown(true).check(&["shutdown", "no-lost-request"]);
    assert!(verdict.violated("shutdown"), "{verdict}");
    let shutdown = &verdict.invariant("shutdown").unwrap().violations;
    assert!(
        shutdown[0].message.contains("the shutdown lost it"),
        "{verdict}"
    );
    // It ended (as an error): lost to the shutdown, not lost by the client.
    assert!(!verdict.violated("no-lost-request"), "{verdict}");
}

#[test]
fn the_same_service_finishing_its_in_flight_request_passes() {
    let verdict = app_under_shutdown(false).check(&["shutdown", "no-lost-request"]);
    verdict.assert_holds();
}

/// A raw client keeping one socket; `reuses_after_close` keeps it even after `connection: close`.
fn raw_client(reuses_after_close: bool) -> httpsim::setup::PoolFactory {
    let kept: Rc<RefCell<Option<TokioIo<SimStream>>>> = Rc::default();
    adapt::from_fn(move |host, req| {
        let kept = kept.clone();
        Box::pin(async move {
            let old = kept.borrow_mut().take();
            let mut io = match old {
                Some(io) => io,
                None => TokioIo::new(host.connect("server", 80).await?),
            };
            let mut head = format!(
                "{} {} HTTP/1.1\r\nhost: server\r\n",
                req.method(),
                req.uri()
            );
            for (k, v) in req.headers() {
                head += &format!("{k}: {}\r\n", v.to_str()?);
            }
            head += &format!("content-length: {}\r\n\r\n", req.body().len());
            io.write_all(&[head.as_bytes(), req.body()].concat())
                .await?;
            let mut buf = Vec::new();
            let (end, len) = loop {
                if io.read_buf(&mut buf).await? == 0 {
                    return Err("connection closed before message completed".into());
                }
                let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
                let Some(end) = text.find("\r\n\r\n") else {
                    continue;
                };
                let len = text[..end].split("content-length: ").nth(1);
                let len: usize = len
                    .and_then(|l| l.split("\r\n").next()?.parse().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break (end, len);
                }
            };
            let close = String::from_utf8_lossy(&buf[..end])
                .to_ascii_lowercase()
                .contains("connection: close");
            let mut res = http::Response::new(box_body(Full::new(Bytes::copy_from_slice(
                &buf[end + 4..end + 4 + len],
            ))));
            res.extensions_mut().insert(httpsim::net::ConnInfo {
                conn: io.inner().conn(),
            });
            if !close || reuses_after_close {
                *kept.borrow_mut() = Some(io);
            }
            Ok(res)
        })
    })
}

/// Two requests in turn to httpsim's server answering every request with `connection: close`.
fn client_against_closing_server(reuses_after_close: bool) -> httpsim::Verdict {
    let mut setup = Setup::default();
    setup.server.keep_alive = false;
    setup.workload.requests = 2;
    setup.custom.pool = Some(raw_client(reuses_after_close));
    setup.check(&["ordering", "no-lost-request"])
}

#[test]
fn ordering_catches_your_client_reusing_a_socket_after_connection_close() {
    let verdict = client_against_closing_server(true);
    assert!(verdict.violated("ordering"), "{verdict}");
    let ordering = &verdict.invariant("ordering").unwrap().violations;
    assert!(
        ordering[0].message.contains("connection: close"),
        "{verdict}"
    );
}

#[test]
fn the_same_client_opening_a_new_socket_after_connection_close_passes() {
    let verdict = client_against_closing_server(false);
    verdict.assert_holds();
    assert_eq!(verdict.summary.statuses["200"], 2, "{verdict}");
}
