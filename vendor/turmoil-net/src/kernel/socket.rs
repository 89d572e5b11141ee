//! Kernel socket types and the per-host socket table.

use std::collections::{HashMap, VecDeque};

use indexmap::IndexMap;

use crate::fxhash::FxBuild; // httpsim patch
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::task::Waker;
use std::time::Duration;

use bytes::Bytes;

use crate::kernel::chunks::ChunkQueue; // httpsim patch
use crate::kernel::slots::Slots; // httpsim patch
use tokio::time::Instant;

/// Linux default `ip_local_port_range`.
pub const DEFAULT_EPHEMERAL_PORTS: RangeInclusive<u16> = 49152..=65535;

/// Default per-socket TCP send buffer cap (bytes). Bounds the sum of
/// queued-but-unsent and sent-but-unACK'd data, matching Linux
/// `SO_SNDBUF` semantics. Overridable via [`KernelConfig`].
pub const DEFAULT_SEND_BUF_CAP: usize = 64 * 1024;

/// Default per-socket TCP receive buffer cap (bytes). Advertised as
/// the TCP window in outgoing segments. Overridable via
/// [`KernelConfig`].
pub const DEFAULT_RECV_BUF_CAP: usize = 64 * 1024;

/// Communication domain — POSIX `socket(2)`'s first argument. Variants
/// we don't construct yet (Unix) are forward-declared for parity.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Domain {
    /// IPv4 (`AF_INET`).
    Inet,
    /// IPv6 (`AF_INET6`).
    Inet6,
    /// Unix domain sockets (`AF_UNIX`).
    Unix,
}

/// Socket type — POSIX `socket(2)`'s second argument. SeqPacket is
/// forward-declared; the dispatch layer panics on it today.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// Reliable, ordered, connection-oriented byte stream (`SOCK_STREAM`).
    Stream,
    /// Connectionless datagrams (`SOCK_DGRAM`).
    Dgram,
    /// Reliable, ordered, connection-oriented messages (`SOCK_SEQPACKET`).
    SeqPacket,
}

/// Socket address. Unifies `AF_INET`/`AF_INET6` (via [`SocketAddr`]) and
/// `AF_UNIX` (via a path) so a single `bind`/`connect` surface works across
/// domains. Named [`Addr`] to avoid colliding with [`std::net::SocketAddr`].
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    Inet(SocketAddr),
    Unix(PathBuf),
}

/// Options. Each variant is tagged inline:
///
/// - **simulated** — observable in tests (affects send/recv/listen/close).
/// - **stored** — round-trips through get/set but doesn't change behavior.
///
/// Many variants are forward-declared for API parity with tokio/libc
/// and aren't yet wired to behavior.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketOption {
    // ---- SOL_SOCKET ----
    /// `SO_BROADCAST`. simulated.
    Broadcast(bool),
    /// `SO_REUSEADDR`. simulated (affects bind conflict rules).
    ReuseAddr(bool),
    /// `SO_REUSEPORT`. simulated (load-balances accept across listeners).
    ReusePort(bool),
    /// `SO_LINGER`. simulated (controls close behavior for SOCK_STREAM).
    Linger(Option<Duration>),
    /// `SO_RCVBUF`. simulated (receive-side backpressure capacity).
    RecvBufferSize(usize),
    /// `SO_SNDBUF`. simulated (send-side backpressure capacity).
    SendBufferSize(usize),
    /// `SO_KEEPALIVE`. simulated (probe timer + dead-peer RST).
    KeepAlive(bool),

    // ---- IPPROTO_TCP ----
    /// `TCP_NODELAY`. stored — we don't model Nagle at all (every
    /// `poll_write` copies to `send_buf`, `segment_dirty` emits
    /// immediately), so this round-trips without affecting traffic.
    /// TODO: if we ever model Nagle, gate segmentation on `!nodelay`
    /// and coalesce sub-MSS payloads the way real TCP does.
    TcpNoDelay(bool),
    /// `TCP_KEEPIDLE`. simulated (idle time before first keepalive probe).
    TcpKeepIdle(Duration),
    /// `TCP_KEEPINTVL`. simulated (interval between keepalive probes).
    TcpKeepInterval(Duration),
    /// `TCP_KEEPCNT`. simulated (probe count before giving up).
    TcpKeepCount(u32),

    // ---- IPPROTO_IP ----
    /// `IP_TTL`. stored.
    IpTtl(u8),
    /// `IP_MULTICAST_TTL`. stored.
    IpMulticastTtl(u8),
    /// `IP_MULTICAST_LOOP`. simulated (whether sender sees own multicast).
    IpMulticastLoop(bool),
    /// `IP_ADD_MEMBERSHIP`. simulated.
    IpAddMembership { group: Ipv4Addr, iface: Ipv4Addr },
    /// `IP_DROP_MEMBERSHIP`. simulated.
    IpDropMembership { group: Ipv4Addr, iface: Ipv4Addr },

    // ---- IPPROTO_IPV6 ----
    /// `IPV6_V6ONLY`. simulated.
    Ipv6Only(bool),
    /// `IPV6_MULTICAST_HOPS`. stored.
    Ipv6MulticastHops(u8),
    /// `IPV6_MULTICAST_LOOP`. simulated.
    Ipv6MulticastLoop(bool),
    /// `IPV6_JOIN_GROUP`. simulated.
    Ipv6JoinGroup { group: Ipv6Addr, iface: u32 },
    /// `IPV6_LEAVE_GROUP`. simulated.
    Ipv6LeaveGroup { group: Ipv6Addr, iface: u32 },
}

