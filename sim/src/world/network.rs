//! The wire between hosts: what happens to every packet a simulated kernel sends.
//!
//! turmoil-net's kernels are clock-free; they hand their outbound packets to the harness. Here
//! each packet meets the network's state in a fixed order — a vanished host, a partition, a
//! hold, a broken link, random loss — and, if it survives, is delivered after its link's latency
//! on tokio's clock. Delivery is FIFO per direction of a link (a packet never overtakes an
//! earlier one on the same link), so only loss reorders a stream, as on a real path; TCP then
//! retransmits. Packets that leave one host for another at the same instant (the segments of
//! one write) share one latency draw. Every random draw comes from the run's seed, in packet
//! order.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::net::IpAddr;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use turmoil_net::{EnterGuard, Packet, TcpFlags, TcpSegment, Transport};

/// A directed link: `(from, to)` host indexes.
type Link = (usize, usize);

/// The network's state and the packets in flight.
pub(crate) struct Network {
    rng: SmallRng,
    /// Host index by address.
    ips: BTreeMap<IpAddr, usize>,
    min_latency: Duration,
    max_latency: Duration,
    /// Latency resolution: draws are rounded up to a whole number of these.
    tick: Duration,
    /// Fixed latencies set by a fault, per undirected link `(low, high)`.
    link_latency: BTreeMap<Link, Duration>,
    /// Directed links that drop everything.
    partitions: BTreeSet<Link>,
    /// Undirected links whose packets wait for a release.
    holds: BTreeSet<Link>,
    held: Vec<(Link, Packet)>,
    fail_rate: f64,
    repair_rate: f64,
    link_fail_rate: BTreeMap<Link, f64>,
    /// Undirected links currently broken by `fail_rate`.
    broken: BTreeSet<Link>,
    /// Probability that any one packet is lost.
    loss: f64,
    /// Hosts that vanished (crash without FIN): nothing reaches them or leaves them.
    dead: BTreeSet<usize>,
    /// A dropped SYN is answered with a reset (`ConnectMode::Refuse`).
    refuse_dropped_syn: bool,
    /// When the last packet on each directed link is due: later packets never overtake it.
    last_due: BTreeMap<Link, u64>,
    /// The latency drawn for each directed link at the instant it was drawn: packets that leave
    /// together (the segments of one write) travel together, as a burst does on a real path
    /// where jitter comes from queues, not from each packet.
    burst: BTreeMap<Link, (u64, Duration)>,
    /// Packets in flight, the earliest `(due µs, sequence)` first (a handful at a time: a heap
    /// on a `Vec` costs a fraction of a tree's insert and removal per packet).
    pending: BinaryHeap<InFlight>,
    next_seq: u64,
    egress: Vec<Packet>,
    /// Packets lost so far (loss, partitions, broken links, dead hosts).
    pub(crate) dropped: u64,
}

/// Settings the network starts with.
pub(crate) struct NetworkConfig {
    pub(crate) seed: u64,
    pub(crate) min_latency: Duration,
    pub(crate) max_latency: Duration,
    pub(crate) tick: Duration,
    pub(crate) fail_rate: f64,
    pub(crate) repair_rate: f64,
    pub(crate) loss: f64,
    pub(crate) refuse_dropped_syn: bool,
}

fn undirected(a: usize, b: usize) -> Link {
    (a.min(b), a.max(b))
}

impl Network {
    pub(crate) fn new(c: NetworkConfig) -> Self {
        Self {
            // Offset so the network's stream differs from per-connection fault draws.
            rng: SmallRng::seed_from_u64(c.seed ^ 0x6e65_7477_6f72_6b00),
            ips: BTreeMap::new(),
            min_latency: c.min_latency,
            max_latency: c.max_latency.max(c.min_latency),
            tick: c.tick.max(Duration::from_micros(1)),
            link_latency: BTreeMap::new(),
            partitions: BTreeSet::new(),
            holds: BTreeSet::new(),
            held: Vec::new(),
            fail_rate: c.fail_rate,
            repair_rate: c.repair_rate,
            link_fail_rate: BTreeMap::new(),
            broken: BTreeSet::new(),
            loss: c.loss,
            dead: BTreeSet::new(),
            refuse_dropped_syn: c.refuse_dropped_syn,
            last_due: BTreeMap::new(),
            burst: BTreeMap::new(),
            pending: BinaryHeap::new(),
            next_seq: 0,
            egress: Vec::with_capacity(64),
            dropped: 0,
        }
    }

    /// Registers host `index` at `ip`.
    pub(crate) fn add_host(&mut self, index: usize, ip: IpAddr) {
        self.ips.insert(ip, index);
    }

    pub(crate) fn partition(&mut self, a: usize, b: usize, oneway: bool) {
        self.partitions.insert((a, b));
        if !oneway {
            self.partitions.insert((b, a));
        }
    }

    pub(crate) fn repair(&mut self, a: usize, b: usize, oneway: bool) {
        self.partitions.remove(&(a, b));
        if !oneway {
            self.partitions.remove(&(b, a));
        }
    }

    pub(crate) fn hold(&mut self, a: usize, b: usize) {
        self.holds.insert(undirected(a, b));
    }

    /// Releases held packets: each leaves now, in the order it was sent.
    pub(crate) fn release(&mut self, a: usize, b: usize, now_us: u64) {
        let link = undirected(a, b);
        self.holds.remove(&link);
        let (go, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|(l, _)| undirected(l.0, l.1) == link);
        self.held = keep;
        for (l, pkt) in go {
            self.schedule(l, pkt, now_us);
        }
    }

    pub(crate) fn set_latency(&mut self, a: usize, b: usize, latency: Duration) {
        self.link_latency.insert(undirected(a, b), latency);
    }

