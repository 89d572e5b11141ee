//! The simulated network as httpsim's own types: the one door (with `world`) to turmoil.
//!
//! - [`Net`] — the simulation-wide context: the trace, every host's fd table, the connection
//!   registry. One per run.
//! - [`HostNet`] — one host's view: connect, bind, trace. Pools, servers and workloads only ever
//!   see this, never a turmoil type.
//! - [`stream::SimStream`] — the socket every byte goes through (start reading there).
//! - [`listener::SimListener`] — accept with fd accounting and a modelled backlog.
//! - [`fd`] — per-host fd tables and EMFILE.
//! - [`clock`] — simulated time.
//! - [`connector::SimConnector`] — a tower `Service<Uri>` so hyper-util's `Client` can dial
//!   simulated hosts.

pub mod clock;
pub mod connector;
pub mod fd;
pub mod listener;
pub mod stream;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use connector::{ConnInfo, SimConnector};
pub use fd::{Fd, FdTable};
pub use listener::{BacklogOverflow, SimListener};
pub use stream::{SimStream, StreamHandle};

use crate::error::ErrorKind;
use crate::trace::{ConnId, Event, Trace};
use stream::{ConnShared, Side};

/// Settings of the socket layer shared by every host of a run.
#[derive(Clone, Debug)]
pub(crate) struct NetConfig {
    /// Bytes a socket's receive buffer takes from the network before it stops reading (the rest
    /// waits in turmoil's queues; senders are not blocked, see `net::stream`).
    pub(crate) recv_buffer: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            recv_buffer: 256 * 1024,
        }
    }
}

struct NetInner {
    trace: Trace,
    fds: Mutex<BTreeMap<String, FdTable>>,
    conns: Mutex<ConnRegistry>,
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
                config,
            }),
        }
    }

    /// Registers a host with an fd `limit` (`None`: unlimited) and `baseline` fds already in use,
    /// and returns its view of the network.
    pub fn host(&self, name: &str, limit: Option<usize>, baseline: usize) -> HostNet {
        let fds = self
            .inner
            .fds
            .lock()
            .unwrap()
            .entry(name.to_string())
            .or_insert_with(|| FdTable::new(limit, baseline))
            .clone();
        HostNet {
            net: self.clone(),
            name: name.into(),
            fds,
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
        let shared = Arc::new(ConnShared::new(reg.next));
        shared.try_attach(side);
        reg.by_pair.insert((client, server), shared.clone());
        shared
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
    name: Arc<str>,
    fds: FdTable,
}

impl HostNet {
    /// The host's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's fd table.
    pub fn fds(&self) -> &FdTable {
        &self.fds
    }

    /// The simulation-wide context.
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// Records `event` on this host at the current simulated time.
    pub fn record(&self, event: Event) {
        self.net.trace().push(clock::now_us(), &self.name, event);
    }

    /// Opens a connection to `host:port`. Takes an fd first, so a full fd table fails with EMFILE
    /// before any packet is sent, as `socket(2)` would.
    pub async fn connect(&self, host: &str, port: u16) -> io::Result<SimStream> {
        let to = format!("{host}:{port}");
        let fd = match self.fds.acquire() {
            Ok(fd) => fd,
            Err(e) => {
                self.record_connect_failed(&to, &e);
                return Err(e);
            }
        };
        let tcp = match turmoil::net::TcpStream::connect((host, port)).await {
            Ok(s) => s,
            Err(e) => {
                drop(fd);
                let e = io::Error::new(e.kind(), format!("connect to {to}: {e}"));
                self.record_connect_failed(&to, &e);
                return Err(e);
            }
        };
        let local = tcp.local_addr()?;
        let remote = tcp.peer_addr()?;
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
        ))
    }

    fn record_connect_failed(&self, to: &str, e: &io::Error) {
        self.record(Event::ConnectFailed {
            to: to.to_string(),
            kind: ErrorKind::of_io(e).to_string(),
            message: e.to_string(),
        });
    }

    /// Binds a listener on `port` of this host.
    pub async fn bind(&self, port: u16) -> io::Result<SimListener> {
        let l = turmoil::net::TcpListener::bind(("0.0.0.0", port)).await?;
        Ok(SimListener::new(self.clone(), l, port))
    }

    pub(crate) fn config(&self) -> &NetConfig {
        &self.net.inner.config
    }
}