/// Discriminant used to name which option to read back. Separate from
/// [`SocketOption`] because getters don't carry a value.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketOptionKind {
    Broadcast,
    ReuseAddr,
    ReusePort,
    Linger,
    RecvBufferSize,
    SendBufferSize,
    KeepAlive,
    TcpNoDelay,
    TcpKeepIdle,
    TcpKeepInterval,
    TcpKeepCount,
    IpTtl,
    IpMulticastTtl,
    IpMulticastLoop,
    Ipv6Only,
    Ipv6MulticastHops,
    Ipv6MulticastLoop,
}

/// A kernel socket handle. Opaque, fd-like, `Copy` — carries no state
/// on its own; all lookups go through the owning kernel's table.
// httpsim patch: ordered so fds can key the kernel's timer set deterministically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fd(u64);

/// TCP connection state.
///
/// We intentionally skip `TimeWait` and go straight from
/// `FinWait2`/`LastAck` to `Closed`. Its two jobs in real TCP — late-
/// duplicate protection on 4-tuple reuse and re-ACKing a retransmitted
/// FIN — only matter on an unreliable transport. The simulated fabric
/// doesn't lose or duplicate packets, and we have no simulated clock
/// to run a 2×MSL timer against. (httpsim patch: there is a clock now
/// — tokio's — and loss; `TimeWait` is still not modelled: a late
/// duplicate on a reused tuple is answered like any stray segment.)
///
/// Once the fabric grows drop/duplicate faults or a virtual clock,
/// revisit this: `TimeWait` is additive (new state + timer) and won't
/// break existing transitions. The other user-visible effect — that
/// `bind()` to a recently-closed 4-tuple returns `EADDRINUSE` without
/// `SO_REUSEADDR` — isn't modeled either, and can be bolted on via a
/// "recently closed" bit on the bind table without a full state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    SynSent,
    SynReceived,
    Established,
    /// We sent FIN, waiting for its ACK and/or the peer's FIN. From
    /// here either `FinWait2` (peer ACK'd our FIN) or `Closing` (peer
    /// sent FIN before ACKing ours).
    FinWait1,
    /// Peer ACK'd our FIN; still waiting for the peer's FIN.
    FinWait2,
    /// Peer sent FIN; we've ACK'd it and may still write until the app
    /// calls `shutdown(Write)` or closes.
    CloseWait,
    /// Both sides have sent FIN; we're waiting for the peer's ACK of
    /// ours.
    LastAck,
    /// Simultaneous close — we sent FIN, then received theirs before
    /// ours was ACK'd. Waiting for our FIN's ACK.
    Closing,
    /// Terminal. Resources can be reaped.
    Closed,
}

