//! Peak memory of a process, and running one scale point in a fresh process to measure it.
//!
//! Peak RSS (`VmHWM`) never goes down within a process, so each scale point of the benchmark
//! runs in a child: the benchmark re-executes its own binary with
//! [`CHILD_ENV`] set, and the child calls [`child_main`] first thing, runs one point, prints it as
//! one JSON line and exits. Any binary that runs [`super::run`] with fresh processes must call
//! [`child_main`] at the start of `main` (the `cargo bench` harness does).

use std::process::Command;

use super::scale::{self, ScalePoint};

/// The environment variable that makes a benchmark binary run one scale point and exit; its value
/// is `httpsim:N` or `bare:N` (engine and connection count).
pub const CHILD_ENV: &str = "HTTPSIM_BENCH_SCALE_POINT";

/// Peak resident set size of this process in KiB (`VmHWM` from `/proc/self/status`); `None`
/// where `/proc` is not available.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

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
    let point = match engine {
        "bare" => scale::run_bare(n),
        _ => scale::run_httpsim(n),
    };
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
    let mut p = match engine {
        "bare" => scale::run_bare(n),
        _ => scale::run_httpsim(n),
    };
    p.peak_mib = None;
    p
}
