//! Fidelity: the same scenario on real sockets (`httpsim run --real`), compared with the
//! simulation (`--compare`). docs/FIDELITY.md says what agrees, what does not, and why.
//!
//! - [`scale`] — `--time-scale K`: the scenario text with every duration divided by K; what
//!   a real run refuses (durations under 1 ms) and what loopback cannot carry.
//! - [`child`] — one child process: the scenario's server or client, httpsim's own (real hyper
//!   code) over the socket layer's real backend (`net/real.rs`), under `RLIMIT_NOFILE`.
//! - [`parent`] — starts both children, ends the run as a simulated one ends, joins the traces.
//! - [`compare`] — the figures of both runs and a verdict for each.
//! - [`command`] — the command line's `--real` flags.
//!
//! Only loopback addresses are ever used, and every wait is bounded.

pub mod child;
pub mod command;
pub mod compare;
pub mod parent;
pub mod scale;

pub use child::child_main;
