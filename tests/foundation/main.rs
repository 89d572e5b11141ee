//! Foundation: the simulated network core with real hyper on both sides.
//!
//! - `keep_alive` — thousands of sequential requests over one pooled connection.
//! - `emfile` — a burst without a pool exhausts the client's fd table at the exact request.
//! - `determinism` — same seed, same trace; different seeds, different traces.
//! - `snapshot` — a short normalised trace, pinned with insta.
//! - `validate` — every rule of `Setup::validate`, one case each, and `run` refusing them.

mod determinism;
mod emfile;
mod keep_alive;
mod snapshot;
mod validate;

/// Test result: every test can use `?`.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;
