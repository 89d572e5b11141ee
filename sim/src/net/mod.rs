//! The simulated network as httpsim's own types: the one door (with `world`) to the simulator
//! (turmoil-net's socket kernel).
//!
//! - [`Net`] — the simulation-wide context: the trace, every host's fd table, the connection
//!   registry. One per run.
//! - [`HostNet`] — one host's view: connect, bind, trace. Pools, servers and workloads only ever
//!   see this, never a turmoil-net type.
//! - [`stream::SimStream`] — the socket every byte goes through (start reading there);
//!   `core.rs` — what the socket, its pump and its handles share ([`StreamHandle`]).
//! - `conn.rs` — what both ends of a connection share: id, emulated RST, vanished peers, byte
//!   accounting (`flow.rs`).
//! - [`listener::SimListener`] — accept with fd accounting and a modelled backlog.
//! - [`fd`] — per-host fd tables and EMFILE.
//! - [`conn_fault`] — per-connection faults (latency, bandwidth, slicer, slow close, reset,
//!   limit data, half-open) and which connections draw them; `wire.rs` applies them to every
//!   write, `shaper.rs` paces the writes of a shaped socket.
//! - [`ports`] — each host's ephemeral-port budget (`AddrNotAvailable` when it runs out).
//! - `tcp.rs` — turmoil-net's sockets, every call scoped to its host; `engine.rs` — what the
//!   socket layer tells the engine (which host, "something to send").
//! - [`real`] — the same socket layer over real loopback TCP, for `httpsim run --real`.
//! - [`clock`] — simulated time (tokio's paused clock since the run started).
//! - [`connector::SimConnector`] — a tower `Service<Uri>` so hyper-util's `Client` can dial
//!   simulated hosts.

pub mod clock;
mod conn;
pub mod conn_fault;
pub mod connector;
mod core;
pub(crate) mod engine;
pub mod fd;
pub(crate) mod fill;
mod flow;
pub mod listener;
pub mod ports;
pub mod real;
mod shaper;
pub mod stream;
mod tcp;
mod wire;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use conn_fault::{ConnFault, ConnFaultKind, Direction};
pub use connector::{ConnInfo, SimConnector};
pub use fd::{Fd, FdTable};
pub use listener::{BacklogOverflow, SimListener};
pub use ports::ConnectMode;
pub use stream::{SimStream, StreamHandle};

use crate::error::ErrorKind;
use crate::trace::{ConnId, Event, HostName, Trace};
use conn::{ConnShared, Side};

/// Settings of the socket layer shared by every host of a run.
#[derive(Clone, Debug)]
pub(crate) struct NetConfig {
    /// Bytes a socket's receive buffer takes from the network before it stops reading (the rest
    /// waits in the simulated kernel's buffer, then the sender's: see `net::stream`).
    pub(crate) recv_buffer: usize,
    /// The run seed; per-connection fault draws derive from it.
    pub(crate) seed: u64,
    /// Per-connection faults.
    pub(crate) conn_faults: Vec<ConnFault>,
    /// Ephemeral ports per host.
    pub(crate) ephemeral_ports: usize,
    /// Real sockets (`--real`): a connection's id is the client's local port (`real.rs`).
    pub(crate) real: bool,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            recv_buffer: 256 * 1024,
            seed: 1,
            conn_faults: Vec::new(),
            ephemeral_ports: ports::DEFAULT_EPHEMERAL_PORTS,
            real: false,
        }
    }
}

struct NetInner {
    trace: Trace,
    fds: Mutex<BTreeMap<String, FdTable>>,
    conns: Mutex<ConnRegistry>,
    ports: Mutex<BTreeMap<String, ports::Ports>>,
    /// Hosts being crashed right now, and whether their peers see FIN.
    crashing: Mutex<BTreeMap<String, bool>>,
    /// Client hosts whose sockets record a `checkout` for every request head they write (see
    /// [`HostNet::record_request_writes`]).
    wire_checkouts: Mutex<std::collections::BTreeSet<String>>,
    config: NetConfig,
}

