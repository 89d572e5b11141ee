//! Building and running a turmoil simulation: the other door (with `net/`) to turmoil.
//!
//! [`WorldBuilder`] turns settings (seed, tick, duration, latency, link failure rates) into a
//! [`World`]: a turmoil `Sim` plus httpsim's network context ([`Net`]). Hosts are added with their
//! fd limits; scheduled [`NetAction`]s (partitions, holds, crashes, latency changes) are applied
//! between ticks at their simulated time. [`World::run`] steps the simulation and turns every way
//! it can end — clients done, duration reached, a turmoil limit hit (a panic inside turmoil), a
//! host error — into a [`RunEnd`] value; nothing panics out of it.
//!
//! Nothing outside `world` and `net` names a turmoil type.

mod quiet_panic;

use std::future::Future;
use std::time::Duration;

use crate::net::clock::Timers;
use crate::net::{ConnFault, ConnectMode, HostNet, Net, NetConfig};
use crate::trace::{Event, Trace};

/// Settings of a simulated world. Every setter documents its default.
#[derive(Clone, Debug)]
pub struct WorldBuilder {
    seed: u64,
    tick: Duration,
    duration: Duration,
    min_latency: Duration,
    max_latency: Duration,
    fail_rate: f64,
    repair_rate: f64,
    tcp_capacity: usize,
    recv_buffer: usize,
    conn_faults: Vec<ConnFault>,
    connect_mode: ConnectMode,
    ephemeral_ports: std::ops::RangeInclusive<u16>,
    fast_forward: Option<bool>,
    /// Fast-forward was turned on by httpsim itself, for its own components only.
    fast_forward_checked: bool,
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
            tcp_capacity: 1 << 16,
            recv_buffer: 256 * 1024,
            conn_faults: Vec::new(),
            connect_mode: ConnectMode::default(),
            ephemeral_ports: 49152..=65535,
            fast_forward: None,
            fast_forward_checked: false,
        }
    }

    /// Whether quiet periods (no host runnable, no message in flight) are skipped in one jump
    /// to one tick before the earliest timer instead of tick by tick. The trace is the same
    /// either way; only wall time differs. It relies on every timer in the simulation going
    /// through [`crate::net::clock`] (httpsim's components all do); a jump that skips a timer
    /// made otherwise (e.g. `tokio::time::sleep` in your own software) ends the run as a limit
    /// ("fast-forward skipped an unregistered timer") rather than producing a wrong trace.
    ///
    /// The default is off for a [`World`] you fill yourself (its software is yours), and for
    /// [`crate::Setup::run`] on unless [`crate::setup::Custom`] components are plugged in.
    pub fn fast_forward(&mut self, on: bool) -> &mut Self {
        self.fast_forward = Some(on);
        self
    }

    /// Sets fast-forward to `on` unless it was set explicitly; `on` is then known to be safe
    /// (every timer of the run goes through `net::clock`), which arms a debug assertion.
    pub(crate) fn fast_forward_default(&mut self, on: bool) -> &mut Self {
        if self.fast_forward.is_none() {
            self.fast_forward = Some(on);
            self.fast_forward_checked = on;
        }
        self
    }

    /// The seed of every random choice in the run (latencies, link failures). The default is 1.
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.seed = seed;
        self
    }

    /// The simulation step. The default is 1 ms.
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

    /// One-way message latency, drawn per message between `min` and `max`. The default is 1 ms
    /// both ways.
    pub fn latency(&mut self, min: Duration, max: Duration) -> &mut Self {
        self.min_latency = min;
        self.max_latency = max;
        self
    }

    /// Probability per message that a link breaks. The default is 0.
    pub fn fail_rate(&mut self, rate: f64) -> &mut Self {
        self.fail_rate = rate;
        self
    }

    /// Probability per message that a broken link heals. The default is 1.
    pub fn repair_rate(&mut self, rate: f64) -> &mut Self {
        self.repair_rate = rate;
        self
    }

    /// turmoil's per-socket segment capacity and listen-queue length. turmoil panics ("server
    /// socket buffer full") when more connects queue than this; httpsim counts unanswered SYNs
    /// per `host:port` and drops the SYN of a connect that would overflow it, as Linux does with
    /// a full accept queue (the connect retransmits, see [`ConnectMode`]). The default, 65536,
    /// keeps bursts of tens of thousands of connects safe while httpsim's listener models the
    /// real backlog.
    pub fn tcp_capacity(&mut self, n: usize) -> &mut Self {
        self.tcp_capacity = n;
        self
    }

    /// Bytes each socket's receive buffer takes from the network before it stops reading (the rest
    /// waits in turmoil's queues; senders are not blocked, see `net::stream`). The default
    /// is 256 KiB.
    pub fn recv_buffer(&mut self, bytes: usize) -> &mut Self {
        self.recv_buffer = bytes;
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
    /// free fails with `AddrNotAvailable` (turmoil itself would panic). The default is
    /// 49152..=65535, turmoil's and Linux's IANA range.
    pub fn ephemeral_ports(&mut self, range: std::ops::RangeInclusive<u16>) -> &mut Self {
        self.ephemeral_ports = range;
        self
    }

    /// Builds a world. May be called more than once; each world is independent.
    pub fn build(&self) -> World {
        let mut b = turmoil::Builder::new();
        b.rng_seed(self.seed)
            .tick_duration(self.tick)
            // httpsim enforces the duration itself, to report it instead of failing.
            .simulation_duration(Duration::from_secs(u64::MAX / 4))
            .min_message_latency(self.min_latency)
            .max_message_latency(self.max_latency)
            .fail_rate(self.fail_rate)
            .repair_rate(self.repair_rate)
            .tcp_capacity(self.tcp_capacity)
            .ephemeral_ports(self.ephemeral_ports.clone())
            // A fixed epoch: nothing in a run may depend on the wall clock.
            .epoch(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let trace = Trace::new();
        World {
            sim: b.build(),
            net: Net::new(
                trace,
                NetConfig {
                    recv_buffer: self.recv_buffer,
                    seed: self.seed,
                    conn_faults: self.conn_faults.clone(),
                    connect: self.connect_mode,
                    ephemeral_ports: self.ephemeral_ports.clone().count(),
                    listen_queue: self.tcp_capacity,
                },
            ),
            duration: self.duration,
            tick: self.tick,
            max_latency: self.max_latency,
            actions: Vec::new(),
            next_action: 0,
            fast_forward: self.fast_forward.unwrap_or(false),
            fast_forward_checked: self.fast_forward_checked,
            timers: Timers::default(),
            steps: 0,
        }
    }
}

/// A change to the network or a host, applied at a scheduled simulated time.
#[derive(Clone, Debug, PartialEq)]
pub enum NetAction {
    /// Drop messages between `a` and `b` (both ways unless `oneway`, then only `a` → `b`).
    Partition {
        /// One side.
        a: String,
        /// The other side.
        b: String,
        /// Only `a` → `b`.
        oneway: bool,
    },
    /// Undo a partition.
    Repair {
        /// One side.
        a: String,
        /// The other side.
        b: String,
        /// Only `a` → `b`.
        oneway: bool,
    },
    /// Hold messages between `a` and `b` (delivered on release).
    Hold {
        /// One side.
        a: String,
        /// The other side.
        b: String,
    },
    /// Release held messages.
    Release {
        /// One side.
        a: String,
        /// The other side.
        b: String,
    },
    /// Stop a host's software; its sockets close (turmoil sends FIN).
    Crash {
        /// The host.
        host: String,
    },
    /// Stop a host's software with no FIN or RST reaching its peers (power loss, a pulled
    /// cable): its sockets vanish, peers' reads wait until a timeout of theirs notices and
    /// their writes go nowhere. `[[fault]] kind = "crash", fin = false`.
    Vanish {
        /// The host.
        host: String,
    },
    /// Restart a host's software.
    Bounce {
        /// The host.
        host: String,
    },
    /// Set the latency of the link between `a` and `b` to a fixed value.
    Latency {
        /// One side.
        a: String,
        /// The other side.
        b: String,
        /// The new latency.
        latency: Duration,
    },
    /// Set the failure rate of the link between `a` and `b`.
    FailRate {
        /// One side.
        a: String,
        /// The other side.
        b: String,
        /// The new probability per message.
        rate: f64,
    },
}

impl std::fmt::Display for NetAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetAction::Partition { a, b, oneway } => {
                write!(
                    f,
                    "partition {a} {} {b}",
                    if *oneway { "->" } else { "<->" }
                )
            }
            NetAction::Repair { a, b, oneway } => {
                write!(f, "repair {a} {} {b}", if *oneway { "->" } else { "<->" })
            }
            NetAction::Hold { a, b } => write!(f, "hold {a} <-> {b}"),
            NetAction::Release { a, b } => write!(f, "release {a} <-> {b}"),
            NetAction::Crash { host } => write!(f, "crash {host}"),
            NetAction::Vanish { host } => write!(f, "crash {host} without fin"),
            NetAction::Bounce { host } => write!(f, "bounce {host}"),
            NetAction::Latency { a, b, latency } => {
                write!(f, "latency {a} <-> {b} = {}ms", latency.as_millis())
            }
            NetAction::FailRate { a, b, rate } => write!(f, "fail-rate {a} <-> {b} = {rate}"),
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// Every client finished.
    Completed,
    /// The simulated duration was reached with clients still running.
    DurationReached,
    /// turmoil hit one of its limits (its panic was caught); the message says which.
    Limit(String),
    /// A host's software returned an error.
    HostError(String),
}