/// TCP control block. Present on a socket once it's paired with a peer
/// (either via `connect` or `accept`). Mirrors the subset of fields a
/// real TCB needs for the pieces we model today; close-state
/// bookkeeping (`FIN`/`RST` states, `TIME-WAIT`) comes later.
///
/// `send_buf` layout — `[in-flight | queued]`:
/// - Bytes 0..(snd_nxt - snd_una) are on the wire, unACK'd. Kept so
///   retransmit can re-emit from `snd_una`.
/// - Bytes (snd_nxt - snd_una).. are queued for the next egress pass.
/// - ACK'd bytes are `split_to()`d off the front.
///
/// httpsim patch: both buffers are `ChunkQueue`s (a write's bytes
/// are one chunk, a segment shares it; see `chunks.rs`).
#[derive(Debug)]
pub struct Tcb {
    pub state: TcpState,
    /// Remote endpoint. Mirrored in `Socket::peer` for UDP parity.
    pub peer: SocketAddr,
    /// Next sequence number we'll send (advances as egress chops and
    /// emits segments).
    pub snd_nxt: u32,
    /// Oldest unACK'd sequence number. `snd_nxt - snd_una` == in-flight.
    pub snd_una: u32,
    /// Peer's last-advertised receive window, in bytes. Bounds how far
    /// beyond `snd_una` we're allowed to push `snd_nxt` before pausing.
    pub snd_wnd: u16,
    /// Next sequence number we expect to receive.
    pub rcv_nxt: u32,
    /// Outgoing byte queue — see type-level doc for layout.
    pub send_buf: ChunkQueue,
    /// Incoming byte queue. App drains via `poll_read`; advertised
    /// window shrinks as this fills.
    pub recv_buf: ChunkQueue,
    /// App has closed the write side (FIN sent). Further `poll_write`
    /// calls return `BrokenPipe`.
    pub wr_closed: bool,
    /// Peer has sent FIN. Readers see `Ready(0)` after `recv_buf`
    /// drains.
    pub peer_fin: bool,
    /// Sequence number occupied by our FIN — ACK of `fin_seq + 1`
    /// confirms the peer received it. `None` until we emit FIN.
    pub fin_seq: Option<u32>,
    /// Connection was aborted by a RST (sent or received). Further ops
    /// return `ConnectionReset`; distinguishes the error from a clean
    /// `Closed` transition.
    pub reset: bool,
    /// Connection was aborted by retransmit exhaustion. Further ops
    /// return `TimedOut`, matching Linux's `ETIMEDOUT` from
    /// `tcp_retries2`. Distinct from `reset` because retx exhaustion
    /// doesn't send a RST (it can't — the fabric is dropping our
    /// traffic), it just fails locally.
    pub timed_out: bool,
    /// Retransmissions (or SYN retransmissions) for the current unacked
    /// window. Reset on any ACK that advances `snd_una`. When it hits
    /// the configured retries the connection fails with `TimedOut`.
    pub retx_attempts: u32,
    // httpsim patch: time-based retransmission state (RFC 6298 with Linux's bounds).
    /// Highest sequence number sent so far; segments below it are
    /// retransmissions and are never timed (Karn).
    pub snd_max: u32,
    /// Current retransmission timeout, backed off ×2 per retransmission.
    pub rto: Duration,
    /// Smoothed round-trip time, once a sample exists.
    pub srtt: Option<Duration>,
    /// Round-trip time variation.
    pub rttvar: Duration,
    /// The one segment being timed: (sequence number that acknowledges
    /// it, when it was sent).
    pub rtt_probe: Option<(u32, Instant)>,
    /// When this socket's single timer fires (mirrors the kernel's
    /// timer set); what it does is in `timer_kind`.
    pub timer: Option<Instant>,
    pub timer_kind: TimerKind,
    /// Zero-window probes sent without the window reopening.
    pub probes_out: u32,
    /// Window we last advertised, to decide when a read is worth a
    /// window update.
    pub rcv_wnd_adv: u16,
    /// An ACK (or window update) is owed to the peer; the socket's next
    /// egress pass sends it, riding on a data segment or FIN if that
    /// pass sends one, else as one pure ACK for every segment received
    /// since the last pass.
    // httpsim patch: one ACK per burst (Linux's GRO + delayed ACK, at
    // the granularity of one simulated instant).
    pub ack_pending: bool,
}

/// What a socket's armed timer does when it fires.
// httpsim patch: one timer per socket, kind decides retransmit vs persist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// SYN / SYN-ACK / data retransmission.
    Retransmit,
    /// Zero-window probe.
    Persist,
    /// Orphaned `FinWait2` lifetime (Linux's `tcp_fin_timeout`).
    FinWait2,
}

