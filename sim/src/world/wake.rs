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
//! the turn ends ([`TurnWakes::end`]), exactly when the driver was woken before. So a turn is
//! skipped only when it would have run nothing.

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
        self.in_turn.store(true, Ordering::Relaxed);
    }

    /// The turn ends: wakes the driver if a host was marked after its last poll (`marked`),
    /// and lets host wakes wake it directly again.
    pub(super) fn end(&self, marked: bool) {
        self.in_turn.store(false, Ordering::Relaxed);
        if marked {
            if let Some(w) = self.driver.lock().unwrap().as_ref() {
                w.wake_by_ref();
            }
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
        self.marked.store(true, Ordering::Relaxed);
    }

    /// Whether the host is marked; clears the mark (it is about to be polled).
    pub(super) fn take(&self) -> bool {
        self.marked.swap(false, Ordering::Relaxed)
    }

    /// Whether the host is marked.
    pub(super) fn is_marked(&self) -> bool {
        self.marked.load(Ordering::Relaxed)
    }
}

impl Wake for HostWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.marked.store(true, Ordering::Relaxed);
        if !self.turn.in_turn.load(Ordering::Relaxed) {
            if let Some(w) = self.turn.driver.lock().unwrap().as_ref() {
                w.wake_by_ref();
            }
        }
    }
}