/// Connection ids are shared by both ends: whichever end is seen first (usually the server's
/// accept, which precedes the client's connect completing) creates the entry, the other end
/// attaches to it. An entry whose end is already attached is stale (the port was reused) and is
/// replaced.
#[derive(Default)]
struct ConnRegistry {
    next: ConnId,
    by_pair: BTreeMap<(SocketAddr, SocketAddr), Arc<ConnShared>>,
}

/// The simulation-wide network context. Cheap to clone.
#[derive(Clone)]
pub struct Net {
    inner: Arc<NetInner>,
}

impl Net {
    pub(crate) fn new(trace: Trace, config: NetConfig) -> Self {
        Self {
            inner: Arc::new(NetInner {
                trace,
                fds: Mutex::new(BTreeMap::new()),
                conns: Mutex::new(ConnRegistry::default()),
                ports: Mutex::new(BTreeMap::new()),
                crashing: Mutex::new(BTreeMap::new()),
                wire_checkouts: Mutex::new(std::collections::BTreeSet::new()),
                config,
            }),
        }
    }

    /// Registers a host with an fd `limit` (`None`: unlimited) and `baseline` fds already in use,
    /// and returns its view of the network.
    pub(crate) fn host(
        &self,
        name: &str,
        id: engine::HostId,
        limit: Option<usize>,
        baseline: usize,
    ) -> HostNet {
        self.host_at(name, real::Place::Sim(id), limit, baseline)
    }

    /// A real host of `httpsim run --real` (`net/real.rs`): its own trace, sockets on loopback,
    /// `baseline` fds already open in its process (the kernel enforces the limit).
    /// Per-connection faults and the seed come from `world`, as in a simulated run.
    pub fn real_host(
        trace: Trace,
        world: &crate::world::WorldBuilder,
        name: &str,
        peers: std::sync::Arc<real::RealNet>,
        baseline: usize,
    ) -> HostNet {
        let net = Net::new(
            trace,
            NetConfig {
                real: true,
                ..world.net_config()
            },
        );
        net.host_at(name, real::Place::Real(peers), None, baseline)
    }

    fn host_at(
        &self,
        name: &str,
        place: real::Place,
        limit: Option<usize>,
        baseline: usize,
    ) -> HostNet {
        let fds = self
            .inner
            .fds
            .lock()
            .unwrap()
            .entry(name.to_string())
            .or_insert_with(|| FdTable::new(limit, baseline))
            .clone();
        let ports = self
            .inner
            .ports
            .lock()
            .unwrap()
            .entry(name.to_string())
            .or_insert_with(|| ports::Ports::new(self.inner.config.ephemeral_ports))
            .clone();
        HostNet {
            net: self.clone(),
            name: name.into(),
            place,
            fds,
            ports,
        }
    }

    /// Marks `host` as crashing (`fin`: whether its peers see its sockets close) while `f`
    /// runs, so the sockets it drops record [`crate::trace::CloseReason::Crash`] and, without
    /// FIN, vanish.
    pub(crate) fn crashing<R>(&self, host: &str, fin: bool, f: impl FnOnce() -> R) -> R {
        self.inner
            .crashing
            .lock()
            .unwrap()
            .insert(host.to_string(), fin);
        let r = f();
        self.inner.crashing.lock().unwrap().remove(host);
        r
    }

    /// At the end of a run: records a `request_waiting` event for every open client socket
    /// whose last written request got not one byte back, and an `undelivered` event for every
    /// open connection with bytes (or a FIN) sent at or before `now_us - in_flight` that never
    /// reached its peer: data a partition, a hold or a vanished host still keeps from it.
    pub(crate) fn report_undelivered(&self, now_us: u64, in_flight: Duration) {
        let older_than = now_us.saturating_sub(in_flight.as_micros() as u64);
        let conns: Vec<Arc<ConnShared>> = {
            let reg = self.inner.conns.lock().unwrap();
            reg.by_pair.values().cloned().collect()
        };
        let mut found = Vec::new();
        let mut waiting = Vec::new();
        for c in &conns {
            for (gap, receiver, sender) in c.gaps(older_than) {
                found.push((c.id(), gap, receiver, sender));
            }
            if let Some((req, since_us, host)) = c.waiting() {
                if since_us <= older_than {
                    waiting.push((c.id(), req, since_us, host));
                }
            }
        }
        waiting.sort();
        for (conn, req, since_us, host) in waiting {
            self.trace().push(
                now_us,
                &host,
                Event::RequestWaiting {
                    conn,
                    req,
                    since_us,
                },
            );
        }
        found.sort_by_key(|(id, g, ..)| (*id, g.receiver));
        for (conn, gap, receiver, sender) in found {
            self.trace().push(
                now_us,
                &receiver,
                Event::Undelivered {
                    conn,
                    from: sender,
                    bytes: gap.bytes,
                    fin: gap.fin,
                    since_us: gap.since_us,
                },
            );
        }
    }

