//! httpsim patch: limits a simulation can reach behave as on Linux
//! instead of panicking.

mod common;

use std::io::ErrorKind;
use std::time::Duration;

use common::Sim;
use tokio::time::{sleep, Instant};
use turmoil_net::shim::tokio::net::{TcpListener, TcpStream};
use turmoil_net::{KernelConfig, KernelEvent};

/// A full accept queue drops the SYN; the client's SYN retransmission
/// (after 1 s, then 2 s more) gets in once the application accepts.
#[test]
fn full_accept_queue_drops_syn_until_accept() {
    let cfg = KernelConfig::default().default_backlog(1);
    let mut sim = Sim::new(cfg);
    sim.host("server", async {
        let l = TcpListener::bind("0.0.0.0:9000").await.unwrap();
        sleep(Duration::from_millis(2500)).await;
        let _a = l.accept().await.unwrap();
        let _b = l.accept().await.unwrap();
        std::future::pending::<()>().await;
    });
    let (took, stats) = sim.run("client", async {
        sleep(Duration::from_millis(1)).await;
        let _first = TcpStream::connect("server:9000").await.unwrap();
        let start = Instant::now();
        let _second = TcpStream::connect("server:9000").await.unwrap();
        start.elapsed()
    });
    // SYNs at 0 (dropped), 1 s (dropped), 3 s (accepted), + one RTT.
    assert_eq!(took, Duration::from_millis(3020));
    let attempts: Vec<u32> = stats
        .events
        .iter()
        .map(|(_, e)| match e {
            KernelEvent::SynRetransmit {
                syn_ack: false,
                attempt,
                ..
            } => *attempt,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(attempts, [1, 2]);
}

/// Ephemeral ports exhausted: `connect` fails with `AddrNotAvailable`
/// (Linux's EADDRNOTAVAIL); closing a connection frees its port.
#[test]
fn ephemeral_port_exhaustion_is_addr_not_available() {
    let cfg = KernelConfig::default().ephemeral_ports(50000..=50002);
    let mut sim = Sim::new(cfg);
    sim.host("server", async {
        let l = TcpListener::bind("0.0.0.0:9000").await.unwrap();
        let mut keep = Vec::new();
        loop {
            keep.push(l.accept().await.unwrap());
        }
    });
    sim.run("client", async {
        sleep(Duration::from_millis(1)).await;
        let mut conns = Vec::new();
        for _ in 0..3 {
            conns.push(TcpStream::connect("server:9000").await.unwrap());
        }
        let err = TcpStream::connect("server:9000").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrNotAvailable);
        // The server never closes its side, so the dropped socket
        // waits in FinWait2 and keeps its port until tcp_fin_timeout.
        drop(conns.pop());
        sleep(Duration::from_secs(1)).await;
        let err = TcpStream::connect("server:9000").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrNotAvailable);
        sleep(Duration::from_secs(60)).await;
        TcpStream::connect("server:9000").await.unwrap();
    });
}
