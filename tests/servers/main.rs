//! Servers under test: real hyper servers driven the way production drives them.
//!
//! - `concurrency` — asynchronous waits overlap; CPU burns serialise the whole host.
//! - `real_concurrency` — case 5 on real loopback sockets, times divided by 20: the same
//!   serialisation and overlap as simulated.
//! - `shutdown` — idle keep-alive sockets and in-flight requests under each shutdown strategy.
//! - `accept` — an fd-limited server under a connect burst: EMFILE back-off, backlog overflow.
//! - `timeouts` — the inactivity timeout on an unread response; max requests per socket.
//! - `writes` — how responses leave the server: many-chunk bodies in one write.
//! - `own_service` — a tower service of yours inside this server: settings and checks apply.
//! - `broken_own` — a broken service and a broken client of yours, caught by the same checks.
//! - `h2` — HTTP/2 and `auto` servers: your service over h2, GOAWAY on graceful shutdown.

mod accept;
mod broken_own;
mod concurrency;
mod h2;
#[path = "../shared/loopback.rs"]
mod loopback;
mod own_service;
mod real_concurrency;
mod shutdown;
mod timeouts;
mod writes;

/// Test result: every test can use `?`.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

use std::time::Duration;

use httpsim::Record;

/// Simulated time of a record.
pub fn at(r: &Record) -> Duration {
    Duration::from_micros(r.t_us)
}

/// Asserts `t` is within `tol` of `want`.
pub fn assert_near(t: Duration, want: Duration, tol: Duration, what: &str) {
    let diff = t.abs_diff(want);
    assert!(diff <= tol, "{what}: at {t:?}, expected {want:?} ± {tol:?}");
}
