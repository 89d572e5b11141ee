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

use crate::net::{HostNet, Net, NetConfig};
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
    fast_forward: bool,
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
            fast_forward: true,
        }
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
    /// socket buffer full") when more connects queue than this; the default, 65536, keeps bursts
    /// of tens of thousands of connects safe while httpsim's listener models the real backlog.
    pub fn tcp_capacity(&mut self, n: usize) -> &mut Self {
        self.tcp_capacity = n;
        self
    }

    /// Bytes each socket's receive buffer holds before the sender is back-pressured. The default
    /// is 256 KiB.
    pub fn recv_buffer(&mut self, bytes: usize) -> &mut Self {
        self.recv_buffer = bytes;
        self
    }

    /// Skip quiet periods (no runnable task, no message in flight) in one jump to one tick before
    /// the next timer, instead of ticking through them. The trace is the same either way; only
    /// wall time changes (docs/PERFORMANCE.md). The default is `true`.
    pub fn fast_forward(&mut self, on: bool) -> &mut Self {
        self.fast_forward = on;
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
            // A fixed epoch: nothing in a run may depend on the wall clock.
            .epoch(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let trace = Trace::new();
        World {
            sim: b.build(),
            net: Net::new(
                trace,
                NetConfig {
                    recv_buffer: self.recv_buffer,
                },
            ),
            duration: self.duration,
            tick: self.tick,
            actions: Vec::new(),
            next_action: 0,
            fast_forward: self.fast_forward,
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
    actions: Vec<(Duration, NetAction)>,
    next_action: usize,
    fast_forward: bool,
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

    /// Runs until every client has finished, the duration is reached, or a limit is hit.
    pub fn run(&mut self) -> RunEnd {
        loop {
            self.apply_due_actions();
            if self.sim.elapsed() >= self.duration {
                return RunEnd::DurationReached;
            }
            if self.fast_forward && self.skip_quiet() {
                continue;
            }
            let sim = &mut self.sim;
            match quiet_panic::catch(|| sim.step()) {
                Ok(Ok(true)) => return RunEnd::Completed,
                Ok(Ok(false)) => {}
                Ok(Err(e)) => return RunEnd::HostError(e.to_string()),
                Err(message) => {
                    let t = self.sim.elapsed().as_micros() as u64;
                    self.net.trace().push(
                        t,
                        "sim",
                        Event::Limit {
                            message: message.clone(),
                        },
                    );
                    return RunEnd::Limit(message);
                }
            }
        }
    }

    /// Jumps over a quiet period, never past the next scheduled action or the duration, so both
    /// happen at the same simulated time as with tick-by-tick stepping.
    fn skip_quiet(&mut self) -> bool {
        let now = self.sim.elapsed();
        let mut limit = self.duration.saturating_sub(now);
        if let Some((at, _)) = self.actions.get(self.next_action) {
            limit = limit.min(at.saturating_sub(now));
        }
        !self.sim.skip_quiet(limit).is_zero()
    }

    fn apply_due_actions(&mut self) {
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
            self.apply(&action);
        }
    }

    fn apply(&mut self, action: &NetAction) {
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
            NetAction::Crash { host } => sim.crash(host.as_str()),
            NetAction::Bounce { host } => sim.bounce(host.as_str()),
            NetAction::Latency { a, b, latency } => {
                sim.set_link_latency(a.as_str(), b.as_str(), *latency)
            }
            NetAction::FailRate { a, b, rate } => {
                sim.set_link_fail_rate(a.as_str(), b.as_str(), *rate)
            }
        }
    }
}
