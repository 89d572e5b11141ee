use std::collections::BTreeSet;
use std::time::Duration;

use httpsim::client::PoolConfig;
use httpsim::server::Handler;
use httpsim::workload::WorkloadKind;
use httpsim::{Event, RunEnd, Setup};

use crate::Result;

#[test]
fn two_thousand_sequential_gets_share_one_connection() -> Result {
    let mut setup = Setup::default();
    setup
        .world
        .seed(7)
        .latency(Duration::from_millis(1), Duration::from_millis(20))
        .duration(Duration::from_secs(600));
    setup.server.handler = Handler::Fixed {
        body_bytes: 4096,
        chunk_bytes: 4096,
        status: 200,
    };
    setup.client.pool = PoolConfig::default();
    setup.workload.kind = WorkloadKind::Sequential;
    setup.workload.requests = 2000;

    let run = setup.run()?;
    assert_eq!(run.end, RunEnd::Completed);
    let mut heads = 0;
    let mut conns = BTreeSet::new();
    let mut connects = 0;
    let mut bodies = 0;
    for r in &run.records {
        match &r.event {
            Event::ResponseHead { status, conn, .. } => {
                assert_eq!(*status, 200);
                heads += 1;
                conns.insert(conn.expect("hyper-util responses carry their connection id"));
            }
            Event::Connected { .. } => connects += 1,
            Event::BodyEnd { bytes, .. } => {
                assert_eq!(*bytes, 4096);
                bodies += 1;
            }
            _ => {}
        }
    }
    assert_eq!(heads, 2000);
    assert_eq!(bodies, 2000);
    assert_eq!(connects, 1, "keep-alive must reuse the one connection");
    assert_eq!(conns.len(), 1);
    Ok(())
}