/// A simulation ready to run: a turmoil `Sim` and httpsim's network context.
pub struct World {
    sim: turmoil::Sim<'static>,
    net: Net,
    duration: Duration,
    tick: Duration,
    /// The largest one-way latency so far (configured or set by an action).
    max_latency: Duration,
    actions: Vec<(Duration, NetAction)>,
    next_action: usize,
    /// Skip quiet periods (see [`WorldBuilder::fast_forward`]).
    fast_forward: bool,
    /// Fast-forward was chosen by httpsim for its own components: a missed timer is a bug.
    fast_forward_checked: bool,
    /// The deadlines of every live timer made through `net::clock`.
    timers: Timers,
    /// Ordinary turmoil steps taken (a jump counts none).
    steps: u64,
}

impl World {
    /// The network context (trace, fd tables).
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// The simulation step.
    pub fn tick(&self) -> Duration {
        self.tick
    }

    /// Adds a long-running host (a server). `software` is called again when the host is bounced.
    pub fn host<F, Fut>(
        &mut self,
        name: &str,
        fd_limit: Option<usize>,
        fd_in_use: usize,
        software: F,
    ) where
        F: Fn(HostNet) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let host = self.net.host(name, fd_limit, fd_in_use);
        self.sim.host(name, move || {
            let fut = software(host.clone());
            async move {
                fut.await;
                Ok(())
            }
        });
    }

    /// Adds a client host; the run ends when every client's future has finished.
    pub fn client<F, Fut>(
        &mut self,
        name: &str,
        fd_limit: Option<usize>,
        fd_in_use: usize,
        software: F,
    ) where
        F: FnOnce(HostNet) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        let host = self.net.host(name, fd_limit, fd_in_use);
        let fut = software(host);
        self.sim.client(name, async move {
            fut.await;
            Ok(())
        });
    }

    /// Schedules `action` at simulated time `at` (applied before the first tick at or after it).
    pub fn schedule(&mut self, at: Duration, action: NetAction) {
        self.actions.push((at, action));
        self.actions.sort_by_key(|(t, _)| *t);
    }

    /// Simulated time elapsed so far.
    pub fn elapsed(&self) -> Duration {
        self.sim.elapsed()
    }

    /// Ordinary simulation steps taken so far; a fast-forward jump over a quiet period counts
    /// none (so with fast-forward on this is far below elapsed / tick on an idle run).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Runs until every client has finished, the duration is reached, or a limit is hit. At
    /// the end, every connection with data (or a FIN) that was sent and never arrived is
    /// recorded as an `undelivered` event on the waiting host.
    pub fn run(&mut self) -> RunEnd {
        let end = self.run_steps();
        let now = self.sim.elapsed().as_micros() as u64;
        // What may legitimately still be on the wire: one latency plus two ticks.
        let in_flight = self.max_latency + self.tick * 2;
        self.net.report_undelivered(now, in_flight);
        end
    }

    fn run_steps(&mut self) -> RunEnd {
        // Timers made by the hosts (all on this thread) register with this world.
        let _timers = self.timers.enter();
        loop {
            if let Some(end) = self.apply_due_actions() {
                return end;
            }
            if self.sim.elapsed() >= self.duration {
                return RunEnd::DurationReached;
            }
            if self.fast_forward {
                match self.skip_quiet() {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(end) => return end,
                }
            }
            self.steps += 1;
            let sim = &mut self.sim;
            match quiet_panic::catch(|| sim.step()) {
                Ok(Ok(true)) => return RunEnd::Completed,
                Ok(Ok(false)) => {}
                Ok(Err(e)) => return RunEnd::HostError(e.to_string()),
                Err(message) => return self.turmoil_limit(&message),
            }
        }
    }

    /// Fast-forward: when the simulation is quiet, jumps to one tick before the earliest
    /// registered timer, never past the next scheduled action or the duration, so the steps
    /// that follow run exactly as after tick-by-tick stepping. `Ok(true)`: it jumped.
    fn skip_quiet(&mut self) -> Result<bool, RunEnd> {
        if !self.sim.is_quiet() {
            return Ok(false);
        }
        let now = self.sim.elapsed();
        let mut until = self.duration;
        if let Some((at, _)) = self.actions.get(self.next_action) {
            until = until.min(*at);
        }
        if let Some(at_us) = self.timers.earliest(now.as_micros() as u64) {
            until = until.min(Duration::from_micros(at_us).saturating_sub(self.tick));
        }
        let max = until.saturating_sub(now);
        if max < self.tick {
            return Ok(false);
        }
        let sim = &mut self.sim;
        let skip = match quiet_panic::catch(|| sim.skip_quiet(max)) {
            Ok(skip) => skip,
            Err(message) => return Err(self.turmoil_limit(&message)),
        };
        if let Some(host) = skip.woken.first() {
            // Safety net: a timer httpsim did not know about fired inside the jump; what it
            // started ran late against the rest of the world. Say so instead of going on.
            debug_assert!(
                !self.fast_forward_checked,
                "fast-forward skipped an unregistered timer on host {host}"
            );
            let t = self.sim.elapsed().as_micros() as u64;
            let message = format!(
                "fast-forward skipped an unregistered timer on host {host} (a timer not made \
                 through httpsim::net::clock; turn fast-forward off for this run)"
            );
            self.net.trace().push(
                t,
                host,
                Event::Limit {
                    message: message.clone(),
                },
            );
            return Err(RunEnd::Limit(format!(
                "{message} (at {})",
                crate::trace::fmt_ms(t)
            )));
        }
        Ok(!skip.jumped.is_zero())
    }

    /// Records a caught turmoil panic as a limit and ends the run with it.
    fn turmoil_limit(&mut self, raw: &str) -> RunEnd {
        let t = self.sim.elapsed().as_micros() as u64;
        let (host, message) = self.explain_limit(raw);
        self.net.trace().push(
            t,
            &host,
            Event::Limit {
                message: message.clone(),
            },
        );
        RunEnd::Limit(format!(
            "{message} (on host {host} at {})",
            crate::trace::fmt_ms(t)
        ))
    }

    /// Applies the actions that are due; a turmoil panic while applying one (a host or link
    /// that does not exist) ends the run as a limit naming the action.
    fn apply_due_actions(&mut self) -> Option<RunEnd> {
        while let Some((at, action)) = self.actions.get(self.next_action).cloned() {
            if at > self.sim.elapsed() {
                break;
            }
            self.next_action += 1;
            let t = self.sim.elapsed().as_micros() as u64;
            self.net.trace().push(
                t,
                "sim",
                Event::Fault {
                    what: action.to_string(),
                },
            );
            if let Err(raw) = quiet_panic::catch(|| self.apply(&action)) {
                let message = format!(
                    "fault \"{action}\" at {} cannot be applied: {raw}",
                    crate::trace::fmt_ms(t)
                );
                self.net.trace().push(
                    t,
                    "sim",
                    Event::Limit {
                        message: message.clone(),
                    },
                );
                return Some(RunEnd::Limit(message));
            }
        }
        None
    }

    /// The host a turmoil panic message is about, and the message in httpsim's words.
    fn explain_limit(&self, raw: &str) -> (String, String) {
        // "Host: 'client' ports exhausted"
        if let Some(rest) = raw.strip_prefix("Host: '") {
            if let Some((host, _)) = rest.split_once('\'') {
                return (
                    host.to_string(),
                    format!("host {host} ran out of ephemeral ports (turmoil: {raw})"),
                );
            }
        }
        // "192.168.0.1:80 server socket buffer full"
        let first = raw.split_whitespace().next().unwrap_or("");
        if let Ok(addr) = first.parse::<std::net::SocketAddr>() {
            if let Some(host) = self.sim.reverse_lookup(addr.ip()) {
                let what = if raw.contains("server socket buffer full") {
                    format!(
                        "listen queue of {host}:{} full: more connects queued than \
                         tcp_capacity (turmoil: {raw})",
                        addr.port()
                    )
                } else {
                    format!("turmoil limit on {host}: {raw}")
                };
                return (host, what);
            }
        }
        ("sim".to_string(), format!("turmoil limit: {raw}"))
    }

    fn apply(&mut self, action: &NetAction) {
        if let NetAction::Latency { latency, .. } = action {
            self.max_latency = self.max_latency.max(*latency);
        }
        let net = self.net.clone();
        let sim = &mut self.sim;
        match action {
            NetAction::Partition {
                a,
                b,
                oneway: false,
            } => sim.partition(a.as_str(), b.as_str()),
            NetAction::Partition { a, b, oneway: true } => {
                sim.partition_oneway(a.as_str(), b.as_str())
            }
            NetAction::Repair {
                a,
                b,
                oneway: false,
            } => sim.repair(a.as_str(), b.as_str()),
            NetAction::Repair { a, b, oneway: true } => sim.repair_oneway(a.as_str(), b.as_str()),
            NetAction::Hold { a, b } => sim.hold(a.as_str(), b.as_str()),
            NetAction::Release { a, b } => sim.release(a.as_str(), b.as_str()),
            NetAction::Crash { host } => net.crashing(host, true, || sim.crash(host.as_str())),
            NetAction::Vanish { host } => net.crashing(host, false, || sim.crash(host.as_str())),
            // A bounce stops the software first: its sockets close as in a crash.
            NetAction::Bounce { host } => net.crashing(host, true, || sim.bounce(host.as_str())),
            NetAction::Latency { a, b, latency } => {
                sim.set_link_latency(a.as_str(), b.as_str(), *latency)
            }
            NetAction::FailRate { a, b, rate } => {
                sim.set_link_fail_rate(a.as_str(), b.as_str(), *rate)
            }
        }
    }
}

/// Read access to settings that checks need (a deadline is judged to within one tick).
impl WorldBuilder {
    /// The simulation step set by [`WorldBuilder::tick`].
    pub fn tick_len(&self) -> Duration {
        self.tick
    }

    /// The seed set by [`WorldBuilder::seed`] (a replay command prints it).
    pub fn seed_value(&self) -> u64 {
        self.seed
    }
}
