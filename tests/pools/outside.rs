//! The Agent outside the simulation: it is generic over its connector, so it runs over any
//! `hyper::rt::Read + Write` socket. Here, in-memory pipes to a hyper server per host, on a
//! plain tokio runtime — which also lets one test use two hosts for `max_total_sockets`.

use std::cell::RefCell;
use std::convert::Infallible;
use std::io;
use std::rc::Rc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use httpsim::client::agent::connect::LocalBoxFuture;
use httpsim::client::agent::{Agent, AgentConfig, Connect, HostStats};
use hyper_util::rt::TokioIo;

use crate::Result;

/// Opens an in-memory pipe per connect, with a hyper server on the other end that answers with
/// the host's name; remembers which hosts it dialled.
#[derive(Clone, Default)]
struct Memory {
    dialled: Rc<RefCell<Vec<String>>>,
}

impl Connect for Memory {
    type Stream = TokioIo<tokio::io::DuplexStream>;

    fn connect(&self, uri: &http::Uri) -> LocalBoxFuture<io::Result<Self::Stream>> {
        let host = uri.host().unwrap_or("?").to_string();
        self.dialled.borrow_mut().push(host.clone());
        let (client, server) = tokio::io::duplex(64 * 1024);
        tokio::task::spawn_local(async move {
            let svc = hyper::service::service_fn(move |_req| {
                let body = Full::new(Bytes::from(host.clone()));
                async move { Ok::<_, Infallible>(http::Response::new(body)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(server), svc)
                .await;
        });
        Box::pin(async move { Ok(TokioIo::new(client)) })
    }
}

fn run_local<F: std::future::Future<Output = Result>>(f: F) -> Result {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio::task::LocalSet::new().block_on(&rt, f)
}

async fn get(agent: &Agent<Memory, Full<Bytes>>, uri: &str) -> Result<String> {
    let res = agent
        .request(http::Request::get(uri).body(Full::new(Bytes::new()))?)
        .await?;
    let body = res.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8(body.to_vec())?)
}

#[test]
fn the_agent_pools_sockets_over_any_connector() -> Result {
    run_local(async {
        let memory = Memory::default();
        let agent = Agent::new(AgentConfig::default(), memory.clone());
        for _ in 0..3 {
            assert_eq!(get(&agent, "http://alpha/").await?, "alpha");
        }
        assert_eq!(*memory.dialled.borrow(), ["alpha"], "one socket, reused");
        let uri: http::Uri = "http://alpha/".parse()?;
        assert_eq!(
            agent.host_stats(&uri),
            HostStats {
                open: 1,
                free: 1,
                waiting: 0
            }
        );
        Ok(())
    })
}

#[test]
fn at_max_total_sockets_a_free_socket_of_another_host_is_closed_to_make_room() -> Result {
    run_local(async {
        let memory = Memory::default();
        let agent = Agent::new(
            AgentConfig {
                max_total_sockets: 2,
                ..AgentConfig::default()
            },
            memory.clone(),
        );
        // Two sockets to alpha at once, both freed afterwards.
        let (a, b) = tokio::join!(get(&agent, "http://alpha/"), get(&agent, "http://alpha/"));
        assert_eq!((a?, b?), ("alpha".to_string(), "alpha".to_string()));
        let alpha: http::Uri = "http://alpha/".parse()?;
        assert_eq!(agent.host_stats(&alpha).free, 2);
        // beta needs a socket; the total is reached; one of alpha's free sockets makes room.
        assert_eq!(get(&agent, "http://beta/").await?, "beta");
        assert_eq!(*memory.dialled.borrow(), ["alpha", "alpha", "beta"]);
        assert_eq!(agent.host_stats(&alpha).open, 1);
        let beta: http::Uri = "http://beta/".parse()?;
        assert_eq!(agent.host_stats(&beta).open, 1);
        agent.check_invariants()?;
        Ok(())
    })
}
