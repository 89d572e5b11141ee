//! Settings of a simulated world: [`WorldBuilder`].

use std::time::Duration;

use super::network::NetworkConfig;
use super::World;
use crate::net::{ConnFault, ConnectMode, NetConfig};

/// Settings of a simulated world. Every setter documents its default.
#[derive(Clone, Debug)]
pub struct WorldBuilder {
    pub(super) seed: u64,
    pub(super) tick: Duration,
    pub(super) duration: Duration,
    pub(super) min_latency: Duration,
    pub(super) max_latency: Duration,
    pub(super) fail_rate: f64,
    pub(super) repair_rate: f64,
    pub(super) loss: f64,
    pub(super) tcp_capacity: usize,
    pub(super) recv_buffer: usize,
    pub(super) kernel_send_buffer: usize,
    pub(super) kernel_recv_buffer: usize,
    pub(super) tcp_retries2: u32,
    pub(super) conn_faults: Vec<ConnFault>,
    pub(super) connect_mode: ConnectMode,
    pub(super) ephemeral_ports: std::ops::RangeInclusive<u16>,
}

impl Default for WorldBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl WorldBuilder {
    /// A builder with the defaults below.
    pub fn new() -> Self {
        Self {
            seed: 1,
            tick: Duration::from_millis(1),
            duration: Duration::from_secs(60),
            min_latency: Duration::from_millis(1),
            max_latency: Duration::from_millis(1),
            fail_rate: 0.0,
            repair_rate: 1.0,
            loss: 0.0,
            tcp_capacity: 1 << 16,
            recv_buffer: 256 * 1024,
            kernel_send_buffer: 64 * 1024,
            kernel_recv_buffer: 64 * 1024,
            tcp_retries2: 15,
            conn_faults: Vec::new(),
            connect_mode: ConnectMode::default(),
            ephemeral_ports: 49152..=65535,
        }
    }

