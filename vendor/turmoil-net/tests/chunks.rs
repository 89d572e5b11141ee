//! httpsim patch: the chunked send and receive buffers (`src/kernel/chunks.rs`) under the
//! harness-shaped driver of `common`. A write of shared `Bytes` crosses the network and is
//! read without a copy; copied and shared writes keep their order, across segment boundaries
//! and go-back-N retransmissions.

mod common;

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;

use bytes::Bytes;
use common::Sim;
use tokio::io::AsyncReadExt;
use turmoil_net::shim::tokio::net::{TcpListener, TcpStream};
use turmoil_net::{rule, KernelConfig, KernelEvent, Packet, Transport, Verdict};

static BODY: [u8; 48 * 1024] = [b'b'; 48 * 1024];
const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\r\n";

/// Whether `p` points into [`BODY`].
fn in_body(p: *const u8) -> bool {
    BODY.as_ptr_range().contains(&p)
}

/// A server that writes `head` (copied), then [`BODY`] (shared), then `tail` (copied).
async fn server(head: &'static [u8], tail: &'static [u8]) {
    let l = TcpListener::bind("0.0.0.0:9000").await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    let (_rd, mut wr) = s.into_split();
    let mut off = 0;
    while off < head.len() {
        off += poll_fn(|cx| wr.poll_write_slices(cx, &[&head[off..]]))
            .await
            .unwrap();
    }
    let body = Bytes::from_static(&BODY);
    let mut off = 0;
    while off < body.len() {
        off += poll_fn(|cx| wr.poll_write_shared(cx, &body.slice(off..)))
            .await
            .unwrap();
    }
    let mut off = 0;
    while off < tail.len() {
        off += poll_fn(|cx| wr.poll_write_slices(cx, &[&tail[off..]]))
            .await
            .unwrap();
    }
    drop(wr);
    std::future::pending::<()>().await;
}

fn expected(head: &[u8], tail: &[u8]) -> Vec<u8> {
    [head, &BODY[..], tail].concat()
}

#[test]
fn shared_bytes_cross_as_their_own_segments_and_are_read_without_a_copy() {
    let cfg = KernelConfig::default().tso_bytes(65535);
    let mut sim = Sim::new(cfg);
    sim.host("server", server(HEAD, b"tail"));
    let segments: Rc<RefCell<Vec<(usize, bool)>>> = Rc::default();
    let seen = segments.clone();
    let (reads, _) = sim.run("client", async move {
        rule(move |pkt: &Packet| {
            if let Transport::Tcp(s) = &pkt.payload {
                if !s.payload.is_empty() {
                    let p = &s.payload;
                    seen.borrow_mut().push((p.len(), in_body(p.as_ptr())));
                }
            }
            Verdict::Pass
        })
        .forget();
        let c = TcpStream::connect("server:9000").await.unwrap();
        let (mut rd, _wr) = c.into_split();
        // The head, then at most a body's worth: a read within one received segment.
        let mut reads = Vec::new();
        for max in [HEAD.len(), BODY.len()]
            .into_iter()
            .chain(std::iter::repeat(1024))
        {
            let mut more = Vec::new();
            let b = poll_fn(|cx| rd.poll_read_pieces(cx, max, &mut more))
                .await
                .unwrap();
            if b.is_empty() {
                return reads;
            }
            reads.push(b);
            reads.append(&mut more);
        }
        unreachable!()
    });
    // Before 48 KiB of shared bytes the head crosses alone (with a small body it would be
    // gathered with it), and the body crosses as a slice of itself.
    let segments = segments.borrow();
    assert!(
        segments
            .iter()
            .any(|&(len, shared)| shared && len > 16 * 1024),
        "{segments:?}"
    );
    let got: Vec<u8> = reads.iter().flat_map(|b| b.iter().copied()).collect();
    assert_eq!(got, expected(HEAD, b"tail"));
    // The receiver hands the body over as it arrived: a slice of the writer's bytes.
    assert!(
        reads
            .iter()
            .any(|b| b.len() > 16 * 1024 && in_body(b.as_ptr())),
        "{:?}",
        reads.iter().map(|b| b.len()).collect::<Vec<_>>()
    );
}

#[test]
fn go_back_n_resends_copied_and_shared_bytes_in_order() {
    // One MSS per segment: segments straddle the copied and shared chunks.
    let mut sim = Sim::new(KernelConfig::default());
    let head = b"a head of an odd length to straddle segments";
    sim.host("server", server(head, b"and a tail"));
    let (got, stats) = sim.run("client", async move {
        let mut data_segments = 0;
        rule(move |pkt: &Packet| match &pkt.payload {
            Transport::Tcp(s) if !s.payload.is_empty() => {
                data_segments += 1;
                // Lose the third and the thirtieth data segment.
                if data_segments == 3 || data_segments == 30 {
                    Verdict::Drop
                } else {
                    Verdict::Pass
                }
            }
            _ => Verdict::Pass,
        })
        .forget();
        let mut c = TcpStream::connect("server:9000").await.unwrap();
        let mut v = Vec::new();
        c.read_to_end(&mut v).await.unwrap();
        v
    });
    assert_eq!(got, expected(head, b"and a tail"));
    let retx = stats
        .events
        .iter()
        .filter(|(_, e)| matches!(e, KernelEvent::Retransmit { .. }))
        .count();
    assert!(retx >= 1, "{:?}", stats.events);
}
