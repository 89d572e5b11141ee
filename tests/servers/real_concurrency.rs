//! Catalog case 5 on real loopback sockets, times divided by 20: 10 parallel requests (one
//! connection each) to a hyper server on one thread — a current-thread tokio runtime, the
//! single-threaded server host httpsim's CPU model stands for (`server::cpu`). A handler that
//! holds the thread for 50 ms (1 s simulated) serialises them: the last finishes at about
//! 500 ms (10 s simulated, `concurrency-cpu-serialises`); one that waits 200 ms asynchronously
//! (4 s simulated) lets them overlap: all finish at about 200 ms (`concurrency-async-delay`).
//! Agreement is the simulated figure divided by 20, within 5 % + 50 ms (docs/FIDELITY.md).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;

use crate::Result;

const SCALE: u32 = 20;

/// A loopback server on its own single-threaded runtime; `cpu`: hold the thread for `work`,
/// else wait `work` asynchronously.
fn server(cpu: bool, work: Duration) -> Result<u16> {
    Ok(crate::loopback::serve(move || async move {
        if cpu {
            std::thread::sleep(work);
        } else {
            tokio::time::sleep(work).await;
        }
        http::Response::new(Full::new(Bytes::from(vec![b'x'; 4096])))
    })?)
}

/// Sends 10 requests at once; returns when the last response was read.
fn last_completion(port: u16) -> Result<Duration> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let start = Instant::now();
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                tokio::spawn(async move {
                    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
                    let (mut send, conn) =
                        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                    tokio::spawn(conn);
                    let req = http::Request::get("/")
                        .header(http::header::HOST, "127.0.0.1")
                        .body(Empty::<Bytes>::new())?;
                    let res = send.send_request(req).await?;
                    res.into_body().collect().await?;
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(start.elapsed())
                })
            })
            .collect();
        let mut last = Duration::ZERO;
        for t in tasks {
            let done = tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .map_err(|_| "a request did not finish in 10 s")?
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            last = last.max(done);
        }
        Ok(last)
    })
}

fn agrees(sim: Duration, real: Duration) -> bool {
    let sim = sim / SCALE;
    sim.abs_diff(real) <= sim / 20 + Duration::from_millis(50)
}

#[test]
fn a_real_single_threaded_server_serialises_cpu_work_as_simulated() -> Result {
    let port = server(true, Duration::from_secs(1) / SCALE)?;
    let real = last_completion(port)?;
    eprintln!("cpu: last completion {real:?}");
    // `reports/concurrency-cpu-serialises/report.md`: last completion 10.004 s.
    assert!(agrees(Duration::from_millis(10_004), real), "{real:?}");
    Ok(())
}

#[test]
fn a_real_server_overlaps_asynchronous_waits_as_simulated() -> Result {
    let port = server(false, Duration::from_secs(4) / SCALE)?;
    let real = last_completion(port)?;
    eprintln!("async: last completion {real:?}");
    // `reports/concurrency-async-delay/report.md`: last completion 4.004 s.
    assert!(agrees(Duration::from_millis(4_004), real), "{real:?}");
    Ok(())
}
