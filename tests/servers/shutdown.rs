//! 20 idle keep-alive connections plus 3 requests in flight, each needing 2 more seconds, when
//! the server shuts down at t = 5 s.
//!
//! The client is the real hyper-util pool, kept alive until the shutdown has finished so its idle
//! sockets stay open (a `Setup` workload would drop its pool when the workload ends). At 0 s it
//! sends 23 requests at once (23 sockets, each answered after 3 s, then idle); at 4 s it sends 3
//! more, which reuse 3 of the idle sockets and are answered at 7 s = t + 2 s. Server inactivity
//! timeout: 10 s.

use std::cell::RefCell;
use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use httpsim::client::hyper_util_pool::HyperUtilPool;
use httpsim::client::{Pool, RequestBody};
use httpsim::net::clock;
use httpsim::server::{
    serve_with, Handler, ServerConfig, ShutdownDone, ShutdownPlan, ShutdownStrategy,
};
use httpsim::trace::CloseReason;
use httpsim::{Event, Record, RunEnd, WorldBuilder};
use hyper::body::Body;

use crate::{assert_near, at, Result};

const T: Duration = Duration::from_secs(5);
const TICK: Duration = Duration::from_millis(1);
const BODY: usize = 1000;

/// What the client saw of one of the three late requests.
#[derive(Debug, Clone)]
struct Seen {
    /// When the request ended (body read or error).
    ended: Duration,
    /// The `connection` header of the response, if one came.
    connection: Option<String>,
    /// Body bytes read, or the error.
    outcome: std::result::Result<usize, String>,
}

struct Run {
    end: RunEnd,
    records: Vec<Record>,
    late: Vec<Seen>,
}

impl Run {
    fn server(&self) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(|r| r.host == "server")
    }

    fn server_closes(&self) -> Vec<(Duration, CloseReason)> {
        self.server()
            .filter_map(|r| match r.event {
                Event::Closed { reason, .. } => Some((at(r), reason)),
                _ => None,
            })
            .collect()
    }

    fn shutdown_end(&self) -> (Duration, usize) {
        self.server()
            .find_map(|r| match r.event {
                Event::ShutdownEnd { forced } => Some((at(r), forced)),
                _ => None,
            })
            .expect("the shutdown ends")
    }

    fn shutdown_start(&self) -> Duration {
        self.server()
            .find(|r| matches!(r.event, Event::ShutdownStart { .. }))
            .map(at)
            .expect("the shutdown starts")
    }

    /// Client-side closes of sockets: the pool evicting them.
    fn client_closes(&self) -> usize {
        self.records
            .iter()
            .filter(|r| r.host == "client" && matches!(r.event, Event::Closed { .. }))
            .count()
    }
}

async fn get(pool: &HyperUtilPool, id: u64) -> Seen {
    let req = hyper::Request::get("http://server:80/")
        .body(RequestBody::default())
        .expect("request");
    let (connection, outcome) = match pool.send(id, req).await {
        Err(e) => (None, Err(e.to_string())),
        Ok(res) => {
            let connection = res
                .headers()
                .get(http::header::CONNECTION)
                .map(|v| v.to_str().unwrap_or("?").to_string());
            let mut body = res.into_body();
            let mut n = 0;
            let outcome = loop {
                match poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                    None => break Ok(n),
                    Some(Ok(frame)) => n += frame.data_ref().map_or(0, |d| d.len()),
                    Some(Err(e)) => break Err(e.to_string()),
                }
            };
            (connection, outcome)
        }
    };
    Seen {
        ended: clock::now(),
        connection,
        outcome,
    }
}

