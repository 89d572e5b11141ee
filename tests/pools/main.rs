//! Pools under test: the bounded Agent, the real hyper-util `Client`, and no pool, driven by
//! workloads that reproduce what goes wrong with them.
//!
//! - `common` — helpers that read response times and socket counts from a trace.
//! - `stall` — unread bodies stall a bounded pool until the server's inactivity timeout.
//! - `bounded` — a bounded pool serialises a burst; hyper-util's unbounded pool does not.

mod bounded;
mod common;
mod stall;
mod timeout;

/// Test result: every test can use `?`.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;
