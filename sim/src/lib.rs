//! # httpsim — a deterministic network simulation test bench for HTTP pools and servers
//!
//! Real hyper clients and servers — httpsim's own or yours — run inside a simulated network
//! (turmoil-net's TCP, driven event by event on one paused tokio runtime) with controllable
//! latency, loss, partitions, fd limits and faults. Every tokio timer jumps, whoever made it. Every run is a function of its setup and seed and
//! produces a trace that checks and reports turn into a verdict.
//!
//! Your own application, served by httpsim's server and judged by its checks:
//!
//! ```
//! use std::convert::Infallible;
//! use std::time::Duration;
//!
//! // Any tower service: an axum `Router`, a `tower::service_fn`, a tower stack.
//! let app = tower::service_fn(|_req: http::Request<hyper::body::Incoming>| async {
//!     Ok::<_, Infallible>(http::Response::new(http_body_util::Full::new(
//!         bytes::Bytes::from("hello"),
//!     )))
//! });
//! let mut setup = httpsim::Setup::default();
//! setup.server.service(app);
//! setup.server.idle_timeout = Some(Duration::from_secs(5));
//! setup.workload.requests = 5;
//! let verdict = setup.check(&["ordering", "no-stall", "no-lost-request"]);
//! verdict.assert_holds(); // on failure: every violation, and `HTTPSIM_SEED=1 cargo test NAME`
//! assert_eq!(verdict.summary.statuses["200"], 5);
//! ```
//!
//! ## Map of the code
//! - [`setup`] — an experiment in memory: [`Setup::validate`], [`Setup::run`], and the
//!   [`Run`] that judges itself. **Start here**, with [`prelude`] for the one import.
//! - [`verdict`] — [`Setup::check`]: run, judge by named invariants, fail with a replay
//!   command that works in your own crate (`HTTPSIM_SEED=7 cargo test name`).
//! - [`fault`] — faults as data: the `[[fault]]` schedule, per-connection faults, proptest
//!   strategies (feature `proptest`).
//! - [`world`] — the event-driven engine: one paused runtime, a `LocalSet` per host, packets
//!   on tokio's timer wheel, scheduled faults. One of the two doors to the simulator.
//! - [`net`] — the simulated socket ([`net::SimStream`]), listener, fd tables, clock,
//!   hyper-util connector. The other door to the simulator.
//! - [`seq`] — the `x-seq` request header that names each workload request (a leaf).
//! - [`server`] — the hyper server under test: handlers, CPU model, inactivity timeout, accept
//!   loop, shutdown strategies.
//! - [`client`] — pools under test behind the [`client::Pool`] trait, and the request driver
//!   (timeouts, retries, body handling).
//! - [`check`] — invariants over a trace, each violation explained.
//! - [`workload`] — when requests are issued.
//! - [`trace`] — the event log: JSON Lines, text, hash.
//! - [`progress`] — how far a long run has got (display only).
//! - [`summary`] — the figures of a run (counts, first error, longest stall), from its trace.
//! - [`fmt`](mod@fmt) — times as people read them (reports, messages, trace lines).
//! - [`error`] — request error kinds shared by everything downstream.
//! - [`scenario`] — scenario files (TOML format v1): loading, errors, conversion, runs.
//! - [`report`] — report.md, timeline.svg, trace.jsonl, index.md, junit.xml from runs.
//! - [`explore`] — bug hunting: faults drawn per seed from a scenario's `[explore]` table, failures
//!   shrunk and written as scenario files.
//! - [`shard`] — `--shard K/N`: which (scenario, seed) pairs one of N CI jobs runs.
//! - [`real`] — `httpsim run --real`: the same scenario over real loopback sockets in two child
//!   processes, and `--compare` beside the simulation (docs/FIDELITY.md).
//! - [`cli`] — the `httpsim` command line, callable in-process (tests drive it this way).
//! - [`bench`](mod@bench) — how fast httpsim simulates, against bare turmoil-net, hyper over
//!   in-memory pipes, and real loopback.

#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]

pub mod bench;
pub mod check;
#[cfg(feature = "cli")]
pub mod cli;
pub mod client;
mod engine_debug;
pub mod error;
pub mod explore;
pub mod fault;
pub mod fmt;
pub mod net;
pub mod prelude;
pub mod progress;
#[cfg(feature = "cli")]
pub mod real;
#[cfg(feature = "cli")]
pub mod report;
pub mod scenario;
pub mod seq;
pub mod server;
pub mod setup;
pub mod shard;
pub mod summary;
pub mod trace;
pub mod verdict;
pub mod workload;
pub mod world;

pub use error::ErrorKind;

/// The README's examples, compiled and run as doctests so that they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
pub use setup::{Run, RunResult, Setup, SetupError};
pub use trace::{Event, Record, Trace};
pub use verdict::{CheckOptions, Verdict};
pub use world::{NetAction, RunEnd, WorldBuilder};
