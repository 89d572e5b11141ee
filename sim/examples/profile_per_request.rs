//! A loop of the per-request benchmark for profilers: `cargo run --release -p httpsim --example
//! profile_per_request -- [httpsim|bare|duplex] [runs]` (default: httpsim, 15 runs). Each run is
//! 2000 sequential keep-alive GETs of 4 KiB, through httpsim (run, summary and every invariant),
//! through bare turmoil-net + hyper, or through hyper over `tokio::io::duplex` (the floor); it
//! prints wall µs per request. See docs/PERFORMANCE.md for the `perf` and
//! `valgrind --tool=callgrind` command lines.

fn main() {
    let mut args = std::env::args().skip(1);
    let engine = args.next().unwrap_or_else(|| "httpsim".into());
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(15);
    let setup = httpsim::bench::per_request_setup(2000, 4096);
    for _ in 0..runs {
        let start = std::time::Instant::now();
        match engine.as_str() {
            "bare" => {
                httpsim::bench::bare_sequential(2000, 4096);
            }
            "duplex" => {
                httpsim::bench::duplex_sequential(2000, 4096);
            }
            _ => {
                httpsim::bench::run_and_check(&setup);
            }
        }
        eprintln!(
            "{engine}: {:.2} µs/req",
            start.elapsed().as_secs_f64() * 1e6 / 2000.0
        );
    }
}
