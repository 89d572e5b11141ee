use std::path::Path;

use crate::Result;

/// Hundreds of requests at a steady rate, each body read in its own task, over hyper-util's
/// pool: the client task waits for every read before it ends, and how it waits decides the
/// order in which the pool's sockets close when it does. These hashes are the traces of the
/// event-driven engine on turmoil-net as first landed, except seed 1's since one ACK per burst:
/// an ACK that rides on a data segment reaches the peer in a different place among the packets
/// of the same instant, so sockets are woken in another order within that instant and hyper-util
/// reuses another idle socket for some requests — the same events at the same times, conn ids
/// aside, and the same figures. Performance work must not change them otherwise.
#[test]
fn a_rate_workload_reading_every_body_gives_the_same_trace_as_before() -> Result {
    let src = r#"
        name = "body-reads"
        description = "rate workload, every body read"
        seed = 1
        duration = "2m"
        [network]
        latency = { min = "1ms", max = "15ms" }
        [server]
        idle_timeout = "3s"
        handler = { kind = "fixed", body_bytes = 3000, chunk_bytes = 1000 }
        [client]
        pool = { kind = "hyper-util" }
        timeout = { response = "800ms" }
        retry = { attempts = 3 }
        [workload]
        kind = "rate"
        rate = 200
        requests = 300
        body = "read"
    "#;
    let scenario = httpsim::scenario::parse(Path::new("body-reads.toml"), src)?;
    for (seed, want) in [(1, "f4b58304f1f55b46"), (2, "9b7cd1a2c18d5076")] {
        let run = httpsim::scenario::run(&scenario, seed)?;
        assert!(run.passed, "seed {seed}: {run:?}");
        assert_eq!(run.trace_hash, want, "seed {seed}");
    }
    Ok(())
}
