//! Simulated time, as seen from inside a host, and httpsim's timer registry.
//!
//! httpsim stamps every trace event with the simulation's elapsed time, never wall-clock time.
//!
//! Every timer of httpsim's own components goes through this module ([`sleep`],
//! [`sleep_until`], [`timeout`], [`timeout_at`], and [`SimTimer`] for hyper and hyper-util), so
//! that the run loop knows the earliest deadline in the whole simulation: when nothing is
//! runnable and no message is in flight, nothing can happen before it, and `world` skips the
//! quiet period in one jump (fast-forward). tokio keeps its own timer wheel private, hence this
//! registry. The timers themselves are still tokio's (driven by turmoil in simulated time); the
//! wrappers only record their deadline while the timer is alive (dropped on completion, on drop,
//! and so when a crash drops a host's tasks). A timer made directly with `tokio::time` is not
//! seen: if a jump skips one, `world` records it as a limit instead of producing a wrong trace.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{error::Elapsed, Instant};

/// Simulated time since the start of the run, in microseconds. Zero outside a simulation.
pub fn now_us() -> u64 {
    turmoil::sim_elapsed()
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Simulated time since the start of the run.
pub fn now() -> Duration {
    Duration::from_micros(now_us())
}

thread_local! {
    /// The registry of the world running on this thread (all hosts of a world run on the
    /// thread that runs it).
    static CURRENT: RefCell<Option<Timers>> = const { RefCell::new(None) };
}

/// The deadlines (simulated µs) of the live timers of one world, with their multiplicity.
#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    deadlines: Arc<Mutex<BTreeMap<u64, usize>>>,
}

/// Restores the previous registry of the thread when dropped.
pub(crate) struct Entered {
    previous: Option<Timers>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

impl Timers {
    /// Makes this registry the one timers created on this thread register with, until the
    /// guard is dropped.
    pub(crate) fn enter(&self) -> Entered {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        Entered { previous }
    }

    /// The earliest deadline (simulated µs) of a live timer that may still fire after `now_us`.
    ///
    /// tokio fires a timer at its deadline rounded up to its 1 ms wheel, so a deadline up to
    /// 1 ms in the past may still be pending. Older ones, when the simulation is quiet, belong
    /// to timers that already fired (or were never polled) and whose owner has not looked yet:
    /// they cannot wake anything, so they do not hold the jump back.
    pub(crate) fn earliest(&self, now_us: u64) -> Option<u64> {
        let floor = now_us.saturating_sub(1_000);
        let deadlines = self.deadlines.lock().unwrap();
        deadlines.range(floor..).next().map(|(&at, _)| at)
    }

    fn add(&self, at_us: u64) {
        *self.deadlines.lock().unwrap().entry(at_us).or_insert(0) += 1;
    }

    fn remove(&self, at_us: u64) {
        let mut deadlines = self.deadlines.lock().unwrap();
        if let Some(n) = deadlines.get_mut(&at_us) {
            *n -= 1;
            if *n == 0 {
                deadlines.remove(&at_us);
            }
        }
    }
}

/// One live timer's deadline in the registry; removed when dropped.
#[derive(Debug)]
struct Registration {
    timers: Timers,
    at_us: u64,
}

impl Registration {
    /// Registers `deadline` (the host's tokio time) with the running world, if any.
    fn new(deadline: Instant) -> Option<Self> {
        let timers = CURRENT.with(|c| c.borrow().clone())?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        // Rounded up: the registry may only err towards an earlier deadline.
        let at_us = now_us() + remaining.as_nanos().div_ceil(1_000) as u64;
        timers.add(at_us);
        Some(Self { timers, at_us })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.timers.remove(self.at_us);
    }
}

pin_project_lite::pin_project! {
    /// A tokio timer future whose deadline stays in the world's registry until it completes or
    /// is dropped. A struct rather than an `async move` block, which kept the timer twice in
    /// its state (at 10k connections, ~130 bytes per live timer).
    struct Registered<F> {
        #[pin]
        inner: F,
        registration: Option<Registration>,
    }
}

impl<F: Future> Future for Registered<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let poll = this.inner.poll(cx);
        if poll.is_ready() {
            *this.registration = None;
        }
        poll
    }
}

/// `tokio::time::sleep`, registered with the world's timer registry while alive.
pub fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + Sync + 'static {
    let deadline = Instant::now().checked_add(duration);
    Registered {
        registration: deadline.and_then(Registration::new),
        inner: tokio::time::sleep(duration),
    }
}

/// `tokio::time::sleep_until`, registered with the world's timer registry while alive.
pub fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send + Sync + 'static {
    Registered {
        registration: Registration::new(deadline),
        inner: tokio::time::sleep_until(deadline),
    }
}

/// `tokio::time::timeout`, registered with the world's timer registry while alive.
pub fn timeout<F: Future>(
    duration: Duration,
    future: F,
) -> impl Future<Output = Result<F::Output, Elapsed>> {
    let deadline = Instant::now().checked_add(duration);
    Registered {
        registration: deadline.and_then(Registration::new),
        inner: tokio::time::timeout(duration, future),
    }
}

/// `tokio::time::timeout_at`, registered with the world's timer registry while alive.
pub fn timeout_at<F: Future>(
    deadline: Instant,
    future: F,
) -> impl Future<Output = Result<F::Output, Elapsed>> {
    Registered {
        registration: Registration::new(deadline),
        inner: tokio::time::timeout_at(deadline, future),
    }
}

/// The timer httpsim gives hyper and hyper-util (in place of `hyper_util::rt::TokioTimer`, which
/// it otherwise equals): tokio's timers, registered with the world's timer registry. With a
/// timer set, hyper and hyper-util's pool make every timer through it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimTimer;

impl SimTimer {
    /// The timer.
    pub fn new() -> Self {
        Self
    }
}

/// A hyper sleep made by [`SimTimer`].
#[derive(Debug)]
struct SimSleep {
    inner: Pin<Box<tokio::time::Sleep>>,
    registration: Option<Registration>,
}

impl SimSleep {
    fn until(deadline: Instant) -> Self {
        Self {
            registration: Registration::new(deadline),
            inner: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }

    fn reset(&mut self, deadline: Instant) {
        self.registration = None;
        self.inner.as_mut().reset(deadline);
        self.registration = Registration::new(deadline);
    }
}

impl Future for SimSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let poll = self.inner.as_mut().poll(cx);
        if poll.is_ready() {
            self.registration = None;
        }
        poll
    }
}

impl hyper::rt::Sleep for SimSleep {}

impl hyper::rt::Timer for SimTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        match Instant::now().checked_add(duration) {
            Some(deadline) => Box::pin(SimSleep::until(deadline)),
            // Never fires in a run: nothing to register (as tokio's far-future sleep).
            None => Box::pin(SimSleep {
                inner: Box::pin(tokio::time::sleep(duration)),
                registration: None,
            }),
        }
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(SimSleep::until(deadline.into()))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: std::time::Instant) {
        if let Some(sleep) = sleep.as_mut().downcast_mut_pin::<SimSleep>() {
            sleep.get_mut().reset(new_deadline.into());
        }
    }

    fn now(&self) -> std::time::Instant {
        Instant::now().into()
    }
}
