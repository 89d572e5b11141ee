//! httpsim patch: egress cost at scale. N connections (default 1,000;
//! `TNET_SCALE_N=10000` for the figure in FORK.md), each exchanging
//! one request/response and staying open, under the harness-shaped
//! driver that egresses after every event. Prints wall time; run
//! `TNET_SCALE_N=10000 cargo test --release --test scale -- --nocapture --test-threads 1`.

mod common;

use std::time::Duration;

use common::Sim;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use turmoil_net::shim::tokio::net::{TcpListener, TcpStream};
use turmoil_net::KernelConfig;

/// All connections open at the same instant.
#[test]
fn many_connections_one_exchange_each() {
    run(Duration::ZERO);
}

/// Connections start 1 ms apart (tokio's timer resolution), so nearly
/// every packet is its own event and the driver egresses after each
/// one: with a per-egress sweep over every socket this is quadratic.
#[test]
fn many_staggered_connections_one_exchange_each() {
    run(Duration::from_millis(1));
}

fn run(stagger: Duration) {
    let n: usize = std::env::var("TNET_SCALE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let cfg = KernelConfig::default().default_backlog(n + 1);
    let mut sim = Sim::new(cfg);
    sim.host("server", async {
        let l = TcpListener::bind("0.0.0.0:9000").await.unwrap();
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            tokio::task::spawn_local(async move {
                let mut buf = [0u8; 100];
                s.read_exact(&mut buf).await.unwrap();
                s.write_all(&buf).await.unwrap();
                // Keep the connection open until the client closes.
                let _ = s.read(&mut buf).await;
            });
        }
    });
    let wall = std::time::Instant::now();
    let (_, stats) = sim.run("client", async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let mut conns = Vec::new();
        for i in 0..n {
            conns.push(tokio::task::spawn_local(async move {
                tokio::time::sleep(stagger * i as u32).await;
                let mut c = TcpStream::connect("server:9000").await.unwrap();
                let req = [(i % 251) as u8; 100];
                c.write_all(&req).await.unwrap();
                let mut resp = [0u8; 100];
                c.read_exact(&mut resp).await.unwrap();
                assert_eq!(resp, req);
                c
            }));
        }
        let mut open = Vec::new();
        for h in conns {
            open.push(timeout(Duration::from_secs(600), h).await.unwrap().unwrap());
        }
        assert_eq!(open.len(), n);
    });
    let took = wall.elapsed();
    eprintln!(
        "scale: {n} connections, stagger {stagger:?}, {} egress calls, {} packets, wall {took:?}",
        stats.egress_calls, stats.packets
    );
    assert!(stats.events.is_empty(), "no loss, no retransmission");
}
