//! Building and running a simulation: the other door (with `net/`) to the simulator.
//!
//! The engine is event-driven. One paused current-thread tokio runtime runs the whole
//! simulation: tokio's clock is the simulated clock. Each host's tasks live on that host's own
//! [`LocalSet`], polled with the host current in turmoil-net (its socket kernel), so every task
//! spawned on a host — hyper's connection tasks, hyper-util's pool tasks, your own — stays on it
//! and talks to that host's kernel. Packets the kernels send are routed by `network.rs` and
//! delivered on tokio's timer wheel after their latency. When no task anywhere can run, tokio's
//! auto-advance jumps the clock to the next timer, whoever owns it: a packet delivery, a
//! scheduled fault, a retransmission, hyper's header timeout, or your handler's
//! `tokio::time::sleep(120 s)`. There is no fixed step: an idle day costs nothing.
//!
//! - `builder.rs` — [`WorldBuilder`]: seed, latency, loss, buffers, duration.
//! - `action.rs` — [`NetAction`]s scheduled at simulated times, and [`RunEnd`].
//! - `network.rs` — what happens to each packet: partitions, holds, broken links, loss, latency.
//! - `wake.rs` — which hosts have a task to run: a turn polls only those, and wakes the driver
//!   only for work left after it.
//!
//! [`World::run`] turns every way a run can end — clients done, duration reached — into a
//! [`RunEnd`] value. A panic in httpsim or in the software under test is a bug and is raised as
//! such, with its message.
//!
//! Nothing outside `world` and `net` names a turmoil-net type.

mod action;
mod builder;
mod network;
mod wake;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::task::{JoinHandle, LocalSet};

pub use action::{NetAction, RunEnd};
pub use builder::WorldBuilder;

use crate::net::engine::{self, HostId};
use crate::net::{clock, HostNet, Net};
use crate::trace::{Event, Trace};
use network::Network;
use wake::{HostWake, TurnWakes};

type Software = Rc<dyn Fn(HostNet) -> Pin<Box<dyn Future<Output = ()>>>>;

/// One simulated host: its tasks and how to (re)start its software.
struct Host {
    name: String,
    id: HostId,
    net: HostNet,
    /// The host's tasks; `None` while it is down (crashed).
    set: Option<LocalSet>,
    /// A server's software, started again when the host is bounced.
    software: Option<Software>,
    /// A client's software, until the run starts it.
    client: Option<Pin<Box<dyn Future<Output = ()>>>>,
    /// The software's main task: a client is done when it is.
    main: Option<JoinHandle<()>>,
    /// Whether `main` was seen to end (and its result, a panic or not, taken).
    main_ended: bool,
    is_client: bool,
    /// Whether the host has a task to run (`wake.rs`), and the waker its set is polled with.
    wake: Arc<HostWake>,
    waker: Waker,
}

/// One turn of the driver, from its first delivery to its last egress: while it lasts the
/// kernels do not wake the driver (see `turmoil_net::EnterGuard::set_in_turn`).
struct Turn<'a>(&'a turmoil_net::EnterGuard);

impl<'a> Turn<'a> {
    fn enter(guard: &'a turmoil_net::EnterGuard) -> Self {
        guard.set_in_turn(true);
        Turn(guard)
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.set_in_turn(false);
    }
}

/// A simulation ready to run: hosts, their software, the network, the schedule.
pub struct World {
    tnet: Option<turmoil_net::Net>,
    net: Net,
    network: Network,
    hosts: Vec<Host>,
    duration: Duration,
    tick: Duration,
    /// The largest one-way latency so far (configured or set by an action).
    max_latency: Duration,
    actions: Vec<(Duration, NetAction)>,
    next_action: usize,
    elapsed: Duration,
    polls: u64,
    kernel_events: Vec<(HostId, turmoil_net::KernelEvent)>,
    /// The driver's turn as the hosts' wakers see it (`wake.rs`).
    turn_wakes: Arc<TurnWakes>,
    /// The waker `turn_wakes` holds, to tell without its lock whether it changed.
    driver: Option<Waker>,
}

impl World {
    fn new(b: &WorldBuilder) -> Self {
        World {
            tnet: Some(turmoil_net::Net::with_config(b.kernel_config())),
            net: Net::new(Trace::new(), b.net_config()),
            network: Network::new(b.network_config()),
            hosts: Vec::new(),
            duration: b.duration,
            tick: b.tick_len(),
            max_latency: b.max_latency.max(b.min_latency),
            actions: Vec::new(),
            next_action: 0,
            elapsed: Duration::ZERO,
            polls: 0,
            kernel_events: Vec::new(),
            turn_wakes: Arc::new(TurnWakes::default()),
            driver: None,
        }
    }