fn run(strategy: ShutdownStrategy, deadline: Option<Duration>) -> Run {
    let mut world = WorldBuilder::new()
        .duration(Duration::from_secs(60))
        .build();
    #[allow(clippy::arc_with_non_send_sync)] // one thread; see setup.rs
    let config = Arc::new(ServerConfig {
        handler: Handler::Delay {
            delay: Duration::from_secs(3),
            body_bytes: BODY,
            status: 200,
        },
        idle_timeout: Some(Duration::from_secs(10)),
        shutdown: Some(ShutdownPlan {
            at: T,
            strategy,
            deadline,
        }),
        ..ServerConfig::default()
    });
    let done = ShutdownDone::new();
    let server_done = done.clone();
    world.host("server", None, 0, move |host| {
        serve_with(host, config.clone(), server_done.clone())
    });
    let late = Rc::new(RefCell::new(Vec::new()));
    let seen = late.clone();
    world.client("client", None, 0, move |host| async move {
        let pool = Rc::new(HyperUtilPool::new(host, None, None, usize::MAX));
        let early: Vec<_> = (1..=23)
            .map(|id| {
                let pool = pool.clone();
                tokio::task::spawn_local(async move { get(&pool, id).await })
            })
            .collect();
        for h in early {
            let s = h.await.expect("task");
            assert_eq!(s.outcome, Ok(BODY), "early requests all succeed");
        }
        tokio::time::sleep(Duration::from_secs(4).saturating_sub(clock::now())).await;
        let in_flight: Vec<_> = (24..=26)
            .map(|id| {
                let pool = pool.clone();
                tokio::task::spawn_local(async move { get(&pool, id).await })
            })
            .collect();
        for h in in_flight {
            let s = h.await.expect("task");
            seen.borrow_mut().push(s);
        }
        done.wait().await;
        // Let the pool see the last closes before it goes away with the client.
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(pool);
    });
    let end = world.run();
    let records = world.net().trace().records();
    let late = late.borrow().clone();
    Run { end, records, late }
}

#[test]
fn wait_all_ends_only_when_the_idle_timeout_closes_the_idle_sockets() -> Result {
    let run = run(ShutdownStrategy::WaitAll, None);
    assert_eq!(run.end, RunEnd::Completed);
    assert_near(run.shutdown_start(), T, TICK, "shutdown start");
    let closes = run.server_closes();
    assert_eq!(closes.len(), 23);
    assert!(
        closes.iter().all(|(_, r)| *r == CloseReason::IdleTimeout),
        "{closes:?}"
    );
    // 20 sockets idle since 3 s close at 13 s; the 3 that served the late requests close 10 s
    // after their responses (7 s): the shutdown ends at 17 s.
    let at_13 = closes
        .iter()
        .filter(|(t, _)| t.abs_diff(Duration::from_secs(13)) <= Duration::from_millis(10))
        .count();
    assert_eq!(at_13, 20);
    let (end, forced) = run.shutdown_end();
    assert_eq!(forced, 0);
    assert_near(
        end,
        Duration::from_secs(17),
        Duration::from_millis(20),
        "shutdown end",
    );
    assert_eq!(end, closes.iter().map(|(t, _)| *t).max().unwrap());
    for s in &run.late {
        assert_eq!(s.outcome, Ok(BODY));
        assert_eq!(
            s.connection, None,
            "wait-all keeps HTTP/1.1 connections alive"
        );
    }
    Ok(())
}

#[test]
fn close_idle_once_closes_the_idle_sockets_at_the_call_and_the_busy_ones_at_their_idle_timeout(
) -> Result {
    let run = run(ShutdownStrategy::CloseIdleOnce, None);
    assert_eq!(run.end, RunEnd::Completed);
    let t = run.shutdown_start();
    assert_near(t, T, TICK, "shutdown start");
    let closes = run.server_closes();
    assert_eq!(closes.len(), 23);
    let at_call: Vec<_> = closes
        .iter()
        .filter(|(c, r)| *c <= t + TICK && *r == CloseReason::Shutdown)
        .collect();
    assert_eq!(
        at_call.len(),
        20,
        "idle sockets close at the call: {closes:?}"
    );
    // The 3 busy sockets answer at 7 s with keep-alive, then idle out 10 s later.
    let timed_out: Vec<_> = closes
        .iter()
        .filter(|(_, r)| *r == CloseReason::IdleTimeout)
        .collect();
    assert_eq!(timed_out.len(), 3, "{closes:?}");
    for (c, _) in &timed_out {
        assert_near(
            *c,
            Duration::from_secs(17),
            Duration::from_millis(20),
            "idle out",
        );
    }
    let (end, forced) = run.shutdown_end();
    assert_eq!(forced, 0);
    assert_near(
        end,
        Duration::from_secs(17),
        Duration::from_millis(20),
        "shutdown end",
    );
    for s in &run.late {
        assert_eq!(s.outcome, Ok(BODY), "no in-flight request is lost");
        assert_eq!(s.connection, None, "busy sockets stay keep-alive");
    }
    Ok(())
}

