//! Catching turmoil's known limits without printing a backtrace; every other panic stays a
//! panic.
//!
//! turmoil 0.7 panics on two of its limits: "Host: 'NAME' ports exhausted" and "ADDR server
//! socket buffer full". httpsim reports those as findings ([`super::RunEnd::Limit`]). Any other
//! panic during a step — httpsim's own bugs, a user's component panicking, a turmoil invariant
//! — is a bug, not a finding: [`catch`] lets the default hook print it (message and backtrace)
//! and re-raises it with its payload.
//!
//! The hook is silent only for a known limit raised inside [`catch`] on this thread; it defers
//! to the previous hook everywhere else.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
}

static INSTALL: Once = Once::new();

/// The panic's message, when it is a string.
fn message(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
}

/// Whether `message` is one of turmoil's known limits, matched exactly on its form.
pub(crate) fn is_known_limit(message: &str) -> bool {
    // "Host: 'client' ports exhausted" (turmoil host.rs)
    let ports = message
        .strip_prefix("Host: '")
        .and_then(|rest| rest.strip_suffix("' ports exhausted"))
        .is_some_and(|host| !host.is_empty() && !host.contains('\''));
    // "192.168.0.1:80 server socket buffer full" (turmoil host.rs)
    let queue = message
        .strip_suffix(" server socket buffer full")
        .is_some_and(|addr| addr.parse::<std::net::SocketAddr>().is_ok());
    ports || queue
}

fn install() {
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let known = message(info.payload()).is_some_and(is_known_limit);
            if !(known && CATCHING.with(|c| c.get())) {
                previous(info);
            }
        }));
    });
}

/// Runs `f`; a known turmoil limit inside it comes back as `Err(message)` and prints nothing.
/// Any other panic is re-raised as it was.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    install();
    let was = CATCHING.with(|c| c.replace(true));
    let res = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(was));
    res.map_err(|payload| match message(payload.as_ref()) {
        Some(m) if is_known_limit(m) => m.to_string(),
        _ => panic::resume_unwind(payload),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_turmoil_limits_are_known() {
        assert!(is_known_limit("Host: 'client' ports exhausted"));
        assert!(is_known_limit("192.168.0.1:80 server socket buffer full"));
        assert!(!is_known_limit("Host: '' ports exhausted"));
        assert!(!is_known_limit("server socket buffer full"));
        assert!(!is_known_limit("ports exhausted"));
        assert!(!is_known_limit(
            "called `Option::unwrap()` on a `None` value"
        ));
    }

    #[test]
    fn a_known_limit_is_caught_and_anything_else_is_re_raised() {
        assert_eq!(
            catch(|| panic!("Host: 'client' ports exhausted")),
            Err::<(), _>("Host: 'client' ports exhausted".to_string())
        );
        assert_eq!(catch(|| 7), Ok(7));
        let bug = panic::catch_unwind(|| catch(|| panic!("a bug in httpsim")));
        let payload = bug.expect_err("re-raised");
        assert_eq!(message(payload.as_ref()), Some("a bug in httpsim"));
    }
}