    /// The network context (trace, fd tables).
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// The latency resolution.
    pub fn tick(&self) -> Duration {
        self.tick
    }

    fn add_host(&mut self, name: &str, fd_limit: Option<usize>, fd_in_use: usize) -> usize {
        assert!(
            !self.hosts.iter().any(|h| h.name == name),
            "host {name:?} is added twice to one world (client and server need distinct names)"
        );
        let tnet = self.tnet.as_mut().expect("hosts are added before the run");
        let id = tnet.add_host(name);
        let ip = tnet.lookup(name);
        let index = self.hosts.len();
        self.network.add_host(index, ip);
        let net = self.net.host(name, id, fd_limit, fd_in_use);
        let wake = HostWake::new(self.turn_wakes.clone());
        self.hosts.push(Host {
            name: name.to_string(),
            id,
            net,
            set: Some(LocalSet::new()),
            software: None,
            client: None,
            main: None,
            main_ended: false,
            is_client: false,
            waker: Waker::from(wake.clone()),
            wake,
        });
        index
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
        let i = self.add_host(name, fd_limit, fd_in_use);
        self.hosts[i].software = Some(Rc::new(move |h| Box::pin(software(h))));
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
        let i = self.add_host(name, fd_limit, fd_in_use);
        let fut = software(self.hosts[i].net.clone());
        self.hosts[i].client = Some(Box::pin(fut));
        self.hosts[i].is_client = true;
    }

    /// Schedules `action` at simulated time `at`.
    pub fn schedule(&mut self, at: Duration, action: NetAction) {
        // A link that may fail at random draws per packet: segments of one MSS from the start,
        // so the whole run (before and after the action) is the same as with it from the start.
        if matches!(&action, NetAction::FailRate { rate, .. } if *rate > 0.0) {
            if let Some(tnet) = self.tnet.as_mut() {
                tnet.set_tso_bytes(0);
            }
        }
        self.actions.push((at, action));
        self.actions.sort_by_key(|(t, _)| *t);
    }

    /// Simulated time elapsed so far.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// How many times the engine's driver ran (never part of the trace): a measure of work,
    /// not of simulated time — an idle hour costs one.
    pub fn steps(&self) -> u64 {
        self.polls
    }

    /// Runs until every client has finished or the duration is reached. At the end, every
    /// connection with data (or a FIN) that was sent and never arrived is recorded as an
    /// `undelivered` event on the waiting host. May be called once.
    pub fn run(&mut self) -> RunEnd {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime");
        let guard = self.tnet.take().expect("a world runs once").enter();
        let end = rt.block_on(async {
            let _clock = clock::start();
            for i in 0..self.hosts.len() {
                self.start(i);
            }
            let mut timer = Box::pin(tokio::time::sleep(Duration::ZERO));
            let end = std::future::poll_fn(|cx| self.poll(cx, &guard, timer.as_mut())).await;
            self.elapsed = clock::now();
            let now = clock::now_us();
            // What may legitimately still be on the wire: one latency plus two ticks.
            let in_flight = self.max_latency + self.tick * 2;
            self.net.report_undelivered(now, in_flight);
            // Every host's tasks go while the network and the clock still exist.
            for h in &mut self.hosts {
                if let Some(set) = h.set.take() {
                    engine::scoped(h.id, || drop(set));
                }
            }
            end
        });
        drop(rt);
        drop(guard);
        end
    }

    /// Starts host `i`'s software on its task set.
    fn start(&mut self, i: usize) {
        let h = &mut self.hosts[i];
        let set = h.set.get_or_insert_with(LocalSet::new);
        let fut: Pin<Box<dyn Future<Output = ()>>> = match (&h.software, h.client.take()) {
            (_, Some(client)) => client,
            (Some(software), None) => software(h.net.clone()),
            (None, None) => return,
        };
        h.main = Some(set.spawn_local(fut));
        h.main_ended = false;
        // Spawned from outside the set: nothing woke it.
        h.wake.mark();
    }