/// The common part of `close-idle` and `hyper-graceful` without deadline.
fn graceful_ends_when_in_flight_finish(strategy: ShutdownStrategy) -> Result {
    let run = run(strategy, None);
    assert_eq!(run.end, RunEnd::Completed);
    let t = run.shutdown_start();
    assert_near(t, T, TICK, "shutdown start");
    let closes = run.server_closes();
    assert_eq!(closes.len(), 23);
    let idle: Vec<_> = closes.iter().filter(|(c, _)| *c <= t + TICK).collect();
    assert_eq!(
        idle.len(),
        20,
        "idle sockets close within one tick: {closes:?}"
    );
    assert!(closes.iter().all(|(_, r)| *r == CloseReason::Shutdown));
    let (end, forced) = run.shutdown_end();
    assert_eq!(forced, 0);
    assert_near(
        end,
        T + Duration::from_secs(2),
        Duration::from_millis(10),
        "shutdown end",
    );
    assert_eq!(run.late.len(), 3);
    for s in &run.late {
        assert_eq!(s.outcome, Ok(BODY), "no in-flight request is lost");
        assert_eq!(s.connection.as_deref(), Some("close"));
        assert_near(
            s.ended,
            T + Duration::from_secs(2),
            Duration::from_millis(10),
            "late",
        );
    }
    // The client closes every socket: 20 after the server's FIN, 3 after `connection: close`.
    assert_eq!(run.client_closes(), 23);
    Ok(())
}

#[test]
fn close_idle_closes_idle_sockets_at_once_and_finishes_in_flight_with_connection_close() -> Result {
    graceful_ends_when_in_flight_finish(ShutdownStrategy::CloseIdle)
}

#[test]
fn hyper_graceful_shutdown_closes_idle_sockets_and_finishes_in_flight_requests() -> Result {
    graceful_ends_when_in_flight_finish(ShutdownStrategy::HyperGraceful)
}

#[test]
fn close_idle_with_a_one_second_deadline_forces_the_in_flight_sockets() -> Result {
    let run = run(ShutdownStrategy::CloseIdle, Some(Duration::from_secs(1)));
    assert_eq!(run.end, RunEnd::Completed);
    let t = run.shutdown_start();
    let closes = run.server_closes();
    let forced: Vec<_> = closes
        .iter()
        .filter(|(_, r)| *r == CloseReason::ShutdownDeadline)
        .collect();
    assert_eq!(forced.len(), 3, "{closes:?}");
    for (c, _) in &forced {
        assert_near(*c, t + Duration::from_secs(1), TICK, "forced close");
    }
    let (end, n) = run.shutdown_end();
    assert_eq!(n, 3);
    assert_near(end, t + Duration::from_secs(1), TICK, "shutdown end");
    assert_eq!(run.late.len(), 3);
    for s in &run.late {
        assert!(s.outcome.is_err(), "the client sees the error: {s:?}");
        assert_near(
            s.ended,
            t + Duration::from_secs(1),
            Duration::from_millis(10),
            "error",
        );
    }
    Ok(())
}

#[test]
fn abort_closes_every_socket_at_once() -> Result {
    let run = run(ShutdownStrategy::Abort, None);
    assert_eq!(run.end, RunEnd::Completed);
    let t = run.shutdown_start();
    let closes = run.server_closes();
    assert_eq!(closes.len(), 23);
    for (c, r) in &closes {
        assert_eq!(*r, CloseReason::Shutdown);
        assert!(*c <= t + TICK, "closed at {c:?}");
    }
    let (end, forced) = run.shutdown_end();
    assert_eq!(forced, 23);
    assert!(end <= t + TICK);
    for s in &run.late {
        assert!(s.outcome.is_err(), "in-flight requests fail: {s:?}");
    }
    Ok(())
}

#[test]
#[ignore = "prints a trace for people; run with --ignored --nocapture"]
fn print_close_idle_trace() {
    let run = run(
        ShutdownStrategy::CloseIdle,
        std::env::var("DEADLINE")
            .ok()
            .map(|_| Duration::from_secs(1)),
    );
    let from = run
        .records
        .iter()
        .position(|r| matches!(r.event, Event::ShutdownStart { .. }))
        .unwrap();
    print!(
        "{}",
        httpsim::trace::TraceText(&run.records[from.saturating_sub(8)..])
    );
}

#[test]
fn strategy_names_round_trip() -> Result {
    for s in ShutdownStrategy::ALL {
        assert_eq!(s.name().parse::<ShutdownStrategy>()?, s);
    }
    let err = "graceful".parse::<ShutdownStrategy>().unwrap_err();
    assert!(err
        .to_string()
        .contains("wait-all, close-idle, close-idle-once, hyper-graceful, abort"));
    Ok(())
}
