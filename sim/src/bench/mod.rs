//! Benchmarks: how fast httpsim simulates, side by side with its baselines, in one run.
//!
//! - [`run`] takes [`BenchOptions`] and returns a [`BenchReport`] (start here). The report's
//!   `Display` is the table a person reads; its `Serialize` is `--format json`, one field per
//!   figure.
//! - [`per_request`](BenchReport::per_request) — sequential keep-alive GETs through full httpsim,
//!   through bare turmoil-net + hyper (`bare`), over `tokio::io::duplex` with no network at
//!   all (`duplex`, the floor), and over real loopback TCP (`loopback`).
//! - [`scale`] — `n` connections opened at once, each point in a fresh process ([`mem`]) so its
//!   peak memory is its own.
//! - [`idle`] — the pool-stall case: simulated seconds per wall second when nearly all time is
//!   quiet; and the user-timer case, where the quiet time is a server's own `tokio::time::sleep`.
//! - [`explore`](mod@explore) — explored runs per wall second on the catalog's shapes.
//! - [`multiplex`] — HTTP/2 beside HTTP/1.1: 100 requests in flight as streams of one
//!   connection, or as 100 connections.
//!
//! Timings are wall-clock figures for reports only; nothing here feeds a trace, and no test
//! asserts on them. `docs/PERFORMANCE.md` has the measured table and where the time goes.

mod bare;
mod duplex;
pub mod explore;
pub mod idle;
mod io;
mod loopback;
pub mod mem;
pub mod multiplex;
pub mod scale;
mod table;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::{BodyMode, PoolConfig};
use crate::server::Handler;
use crate::workload::WorkloadKind;
use crate::{RunEnd, Setup};
/// The bare turmoil-net + hyper side of the per-request comparison (for profiling loops).
pub use bare::sequential as bare_sequential;
pub use duplex::sequential as duplex_sequential;
pub use scale::child_main;
pub use scale::ScalePoint;

/// What to measure. Every field documents its default ([`BenchOptions::full`]).
#[derive(Clone, Debug, PartialEq)]
pub struct BenchOptions {
    /// Sequential GETs in the per-request comparison. The default is 2000.
    pub requests: usize,
    /// Response body size of the per-request comparison. The default is 4096.
    pub body_bytes: usize,
    /// Each per-request measurement is repeated this often, httpsim and bare turmoil-net taking
    /// turns, and the fastest of each kept (the machine is shared; the minimum is the least
    /// disturbed); the idle cases keep the fastest of as many runs. The default is 5.
    pub repeat: usize,
    /// Connection counts of the scale measurement. The default is 1000, 2000, 5000, 10000.
    pub scale: Vec<usize>,
    /// Also measure bare turmoil-net + hyper at each scale point. The default is `true`.
    pub scale_bare: bool,
    /// Run each scale point in a fresh process (re-executing the current binary, which must call
    /// [`child_main`] first) to measure its peak memory. The default is `true`.
    pub fresh_process: bool,
    /// Requests of the idle-time case. The default is 200.
    pub idle_requests: u64,
    /// Pool size of the idle-time case. The default is 5.
    pub idle_sockets: usize,
    /// Server inactivity timeout of the idle-time case. The default is 180 s.
    pub idle_timeout: Duration,
    /// Seeds explored per catalog shape in the exploration case. The default is 20.
    pub explore_seeds: u64,
    /// Requests of the HTTP/2 beside HTTP/1.1 case, 100 in flight at a time. The default is
    /// 2000.
    pub multiplex_requests: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self::full()
    }
}

impl BenchOptions {
    /// The full benchmark, as the targets in `docs/PERFORMANCE.md` are stated.
    pub fn full() -> Self {
        Self {
            requests: 2000,
            body_bytes: 4096,
            repeat: 5,
            scale: vec![1000, 2000, 5000, 10000],
            scale_bare: true,
            fresh_process: true,
            idle_requests: 200,
            idle_sockets: 5,
            idle_timeout: Duration::from_secs(180),
            explore_seeds: 20,
            multiplex_requests: 2000,
        }
    }

    /// A few seconds in all: the same shapes, smaller.
    pub fn quick() -> Self {
        Self {
            requests: 300,
            repeat: 1,
            scale: vec![500, 1000],
            idle_requests: 20,
            explore_seeds: 3,
            multiplex_requests: 300,
            ..Self::full()
        }
    }
}

