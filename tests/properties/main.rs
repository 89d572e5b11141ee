//! Property suites: the headline properties of httpsim, each over generated network
//! conditions, fault schedules (shrinkable), pool settings and workloads, and each shown to bite
//! on a deliberately broken pool or server.
//!
//! - `harness` — seeds (`HTTPSIM_SEED`), case counts (`PROPTEST_CASES`), verdicts, replayable
//!   failure reports. Start here.
//! - `faults` — fault schedules as data.
//! - `pool` — a bounded pool on `hyper::client::conn::http1`, with deliberate bugs.
//! - `server` — a hyper server with a keep-alive shutdown, with deliberate bugs.
//! - `ordering` — sequential POSTs reach the server in order, once; responses keep order.
//! - `no_stall` — pools drain: no stall beyond the bound; the diagnosis of a held-body stall.
//! - `shutdown` — keep-alive shutdown ends in time and loses nothing.
//! - `fd_exhaustion` — fd limits hold, EMFILE reaches the caller, the system recovers.
//! - `h2` — HTTP/2 under fault schedules and GOAWAY: no request lost, refusals retried.
//!
//! `docs/CHECKS.md` has the table of broken variants, the property that catches each and the
//! cases it needs.

mod faults;
mod harness;
mod pool;
mod server;

mod fd_exhaustion;
mod h2;
mod no_stall;
mod ordering;
mod shutdown;

/// Test result: every test can use `?`.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;
