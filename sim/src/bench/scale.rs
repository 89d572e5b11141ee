//! Scale: `n` connections opened at once, every response held unread so all `n` stay open, through
//! httpsim and through bare turmoil-net + hyper.
//!
//! Each request dials its own connection with hyper's `client::conn::http1` (httpsim's `none`
//! pool; the same in bare), so the figures are the engine's and the socket layer's. Through
//! hyper-util's pool the same point also pays that pool's own cost: every connect that beats its
//! request's checkout drops a waiter and sweeps all the others (`PoolInner::clean_waiters`), O(n²)
//! over `n` requests at once — hyper-util's, not httpsim's, and not something httpsim may patch in
//! your dependency tree. It is measured once, at the largest point ([`run_hyper_util`]).
//!
//! Peak RSS (`VmHWM`) never goes down within a process, so each scale point of the benchmark
//! runs in a child: the benchmark re-executes its own binary with [`CHILD_ENV`] set, and the
//! child calls [`child_main`] first thing, runs one point, prints it as one JSON line and exits.
//! Any binary that runs [`super::run`] with fresh processes must call [`child_main`] at the start
//! of `main` (the `cargo bench` harness does).

use std::process::Command;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::client::{BodyMode, PoolConfig};
use crate::server::Handler;
use crate::workload::WorkloadKind;
use crate::{RunEnd, Setup};

/// One scale point.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScalePoint {
    /// Connections opened at once.
    pub connections: usize,
    /// Wall time of the whole run, in milliseconds (building the world to dropping it).
    pub wall_ms: f64,
    /// Peak resident memory of the process that ran this point alone, in MiB; `None` when it
    /// could not run in a fresh process.
    pub peak_mib: Option<f64>,
    /// Simulated time the run took, in milliseconds.
    pub sim_ms: u64,
    /// Requests that got their response head (must equal `connections`).
    pub completed: u64,
}

fn peak_mib() -> Option<f64> {
    super::mem::peak_rss_kib().map(|k| k as f64 / 1024.0)
}

/// The httpsim setup of a scale point: a connection per request (no pool), `n` parallel GETs,
/// bodies held, a 4 KiB handler.
pub fn setup(n: usize) -> Setup {
    let mut setup = setup_hyper_util(n);
    setup.client.pool = PoolConfig::None;
    setup
}

/// [`setup`] through hyper-util's (unbounded) pool instead: the same connections, plus that
/// pool's O(n²) waiter sweep.
pub fn setup_hyper_util(n: usize) -> Setup {
    let mut setup = Setup::default();
    setup.world.duration(Duration::from_secs(600));
    setup.server.handler = Handler::Fixed {
        body_bytes: 4096,
        chunk_bytes: 4096,
        status: 200,
    };
    setup.client.pool = PoolConfig::default();
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = n as u64;
    setup.workload.body = BodyMode::Hold;
    setup
}

/// Runs one httpsim scale point in this process.
pub fn run_httpsim(n: usize) -> ScalePoint {
    run_setup(n, setup(n))
}

/// Runs one httpsim scale point through hyper-util's pool in this process.
pub fn run_hyper_util(n: usize) -> ScalePoint {
    run_setup(n, setup_hyper_util(n))
}

fn run_setup(n: usize, setup: Setup) -> ScalePoint {
    let start = Instant::now();
    let run = setup.run().expect("a benchmark setup is valid");
    let wall = start.elapsed();
    assert_eq!(run.end, RunEnd::Completed, "scale point {n}: {:?}", run.end);
    ScalePoint {
        connections: n,
        wall_ms: wall.as_secs_f64() * 1e3,
        peak_mib: peak_mib(),
        sim_ms: run.sim_time.as_millis() as u64,
        completed: run.summary().requests.completed,
    }
}

/// Runs one bare turmoil-net + hyper scale point in this process.
pub fn run_bare(n: usize) -> ScalePoint {
    let start = Instant::now();
    let sim = super::bare::parallel_held(n, 4096);
    let wall = start.elapsed();
    ScalePoint {
        connections: n,
        wall_ms: wall.as_secs_f64() * 1e3,
        peak_mib: peak_mib(),
        sim_ms: sim.as_millis() as u64,
        completed: n as u64,
    }
}

/// The growth exponent `k` in `t ∝ n^k` between the first and last point.
pub(crate) fn exponent(points: &[ScalePoint], f: impl Fn(&ScalePoint) -> Option<f64>) -> f64 {
    match (points.first(), points.last()) {
        (Some(a), Some(b)) if b.connections > a.connections => match (f(a), f(b)) {
            (Some(x), Some(y)) if x > 0.0 && y > 0.0 => {
                (y / x).ln() / (b.connections as f64 / a.connections as f64).ln()
            }
            _ => f64::NAN,
        },
        _ => f64::NAN,
    }
}

/// The environment variable that makes a benchmark binary run one scale point and exit; its value
/// is `httpsim:N`, `hyper-util:N` or `bare:N` (engine and connection count).
pub const CHILD_ENV: &str = "HTTPSIM_BENCH_SCALE_POINT";

/// If [`CHILD_ENV`] is set, runs that one scale point, prints it as JSON on stdout and exits the
/// process; otherwise returns at once.
pub fn child_main() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (engine, n) = spec.split_once(':').unwrap_or(("httpsim", spec.as_str()));
    let n: usize = n
        .parse()
        .unwrap_or_else(|_| panic!("{CHILD_ENV}={spec}: bad count"));
    let point = run_point(engine, n);
    println!(
        "{}",
        serde_json::to_string(&point).expect("a scale point serialises")
    );
    std::process::exit(0);
}

/// Runs one scale point in a fresh copy of the current executable, so its peak memory is its
/// own. Falls back to running it in this process (peak memory then unknown) if that fails.
pub(crate) fn in_child(engine: &str, n: usize) -> ScalePoint {
    // A binary that does not call `child_main` would run the whole benchmark again in the
    // child; the variable being set already means that happened: stop the recursion here.
    let nested = std::env::var_os(CHILD_ENV).is_some();
    let child = std::env::current_exe().and_then(|exe| {
        if nested {
            return Err(std::io::Error::other("nested benchmark child"));
        }
        Command::new(exe)
            .env(CHILD_ENV, format!("{engine}:{n}"))
            .output()
    });
    if let Ok(out) = child {
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(p) = text
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str::<ScalePoint>(l).ok())
        {
            return p;
        }
    }
    let mut p = run_point(engine, n);
    p.peak_mib = None;
    p
}

/// Runs one scale point of `engine` (`httpsim`, `hyper-util` or `bare`) in this process.
pub(crate) fn run_point(engine: &str, n: usize) -> ScalePoint {
    match engine {
        "bare" => run_bare(n),
        "hyper-util" => run_hyper_util(n),
        _ => run_httpsim(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every engine of a scale point opens all its connections in the same few simulated
    /// milliseconds: none waits for a SYN retried after a full accept queue (1 s), and every
    /// request gets its head.
    #[test]
    fn every_scale_engine_holds_its_connections_open_together() {
        for engine in ["httpsim", "hyper-util", "bare"] {
            let p = run_point(engine, 1500);
            assert_eq!(p.completed, 1500, "{engine}: {p:?}");
            assert!(p.sim_ms < 100, "{engine}: {p:?}");
        }
    }
}
