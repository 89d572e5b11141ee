//! Idle-time compression: the pool-stall case, where nearly all simulated time is quiet.
//!
//! 200 GETs are issued at once through the bounded Agent pool of at most 5 sockets; callers hold
//! every response body unread, so a socket stays busy until the server's 180 s inactivity timeout
//! closes it and the Agent, seeing the peer's close through the socket's pump, frees the slot.
//! Requests complete in 40 batches of 5, about 180 s apart: about 2 simulated hours in which the
//! network carries a few hundred segments.

use std::time::Duration;

use crate::client::{AgentConfig, BodyMode, PoolConfig, Scheduling};
use crate::server::Handler;
use crate::workload::WorkloadKind;
use crate::Setup;

/// The pool-stall setup: `requests` parallel GETs, bodies held, an Agent pool of
/// `max_sockets`, 64 KiB responses, server inactivity timeout `idle`, 1 ms tick and latency.
pub fn setup(requests: u64, max_sockets: usize, idle: Duration) -> Setup {
    let mut setup = Setup::default();
    let batches = requests.div_ceil(max_sockets as u64);
    setup
        .world
        .tick(Duration::from_millis(1))
        .duration(idle * (batches as u32 + 2));
    setup.server.idle_timeout = Some(idle);
    // 64 KiB, as in the catalog case: more than hyper buffers for a body nobody polls, so the
    // connection stays busy until the server closes it (a 4 KiB body would be taken in whole and
    // the connection freed at once).
    setup.server.handler = Handler::Fixed {
        body_bytes: 65536,
        chunk_bytes: 16384,
        status: 200,
    };
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = requests;
    setup.workload.body = BodyMode::Hold;
    setup.client.pool = PoolConfig::Agent(AgentConfig {
        max_sockets,
        scheduling: Scheduling::Fifo,
        ..AgentConfig::default()
    });
    setup
}