/// The per-request comparison.
#[derive(Clone, Debug, Serialize)]
pub struct PerRequest {
    /// Sequential GETs per run.
    pub requests: usize,
    /// Body bytes per response.
    pub body_bytes: usize,
    /// Wall µs per request through full httpsim: the run (sockets, fd tables, trace), its
    /// summary and every invariant, as `httpsim run` does them.
    pub httpsim_us: f64,
    /// Wall µs per request through bare turmoil-net + hyper (the smallest event-driven harness).
    pub bare_us: f64,
    /// Wall µs per request over `tokio::io::duplex`: hyper alone, no network at all.
    pub duplex_us: f64,
    /// Wall µs per request over real loopback TCP (`None` if loopback was unavailable).
    pub loopback_us: Option<f64>,
    /// `httpsim_us / bare_us`.
    pub httpsim_over_bare: f64,
    /// `httpsim_us / duplex_us`.
    pub httpsim_over_duplex: f64,
    /// `bare_us / duplex_us`: what the event-driven design costs before any httpsim layer (a
    /// paused tokio clock that jumps per packet, turmoil-net's TCP, two LocalSets), measured in
    /// the same run. `httpsim_over_duplex` cannot go below it by much; docs/PERFORMANCE.md, "The
    /// floor under the per-request target".
    pub bare_over_duplex: f64,
    /// `httpsim_us / loopback_us`.
    pub httpsim_over_loopback: Option<f64>,
    /// Simulated ms per request (the same through httpsim and bare turmoil-net with 1 ms latency).
    pub sim_ms_per_request: f64,
}

/// The scale measurement.
#[derive(Clone, Debug, Serialize)]
pub struct Scale {
    /// Through httpsim, one point per connection count.
    pub httpsim: Vec<ScalePoint>,
    /// Through bare turmoil-net + hyper (empty when not measured).
    pub bare: Vec<ScalePoint>,
    /// The largest point through httpsim with hyper-util's pool instead of a connection per
    /// request: what that pool's O(n²) waiter sweep adds (see [`scale`]).
    pub httpsim_hyper_util: Option<ScalePoint>,
    /// Growth exponent of httpsim's wall time between the first and last point.
    pub httpsim_time_exponent: f64,
    /// Growth exponent of httpsim's peak memory between the first and last point.
    pub httpsim_memory_exponent: f64,
    /// Growth exponent of bare turmoil-net's wall time (NaN when not measured).
    pub bare_time_exponent: f64,
}

/// The idle-time compression measurement.
#[derive(Clone, Debug, Serialize)]
pub struct Idle {
    /// Requests issued.
    pub requests: u64,
    /// Pool size.
    pub sockets: usize,
    /// Server inactivity timeout, s.
    pub idle_timeout_s: u64,
    /// Simulation tick, ms.
    pub tick_ms: u64,
    /// Requests completed (must equal `requests`).
    pub completed: u64,
    /// Longest stall seen, s (about the inactivity timeout).
    pub longest_stall_s: f64,
    /// Simulated seconds the run covered.
    pub sim_s: f64,
    /// Wall seconds it took.
    pub wall_s: f64,
    /// Simulated seconds per wall second.
    pub sim_per_wall: f64,
}

/// The user-timer case: quiet time made by a server's own tokio timers.
#[derive(Clone, Debug, Serialize)]
pub struct IdleUser {
    /// Requests issued (sequentially).
    pub requests: u64,
    /// How long the handler sleeps per request, s.
    pub nap_s: u64,
    /// Requests completed (must equal `requests`).
    pub completed: u64,
    /// Simulated seconds the run covered.
    pub sim_s: f64,
    /// Wall seconds it took.
    pub wall_s: f64,
    /// Simulated seconds per wall second.
    pub sim_per_wall: f64,
}

/// Everything one benchmark run measured.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Per-request cost.
    pub per_request: PerRequest,
    /// Scale.
    pub scale: Scale,
    /// Idle-time compression.
    pub idle: Idle,
    /// Idle-time compression when the quiet time is the user's own tokio timers.
    pub idle_user: IdleUser,
    /// Exploration throughput.
    pub explore: explore::ExploreBench,
    /// HTTP/2 beside HTTP/1.1.
    pub multiplex: multiplex::Multiplex,
}

/// The httpsim setup of the per-request comparison: hyper-util's pool, sequential GETs, bodies
/// read, a fixed handler of `body_bytes`, 1 ms tick and latency.
pub fn per_request_setup(requests: usize, body_bytes: usize) -> Setup {
    let mut setup = Setup::default();
    setup.world.duration(Duration::from_secs(3600));
    setup.server.handler = Handler::Fixed {
        body_bytes,
        chunk_bytes: body_bytes.max(1),
        status: 200,
    };
    setup.client.pool = PoolConfig::default();
    setup.workload.kind = WorkloadKind::Sequential;
    setup.workload.requests = requests as u64;
    setup.workload.body = BodyMode::Read;
    setup
}

/// Runs `setup` the way the scenario runner does — the run, its figures and every invariant —
/// and returns the result with the wall time of all three. Panics if an invariant broke.
pub fn run_and_check(setup: &Setup) -> (crate::RunResult, Duration) {
    let start = Instant::now();
    let run = setup.run().expect("a benchmark setup is valid");
    let summary = run.summary();
    let verdicts = run.check_all();
    let wall = start.elapsed();
    for v in &verdicts {
        assert!(
            v.passed,
            "benchmark run broke {}: {:?}",
            v.name, v.violations
        );
    }
    assert_eq!(summary.requests.failed, 0, "benchmark run had failures");
    (run, wall)
}

