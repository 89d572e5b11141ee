//! `cargo bench -p httpsim` — prints the benchmark table (see `docs/PERFORMANCE.md`).
//!
//! Arguments: `--quick` (a few seconds, smaller shapes), `--format json` (one JSON object, one
//! field per figure), `--no-bare-scale` (skip bare turmoil at the scale points). cargo's own
//! `--bench` argument is ignored.

use httpsim::bench::{self, BenchOptions};

fn main() {
    // A re-executed copy of this binary measuring one scale point in a fresh process.
    bench::child_main();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut options = if args.iter().any(|a| a == "--quick") {
        BenchOptions::quick()
    } else {
        BenchOptions::full()
    };
    if args.iter().any(|a| a == "--no-bare-scale") {
        options.scale_bare = false;
    }
    let json = args
        .windows(2)
        .any(|w| w[0] == "--format" && w[1] == "json")
        || args.iter().any(|a| a == "--format=json");
    let report = bench::run(&options);
    if json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("the report serialises")
        );
    } else {
        print!("{report}");
    }
}
