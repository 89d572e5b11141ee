//! The real-socket backend of the socket layer: `httpsim run --real` (docs/FIDELITY.md).
//!
//! The same [`super::SimStream`], [`super::SimListener`], fd accounting, per-connection faults
//! and trace events run over this machine's loopback TCP instead of turmoil-net's kernel, so
//! httpsim's own server and pools — real hyper code — run unchanged in a child process with
//! real timers. Only `tcp.rs` knows which backend a socket has: it asks `Place`.
//!
//! What differs from a simulated host, on purpose:
//! - names resolve through `RealNet::resolve`: a scenario's `server:80` is `127.0.0.1` and
//!   the port the server's child process actually bound (only loopback addresses, ever);
//! - a listener binds `127.0.0.1` and the port its parent picked for it ([`RealNet::new`]'s
//!   `listen`; port 0 when none was: the kernel picks one, published by [`RealNet::bound`]);
//! - scheduled partitions and holds block the relay: while this host's traffic toward its peer
//!   is blocked ([`RealNet::set_blocked`]), its sockets' writes, FINs and connects wait, and go
//!   when the block lifts (what a hold does; a partition's dropped segments would come back at
//!   the sender's next retransmission instead, up to seconds later);
//! - the fd limit is the process's own `RLIMIT_NOFILE`, set by the child before it starts, so
//!   the host's [`super::FdTable`] has no limit of its own and EMFILE comes from the kernel;
//! - a connection's id is the client's local port (both processes know it), which the parent
//!   renumbers in order of first appearance when it joins the two traces.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::engine::HostId;

/// Where a host's sockets live.
#[derive(Clone)]
pub(crate) enum Place {
    /// A host of the simulation (turmoil-net's kernel).
    Sim(HostId),
    /// This machine's loopback (`--real`).
    Real(Arc<RealNet>),
}

/// A real host's view of the other hosts. Shared by its sockets.
#[derive(Debug, Default)]
pub struct RealNet {
    /// `(host name, scenario port)` → the real address to dial.
    peers: BTreeMap<(String, u16), SocketAddr>,
    /// Scenario port → the real address to listen on.
    listen: BTreeMap<u16, SocketAddr>,
    /// Scenario port → the real address its listener got.
    bound: Mutex<BTreeMap<u16, SocketAddr>>,
    /// This host's traffic toward its peer is held (a partition or hold in force).
    blocked: AtomicBool,
    /// Who waits for the block to lift.
    waiting: Mutex<Vec<Waker>>,
}

impl RealNet {
    /// A real host that dials `peers` (`(host name, scenario port)` → loopback address) and
    /// listens where `listen` says (scenario port → loopback address).
    pub fn new(
        peers: BTreeMap<(String, u16), SocketAddr>,
        listen: BTreeMap<u16, SocketAddr>,
    ) -> Arc<Self> {
        Arc::new(Self {
            peers,
            listen,
            bound: Mutex::new(BTreeMap::new()),
            blocked: AtomicBool::new(false),
            waiting: Mutex::new(Vec::new()),
        })
    }

    /// The address to dial for `host:port`: a known peer, else `127.0.0.1:port` (never
    /// anything but loopback).
    pub(crate) fn resolve(&self, host: &str, port: u16) -> SocketAddr {
        self.peers
            .get(&(host.to_string(), port))
            .copied()
            .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    }

    /// Where the listener for scenario port `port` binds: as told, else `127.0.0.1:0`.
    pub(crate) fn listen_addr(&self, port: u16) -> SocketAddr {
        self.listen
            .get(&port)
            .copied()
            .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// Records that the listener for scenario port `port` got the real address `at`.
    pub(crate) fn set_bound(&self, port: u16, at: SocketAddr) {
        self.bound.lock().unwrap().insert(port, at);
    }

    /// The real address of the listener for scenario port `port`, once it is bound.
    pub fn bound(&self, port: u16) -> Option<SocketAddr> {
        self.bound.lock().unwrap().get(&port).copied()
    }

    /// Blocks or unblocks this host's traffic toward its peer (a scheduled partition, hold,
    /// repair or release that concerns this direction).
    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.store(blocked, Ordering::SeqCst);
        if !blocked {
            for w in self.waiting.lock().unwrap().drain(..) {
                w.wake();
            }
        }
    }

    /// `Ready` when traffic may go; else remembers the task to wake when it may.
    pub(crate) fn poll_open(&self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.blocked.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        let mut waiting = self.waiting.lock().unwrap();
        // Checked again under the lock: an unblock between the two reads wakes nobody.
        if !self.blocked.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
            waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Whether traffic is blocked now.
    pub(crate) fn is_blocked(&self) -> bool {
        self.blocked.load(Ordering::SeqCst)
    }

    /// Completes when traffic may go.
    pub(crate) async fn open(&self) {
        std::future::poll_fn(|cx| self.poll_open(cx)).await
    }
}
