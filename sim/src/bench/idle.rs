//! Idle-time compression: the pool-stall case, where nearly all simulated time is quiet.
//!
//! 200 GETs are issued at once through a pool of at most 5 sockets; callers hold every response
//! body unread, so a socket stays busy until the server's 180 s inactivity timeout closes it.
//! Requests complete in 40 batches of 5, about 180 s apart: about 2 simulated hours in which the
//! network carries a few hundred segments.
//!
//! httpsim's bounded `Agent` pool is being built elsewhere; until it lands, [`StallPool`] gives
//! the same idle structure: a semaphore of 5 permits, one fresh keep-alive hyper connection per
//! request, and a permit freed when its socket closes (the peer's FIN, seen through the socket's
//! pump even with the body unread — as a Node-style agent frees a socket on `close`).

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::Request;
use tokio::sync::Semaphore;

use crate::client::no_pool::{connect_for, to_origin_form};
use crate::client::{BodyMode, ClientError, Pool, RequestBody, SendFuture};
use crate::net::{ConnInfo, HostNet};
use crate::server::Handler;
use crate::setup::PoolFactory;
use crate::trace::ReqId;
use crate::workload::WorkloadKind;
use crate::Setup;

/// At most `max_sockets` connections, one request each; a slot is freed when its socket closes.
pub struct StallPool {
    host: HostNet,
    slots: Arc<Semaphore>,
}

impl StallPool {
    /// A pool on `host` with `max_sockets` slots.
    pub fn new(host: HostNet, max_sockets: usize) -> Self {
        Self {
            host,
            slots: Arc::new(Semaphore::new(max_sockets)),
        }
    }
}

impl Pool for StallPool {
    fn send(&self, _id: ReqId, mut req: Request<RequestBody>) -> SendFuture {
        let host = self.host.clone();
        let slots = self.slots.clone();
        Box::pin(async move {
            let permit = slots
                .acquire_owned()
                .await
                .expect("the pool's semaphore is never closed");
            let stream = connect_for(&host, req.uri(), None).await?;
            let conn = stream.conn();
            let handle = stream.handle();
            let (mut sender, connection) = hyper::client::conn::http1::handshake(stream)
                .await
                .map_err(|e| ClientError::from_error(&e, false))?;
            tokio::task::spawn_local(async move {
                // hyper does not read a socket whose body nobody polls; the pump does, so the
                // peer's close frees the slot even when the caller holds the body.
                tokio::select! {
                    _ = connection => {}
                    _ = handle.peer_closed() => {}
                }
                drop(permit);
            });
            to_origin_form(&mut req);
            let mut res = sender
                .send_request(req)
                .await
                .map_err(|e| ClientError::from_error(&e, true))?;
            res.extensions_mut().insert(ConnInfo { conn });
            Ok(res.map(|b| b.map_err(Into::into).boxed_unsync()))
        })
    }
}

/// The pool-stall setup: `requests` parallel GETs, bodies held, a [`StallPool`] of
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
    let factory: PoolFactory = Rc::new(move |host| Box::new(StallPool::new(host, max_sockets)));
    setup.custom.pool = Some(factory);
    setup
}
