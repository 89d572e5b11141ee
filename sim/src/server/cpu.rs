//! The CPU of a simulated server host.
//!
//! A handler that burns CPU in a single-threaded server (Node's event loop, a tokio
//! `current_thread` runtime) blocks everything else on that host: other handlers, other
//! connections' reads and writes, the accept loop, timers, the shutdown sequence. turmoil runs
//! host software in simulated time, where a busy loop would take no time at all, so httpsim
//! models the CPU explicitly.
//!
//! ## The model
//! - [`HostCpu::burn`] takes the CPU for a simulated duration. Burners queue FIFO.
//! - Every piece of server work runs behind a [`HostCpu::gate`] carrying a [`CpuToken`]: each
//!   connection's task (hyper's state machine, its handler, its inactivity timer) with the
//!   connection's token, the accept loop and the shutdown sequence with [`CpuToken::SERVER`].
//!   A gated future is not polled while someone else burns; it is woken when the CPU is free.
//! - The burner's own connection keeps running, so the response of a CPU-bound request is
//!   written at the instant its burn ends, as `res.end()` right after a synchronous loop would.
//!
//! ## What it deliberately does not model
//! - Kernel work goes on while the CPU is busy: the receive buffers of [`crate::net::SimStream`]
//!   keep filling and the listener's backlog keeps completing handshakes, as a real kernel does
//!   on another core.
//! - One core per host; no preemption, no scheduler quantum, no cost for anything but `burn`.
//! - Granularity is one task poll: work woken in the same instant the CPU frees may run in any
//!   (deterministic) order before the next burner takes it.
//! - Client hosts have no CPU model.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::sync::Mutex;

/// Who is asking for the CPU: a connection (its id) or the server's own loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CpuToken(pub u64);

impl CpuToken {
    /// The accept loop and the shutdown sequence (connection ids start at 1).
    pub const SERVER: CpuToken = CpuToken(0);
}

#[derive(Default)]
struct Inner {
    /// FIFO among burners.
    queue: Mutex<()>,
    /// The token burning now, if any.
    owner: Cell<Option<CpuToken>>,
    /// Gated futures waiting for the CPU to be free.
    waiters: RefCell<Vec<Waker>>,
}

/// One host's CPU. Cheap to clone; clones share the CPU.
#[derive(Clone, Default)]
pub struct HostCpu {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for HostCpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCpu").finish_non_exhaustive()
    }
}

impl HostCpu {
    /// A free CPU.
    pub fn new() -> Self {
        Self::default()
    }

    /// Occupies the CPU for `busy` of simulated time on behalf of `token`; waits (FIFO) while
    /// someone else burns. If the burn is cancelled (its connection is dropped), the CPU is freed
    /// at that instant.
    pub async fn burn(&self, token: CpuToken, busy: Duration) {
        let _queue = self.inner.queue.lock().await;
        self.inner.owner.set(Some(token));
        let _release = Release(self);
        crate::net::clock::sleep(busy).await;
    }

    /// Whether someone other than `token` burns the CPU now.
    pub fn is_blocked_for(&self, token: CpuToken) -> bool {
        self.inner.owner.get().is_some_and(|o| o != token)
    }

    /// Whether the CPU is burning now.
    pub fn is_busy(&self) -> bool {
        self.inner.owner.get().is_some()
    }

    /// Wraps `fut` so that it is polled only while nobody but `token` burns the CPU.
    pub fn gate<F: Future>(&self, token: CpuToken, fut: F) -> Gated<F> {
        Gated {
            cpu: self.clone(),
            token,
            fut: Box::pin(fut),
        }
    }

    fn release(&self) {
        self.inner.owner.set(None);
        let waiters = std::mem::take(&mut *self.inner.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }
}

struct Release<'a>(&'a HostCpu);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// A future that runs only while the host's CPU is free for its token. See [`HostCpu::gate`].
pub struct Gated<F> {
    cpu: HostCpu,
    token: CpuToken,
    fut: Pin<Box<F>>,
}

impl<F> std::fmt::Debug for Gated<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gated").finish_non_exhaustive()
    }
}

impl<F: Future> Future for Gated<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if self.cpu.is_blocked_for(self.token) {
            let mut waiters = self.cpu.inner.waiters.borrow_mut();
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
            return Poll::Pending;
        }
        self.fut.as_mut().poll(cx)
    }
}