    /// The seed of every random choice in the run (latencies, loss, link failures, faults). The
    /// default is 1.
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.seed = seed;
        self
    }

    /// The seed set by [`WorldBuilder::seed`].
    pub fn seed_value(&self) -> u64 {
        self.seed
    }

    /// The latency resolution: every one-way latency drawn is rounded up to a whole number of
    /// ticks. There is no fixed simulation step any more (the engine jumps from event to event);
    /// tokio's timers fire on whole milliseconds, so a tick below 1 ms is rounded up to 1 ms in
    /// practice. The default is 1 ms.
    pub fn tick(&mut self, tick: Duration) -> &mut Self {
        self.tick = tick;
        self
    }

    /// The simulated time limit; reaching it with work pending ends the run as a stall. The
    /// default is 60 s.
    pub fn duration(&mut self, duration: Duration) -> &mut Self {
        self.duration = duration;
        self
    }

    /// One-way packet latency, drawn per packet between `min` and `max` (uniformly, from the
    /// seed). Packets on one direction of a link never overtake each other. The default is
    /// 1 ms both ways.
    pub fn latency(&mut self, min: Duration, max: Duration) -> &mut Self {
        self.min_latency = min;
        self.max_latency = max;
        self
    }

    /// Probability per packet that a working link breaks (it then drops every packet until it
    /// heals, see [`repair_rate`](Self::repair_rate)). The default is 0.
    pub fn fail_rate(&mut self, rate: f64) -> &mut Self {
        self.fail_rate = rate;
        self
    }

    /// Probability per packet that a broken link heals. The default is 1.
    pub fn repair_rate(&mut self, rate: f64) -> &mut Self {
        self.repair_rate = rate;
        self
    }

    /// Probability that any one packet is lost; TCP recovers it by retransmission (unlike
    /// [`fail_rate`](Self::fail_rate), which breaks the link). The default is 0.
    pub fn loss(&mut self, rate: f64) -> &mut Self {
        self.loss = rate;
        self
    }

    /// The simulated kernel's listen backlog (completed and half-open handshakes waiting for
    /// `accept`); a SYN beyond it is dropped and retransmitted, as Linux does. httpsim's
    /// listener models the application-visible backlog on top (`[server] backlog`). The
    /// default, 65536, keeps bursts of tens of thousands of connects inside httpsim's model.
    pub fn tcp_capacity(&mut self, n: usize) -> &mut Self {
        self.tcp_capacity = n;
        self
    }

    /// Bytes each socket takes from the kernel before the application reads them (httpsim's
    /// receive pump, which notices a FIN or RST even when nobody reads). Beyond it the kernel's
    /// own receive buffer fills, the advertised window closes and the peer's writes block. The
    /// default is 256 KiB.
    pub fn recv_buffer(&mut self, bytes: usize) -> &mut Self {
        self.recv_buffer = bytes;
        self
    }

    /// The simulated kernel's send and receive buffer sizes per socket, in bytes. A write blocks
    /// once the send buffer is full and the peer's window is closed. The defaults are 64 KiB
    /// each (the window is not scaled, so 64 KiB is also the most in flight per connection).
    pub fn tcp_buffers(&mut self, send: usize, recv: usize) -> &mut Self {
        self.kernel_send_buffer = send;
        self.kernel_recv_buffer = recv;
        self
    }

    /// Retransmissions of unacknowledged data before a connection gives up with `ETIMEDOUT`
    /// (Linux's `tcp_retries2`; the timeout starts at 200 ms and doubles, up to 120 s). The
    /// default is 15, Linux's (about 15 minutes).
    pub fn tcp_retries2(&mut self, n: u32) -> &mut Self {
        self.tcp_retries2 = n;
        self
    }

    /// Adds a per-connection fault (see [`crate::net::conn_fault`]); each connection draws
    /// whether it applies from the run seed. The default is none.
    pub fn conn_fault(&mut self, fault: ConnFault) -> &mut Self {
        self.conn_faults.push(fault);
        self
    }

    /// What a connect does when the network drops its SYN. The default is
    /// [`ConnectMode::DropSyn`]: retransmit and time out after 127 s, as a real network does.
    pub fn connect_mode(&mut self, mode: ConnectMode) -> &mut Self {
        self.connect_mode = mode;
        self
    }

    /// The ephemeral ports each host's outgoing connections take. A connect that finds none
    /// free fails with `AddrNotAvailable`. The default is 49152..=65535 (Linux's IANA range).
    pub fn ephemeral_ports(&mut self, range: std::ops::RangeInclusive<u16>) -> &mut Self {
        self.ephemeral_ports = range;
        self
    }

    /// The latency resolution set by [`WorldBuilder::tick`] (checks judge deadlines to within
    /// it).
    pub fn tick_len(&self) -> Duration {
        self.tick.max(Duration::from_millis(1))
    }

    /// The tick exactly as set (validation refuses a zero tick).
    pub(crate) fn tick_set(&self) -> Duration {
        self.tick
    }

    /// The simulated time limit set by [`WorldBuilder::duration`].
    pub(crate) fn duration_len(&self) -> Duration {
        self.duration
    }

    /// The latency bounds set by [`WorldBuilder::latency`].
    pub(crate) fn latency_bounds(&self) -> (Duration, Duration) {
        (self.min_latency, self.max_latency)
    }

    /// The fail and repair rates.
    pub(crate) fn rates(&self) -> (f64, f64) {
        (self.fail_rate, self.repair_rate)
    }

    /// The per-packet loss rate.
    pub(crate) fn loss_rate(&self) -> f64 {
        self.loss
    }

    /// The per-connection faults.
    pub(crate) fn conn_faults(&self) -> &[ConnFault] {
        &self.conn_faults
    }

    /// The ephemeral port range and the kernel's listen backlog (`tcp_capacity`).
    pub(crate) fn ports(&self) -> (&std::ops::RangeInclusive<u16>, usize) {
        (&self.ephemeral_ports, self.tcp_capacity)
    }

    /// Builds a world. May be called more than once; each world is independent.
    pub fn build(&self) -> World {
        World::new(self)
    }

    pub(crate) fn net_config(&self) -> NetConfig {
        NetConfig {
            recv_buffer: self.recv_buffer,
            seed: self.seed,
            conn_faults: self.conn_faults.clone(),
            ephemeral_ports: self.ephemeral_ports.clone().count(),
            real: false,
        }
    }

    pub(super) fn network_config(&self) -> NetworkConfig {
        NetworkConfig {
            seed: self.seed,
            min_latency: self.min_latency,
            max_latency: self.max_latency,
            tick: self.tick_len(),
            fail_rate: self.fail_rate,
            repair_rate: self.repair_rate,
            loss: self.loss,
            refuse_dropped_syn: self.connect_mode == ConnectMode::Refuse,
        }
    }

    /// Whether the network draws at random per packet (loss, link failures): then a write's
    /// segments must travel one MSS each, as the draws depend on how many packets there are.
    pub(super) fn per_packet_draws(&self) -> bool {
        self.loss > 0.0 || self.fail_rate > 0.0
    }

    pub(super) fn kernel_config(&self) -> turmoil_net::KernelConfig {
        let tso = if self.per_packet_draws() {
            0
        } else {
            TSO_BYTES
        };
        turmoil_net::KernelConfig::default()
            .tso_bytes(tso)
            .send_buf_cap(self.kernel_send_buffer)
            .recv_buf_cap(self.kernel_recv_buffer)
            .default_backlog(self.tcp_capacity)
            .tcp_retries2(self.tcp_retries2)
    }
}

/// Largest segment a kernel sends when no per-packet random draw can tell (TSO/GRO): 64 KiB, an
/// IP datagram's limit and the size of a full window, so a write crosses as one or two packets
/// instead of 45 of one MSS each. The bytes, the instants they arrive, the ACKs and the windows
/// are those of MSS-sized segments: every segment of one write leaves at the same instant with
/// one latency draw and is delivered before the receiver runs, so the receiver cannot tell.
pub(super) const TSO_BYTES: usize = 65535;