    /// The trace of this run.
    pub fn trace(&self) -> &Trace {
        &self.inner.trace
    }

    /// Peak open fds per host, by host name.
    pub fn peak_fds(&self) -> BTreeMap<String, usize> {
        self.inner
            .fds
            .lock()
            .unwrap()
            .iter()
            .map(|(h, t)| (h.clone(), t.peak()))
            .collect()
    }

    /// Attaches one end of the connection `(client, server)` and returns its shared state.
    fn attach(&self, client: SocketAddr, server: SocketAddr, side: Side) -> Arc<ConnShared> {
        let mut reg = self.inner.conns.lock().unwrap();
        if let Some(shared) = reg.by_pair.get(&(client, server)) {
            if shared.try_attach(side) {
                return shared.clone();
            }
        }
        reg.next += 1;
        let id = if self.inner.config.real {
            // Each process of a real run sees one end: the port names the connection in both.
            u64::from(client.port())
        } else {
            reg.next
        };
        let shared = Arc::new(ConnShared::new(id));
        shared.try_attach(side);
        reg.by_pair.insert((client, server), shared.clone());
        shared
    }

    /// The connection between two addresses, whichever end `a` is (for kernel events, which
    /// name a socket by its own address first).
    pub(crate) fn conn_between(&self, a: SocketAddr, b: SocketAddr) -> Option<ConnId> {
        let reg = self.inner.conns.lock().unwrap();
        reg.by_pair
            .get(&(a, b))
            .or_else(|| reg.by_pair.get(&(b, a)))
            .map(|c| c.id())
    }

    /// Forgets a connection once both ends are gone.
    fn detach(&self, client: SocketAddr, server: SocketAddr, shared: &Arc<ConnShared>) {
        let mut reg = self.inner.conns.lock().unwrap();
        if let Some(cur) = reg.by_pair.get(&(client, server)) {
            if Arc::ptr_eq(cur, shared) && shared.both_detached() {
                reg.by_pair.remove(&(client, server));
            }
        }
    }
}

/// One host's view of the network: how pools, servers and workloads open sockets and record
/// events. Cheap to clone.
#[derive(Clone)]
pub struct HostNet {
    net: Net,
    name: HostName,
    /// The host in the simulated network, or on loopback.
    place: real::Place,
    fds: FdTable,
    ports: ports::Ports,
}

impl HostNet {
    /// The host's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's name, shared.
    pub(crate) fn name_arc(&self) -> Arc<str> {
        self.name.arc()
    }

    /// The host's fd table.
    pub fn fds(&self) -> &FdTable {
        &self.fds
    }

    /// The simulation-wide context.
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// From now on, every request head written by this host's sockets records the `checkout`
    /// event httpsim's own Agent records itself (which socket the request went out on, and
    /// whether it carried an earlier one), spotted on the wire by its `x-seq` header. For
    /// clients httpsim did not write — yours, through [`crate::client::adapt`] — so that
    /// `ordering` judges their reuse of a socket after `connection: close` without any
    /// instrumentation in them.
    pub(crate) fn record_request_writes(&self) {
        let mut hosts = self.net.inner.wire_checkouts.lock().unwrap();
        if !hosts.contains(&*self.name) {
            hosts.insert(self.name.to_string());
        }
    }

