//! HTTP/2 combinations a file may not ask for: exit 2 at the key, with the expected form.

use crate::malformed::{assert_bad, run_file};
use crate::Result;

#[test]
fn an_http1_pool_against_an_http2_only_server_is_refused() -> Result {
    let text =
        "name = \"x\"\n[server]\nprotocol = \"http2\"\n[client]\npool = { kind = \"agent\" }\n";
    let (ran, path, _dir) = run_file("agent-h2.toml", text)?;
    assert_bad(
        &ran,
        &path,
        5,
        17,
        &["client.pool.kind", "HTTP/1.1 only", "kind = \"h2\""],
    );
    Ok(())
}

#[test]
fn the_default_client_against_an_http2_only_server_is_refused_at_the_protocol() -> Result {
    let text = "name = \"x\"\n[server]\nprotocol = \"http2\"\n";
    let (ran, path, _dir) = run_file("default-h2.toml", text)?;
    assert_bad(
        &ran,
        &path,
        3,
        12,
        &["server.protocol", "protocol = \"auto\""],
    );
    Ok(())
}

#[test]
fn an_http2_setting_on_an_http1_server_is_refused() -> Result {
    let text = "name = \"x\"\n[server]\nmax_concurrent_streams = 100\n";
    let (ran, path, _dir) = run_file("streams-h1.toml", text)?;
    assert_bad(
        &ran,
        &path,
        3,
        26,
        &["server.max_concurrent_streams", "HTTP/2 setting"],
    );
    Ok(())
}

#[test]
fn an_http2_setting_on_an_http1_client_is_refused() -> Result {
    let text =
        "name = \"x\"\n[client]\npool = { kind = \"hyper-util\", keep_alive_interval = \"1s\" }\n";
    let (ran, path, _dir) = run_file("ping-h1.toml", text)?;
    assert_bad(
        &ran,
        &path,
        3,
        53,
        &["client.pool.keep_alive_interval", "protocol = \"http2\""],
    );
    Ok(())
}

#[test]
fn a_client_cannot_speak_auto() -> Result {
    let text = "name = \"x\"\n[client]\npool = { kind = \"hyper-util\", protocol = \"auto\" }\n";
    let (ran, path, _dir) = run_file("auto-client.toml", text)?;
    assert_bad(&ran, &path, 3, 42, &["client.pool.protocol", "ALPN"]);
    Ok(())
}

#[test]
fn an_h2_pool_of_zero_streams_is_refused() -> Result {
    let text = "name = \"x\"\n[server]\nprotocol = \"http2\"\n[client]\npool = { kind = \"h2\", max_streams_per_connection = 0 }\n";
    let (ran, path, _dir) = run_file("zero-streams.toml", text)?;
    assert_bad(
        &ran,
        &path,
        5,
        52,
        &["client.pool.max_streams_per_connection", "at least 1"],
    );
    Ok(())
}

#[test]
fn a_window_above_two_to_the_31_is_refused() -> Result {
    let text =
        "name = \"x\"\n[server]\nprotocol = \"auto\"\ninitial_stream_window_size = 4000000000\n";
    let (ran, path, _dir) = run_file("window.toml", text)?;
    assert_bad(
        &ran,
        &path,
        4,
        30,
        &["server.initial_stream_window_size", "2^31 - 1"],
    );
    Ok(())
}

#[test]
fn an_http1_setting_on_an_http2_only_server_is_refused() -> Result {
    let text = "name = \"x\"\n[server]\nprotocol = \"http2\"\nmax_requests_per_socket = 5\n[client]\npool = { kind = \"h2\" }\n";
    let (ran, path, _dir) = run_file("h1-on-h2.toml", text)?;
    assert_bad(
        &ran,
        &path,
        4,
        27,
        &["server.max_requests_per_socket", "HTTP/1.1 setting"],
    );
    Ok(())
}
