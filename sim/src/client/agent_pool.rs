//! The [`Agent`] as a [`Pool`]: dials through the simulated network and
//! traces every queueing and checkout as [`Event::Checkout`].

use hyper::Request;

use super::agent::{Agent, AgentConfig, AgentConn, AgentEvent, RequestTag};
use super::{ClientError, Pool, RequestBody, SendFuture};
use crate::net::{ConnInfo, HostNet, SimConnector};
use crate::trace::{Event, ReqId};

/// The Agent on a simulated host.
pub struct AgentPool {
    agent: Agent<SimConnector, RequestBody>,
}

impl std::fmt::Debug for AgentPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentPool").finish_non_exhaustive()
    }
}

impl AgentPool {
    /// An Agent on `host` with `config`; `connect_timeout` bounds each connect.
    pub fn new(
        host: HostNet,
        config: AgentConfig,
        connect_timeout: Option<std::time::Duration>,
    ) -> Self {
        let mut connector = SimConnector::new(host.clone());
        connector.set_connect_timeout(connect_timeout);
        let agent = Agent::new(config, connector);
        agent.add_observer(move |e| {
            let (req, conn, reused) = match *e {
                AgentEvent::Queued { tag } => (tag, None, false),
                AgentEvent::Checkout { tag, conn, reused } => (tag, conn, reused),
                // Its checkout follows; the trace shows queueing and checkout only.
                AgentEvent::Served { .. } => return,
            };
            host.record(Event::Checkout {
                req: req.unwrap_or(0),
                conn,
                reused,
            });
        });
        Self { agent }
    }

    /// The Agent itself (for stats and invariant checks).
    pub fn agent(&self) -> &Agent<SimConnector, RequestBody> {
        &self.agent
    }
}

impl Pool for AgentPool {
    fn numbers_attempts(&self) -> bool {
        false
    }

    fn send(&self, id: ReqId, mut req: Request<RequestBody>) -> SendFuture {
        req.extensions_mut().insert(RequestTag(id));
        let fut = self.agent.request(req);
        Box::pin(async move {
            match fut.await {
                Ok(mut res) => {
                    if let Some(AgentConn { id: Some(conn), .. }) =
                        res.extensions().get::<AgentConn>().copied()
                    {
                        res.extensions_mut().insert(ConnInfo { conn });
                    }
                    Ok(res.map(super::box_body))
                }
                Err(e) => Err(ClientError::from_error(&e, e.written())),
            }
        })
    }
}