    /// Whether [`record_request_writes`](Self::record_request_writes) was called for this host.
    pub(crate) fn records_request_writes(&self) -> bool {
        self.net
            .inner
            .wire_checkouts
            .lock()
            .unwrap()
            .contains(&*self.name)
    }

    /// Records `event` on this host at the current simulated time.
    pub fn record(&self, event: Event) {
        self.net
            .trace()
            .push(clock::now_us(), self.name.clone(), event);
    }

    /// Opens a connection to `host:port`. Takes an fd first, so a full fd table fails with EMFILE
    /// before any packet is sent, as `socket(2)` would; then an ephemeral port, so a host that
    /// has used them all fails with `AddrNotAvailable`.
    ///
    /// The handshake is the simulated kernel's: a SYN dropped by a partition, a broken link or a
    /// full listen backlog is retransmitted as Linux does (after 1, 2, 4, 8, 16, 32 s) and the
    /// connect times out 127 s after it started unless the network heals first; a connect
    /// timeout of the caller cuts that short. With [`ConnectMode::Refuse`] the network answers a
    /// dropped SYN with a reset instead (as a router's ICMP "unreachable" would).
    pub async fn connect(&self, host: &str, port: u16) -> io::Result<SimStream> {
        let to = format!("{host}:{port}");
        // A real socket takes its fd from the kernel (which enforces the limit); it is counted
        // once it exists, so a connect that failed with EMFILE never counts.
        let real = matches!(self.place, real::Place::Real(_));
        let fd = match (!real).then(|| self.fds.acquire()).transpose() {
            Ok(fd) => fd,
            Err(e) => {
                self.record_connect_failed(&to, &e);
                return Err(e);
            }
        };
        let lease = match self.ports.lease(self.name()) {
            Ok(l) => l,
            Err(e) => {
                self.record(Event::ConnectFailed {
                    to: to.clone(),
                    kind: ErrorKind::Connect,
                    message: e.to_string(),
                });
                return Err(e);
            }
        };
        let tcp = match tcp::Tcp::connect(&self.place, (host, port)).await {
            Ok(tcp) => tcp,
            Err(e) if fd::is_emfile(&e) => {
                // The kernel's own EMFILE (a real socket): kept as it is, raw errno included.
                drop(lease);
                self.record_connect_failed(&to, &e);
                return Err(e);
            }
            Err(e) => {
                drop(lease);
                drop(fd);
                let e = match e.kind() {
                    io::ErrorKind::TimedOut => io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "connect to {to} timed out: SYN unanswered for 127s (the network \
                             dropped it; Linux tcp_syn_retries = 6)"
                        ),
                    ),
                    kind => io::Error::new(kind, format!("connect to {to}: {e}")),
                };
                self.record_connect_failed(&to, &e);
                return Err(e);
            }
        };
        let fd = match fd {
            Some(fd) => fd,
            None => self.fds.acquire()?,
        };
        let (local, remote) = tcp.addrs()?;
        let shared = self.net.attach(local, remote, Side::Client);
        let conn = shared.id();
        self.record(Event::Connected {
            conn,
            to,
            fds: self.fds.in_use(),
        });
        Ok(SimStream::new(
            self.clone(),
            tcp,
            fd,
            shared,
            Side::Client,
            (local, remote),
            Some(lease),
        ))
    }

    /// `Some(fin)` while this host is being crashed.
    pub(crate) fn crashing(&self) -> Option<bool> {
        self.net
            .inner
            .crashing
            .lock()
            .unwrap()
            .get(&*self.name)
            .copied()
    }

    fn record_connect_failed(&self, to: &str, e: &io::Error) {
        self.record(Event::ConnectFailed {
            to: to.to_string(),
            kind: ErrorKind::of_io(e),
            message: e.to_string(),
        });
    }

    /// Binds a listener on `port` of this host.
    pub async fn bind(&self, port: u16) -> io::Result<SimListener> {
        let l = tcp::Listener::bind(&self.place, port).await?;
        Ok(SimListener::new(self.clone(), l, port))
    }

    pub(crate) fn config(&self) -> &NetConfig {
        &self.net.inner.config
    }
}