    pub(crate) fn set_fail_rate(&mut self, a: usize, b: usize, rate: f64) {
        self.link_fail_rate.insert(undirected(a, b), rate);
    }

    /// A host vanishes (`true`) or comes back (`false`).
    pub(crate) fn set_dead(&mut self, host: usize, dead: bool) {
        if dead {
            self.dead.insert(host);
        } else {
            self.dead.remove(&host);
        }
    }

    /// When the next packet in flight is due (µs).
    pub(crate) fn next_due(&self) -> Option<u64> {
        self.pending.peek().map(|p| p.due)
    }

    /// Delivers every packet due at or before `now_us`; how many.
    pub(crate) fn deliver_due(&mut self, guard: &EnterGuard, now_us: u64) -> usize {
        let mut n = 0;
        while self.pending.peek().is_some_and(|p| p.due <= now_us) {
            let Some(p) = self.pending.pop() else { break };
            guard.deliver(p.pkt);
            n += 1;
        }
        n
    }

    /// Takes every packet the kernels queued and sends each on its way; how many.
    pub(crate) fn egress(&mut self, guard: &EnterGuard, now_us: u64) -> usize {
        let mut out = std::mem::take(&mut self.egress);
        guard.egress_all(&mut out);
        let n = out.len();
        for pkt in out.drain(..) {
            self.route(guard, pkt, now_us);
        }
        self.egress = out;
        n
    }

    fn route(&mut self, guard: &EnterGuard, pkt: Packet, now_us: u64) {
        let (Some(&from), Some(&to)) = (self.ips.get(&pkt.src), self.ips.get(&pkt.dst)) else {
            // Not a simulated host: nothing answers, as for an unroutable address.
            self.dropped += 1;
            return;
        };
        let link = (from, to);
        if self.dead.contains(&from) || self.dead.contains(&to) {
            self.dropped += 1;
            return;
        }
        if self.partitions.contains(&link) || self.link_broken(link) {
            self.dropped += 1;
            self.maybe_refuse(guard, &pkt);
            return;
        }
        if self.holds.contains(&undirected(from, to)) {
            self.held.push((link, pkt));
            return;
        }
        if self.loss > 0.0 && self.rng.gen_bool(self.loss.min(1.0)) {
            self.dropped += 1;
            return;
        }
        self.schedule(link, pkt, now_us);
    }

    /// turmoil's link failure model: a working link breaks with `fail_rate` per packet, a
    /// broken one heals with `repair_rate`.
    fn link_broken(&mut self, link: Link) -> bool {
        let key = undirected(link.0, link.1);
        let fail = self
            .link_fail_rate
            .get(&key)
            .copied()
            .unwrap_or(self.fail_rate);
        if self.broken.contains(&key) {
            if self.rng.gen_bool(self.repair_rate.clamp(0.0, 1.0)) {
                self.broken.remove(&key);
                return false;
            }
            return true;
        }
        if fail > 0.0 && self.rng.gen_bool(fail.min(1.0)) {
            self.broken.insert(key);
            return true;
        }
        false
    }

    /// With `ConnectMode::Refuse`, a dropped SYN comes back as a reset at once.
    fn maybe_refuse(&mut self, guard: &EnterGuard, pkt: &Packet) {
        if !self.refuse_dropped_syn {
            return;
        }
        let Transport::Tcp(s) = &pkt.payload else {
            return;
        };
        if !s.flags.syn || s.flags.ack {
            return;
        }
        guard.deliver(Packet {
            src: pkt.dst,
            dst: pkt.src,
            ttl: pkt.ttl,
            payload: Transport::Tcp(TcpSegment {
                src_port: s.dst_port,
                dst_port: s.src_port,
                seq: 0,
                ack: s.seq.wrapping_add(1),
                flags: TcpFlags {
                    rst: true,
                    ack: true,
                    ..TcpFlags::default()
                },
                window: 0,
                payload: bytes::Bytes::new(),
            }),
        });
    }

    fn latency(&mut self, link: Link, now_us: u64) -> Duration {
        if let Some(l) = self.link_latency.get(&undirected(link.0, link.1)) {
            return *l;
        }
        if let Some((at, l)) = self.burst.get(&link) {
            if *at == now_us {
                return *l;
            }
        }
        let l = self.draw_latency();
        self.burst.insert(link, (now_us, l));
        l
    }

    fn draw_latency(&mut self) -> Duration {
        let (lo, hi) = (self.min_latency, self.max_latency);
        let d = if hi > lo {
            let us = self
                .rng
                .gen_range(lo.as_micros() as u64..=hi.as_micros() as u64);
            Duration::from_micros(us)
        } else {
            lo
        };
        // Rounded up to the latency resolution (the scenario's `tick`).
        let tick = self.tick.as_micros() as u64;
        Duration::from_micros((d.as_micros() as u64).div_ceil(tick) * tick)
    }

    fn schedule(&mut self, link: Link, pkt: Packet, now_us: u64) {
        let lat = self.latency(link, now_us).as_micros() as u64;
        let last = self.last_due.entry(link).or_insert(0);
        let due = (now_us + lat).max(*last);
        *last = due;
        self.next_seq += 1;
        self.pending.push(InFlight {
            due,
            seq: self.next_seq,
            pkt,
        });
    }
}

/// A packet in flight: due at `due` µs, sent `seq`-th.
struct InFlight {
    due: u64,
    seq: u64,
    pkt: Packet,
}

impl InFlight {
    fn key(&self) -> (u64, u64) {
        (self.due, self.seq)
    }
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for InFlight {}

impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Reversed, so that `BinaryHeap` (a max-heap) yields the earliest `(due, seq)` first: the
/// order the packets were delivered in before, every key being distinct.
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}
