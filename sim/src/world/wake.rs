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
    /// A turn begins: host wakes from now on only mark their host. `driver` is the waker to
    /// use once it ends.
    pub(super) fn begin(&self, driver: &Waker) {
        let mut slot = self.driver.lock().unwrap();
        match slot.as_ref() {
            Some(old) if old.will_wake(driver) => {}
            _ => *slot = Some(driver.clone()),
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
