//! Shutting the server down, the ways production servers do it — including the ways that hang.
//!
//! A [`ShutdownPlan`] starts at a scheduled simulated time. The server first stops accepting
//! (its listener closes: connections still in the backlog are refused), records
//! `shutdown_start`, then follows its [`ShutdownStrategy`]. With a deadline, whatever is still
//! open when it passes is forced closed (an RST, reason `shutdown-deadline`). `shutdown_end`
//! records how many connections were forced; every socket's close carries its reason
//! (`shutdown`, `shutdown-deadline`, `idle-timeout`, or the peer's close).
//!
//! [`ShutdownDone`] tells the rest of the run that the shutdown has finished: a run ends only
//! when the client workload has ended and any scheduled shutdown has finished.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::conn::Command;
use super::Shared;
use crate::trace::{CloseReason, Event};

/// How the server shuts down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownStrategy {
    /// `wait-all`: stop accepting and wait for every connection to close by itself, idle
    /// keep-alive ones included (the old Node `server.close()`): it ends only when clients or
    /// the inactivity timeout close them.
    WaitAll,
    /// `close-idle`: the http-terminator algorithm. Idle and not-yet-started sockets close at
    /// once; in-flight requests finish with `connection: close` (set by the service, and hyper's
    /// graceful shutdown turns keep-alive off), each socket closing after its response.
    CloseIdle,
    /// `close-idle-once`: Node ≥ 19's `server.close()`, which calls `closeIdleConnections()`
    /// once, at the call. Sockets idle at that moment close; busy ones finish their request and
    /// live on as keep-alive sockets (serving whatever else comes on them) until the client or
    /// the inactivity timeout closes them.
    CloseIdleOnce,
    /// `hyper-graceful`: hyper-util's `GracefulShutdown` watching every connection; it has no
    /// deadline of its own, so the plan's deadline is raced against it.
    HyperGraceful,
    /// `abort`: drop every connection now (reason `shutdown`).
    Abort,
}

impl ShutdownStrategy {
    /// Every strategy, in the order of the scenario format.
    pub const ALL: [ShutdownStrategy; 5] = [
        ShutdownStrategy::WaitAll,
        ShutdownStrategy::CloseIdle,
        ShutdownStrategy::CloseIdleOnce,
        ShutdownStrategy::HyperGraceful,
        ShutdownStrategy::Abort,
    ];

    /// The scenario name: `wait-all`, `close-idle`, `close-idle-once`, `hyper-graceful` or
    /// `abort`.
    pub fn name(self) -> &'static str {
        match self {
            ShutdownStrategy::WaitAll => "wait-all",
            ShutdownStrategy::CloseIdle => "close-idle",
            ShutdownStrategy::CloseIdleOnce => "close-idle-once",
            ShutdownStrategy::HyperGraceful => "hyper-graceful",
            ShutdownStrategy::Abort => "abort",
        }
    }
}

impl fmt::Display for ShutdownStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown strategy name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownStrategy(pub String);

impl fmt::Display for UnknownStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown shutdown strategy `{}`; expected one of: wait-all, close-idle, close-idle-once, hyper-graceful, abort",
            self.0
        )
    }
}

impl std::error::Error for UnknownStrategy {}

impl FromStr for ShutdownStrategy {
    type Err = UnknownStrategy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| UnknownStrategy(s.to_string()))
    }
}

/// A shutdown scheduled for one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShutdownPlan {
    /// Simulated time (since the start of the run) at which the shutdown starts.
    pub at: Duration,
    /// How.
    pub strategy: ShutdownStrategy,
    /// Time after the start beyond which every remaining connection is forced closed. `None`:
    /// wait as long as it takes.
    pub deadline: Option<Duration>,
}

/// Signals that a server's shutdown has finished. Cheap to clone; clones share the signal.
/// All hosts run on one thread, so a client host may wait on it.
#[derive(Clone, Debug)]
pub struct ShutdownDone {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for ShutdownDone {
    fn default() -> Self {
        Self::new()
    }
}

impl ShutdownDone {
    /// A signal not yet given.
    pub fn new() -> Self {
        Self {
            tx: Arc::new(watch::channel(false).0),
        }
    }

    /// Gives the signal.
    pub fn finish(&self) {
        self.tx.send_replace(true);
    }

    /// Whether the shutdown has finished.
    pub fn is_finished(&self) -> bool {
        *self.tx.borrow()
    }

    /// Waits until the shutdown has finished.
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }
}

/// On HTTP/2, a graceful close is a GOAWAY (hyper sends it when asked to shut down gracefully):
/// traced, so a reader sees where the last accepted stream was drawn.
fn goaway_sent(shared: &Shared, conn: crate::trace::ConnId, status: &super::conn::ConnStatus) {
    if status.h2.get() {
        shared.host.record(Event::GoawaySent { conn });
    }
}

/// Runs `plan`'s strategy over the server's connections (accepting has already stopped) and
/// records `shutdown_end`.
pub(crate) async fn execute(plan: &ShutdownPlan, shared: &Shared) {
    shared.shutting_down.set(true);
    let graceful = shared.graceful.borrow_mut().take();
    let mut forced = 0;
    match plan.strategy {
        ShutdownStrategy::WaitAll => {}
        ShutdownStrategy::Abort => forced = close_all(shared, CloseReason::Shutdown),
        ShutdownStrategy::CloseIdle => {
            for (&conn, status) in shared.conns.borrow().iter() {
                if status.is_idle() {
                    status.command(Command::Close(CloseReason::Shutdown));
                } else {
                    status.closing.set(true);
                    status.close_header.set(true);
                    goaway_sent(shared, conn, status);
                    status.command(Command::Graceful);
                }
            }
        }
        ShutdownStrategy::CloseIdleOnce => {
            for status in shared.conns.borrow().values() {
                if status.is_idle() {
                    status.command(Command::Close(CloseReason::Shutdown));
                }
            }
        }
        ShutdownStrategy::HyperGraceful => {
            for (&conn, status) in shared.conns.borrow().iter() {
                status.closing.set(true);
                goaway_sent(shared, conn, status);
            }
        }
    }
    let drained = async {
        if let Some(g) = graceful {
            g.shutdown().await;
        }
        wait_empty(shared).await;
    };
    let deadline = async {
        match plan.deadline {
            Some(d) => crate::net::clock::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        // Fixed branch order: tokio's default random pick is not seeded by the simulation.
        biased;
        _ = drained => {}
        _ = deadline => {
            forced += close_all(shared, CloseReason::ShutdownDeadline);
            wait_empty(shared).await;
        }
    }
    shared.host.record(Event::ShutdownEnd { forced });
}

/// Asks every open connection to close now with `reason`; returns how many there were.
fn close_all(shared: &Shared, reason: CloseReason) -> usize {
    let conns = shared.conns.borrow();
    for status in conns.values() {
        status.command(Command::Close(reason));
    }
    conns.len()
}

async fn wait_empty(shared: &Shared) {
    loop {
        let changed = shared.changed.notified();
        if shared.conns.borrow().is_empty() {
            return;
        }
        changed.await;
    }
}
