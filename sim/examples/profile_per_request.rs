//! A loop of the per-request benchmark for profilers: `cargo run --release -p httpsim --example
//! profile_per_request -- [httpsim|bare|duplex|idle] [runs]` (default: httpsim, 15 runs). Each run is
//! 2000 sequential keep-alive GETs of 4 KiB, through httpsim (run, summary and every invariant),
//! through bare turmoil-net + hyper, or through hyper over `tokio::io::duplex` (the floor); it
//! prints wall µs per request. `idle` runs the bench's idle-time case (200 held 64 KiB
//! responses through 5 sockets) and prints its simulated seconds per wall second. See docs/PERFORMANCE.md for the `perf` and
//! `valgrind --tool=callgrind` command lines.

fn main() {
    let mut args = std::env::args().skip(1);
    let engine = args.next().unwrap_or_else(|| "httpsim".into());
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(15);
    let setup = httpsim::bench::per_request_setup(2000, 4096);
    let idle = httpsim::bench::idle::setup(200, 5, std::time::Duration::from_secs(180));
    for _ in 0..runs {
        let start = std::time::Instant::now();
        match engine.as_str() {
            "bare" => {
                httpsim::bench::bare_sequential(2000, 4096);
            }
            "duplex" => {
                httpsim::bench::duplex_sequential(2000, 4096);
            }
            "idle" => {
                let run = idle.run().expect("a benchmark setup is valid");
                eprintln!(
                    "idle: {:.0} sim s / wall s (run only)",
                    run.sim_time.as_secs_f64() / run.wall_time.as_secs_f64()
                );
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
