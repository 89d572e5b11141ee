//! Pools under test: the bounded Agent, the real hyper-util `Client`, and no pool, driven by
//! workloads that reproduce what goes wrong with them.
//!
//! - `agent_rules` — each Agent option: scheduling, free-socket limit, idle timeout, keep-alive.
//! - `common` — helpers that read response times and socket counts from a trace.
//! - `stall` — unread bodies stall a bounded pool until the server's inactivity timeout.
//! - `bounded` — a bounded pool serialises a burst; hyper-util's unbounded pool does not.
//! - `body` — read, drop, hold, hold-then-read, and the total timeout over the body.
//! - `body_reads` — many bodies read in tasks of their own: the trace of the first round.
//! - `timeout` — an unreachable server: a 1 s timeout falls back at 1 s; none waits on.
//! - `invariants` — proptest: the Agent keeps its limits, FIFO order and liveness.
//! - `outside` — the Agent over an in-memory connector, outside the simulation; two hosts.
//! - `idle_race` — the idle-reuse race with hyper-util's `Client`, its window, and its cures.
//! - `many_waiters` — hyper-util's pool with hundreds of checkouts to one host at once.
//! - `real_emfile` — the EMFILE storm in a real client process with `RLIMIT_NOFILE` = 256:
//!   the first EMFILE is request 243, as simulated.
//! - `real_tcp` — the Agent on real loopback sockets: `read_pause` holds 64 KiB bodies for
//!   good there too, and 1 KiB ones free their slots when the server closes.
//! - `own_client` — your own hyper-util client and retry wrapper through `client::adapt`.

mod agent_rules;
mod body;
mod body_reads;
mod bounded;
mod common;
mod idle_race;
mod invariants;
#[path = "../shared/loopback.rs"]
mod loopback;
mod many_waiters;
mod outside;
mod own_client;
mod real_emfile;
mod real_tcp;
mod stall;
mod timeout;

/// Test result: every test can use `?`.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;