impl Tcb {
    /// A fresh control block; `isn` is our initial sequence number.
    // httpsim patch: one constructor for the client and server paths.
    pub fn new(state: TcpState, peer: SocketAddr, isn: u32, snd_wnd: u16, rcv_nxt: u32) -> Self {
        Self {
            state,
            peer,
            snd_nxt: isn.wrapping_add(1),
            snd_una: isn.wrapping_add(1),
            snd_wnd,
            rcv_nxt,
            send_buf: ChunkQueue::new(),
            recv_buf: ChunkQueue::new(),
            wr_closed: false,
            peer_fin: false,
            fin_seq: None,
            reset: false,
            timed_out: false,
            retx_attempts: 0,
            snd_max: isn.wrapping_add(1),
            rto: crate::kernel::TCP_TIMEOUT_INIT,
            srtt: None,
            rttvar: Duration::ZERO,
            rtt_probe: None,
            timer: None,
            timer_kind: TimerKind::Retransmit,
            probes_out: 0,
            rcv_wnd_adv: 0,
            ack_pending: false,
        }
    }
}

/// Listener state. Attached to a socket by `listen(2)`.
#[derive(Debug)]
pub struct ListenState {
    /// Configured backlog. Real Linux clamps to `somaxconn`; we don't.
    pub backlog: usize,
    /// Fully-established connections waiting to be `accept`-ed. Each
    /// entry is the server-side Fd of a finished handshake.
    pub ready: VecDeque<Fd>,
    /// Tasks parked in `poll_accept`.
    pub accept_wakers: Vec<Waker>,
    /// Children still handshaking (`SynReceived`), charged against the
    /// backlog. httpsim patch: a counter instead of a scan over every
    /// connection per SYN.
    pub half_open: usize,
}

impl ListenState {
    pub fn new(backlog: usize) -> Self {
        Self {
            backlog,
            ready: VecDeque::new(),
            accept_wakers: Vec::new(),
            half_open: 0,
        }
    }
}

/// Kernel-internal per-socket state. Tracks creation parameters, the
/// bound local address (if any), reuse-option state, the default peer
/// (for connected sockets), and the inbound datagram queue for
/// SOCK_DGRAM.
#[derive(Debug)]
pub struct Socket {
    pub domain: Domain,
    pub ty: Type,
    pub bound: Option<BindKey>,
    /// Default peer set by `connect(2)`. For UDP, filters inbound to
    /// datagrams from this peer and lets `send`/`recv` be used without
    /// `_to`/`_from`. For TCP this is the connected remote endpoint.
    pub peer: Option<Addr>,
    pub broadcast: bool,
    /// `IP_TTL` — stored only; not applied to simulated packets yet.
    pub ttl: u8,
    /// `TCP_NODELAY` — stored only. We don't model Nagle at all, so
    /// reading it back round-trips whatever the app set. See the
    /// `TcpNoDelay` variant on [`SocketOption`] for the TODO.
    pub tcp_nodelay: bool,
    /// Datagrams queued for this socket, in arrival order. Only UDP
    /// populates this today. Bounded by `SO_RCVBUF` later.
    pub recv_queue: VecDeque<(Addr, Bytes)>,
    /// Tasks waiting on this socket becoming readable — TCP bytes in
    /// `recv_buf`, UDP datagram in `recv_queue`, FIN for EOF, or RST
    /// for ConnectionReset. `Vec` because both `&TcpStream` and
    /// `&UdpSocket` permit concurrent pollers. Dedup'd on insert via
    /// `Waker::will_wake`; drained wholesale on every event, so a
    /// normal workload holds at most one entry per live reader.
    pub read_wakers: Vec<Waker>,
    /// Tasks waiting on this socket becoming writable — TCP send_buf
    /// draining below cap after an ACK. UDP sends never park, so this
    /// stays empty for Dgram sockets. Same dedup/drain semantics as
    /// `read_wakers`.
    pub write_wakers: Vec<Waker>,
    /// TCP control block — populated on connect (client) or accept
    /// (server) once a socket is paired with a peer.
    pub tcb: Option<Tcb>,
    /// Listener state — populated by `listen(2)`.
    pub listen: Option<ListenState>,
    /// Waker for a `connect` parked in `SynSent` waiting for SYN-ACK.
    /// Single-slot: connect is not callable on `&self`, so only one
    /// task ever parks here.
    pub connect_waker: Option<Waker>,
    /// The shim dropped its `Fd` handle, but the kernel is still
    /// draining queued bytes / FIN / waiting for a final ACK. The
    /// socket is reaped from the table once TCP reaches a terminal
    /// state. Behaves like Linux's `close(2)` — returns immediately
    /// but the kernel keeps running the state machine.
    pub fd_closed: bool,
}

