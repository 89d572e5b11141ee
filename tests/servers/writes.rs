use std::collections::BTreeMap;
use std::time::Duration;

use httpsim::server::Handler;
use httpsim::workload::WorkloadKind;
use httpsim::{Event, RunEnd, Setup};

use crate::Result;

/// A response of more chunks than hyper queues before flushing (16) still leaves the server in
/// one write, as hyper's flattened write buffer sends it: under jittered latency each segment
/// draws its own delay, so a response split in two would arrive in pieces (its body ending
/// after its head) and shift every later draw.
#[test]
fn a_response_of_many_small_chunks_leaves_in_one_write_and_arrives_whole() -> Result {
    for chunks in [17, 40] {
        let mut setup = Setup::default();
        setup.world.duration(Duration::from_secs(60));
        setup
            .world
            .latency(Duration::from_millis(1), Duration::from_millis(20));
        setup.server.handler = Handler::Fixed {
            body_bytes: chunks * 1000,
            chunk_bytes: 1000,
            status: 200,
        };
        setup.workload.kind = WorkloadKind::Parallel;
        setup.workload.requests = 12;
        let run = setup.run()?;
        assert_eq!(run.end, RunEnd::Completed, "{chunks} chunks");
        let mut heads = BTreeMap::new();
        let mut ends = BTreeMap::new();
        for r in &run.records {
            match &r.event {
                Event::ResponseHead { req, .. } => {
                    heads.insert(*req, r.t_us);
                }
                Event::BodyEnd { req, bytes, .. } => {
                    assert_eq!(
                        *bytes,
                        chunks as u64 * 1000,
                        "{chunks} chunks: body of {req}"
                    );
                    ends.insert(*req, r.t_us);
                }
                _ => {}
            }
        }
        assert_eq!(heads.len(), 12, "{chunks} chunks");
        assert_eq!(
            heads, ends,
            "{chunks} chunks: (request, µs) of heads vs body ends"
        );
    }
    Ok(())
}
