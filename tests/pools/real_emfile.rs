//! The EMFILE storm of catalog case 2 on real loopback sockets: 2000 requests at once, one
//! connection each, from a client process whose `RLIMIT_NOFILE` is 256 (soft and hard) with 14
//! descriptors in use at start (padded with `/dev/null`). The simulation's figure — the first
//! EMFILE is request 243 — assumes a single-threaded client host that connects in request order
//! (docs/FIDELITY.md); here the client runs on a current-thread tokio runtime, and the real
//! kernel must agree exactly.
//!
//! The client is this test binary run again (`sh -c 'ulimit -n 256; exec …'`) on the ignored
//! test [`storm_client`]; the server runs in the parent, unlimited. Every wait is bounded.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;

use crate::Result;

const FD_LIMIT: usize = 256;
const FD_IN_USE: usize = 14;
const REQUESTS: usize = 2000;
const PORT_VAR: &str = "HTTPSIM_REAL_EMFILE_PORT";
/// Set in the child for the bounded-pool form: the Agent's `max_sockets`.
const POOL_VAR: &str = "HTTPSIM_REAL_EMFILE_POOL";

/// A loopback hyper server on its own thread; returns its port.
fn server() -> Result<u16> {
    Ok(crate::loopback::serve(|| async {
        http::Response::new(Full::new(Bytes::from_static(b"ok")))
    })?)
}

/// One request on a fresh connection: `Ok(true)` on a response, `Ok(false)` on EMFILE at
/// connect, `Err` on anything else.
async fn one(port: u16) -> std::result::Result<bool, String> {
    let stream = match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
        Ok(s) => s,
        Err(e) if e.raw_os_error() == Some(24) => return Ok(false),
        Err(e) => return Err(e.to_string()),
    };
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = http::Request::get("/")
        .header(http::header::HOST, "127.0.0.1")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let res = send.send_request(req).await.map_err(|e| e.to_string())?;
    res.into_body().collect().await.map_err(|e| e.to_string())?;
    Ok(true)
}

/// Every request at once through httpsim's Agent with `max_sockets`, over real TCP.
async fn pooled(port: u16, max_sockets: usize) -> Vec<std::result::Result<bool, String>> {
    use httpsim::client::agent::tcp::TcpConnector;
    use httpsim::client::agent::{Agent, AgentConfig};
    let agent: Agent<TcpConnector, Empty<Bytes>> = Agent::new(
        AgentConfig {
            max_sockets,
            ..AgentConfig::default()
        },
        TcpConnector::new(),
    );
    let uri = format!("http://127.0.0.1:{port}/");
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|_| {
            let (agent, uri) = (agent.clone(), uri.clone());
            tokio::task::spawn_local(async move {
                let req = http::Request::get(&uri)
                    .body(Empty::new())
                    .map_err(|e| e.to_string())?;
                match agent.request(req).await {
                    Ok(res) => {
                        res.into_body().collect().await.map_err(|e| e.to_string())?;
                        Ok(true)
                    }
                    Err(e) if e.to_string().contains("Too many open files") => Ok(false),
                    Err(e) => Err(e.to_string()),
                }
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.map_err(|e| e.to_string()).and_then(|r| r));
    }
    outcomes
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count().saturating_sub(1))
}

/// The client side, run only as the child process of the test below.
#[test]
#[ignore = "the client process of real_emfile_storm_meets_the_first_emfile_where_the_simulation_does"]
fn storm_client() -> Result {
    let port: u16 = std::env::var(PORT_VAR)?.parse()?;
    // The runtime's own descriptors (epoll, its waker) are in use before the first request,
    // as an event loop's are: measured after it starts.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let at_start = open_fds();
    let mut pad = Vec::new();
    while open_fds() < FD_IN_USE {
        pad.push(std::fs::File::open("/dev/null")?);
    }
    let in_use = open_fds();
    let pool: Option<usize> = std::env::var(POOL_VAR).ok().and_then(|v| v.parse().ok());
    let outcomes = match pool {
        None => rt.block_on(async move {
            // Spawned in request order; a current-thread runtime polls them in that order, and
            // each connect takes its socket on its first poll.
            let tasks: Vec<_> = (0..REQUESTS).map(|_| tokio::spawn(one(port))).collect();
            let mut outcomes = Vec::new();
            for t in tasks {
                outcomes.push(t.await.map_err(|e| e.to_string()).and_then(|r| r));
            }
            outcomes
        }),
        Some(max_sockets) => tokio::task::LocalSet::new().block_on(&rt, pooled(port, max_sockets)),
    };
    let first_emfile = outcomes.iter().position(|o| *o == Ok(false)).map(|i| i + 1);
    let completed = outcomes.iter().filter(|o| **o == Ok(true)).count();
    let other = outcomes.iter().filter(|o| o.is_err()).count();
    println!(
        "REAL at_start={at_start} in_use={in_use} first_emfile={} completed={completed} other={other}",
        first_emfile.unwrap_or(0)
    );
    drop(pad);
    Ok(())
}

/// Runs [`storm_client`] in a process limited to `FD_LIMIT` descriptors; its result line.
fn storm(pool: Option<usize>) -> Result<String> {
    let port = server()?;
    let exe = std::env::current_exe()?;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {FD_LIMIT} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args([
            "real_emfile::storm_client",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PORT_VAR, port.to_string())
        .env(POOL_VAR, pool.map(|n| n.to_string()).unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            child.kill()?;
            return Err("the client process did not finish in 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut out)?;
    assert!(status.success(), "client process failed: {out}");
    let line = out
        .lines()
        .find_map(|l| l.find("REAL ").map(|i| &l[i..]))
        .ok_or_else(|| format!("no result line in {out:?}"))?;
    eprintln!("{line}");
    Ok(line.to_string())
}

fn field(line: &str, k: &str) -> usize {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX)
}

#[test]
fn real_emfile_storm_meets_the_first_emfile_where_the_simulation_does() -> Result {
    let line = storm(None)?;
    let field = |k: &str| field(&line, k);
    let in_use = field("in_use");
    assert_eq!(in_use, FD_IN_USE, "{line}");
    // The simulated figures of `scenarios/emfile-storm-no-pool.toml`.
    assert_eq!(field("first_emfile"), FD_LIMIT - FD_IN_USE + 1, "{line}");
    assert_eq!(field("completed"), FD_LIMIT - FD_IN_USE, "{line}");
    assert_eq!(field("other"), 0, "{line}");
    Ok(())
}

#[test]
fn real_storm_through_a_pool_of_5_succeeds_whole_as_simulated() -> Result {
    let line = storm(Some(5))?;
    // `scenarios/emfile-storm-bounded-pool.toml`: all 2000 succeed.
    assert_eq!(field(&line, "in_use"), FD_IN_USE, "{line}");
    assert_eq!(field(&line, "first_emfile"), 0, "{line}");
    assert_eq!(field(&line, "completed"), REQUESTS, "{line}");
    assert_eq!(field(&line, "other"), 0, "{line}");
    Ok(())
}
