//! Catalog case 7: the idle-reuse race, with the real hyper-util `Client`.
//!
//! The server closes a keep-alive socket idle for 5 s; hyper-util keeps idle sockets for 90 s.
//! A request written onto the pooled socket just as the server closes it fails with
//! "connection closed before message completed". A retry policy, or a client idle timeout
//! shorter than the server's, removes the failure.
//!
//! **The window, found by sweeping the second request's send time in 1 ms steps (1 ms one-way
//! latency):** the first exchange (handshake, request, response) ends with the server's last
//! write at 3 ms, so the server closes the socket at 5003 ms and its FIN reaches the client at
//! 5004 ms. A second request sent at **5002 ms** reaches the server in the instant it closes:
//! the request is unread, so the server's kernel answers the close with a reset (Linux does the
//! same) and the request fails with "connection reset by peer". Sent at **5003 ms** it crosses
//! the FIN, which reaches the client first: "connection closed before message completed". A
//! window of 2 × the one-way latency; sent at 5001 ms it arrives while the socket is open and
//! is served; sent at 5004 ms the pool has seen the FIN, drops the socket and dials a new one.
//! The Agent, which also keeps idle sockets past the server's timeout, has the same window.
//!
//! Sweep it yourself: `HTTPSIM_TRACE=1 cargo test --test pools the_race_window -- --nocapture`.

use std::time::Duration;

use httpsim::client::driver::Outcome;
use httpsim::client::{AgentConfig, ClientConfig, PoolConfig, Retry};
use httpsim::server::ServerConfig;

use crate::common::{get, Rig};
use crate::Result;

/// How the second request, sent at `send_ms`, ended: `None` for a response, else the error
/// (`is_closed`, message).
fn second_request_at(send_ms: u64, client: ClientConfig) -> Option<(bool, String)> {
    let server = ServerConfig {
        idle_timeout: Some(Duration::from_secs(5)),
        ..ServerConfig::default()
    };
    let run = Rig::new(server, client).run(move |d| async move {
        let first = d.execute(&get(1)).await;
        assert!(matches!(first, Outcome::Response(200)), "{first:?}");
        d.keeper.wait_reads().await;
        let now = httpsim::net::clock::now();
        tokio::time::sleep(Duration::from_millis(send_ms) - now).await;
        match d.execute(&get(2)).await {
            Outcome::Response(_) => None,
            Outcome::Failed(e) => Some((e.is_closed(), e.to_string())),
        }
    });
    run.value.expect("the script finishes")
}

fn hyper_util(idle: Duration) -> ClientConfig {
    ClientConfig {
        pool: PoolConfig::HyperUtil {
            idle_timeout: Some(idle),
            max_idle_per_host: usize::MAX,
        },
        ..ClientConfig::default()
    }
}

/// Send times (ms) around the server's close at which the second request fails.
fn failing_send_times(client: &ClientConfig) -> Vec<u64> {
    let mut failing = Vec::new();
    for ms in 4990..5010 {
        if let Some((closed, message)) = second_request_at(ms, client.clone()) {
            let expected = match failing.len() {
                0 => "connection reset by peer",
                _ => "connection closed before message completed",
            };
            assert!(message.contains(expected), "sent at {ms} ms: {message}");
            assert_eq!(closed, failing.len() == 1, "sent at {ms} ms: {message}");
            failing.push(ms);
        }
    }
    failing
}

const WINDOW: [u64; 2] = [5002, 5003];

#[test]
fn the_race_window_runs_from_one_latency_before_the_server_close_to_its_fin() -> Result {
    assert_eq!(
        failing_send_times(&hyper_util(Duration::from_secs(90))),
        WINDOW
    );
    Ok(())
}

#[test]
fn the_agent_has_the_same_window_unless_its_idle_timeout_is_shorter() -> Result {
    let client = ClientConfig {
        pool: PoolConfig::Agent(AgentConfig::default()),
        ..ClientConfig::default()
    };
    assert_eq!(failing_send_times(&client), WINDOW);
    let client = ClientConfig {
        pool: PoolConfig::Agent(AgentConfig {
            idle_timeout: Some(Duration::from_secs(4)),
            ..AgentConfig::default()
        }),
        ..ClientConfig::default()
    };
    assert_eq!(failing_send_times(&client), Vec::<u64>::new(), "4 s < 5 s");
    Ok(())
}

#[test]
fn a_retry_policy_removes_the_race() -> Result {
    let mut client = hyper_util(Duration::from_secs(90));
    client.retry = Retry {
        attempts: 2,
        ..Retry::default()
    };
    assert_eq!(failing_send_times(&client), Vec::<u64>::new());
    Ok(())
}

#[test]
fn a_client_idle_timeout_shorter_than_the_servers_removes_the_race() -> Result {
    assert_eq!(
        failing_send_times(&hyper_util(Duration::from_secs(4))),
        Vec::<u64>::new()
    );
    Ok(())
}

#[test]
fn a_post_caught_in_the_race_is_not_retried() -> Result {
    let mut client = hyper_util(Duration::from_secs(90));
    client.retry = Retry {
        attempts: 3,
        non_idempotent_unwritten: true,
        ..Retry::default()
    };
    let server = ServerConfig {
        idle_timeout: Some(Duration::from_secs(5)),
        ..ServerConfig::default()
    };
    let run = Rig::new(server, client).run(|d| async move {
        let _ = d.execute(&get(1)).await;
        d.keeper.wait_reads().await;
        tokio::time::sleep(Duration::from_millis(WINDOW[1]) - httpsim::net::clock::now()).await;
        let mut post = get(2);
        post.method = http::Method::POST;
        post.body = bytes::Bytes::from_static(b"seq=2");
        matches!(d.execute(&post).await, Outcome::Failed(e) if e.is_closed())
    });
    assert_eq!(run.value, Some(true), "the POST fails as closed");
    let attempts = run
        .records
        .iter()
        .filter(|r| matches!(r.event, httpsim::Event::RequestStart { req: 2, .. }))
        .count();
    assert_eq!(attempts, 1, "a written POST is never retried");
    Ok(())
}
