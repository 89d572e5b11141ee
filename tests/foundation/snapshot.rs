use std::time::Duration;

use httpsim::server::Handler;
use httpsim::trace::TraceText;
use httpsim::Setup;

use crate::Result;

#[test]
fn three_keep_alive_requests_trace() -> Result {
    let mut s = Setup::default();
    s.world
        .seed(1)
        .latency(Duration::from_millis(2), Duration::from_millis(5));
    s.server.handler = Handler::Fixed {
        body_bytes: 1000,
        chunk_bytes: 400,
        status: 200,
    };
    s.server.idle_timeout = Some(Duration::from_secs(5));
    s.workload.requests = 3;
    let run = s.run()?;
    insta::assert_snapshot!(TraceText(&run.records).to_string());
    Ok(())
}
