//! What the socket layer tells the engine (`world`) and asks of it, without naming it:
//! which simulated host a kernel call is for, and "something was queued to send".
//!
//! turmoil-net resolves every socket call against a thread-local *current host*. Tasks of a
//! host normally run inside that host's `LocalSet`, which `world` polls with the host current;
//! but a socket can also be polled from elsewhere (a task the user spawned with `tokio::spawn`,
//! a drop at the end of a run), so every kernel call in `net/` first scopes itself to its
//! socket's host ([`scoped`]). After a call that may queue packets (a write, a read that opens
//! the window, a close), the engine must egress them: [`kick`] wakes its driver, unless the
//! driver itself is the caller (it egresses after polling the hosts anyway).

use std::cell::{Cell, RefCell};
use std::task::Waker;

pub(crate) use turmoil_net::HostId;

thread_local! {
    static DRIVER: RefCell<Option<Waker>> = const { RefCell::new(None) };
    static IN_DRIVER: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with `host` as turmoil-net's current host.
pub(crate) fn scoped<R>(host: HostId, f: impl FnOnce() -> R) -> R {
    turmoil_net::set_current(host);
    f()
}

/// Something may have been queued to send: the driver should egress.
pub(crate) fn kick() {
    if IN_DRIVER.with(|d| d.get()) {
        return;
    }
    DRIVER.with(|d| {
        if let Some(w) = d.borrow().as_ref() {
            w.wake_by_ref();
        }
    });
}

/// The driver is polling (kicks are redundant) until the guard drops; `waker` wakes it later.
pub(crate) fn enter_driver(waker: &Waker) -> InDriver {
    DRIVER.with(|d| {
        let mut d = d.borrow_mut();
        if !d.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *d = Some(waker.clone());
        }
    });
    IN_DRIVER.with(|d| d.set(true));
    InDriver
}

/// See [`enter_driver`].
pub(crate) struct InDriver;

impl Drop for InDriver {
    fn drop(&mut self) {
        IN_DRIVER.with(|d| d.set(false));
    }
}

/// Forgets the driver at the end of a run.
pub(crate) fn clear_driver() {
    DRIVER.with(|d| *d.borrow_mut() = None);
}