impl Socket {
    pub fn new(domain: Domain, ty: Type) -> Self {
        Self {
            domain,
            ty,
            bound: None,
            peer: None,
            broadcast: false,
            ttl: 64,
            tcp_nodelay: false,
            recv_queue: VecDeque::new(),
            read_wakers: Vec::new(),
            write_wakers: Vec::new(),
            tcb: None,
            listen: None,
            connect_waker: None,
            fd_closed: false,
        }
    }

    /// Register `waker` as interested in read-side readiness, dedup'd
    /// against existing entries via `will_wake`.
    pub fn register_read_waker(&mut self, waker: &Waker) {
        register(&mut self.read_wakers, waker);
    }

    /// Register `waker` as interested in write-side readiness, dedup'd
    /// against existing entries via `will_wake`.
    pub fn register_write_waker(&mut self, waker: &Waker) {
        register(&mut self.write_wakers, waker);
    }

    /// Wake every task currently parked on read-side readiness.
    pub fn wake_read(&mut self) {
        wake_all(&mut self.read_wakers);
    }

    /// Wake every task currently parked on write-side readiness.
    pub fn wake_write(&mut self) {
        wake_all(&mut self.write_wakers);
    }
}

fn register(slot: &mut Vec<Waker>, waker: &Waker) {
    if slot.iter().any(|w| w.will_wake(waker)) {
        return;
    }
    slot.push(waker.clone());
}

fn wake_all(slot: &mut Vec<Waker>) {
    for w in slot.drain(..) {
        w.wake();
    }
}

/// Binding key. Matches the granularity real kernels index on:
/// transport protocol, local address, local port. With `SO_REUSEPORT`,
/// multiple sockets can share one key — the table value is a list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BindKey {
    pub domain: Domain,
    pub ty: Type,
    pub local_addr: IpAddr,
    pub local_port: u16,
}

/// Per-host socket table.
///
/// httpsim patch: every operation is O(log n) or O(sockets on one
/// port) — `sockets` is found by fd number in O(1) (`Slots`: fds grow
/// monotonically, so its order is insertion order, as upstream's
/// `IndexMap` had), removal
/// finds its index entries through reverse maps instead of `retain`
/// over every binding and connection, and ports in use are indexed.
#[derive(Debug)]
pub struct SocketTable {
    next_id: u64,
    // httpsim patch: slots by fd number (`kernel/slots.rs`), not a tree.
    sockets: Slots<Socket>,
    /// Reverse index for inbound demux: bound tuple → sockets. List
    /// (not single `Fd`) because `SO_REUSEPORT` permits multiple
    /// sockets to share the exact same tuple.
    bindings: IndexMap<BindKey, Vec<Fd>, FxBuild>,
    /// 4-tuple index for TCP inbound demux: (local, remote) → fd.
    /// Populated by `poll_connect` and `accept_syn`, cleared on
    /// socket removal. Never contains wildcard locals — client
    /// sockets auto-bind concretely, and listener children inherit
    /// the concrete accepted local address.
    connections: IndexMap<(SocketAddr, SocketAddr), Fd, FxBuild>,
    ports: PortAllocator,
    /// Reverse of `bindings`: the keys each fd is bound under.
    bound_keys: HashMap<Fd, Vec<BindKey>, FxBuild>,
    /// Reverse of `connections`.
    conn_of: HashMap<Fd, (SocketAddr, SocketAddr), FxBuild>,
    /// Bound keys per (domain, type, port), for conflict checks and
    /// ephemeral allocation without scanning every binding.
    port_keys: HashMap<(Domain, Type, u16), Vec<BindKey>, FxBuild>,
    /// Listening sockets per bound key, in listen order. Accepted
    /// children share the listener's key, so looking the listener up
    /// among `bindings` would scan every child.
    listeners: HashMap<BindKey, Vec<Fd>, FxBuild>,
}

