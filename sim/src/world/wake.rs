//! Which hosts have a task to run: the waker each host's `LocalSet` is polled with.
//!
//! A `LocalSet` wakes the future that polls it whenever one of its tasks is woken from outside
//! its own tick: a packet delivered at the start of a turn waking a socket's reader, a task of
//! another host, a timer. With the driver's own waker there, every delivery woke the driver for
//! a second, empty turn at the same instant (the host was polled in the turn that delivered),
//! and every turn polled every host's set whether it had work or not.
//!
//! Each host's set is polled with a [`HostWake`] instead. A wake marks the host; outside a turn
//! it also wakes the driver, as before. Inside a turn it wakes nobody: the turn polls every
//! marked host in its next round, and a host marked after its last poll in the turn (a task
//! woken by a later host, by the egress, by a set that ran out of budget) wakes the driver when
//! the turn ends ([`TurnWakes::leave`], then a look at the marks), exactly when the driver was
//! woken before. So a turn is skipped only when it would have run nothing.
//!
//! A wake from another thread (a user's blocking task) may race with the end of a turn: the
//! mark is stored before the waker reads the turn flag, and the driver clears the flag before it
//! reads the marks (all sequentially consistent), so at least one of them wakes the driver.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

/// What every host's waker shares: whether the driver is in a turn, and its waker.
#[derive(Default)]
pub(super) struct TurnWakes {
    in_turn: AtomicBool,
    driver: Mutex<Option<Waker>>,
}

impl TurnWakes {
    /// A turn begins: host wakes from now on only mark their host. `new_driver` is the waker
    /// to use once it ends, when it is not the one given before (the caller keeps a copy to
    /// tell: a lock taken every turn to compare them was a tenth of a turn's own cost).
    pub(super) fn begin(&self, new_driver: Option<&Waker>) {
        if let Some(driver) = new_driver {
            *self.driver.lock().unwrap() = Some(driver.clone());
        }
        self.in_turn.store(true, Ordering::SeqCst);
    }

    /// The turn ends: host wakes wake the driver directly again. The caller then looks at the
    /// marks and calls [`wake_driver`](Self::wake_driver) if a host was marked after its last
    /// poll.
    pub(super) fn leave(&self) {
        self.in_turn.store(false, Ordering::SeqCst);
    }

    /// Wakes the driver.
    pub(super) fn wake_driver(&self) {
        if let Some(w) = self.driver.lock().unwrap().as_ref() {
            w.wake_by_ref();
        }
    }
}

/// Whether `a` and `b` wake the same thing. `Waker::will_wake` compares vtable addresses, and a
/// clone of tokio's `block_on` waker carries its own copy of the same vtable: the driver's waker
/// never "will wake" its clone, so it was cloned again every turn. Same data and same functions
/// is the same waker.
pub(super) fn same_waker(a: &Waker, b: &Waker) -> bool {
    a.will_wake(b) || (a.data() == b.data() && a.vtable() == b.vtable())
}

/// One host's mark, and the waker its `LocalSet` is polled with.
pub(super) struct HostWake {
    marked: AtomicBool,
    turn: Arc<TurnWakes>,
}

impl HostWake {
    /// A host's waker, marked: a new host (or one restarted) is polled in the next round.
    pub(super) fn new(turn: Arc<TurnWakes>) -> Arc<Self> {
        Arc::new(HostWake {
            marked: AtomicBool::new(true),
            turn,
        })
    }

    /// Marks the host: its set is polled in the next round.
    pub(super) fn mark(&self) {
        self.marked.store(true, Ordering::SeqCst);
    }

    /// Whether the host is marked; clears the mark (it is about to be polled).
    pub(super) fn take(&self) -> bool {
        self.marked.swap(false, Ordering::SeqCst)
    }

    /// Whether the host is marked.
    pub(super) fn is_marked(&self) -> bool {
        self.marked.load(Ordering::SeqCst)
    }
}

impl Wake for HostWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.mark();
        if !self.turn.in_turn.load(Ordering::SeqCst) {
            self.turn.wake_driver();
        }
    }
}
