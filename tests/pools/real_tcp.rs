//! The stall of catalog case 1 on real loopback sockets, with httpsim's own Agent over
//! [`TcpConnector`]: the check that `read_pause` models what a real socket does, not only what
//! the simulated one does (docs/FIDELITY.md). Times are scaled down (the server closes each
//! socket 300 ms after its response), and every wait is bounded.
//!
//! The server is a plain loopback listener that answers one request per connection with a
//! `content-length` body written at once, then closes the socket after `CLOSE_AFTER`: the
//! server's inactivity timeout, reduced to what a test can wait for.

use std::time::{Duration, Instant};

use http_body_util::Empty;
use httpsim::client::agent::tcp::TcpConnector;
use httpsim::client::agent::{Agent, AgentConfig, AgentError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Result;

const CLOSE_AFTER: Duration = Duration::from_millis(300);

fn run_local<F: std::future::Future<Output = Result>>(f: F) -> Result {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio::task::LocalSet::new().block_on(&rt, f)
}

/// Serves `body_bytes` per connection and returns the port.
async fn server(body_bytes: usize) -> Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::task::spawn_local(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::task::spawn_local(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let mut res =
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {body_bytes}\r\n\r\n").into_bytes();
                res.resize(res.len() + body_bytes, b'x');
                if s.write_all(&res).await.is_err() {
                    return;
                }
                tokio::time::sleep(CLOSE_AFTER).await;
            });
        }
    });
    Ok(port)
}

/// Sends 20 requests one after the other through a pool of 5, holding every body, and returns
/// when each response head arrived (or stops at `give_up`).
async fn held(
    body_bytes: usize,
    read_pause: Option<usize>,
    give_up: Duration,
) -> Result<Vec<Duration>> {
    let port = server(body_bytes).await?;
    let agent: Agent<TcpConnector, Empty<bytes::Bytes>> = Agent::new(
        AgentConfig {
            max_sockets: 5,
            read_pause,
            ..AgentConfig::default()
        },
        TcpConnector::new(),
    );
    let start = Instant::now();
    let mut heads = Vec::new();
    let mut bodies = Vec::new();
    let uri = format!("http://127.0.0.1:{port}/");
    for _ in 0..20 {
        let req = http::Request::get(&uri).body(Empty::new())?;
        let left = give_up.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, agent.request(req)).await {
            Err(_) => break,
            Ok(res) => {
                let res: http::Response<_> = res.map_err(|e: AgentError| e.to_string())?;
                heads.push(start.elapsed());
                bodies.push(res.into_body());
            }
        }
    }
    // The real figures docs/FIDELITY.md quotes (`--nocapture`).
    eprintln!("{body_bytes} B, read_pause {read_pause:?}: heads at {heads:?}");
    Ok(heads)
}

fn batch_sizes(heads: &[Duration]) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut last: Option<Duration> = None;
    for t in heads {
        match last {
            Some(l) if *t - l < CLOSE_AFTER / 2 => *sizes.last_mut().unwrap() += 1,
            _ => sizes.push(1),
        }
        last = Some(*t);
    }
    sizes
}

#[test]
fn real_sockets_hold_64_kib_bodies_behind_a_16_kib_read_pause_for_good() -> Result {
    run_local(async {
        let heads = held(64 * 1024, Some(16 * 1024), Duration::from_millis(1500)).await?;
        assert_eq!(heads.len(), 5, "5 complete, then nothing: {heads:?}");
        Ok(())
    })
}

#[test]
fn real_sockets_free_held_1_kib_bodies_when_the_server_closes() -> Result {
    run_local(async {
        let heads = held(1024, Some(16 * 1024), Duration::from_secs(5)).await?;
        assert_eq!(batch_sizes(&heads), [5, 5, 5, 5], "{heads:?}");
        Ok(())
    })
}

#[test]
fn real_sockets_that_keep_reading_free_held_64_kib_bodies_when_the_server_closes() -> Result {
    run_local(async {
        let heads = held(64 * 1024, None, Duration::from_secs(5)).await?;
        assert_eq!(batch_sizes(&heads), [5, 5, 5, 5], "{heads:?}");
        Ok(())
    })
}