impl SocketTable {
    pub fn new() -> Self {
        Self::with_ports(DEFAULT_EPHEMERAL_PORTS)
    }

    /// A table whose ephemeral ports come from `ports`
    /// (httpsim patch: `ip_local_port_range` is configurable).
    pub fn with_ports(ports: RangeInclusive<u16>) -> Self {
        Self {
            next_id: 1,
            sockets: Slots::new(1),
            // httpsim patch: the Fx hasher (`crate::fxhash`).
            bindings: IndexMap::default(),
            connections: IndexMap::default(),
            ports: PortAllocator::new(ports),
            bound_keys: HashMap::default(),
            conn_of: HashMap::default(),
            port_keys: HashMap::default(),
            listeners: HashMap::default(),
        }
    }

    pub fn insert(&mut self, socket: Socket) -> Fd {
        let fd = Fd(self.next_id);
        self.next_id += 1;
        self.sockets.insert(fd.0, socket);
        fd
    }

    pub fn get(&self, fd: Fd) -> Option<&Socket> {
        self.sockets.get(fd.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = (Fd, &Socket)> {
        self.sockets.iter().map(|(fd, s)| (Fd(fd), s))
    }

    pub fn get_mut(&mut self, fd: Fd) -> Option<&mut Socket> {
        self.sockets.get_mut(fd.0)
    }

    /// Remove a socket from the table, also clearing any binding or
    /// 4-tuple connection entry that points at it.
    pub fn remove(&mut self, fd: Fd) -> Option<Socket> {
        if let Some(key) = self
            .sockets
            .get(fd.0)
            .filter(|s| s.listen.is_some())
            .and_then(|s| s.bound.clone())
        {
            if let Some(fds) = self.listeners.get_mut(&key) {
                fds.retain(|&f| f != fd);
                if fds.is_empty() {
                    self.listeners.remove(&key);
                }
            }
        }
        for key in self.bound_keys.remove(&fd).unwrap_or_default() {
            let Some(fds) = self.bindings.get_mut(&key) else {
                continue;
            };
            fds.retain(|&f| f != fd);
            if fds.is_empty() {
                // Order of `bindings` is never observable: lookups are
                // by key, scans go through `port_keys`.
                self.bindings.swap_remove(&key);
                let pk = (key.domain, key.ty, key.local_port);
                if let Some(keys) = self.port_keys.get_mut(&pk) {
                    keys.retain(|k| *k != key);
                    if keys.is_empty() {
                        self.port_keys.remove(&pk);
                    }
                }
            }
        }
        if let Some(conn) = self.conn_of.remove(&fd) {
            if self.connections.get(&conn) == Some(&fd) {
                self.connections.swap_remove(&conn);
            }
        }
        self.sockets.remove(fd.0)
    }

    /// All sockets bound to `key`, in bind order.
    pub fn find_by_bind(&self, key: &BindKey) -> &[Fd] {
        self.bindings
            .get(key)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Record that `fd`, bound at `key`, now listens.
    pub fn insert_listener(&mut self, key: BindKey, fd: Fd) {
        let fds = self.listeners.entry(key).or_default();
        if !fds.contains(&fd) {
            fds.push(fd);
        }
    }

    /// Listening sockets bound at exactly `key`, in listen order.
    pub fn find_listeners(&self, key: &BindKey) -> &[Fd] {
        self.listeners
            .get(key)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    pub fn insert_binding(&mut self, key: BindKey, fd: Fd) {
        let fds = self.bindings.entry(key.clone()).or_default();
        if fds.is_empty() {
            self.port_keys
                .entry((key.domain, key.ty, key.local_port))
                .or_default()
                .push(key.clone());
        }
        fds.push(fd);
        self.bound_keys.entry(fd).or_default().push(key);
    }

    /// Index a TCP connection by 4-tuple. Panics if `local` is
    /// unspecified — the index invariant requires concrete addrs.
    pub fn insert_connection(&mut self, local: SocketAddr, remote: SocketAddr, fd: Fd) {
        assert!(
            !local.ip().is_unspecified(),
            "connection index requires concrete local addr"
        );
        self.connections.insert((local, remote), fd);
        self.conn_of.insert(fd, (local, remote));
    }

    /// Drop `fd`'s 4-tuple from the demux index (the socket stays in
    /// the table): a closed or reset connection's tuple can be reused
    /// by a new one, as Linux unhashes it.
    // httpsim patch: 4-tuple reuse after close/reset.
    pub fn unhash_connection(&mut self, fd: Fd) {
        if let Some(conn) = self.conn_of.remove(&fd) {
            if self.connections.get(&conn) == Some(&fd) {
                self.connections.swap_remove(&conn);
            }
        }
    }

    /// Look up a connected socket by its 4-tuple.
    pub fn find_connection(&self, local: SocketAddr, remote: SocketAddr) -> Option<Fd> {
        self.connections.get(&(local, remote)).copied()
    }

    /// Iterate all bindings on `(domain, ty, port)` regardless of local
    /// address. Used to evaluate wildcard↔specific conflicts at bind
    /// time.
    pub fn bindings_on_port(
        &self,
        domain: Domain,
        ty: Type,
        port: u16,
    ) -> impl Iterator<Item = (&BindKey, &[Fd])> {
        self.port_keys
            .get(&(domain, ty, port))
            .into_iter()
            .flatten()
            .filter_map(|k| self.bindings.get_key_value(k))
            .map(|(k, v)| (k, v.as_slice()))
    }

    /// Allocate an ephemeral port with no existing binding on
    /// `(domain, ty, port)` at any local address. Matches Linux's
    /// `inet_csk_get_port` for `:0` — it searches globally and skips
    /// any port already in use, without considering `SO_REUSE*`.
    pub fn allocate_port(&mut self, domain: Domain, ty: Type) -> Option<u16> {
        let port_keys = &self.port_keys;
        self.ports
            .allocate(|p| port_keys.contains_key(&(domain, ty, p)))
    }
}

impl Default for SocketTable {
    fn default() -> Self {
        Self::new()
    }
}

/// Ephemeral port allocator. Linear scan with a rotating cursor.
#[derive(Debug)]
pub struct PortAllocator {
    range: RangeInclusive<u16>,
    cursor: u16,
}

impl PortAllocator {
    pub fn new(range: RangeInclusive<u16>) -> Self {
        let cursor = *range.start();
        Self { range, cursor }
    }

    /// Allocate the next free port, given a predicate that returns
    /// `true` when a port is already in use. Returns `None` if the
    /// range is exhausted.
    pub fn allocate(&mut self, mut in_use: impl FnMut(u16) -> bool) -> Option<u16> {
        let start = self.cursor;
        loop {
            let p = self.cursor;
            self.cursor = if p == *self.range.end() {
                *self.range.start()
            } else {
                p + 1
            };
            if !in_use(p) {
                return Some(p);
            }
            if self.cursor == start {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_allocator_skips_in_use() {
        let mut a = PortAllocator::new(10..=12);
        let used = [10u16];
        assert_eq!(a.allocate(|p| used.contains(&p)), Some(11));
        assert_eq!(a.allocate(|p| used.contains(&p)), Some(12));
    }

    #[test]
    fn port_allocator_exhausts() {
        let mut a = PortAllocator::new(10..=11);
        let used = [10u16, 11];
        assert_eq!(a.allocate(|p| used.contains(&p)), None);
    }

    #[test]
    fn fds_are_unique() {
        let mut t = SocketTable::new();
        let a = t.insert(Socket::new(Domain::Inet, Type::Dgram));
        let b = t.insert(Socket::new(Domain::Inet, Type::Dgram));
        assert_ne!(a, b);
    }

    #[test]
    fn multiple_bindings_on_same_key() {
        let mut t = SocketTable::new();
        let a = t.insert(Socket::new(Domain::Inet, Type::Dgram));
        let b = t.insert(Socket::new(Domain::Inet, Type::Dgram));
        let key = BindKey {
            domain: Domain::Inet,
            ty: Type::Dgram,
            local_addr: "10.0.0.1".parse().unwrap(),
            local_port: 5000,
        };
        t.insert_binding(key.clone(), a);
        t.insert_binding(key.clone(), b);
        assert_eq!(t.find_by_bind(&key), &[a, b]);
    }
}
