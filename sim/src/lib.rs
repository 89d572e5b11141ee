//! # httpsim — a deterministic network simulation test bench for HTTP pools and servers
//!
//! Real hyper clients and servers run inside a simulated network (turmoil) with controllable
//! latency, partitions, fd limits and faults. Every run is a function of its setup and seed and
//! produces a trace that checks and reports turn into a verdict.
//!
//! ## Map of the code
//! - [`setup`] — an experiment in memory: [`Setup::validate`], [`Setup::run`], and the
//!   [`Run`] that judges itself. **Start here**, with [`prelude`] for the one import.
//! - [`fault`] — faults as data: the `[[fault]]` schedule, per-connection faults, proptest
//!   strategies (feature `proptest`).
//! - [`world`] — builds and steps the turmoil simulation, applies scheduled network actions,
//!   turns turmoil's limits into findings, fast-forwards quiet periods. One of the two doors to
//!   turmoil.
//! - [`net`] — the simulated socket ([`net::SimStream`]), listener, fd tables, clock and timer
//!   registry (every timer goes through [`net::clock`]), hyper-util connector. The other door
//!   to turmoil.
//! - [`seq`] — the `x-seq` request header that names each workload request (a leaf).
//! - [`server`] — the hyper server under test: handlers, CPU model, inactivity timeout, accept
//!   loop, shutdown strategies.
//! - [`client`] — pools under test behind the [`client::Pool`] trait, and the request driver
//!   (timeouts, retries, body handling).
//! - [`check`] — invariants over a trace, each violation explained.
//! - [`workload`] — when requests are issued.
//! - [`trace`] — the event log: JSON Lines, text, hash.
//! - [`summary`] — the figures of a run (counts, first error, longest stall), from its trace.
//! - [`fmt`](mod@fmt) — times as people read them (reports, messages, trace lines).
//! - [`error`] — request error kinds shared by everything downstream.
//! - [`scenario`] — scenario files (TOML format v1): loading, errors, conversion, runs.
//! - [`report`] — report.md, timeline.svg, trace.jsonl, index.md, junit.xml from runs.
//! - [`cli`] — the `httpsim` command line, callable in-process (tests drive it this way).
//! - [`bench`](mod@bench) — how fast httpsim simulates, against bare turmoil and real loopback.

#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]

pub mod bench;
pub mod check;
pub mod cli;
pub mod client;
mod engine_debug;
pub mod error;
pub mod fault;
pub mod fmt;
pub mod net;
pub mod prelude;
pub mod report;
pub mod scenario;
pub mod seq;
pub mod server;
pub mod setup;
pub mod summary;
pub mod trace;
pub mod workload;
pub mod world;

pub use error::ErrorKind;

/// The README's examples, compiled and run as doctests so that they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
pub use setup::{Run, RunResult, Setup, SetupError};
pub use trace::{Event, Record, Trace};
pub use world::{NetAction, RunEnd, WorldBuilder};
