//! Simulated time, as seen from inside a host.
//!
//! The whole simulation runs on one paused tokio runtime (see `world`): tokio's clock *is* the
//! simulated clock, and when nothing can run, tokio's auto-advance jumps it to the next timer,
//! whoever made it — httpsim, hyper, hyper-util, or your own `tokio::time::sleep`. So any tokio
//! timer works in a simulation; the functions here are the ones httpsim's components use, kept
//! as one place that says so. Trace timestamps are microseconds since the run started (tokio's
//! timer wheel fires on whole milliseconds, so in practice they are whole milliseconds).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{error::Elapsed, Instant};

thread_local! {
    /// When the running simulation started (tokio's paused clock).
    static BASE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The instant of the engine driver's current round, and its µs since [`BASE`], while the
    /// round lasts (see [`round`]).
    static ROUND: Cell<Option<(Instant, u64)>> = const { Cell::new(None) };
}

/// Marks now as time zero of the simulation on this thread, until the guard drops.
pub(crate) fn start() -> Started {
    let previous = BASE.with(|b| b.replace(Some(Instant::now())));
    Started { previous }
}

/// Marks `base` as time zero on this thread, until the guard drops: a real run's child process
/// starts its clock at the instant its parent chose, so both children's traces share one zero.
#[cfg(feature = "cli")]
pub(crate) fn start_at(base: Instant) -> Started {
    let previous = BASE.with(|b| b.replace(Some(base)));
    Started { previous }
}

/// Restores the previous time zero (nested or consecutive runs on one thread).
pub(crate) struct Started {
    previous: Option<Instant>,
}

impl Drop for Started {
    fn drop(&mut self) {
        BASE.with(|b| b.set(self.previous));
    }
}

/// Simulated time elapsed since the run started, in microseconds (0 outside a run).
pub fn now_us() -> u64 {
    match ROUND.get() {
        Some((_, us)) => us,
        None => us_at(Instant::now()),
    }
}

/// Now on tokio's clock: the round's instant inside a round of the engine's driver.
pub(crate) fn instant() -> Instant {
    ROUND.get().map_or_else(Instant::now, |(at, _)| at)
}

/// Marks `at` (tokio's now, just read) as the instant of a round of the engine's driver, until
/// the guard drops. Every host task runs inside such a round, and tokio's paused clock only
/// moves while the runtime parks, never inside one: so readings in a round are `at`, and
/// sockets, the trace and timers read it without tokio's clock lock (tens of thousands of
/// readings in a run of a few thousand requests).
pub(crate) fn round(at: Instant) -> Round {
    ROUND.set(Some((at, us_at(at))));
    // The kernels read the same instant (they would take the clock's lock several times a
    // packet otherwise).
    turmoil_net::set_now(Some(at));
    Round(())
}

/// Ends a round of the driver (see [`round`]); also on a panic raised out of it.
pub(crate) struct Round(());

impl Drop for Round {
    fn drop(&mut self) {
        ROUND.set(None);
        turmoil_net::set_now(None);
    }
}

/// `instant` in microseconds since the run started (0 outside a run): [`now_us`] for a caller
/// that already read the clock (tokio's paused clock takes a lock per reading).
pub(crate) fn us_at(instant: Instant) -> u64 {
    BASE.with(|b| b.get())
        .map(|base| instant.saturating_duration_since(base).as_micros() as u64)
        .unwrap_or(0)
}

/// Simulated time elapsed since the run started.
pub fn now() -> Duration {
    Duration::from_micros(now_us())
}

/// The instant `since_start` after the run started (now, outside a run).
pub fn at(since_start: Duration) -> Instant {
    BASE.with(|b| b.get()).unwrap_or_else(Instant::now) + since_start
}

/// `tokio::time::sleep`.
pub fn sleep(duration: Duration) -> tokio::time::Sleep {
    tokio::time::sleep(duration)
}

/// `tokio::time::sleep_until`.
pub fn sleep_until(deadline: Instant) -> tokio::time::Sleep {
    tokio::time::sleep_until(deadline)
}

/// `tokio::time::timeout`.
pub fn timeout<F: Future>(duration: Duration, future: F) -> tokio::time::Timeout<F> {
    tokio::time::timeout(duration, future)
}

/// `tokio::time::timeout_at`.
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> tokio::time::Timeout<F> {
    tokio::time::timeout_at(deadline, future)
}

/// The error of an elapsed [`timeout`].
pub type TimeoutElapsed = Elapsed;

/// The timer httpsim gives hyper and hyper-util: tokio's, as `hyper_util::rt::TokioTimer` is
/// (kept as httpsim's own type so that components name one timer whatever the engine).
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
}

impl Future for SimSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for SimSleep {}

impl hyper::rt::Timer for SimTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(SimSleep {
            inner: Box::pin(tokio::time::sleep(duration)),
        })
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(SimSleep {
            inner: Box::pin(tokio::time::sleep_until(deadline.into())),
        })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: std::time::Instant) {
        if let Some(sleep) = sleep.as_mut().downcast_mut_pin::<SimSleep>() {
            sleep.get_mut().inner.as_mut().reset(new_deadline.into());
        }
    }

    fn now(&self) -> std::time::Instant {
        instant().into()
    }
}
