use std::collections::BTreeSet;
use std::time::Duration;

use httpsim::workload::WorkloadKind;
use httpsim::{trace, Setup};

use crate::Result;

fn setup(seed: u64) -> Setup {
    let mut s = Setup::default();
    s.world
        .seed(seed)
        .latency(Duration::from_millis(1), Duration::from_millis(20))
        .duration(Duration::from_secs(60));
    s.workload.kind = WorkloadKind::Parallel;
    s.workload.requests = 8;
    s
}

#[test]
fn same_seed_same_trace_over_fifty_seeds() -> Result {
    let mut hashes = BTreeSet::new();
    for seed in 0..50 {
        let a = trace::to_jsonl(&setup(seed).run()?.records);
        let b = trace::to_jsonl(&setup(seed).run()?.records);
        assert_eq!(a, b, "seed {seed} gave two different traces");
        hashes.insert(trace::hash(&setup(seed).run()?.records));
    }
    assert!(
        hashes.len() > 40,
        "random latency must make seeds differ; got {} distinct traces of 50",
        hashes.len()
    );
    Ok(())
}