fn measure_per_request(o: &BenchOptions) -> PerRequest {
    let setup = per_request_setup(o.requests, o.body_bytes);
    let mut sim_time = Duration::ZERO;
    // httpsim and bare alternate, so a noisy spell of the machine hits both alike.
    let (mut httpsim, mut bare, mut pipes) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..o.repeat.max(1) {
        let (run, wall) = run_and_check(&setup);
        assert_eq!(run.end, RunEnd::Completed, "per-request run: {:?}", run.end);
        sim_time = run.sim_time;
        httpsim = httpsim.min(wall);
        let start = Instant::now();
        bare::sequential(o.requests, o.body_bytes);
        bare = bare.min(start.elapsed());
        pipes = pipes.min(duplex::sequential(o.requests, o.body_bytes));
    }
    let loopback = (0..o.repeat.max(1))
        .filter_map(|_| loopback::sequential(o.requests, o.body_bytes).ok())
        .min();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / o.requests as f64;
    let (h, b, d, l) = (per(httpsim), per(bare), per(pipes), loopback.map(per));
    PerRequest {
        requests: o.requests,
        body_bytes: o.body_bytes,
        httpsim_us: h,
        bare_us: b,
        duplex_us: d,
        loopback_us: l,
        httpsim_over_bare: h / b,
        httpsim_over_duplex: h / d,
        bare_over_duplex: b / d,
        httpsim_over_loopback: l.map(|l| h / l),
        sim_ms_per_request: sim_time.as_secs_f64() * 1e3 / o.requests as f64,
    }
}

fn measure_scale(o: &BenchOptions) -> Scale {
    let point = |engine: &str, n: usize| {
        if o.fresh_process {
            scale::in_child(engine, n)
        } else {
            scale::run_point(engine, n)
        }
    };
    let httpsim: Vec<_> = o.scale.iter().map(|&n| point("httpsim", n)).collect();
    let bare: Vec<_> = if o.scale_bare {
        o.scale.iter().map(|&n| point("bare", n)).collect()
    } else {
        Vec::new()
    };
    let httpsim_hyper_util = o.scale.iter().max().map(|&n| point("hyper-util", n));
    Scale {
        httpsim_hyper_util,
        httpsim_time_exponent: scale::exponent(&httpsim, |p| Some(p.wall_ms)),
        httpsim_memory_exponent: scale::exponent(&httpsim, |p| p.peak_mib),
        bare_time_exponent: scale::exponent(&bare, |p| Some(p.wall_ms)),
        httpsim,
        bare,
    }
}

/// The fastest of `repeat` runs of `setup`, as the per-request figures keep theirs: one run alone
/// is mostly the first touch of a fresh heap's pages, which says more about the process than the
/// engine.
fn fastest_run(setup: &Setup, repeat: usize) -> crate::RunResult {
    (0..repeat.max(1))
        .map(|_| setup.run().expect("a benchmark setup is valid"))
        .min_by_key(|run| run.wall_time)
        .expect("at least one run")
}

fn measure_idle(o: &BenchOptions) -> Idle {
    let setup = idle::setup(o.idle_requests, o.idle_sockets, o.idle_timeout);
    let run = fastest_run(&setup, o.repeat);
    let summary = run.summary();
    let sim_s = run.sim_time.as_secs_f64();
    let wall_s = run.wall_time.as_secs_f64();
    Idle {
        requests: o.idle_requests,
        sockets: o.idle_sockets,
        idle_timeout_s: o.idle_timeout.as_secs(),
        tick_ms: 1,
        completed: summary.requests.completed,
        longest_stall_s: summary.longest_stall_ms as f64 / 1e3,
        sim_s,
        wall_s,
        sim_per_wall: sim_s / wall_s,
    }
}

fn measure_idle_user(o: &BenchOptions) -> IdleUser {
    let nap = o.idle_timeout;
    let setup = idle::user_setup(o.idle_requests, nap);
    let run = fastest_run(&setup, o.repeat);
    let summary = run.summary();
    let sim_s = run.sim_time.as_secs_f64();
    let wall_s = run.wall_time.as_secs_f64();
    IdleUser {
        requests: o.idle_requests,
        nap_s: nap.as_secs(),
        completed: summary.requests.completed,
        sim_s,
        wall_s,
        sim_per_wall: sim_s / wall_s,
    }
}

/// Runs every measurement `options` asks for, in this order: per-request (simulated, then
/// loopback), scale, idle time, idle time of the user's own timers, exploration, HTTP/2 beside
/// HTTP/1.1.
pub fn run(options: &BenchOptions) -> BenchReport {
    BenchReport {
        per_request: measure_per_request(options),
        scale: measure_scale(options),
        idle: measure_idle(options),
        idle_user: measure_idle_user(options),
        explore: explore::measure(options.explore_seeds),
        multiplex: multiplex::measure(options.multiplex_requests, options.repeat),
    }
}