    /// One turn of the driver: faults due, packets due, every host's runnable tasks, what they
    /// sent; then the next wake-up on tokio's timer wheel.
    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        guard: &turmoil_net::EnterGuard,
        mut timer: Pin<&mut tokio::time::Sleep>,
    ) -> Poll<RunEnd> {
        self.polls += 1;
        // This turn ends with an egress: what the kernels get to do meanwhile wakes nobody.
        let _turn = Turn::enter(guard);
        // Nor do the hosts' tasks woken meanwhile: each round polls the hosts marked. The
        // driver's waker is handed on only when it changed.
        let new_driver = !self
            .driver
            .as_ref()
            .is_some_and(|w| wake::same_waker(w, cx.waker()));
        if new_driver {
            self.driver = Some(cx.waker().clone());
        }
        self.turn_wakes.begin(new_driver.then(|| cx.waker()));
        let (mut instant, mut now);
        // The kernels' earliest timer, when it was read after the round's last kernel work (the
        // quiet test): the deadline below reuses it (each reading visits every kernel).
        let mut kernel_deadline;
        loop {
            kernel_deadline = None;
            instant = tokio::time::Instant::now();
            now = clock::us_at(instant);
            let _round = clock::round(instant);
            if let Some(end) = self.apply_due_actions(now) {
                self.end_turn();
                return Poll::Ready(end);
            }
            let delivered = self.network.deliver_due(guard, now);
            for h in &mut self.hosts {
                if let Some(set) = h.set.as_mut() {
                    turmoil_net::set_current(h.id);
                    // A set with no task woken would run nothing.
                    if h.wake.take() {
                        let _ = Pin::new(set).poll(&mut Context::from_waker(&h.waker));
                    }
                }
            }
            // An egress pass with nothing queued, nothing marked and no timer due finds
            // nothing (every kernel change that gives it work sets `egress_pending`).
            let timer_due = guard.next_deadline().is_some_and(|at| at <= instant);
            let sent = if timer_due || guard.egress_pending() {
                let sent = self.network.egress(guard, now);
                // The kernels log retransmissions only when one of their timers fires.
                if timer_due {
                    self.record_kernel_events(guard, now);
                }
                sent
            } else {
                0
            };
            self.reraise_panics(cx);
            if let Some(end) = self.ended(now) {
                self.end_turn();
                return Poll::Ready(end);
            }
            // A packet delivered may have been answered at once (an ACK, a RST): go round
            // again until the network is quiet at this instant.
            if delivered == 0 && (sent == 0 || self.network.next_due() > Some(now)) {
                break;
            }
            // Or when another round would run nothing: no packet due now, no kernel work or
            // timer due, no host's task woken (actions due now were applied in this one).
            let quiet = self.network.next_due().is_none_or(|t| t > now)
                && !guard.egress_pending()
                && kernel_deadline
                    .insert(guard.next_deadline())
                    .is_none_or(|at| at > instant)
                && !self.any_host_marked();
            if quiet {
                break;
            }
        }
        // A host's task woken after that host's last poll in this turn runs in the next.
        self.end_turn();
        let mut next = self.duration.as_micros() as u64;
        if let Some(t) = self.network.next_due() {
            next = next.min(t);
        }
        if let Some((at, _)) = self.actions.get(self.next_action) {
            next = next.min(at.as_micros() as u64);
        }
        let mut deadline = instant + Duration::from_micros(next.saturating_sub(now));
        // The kernels' own timers: retransmissions, SYN retries, zero-window probes. Nothing ran
        // since the quiet test read them, if it did.
        if let Some(at) = kernel_deadline.unwrap_or_else(|| guard.next_deadline()) {
            deadline = deadline.min(at);
        }
        // The kernels keep the waker they were given (and wake it by reference): a new one only
        // when it changed (see `begin` above).
        if new_driver {
            guard.set_egress_waker(cx.waker());
        }
        // Work after the turn's last egress (a refused SYN's reset, delivered while routing).
        if guard.egress_pending() {
            cx.waker().wake_by_ref();
        }
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_ready() {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// Ends the hosts' side of the turn (see `wake.rs`): the driver is woken if a host's
    /// task was woken after that host's last poll.
    fn end_turn(&self) {
        self.turn_wakes.leave();
        if self.any_host_marked() {
            self.turn_wakes.wake_driver();
        }
    }

    /// Whether a running host has a task woken since its last poll.
    fn any_host_marked(&self) -> bool {
        self.hosts
            .iter()
            .any(|h| h.set.is_some() && h.wake.is_marked())
    }

    /// Turns what the kernels did on their own (retransmissions) into trace events.
    fn record_kernel_events(&mut self, guard: &turmoil_net::EnterGuard, now_us: u64) {
        self.kernel_events.clear();
        guard.take_events(&mut self.kernel_events);
        for (id, e) in self.kernel_events.drain(..) {
            let (local, remote, bytes, attempt) = match e {
                turmoil_net::KernelEvent::Retransmit {
                    local,
                    remote,
                    bytes,
                    attempt,
                    ..
                } => (local, remote, bytes as u64, attempt),
                turmoil_net::KernelEvent::SynRetransmit {
                    local,
                    remote,
                    attempt,
                    ..
                } => (local, remote, 0, attempt),
                _ => continue,
            };
            let Some(host) = self.hosts.iter().find(|h| h.id == id) else {
                continue;
            };
            let conn = self.net.conn_between(local, remote).unwrap_or(0);
            self.net.trace().push(
                now_us,
                host.name.as_str(),
                Event::Retransmit {
                    conn,
                    bytes,
                    attempt,
                },
            );
        }
    }

    /// A host's main task that panicked is a bug in the code under test or in httpsim, never a
    /// way for the host to stop: tokio caught the panic, so raise it again here, with its
    /// message, in the caller of the run (a `#[test]` then fails on it). Without this a server
    /// that panicked at start simply never answered, and the run "completed".
    fn reraise_panics(&mut self, cx: &mut Context<'_>) {
        for h in &mut self.hosts {
            if h.main_ended {
                continue;
            }
            let Some(main) = h.main.as_mut().filter(|m| m.is_finished()) else {
                continue;
            };
            // Finished, so ready at once; polled only this once.
            if let Poll::Ready(result) = Pin::new(main).poll(cx) {
                h.main_ended = true;
                if let Err(e) = result {
                    if e.is_panic() {
                        std::panic::resume_unwind(e.into_panic());
                    }
                }
            }
        }
    }

    /// How the run ends now, if it does.
    fn ended(&self, now_us: u64) -> Option<RunEnd> {
        let mut clients = self.hosts.iter().filter(|h| h.is_client).peekable();
        if clients.peek().is_some() {
            let mut all_done = true;
            for h in clients {
                match &h.main {
                    _ if h.main_ended => {}
                    Some(main) if main.is_finished() => {}
                    // A crashed client is done.
                    _ if h.set.is_none() => {}
                    _ => all_done = false,
                }
            }
            if all_done {
                return Some(RunEnd::Completed);
            }
        }
        (now_us >= self.duration.as_micros() as u64).then_some(RunEnd::DurationReached)
    }

    /// Applies the actions that are due; one naming a host that does not exist ends the run as
    /// a limit naming the action.
    fn apply_due_actions(&mut self, now_us: u64) -> Option<RunEnd> {
        while let Some((at, action)) = self.actions.get(self.next_action).cloned() {
            if at.as_micros() as u64 > now_us {
                break;
            }
            self.next_action += 1;
            self.net.trace().push(
                now_us,
                "sim",
                Event::Fault {
                    what: action.to_string(),
                },
            );
            if let Err(why) = self.apply(&action, now_us) {
                let message = format!(
                    "fault \"{action}\" at {} cannot be applied: {why}",
                    crate::trace::fmt_ms(now_us)
                );
                self.net.trace().push(
                    now_us,
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

    fn index(&self, name: &str) -> Result<usize, String> {
        self.hosts
            .iter()
            .position(|h| h.name == name)
            .ok_or_else(|| format!("no host named {name:?} in this world"))
    }

    fn link(&self, a: &str, b: &str) -> Result<(usize, usize), String> {
        Ok((self.index(a)?, self.index(b)?))
    }

    fn apply(&mut self, action: &NetAction, now_us: u64) -> Result<(), String> {
        match action {
            NetAction::Partition { a, b, oneway } => {
                let (a, b) = self.link(a, b)?;
                self.network.partition(a, b, *oneway);
            }
            NetAction::Repair { a, b, oneway } => {
                let (a, b) = self.link(a, b)?;
                self.network.repair(a, b, *oneway);
            }
            NetAction::Hold { a, b } => {
                let (a, b) = self.link(a, b)?;
                self.network.hold(a, b);
            }
            NetAction::Release { a, b } => {
                let (a, b) = self.link(a, b)?;
                self.network.release(a, b, now_us);
            }
            NetAction::Latency { a, b, latency } => {
                let (a, b) = self.link(a, b)?;
                self.max_latency = self.max_latency.max(*latency);
                self.network.set_latency(a, b, *latency);
            }
            NetAction::FailRate { a, b, rate } => {
                let (a, b) = self.link(a, b)?;
                self.network.set_fail_rate(a, b, *rate);
            }
            NetAction::Crash { host } => self.crash(host, true, false)?,
            NetAction::Vanish { host } => self.crash(host, false, false)?,
            NetAction::Bounce { host } => self.crash(host, true, true)?,
        }
        Ok(())
    }

    /// Stops a host's software: every task of it is dropped, so its sockets close (with FIN,
    /// or vanish with it when `fin` is false: then nothing reaches the host or leaves it until
    /// it is bounced). `restart`: a bounce, the software starts again at once.
    fn crash(&mut self, name: &str, fin: bool, restart: bool) -> Result<(), String> {
        let i = self.index(name)?;
        if !fin {
            self.network.set_dead(i, true);
        }
        let (id, set) = (self.hosts[i].id, self.hosts[i].set.take());
        if let Some(set) = set {
            self.net
                .crashing(name, fin, || engine::scoped(id, || drop(set)));
        }
        self.hosts[i].main = None;
        if restart {
            self.network.set_dead(i, false);
            self.start(i);
        }
        Ok(())
    }
}
