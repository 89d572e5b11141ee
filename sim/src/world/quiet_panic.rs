//! Catching turmoil's panics without printing a backtrace.
//!
//! turmoil 0.7 panics on some of its limits ("server socket buffer full", "ports exhausted").
//! httpsim reports those as findings. The default panic hook would still print the message and
//! a backtrace hint to stderr, which a user would take for a crash; this hook stays silent while
//! the current thread is inside [`catch`] and defers to the previous hook everywhere else.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
}

static INSTALL: Once = Once::new();

fn install() {
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CATCHING.with(|c| c.get()) {
                previous(info);
            }
        }));
    });
}

/// Runs `f`; a panic inside it comes back as `Err(message)` and prints nothing.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    install();
    let was = CATCHING.with(|c| c.replace(true));
    let res = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(was));
    res.map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic inside the simulator".to_string())
    })
}
