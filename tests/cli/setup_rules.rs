//! The rules of `Setup::validate` seen through a scenario file: each breaks one rule and exits
//! 2 with the file, line, column and key of the offending value; nothing runs, nothing panics.

use crate::malformed::{assert_bad, run_file};
use crate::{Result, GOOD};

/// `GOOD` with `line` added to its `[server]` table.
fn with_server(line: &str) -> String {
    GOOD.replace(
        "fd_limit = 64\n\n[client]",
        &format!("fd_limit = 64\n{line}\n\n[client]"),
    )
}

/// `GOOD` with `line` added to its `[client]` table.
fn with_client(line: &str) -> String {
    GOOD.replace("fd_in_use = 3\n", &format!("fd_in_use = 3\n{line}\n"))
}

#[test]
fn a_client_and_a_server_on_the_same_host_are_bad_input() -> Result {
    let text = with_client("host = \"server\"");
    let (ran, path, _dir) = run_file("same.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        11,
        8,
        &[
            "`client.host`",
            "the client and the server are both called \"server\"",
            "expected: two different host names",
        ],
    );
    Ok(())
}

#[test]
fn a_host_name_with_a_space_is_bad_input() -> Result {
    let (ran, path, _dir) = run_file("space.toml", &with_server("host = \"my server\""))?;
    assert_bad(
        &ran,
        &path,
        7,
        8,
        &[
            "`server.host`",
            "\"my server\" cannot be a host name in a URI",
            "expected: a host name of letters, digits",
        ],
    );
    Ok(())
}

#[test]
fn an_empty_host_name_is_bad_input() -> Result {
    let (ran, path, _dir) = run_file("empty.toml", &with_client("host = \"\""))?;
    assert_bad(
        &ran,
        &path,
        11,
        8,
        &["`client.host`", "the host name is empty"],
    );
    Ok(())
}

#[test]
fn an_ip_address_for_a_host_name_is_bad_input() -> Result {
    let (ran, path, _dir) = run_file("ip.toml", &with_server("host = \"10.0.0.1\""))?;
    assert_bad(
        &ran,
        &path,
        7,
        8,
        &["`server.host`", "is an IP address, not a host name"],
    );
    Ok(())
}

#[test]
fn port_zero_is_bad_input() -> Result {
    let (ran, path, _dir) = run_file("port.toml", &with_server("port = 0"))?;
    assert_bad(
        &ran,
        &path,
        7,
        8,
        &[
            "`server.port`",
            "port 0",
            "expected: a port between 1 and 65535",
        ],
    );
    Ok(())
}

#[test]
fn a_crash_of_two_hosts_is_bad_input() -> Result {
    let text = format!(
        "{GOOD}\n[[fault]]\nat = \"1s\"\nkind = \"crash\"\nhosts = [\"server\", \"client\"]\n"
    );
    let (ran, path, _dir) = run_file("crash2.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        22,
        9,
        &["`fault[0].hosts`", "takes 1 host(s), got 2", "(one host)"],
    );
    Ok(())
}

#[test]
fn a_crash_of_the_client_host_is_bad_input() -> Result {
    let text = format!("{GOOD}\n[[fault]]\nat = \"1s\"\nkind = \"crash\"\nhosts = [\"client\"]\n");
    let (ran, path, _dir) = run_file("crashc.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        22,
        9,
        &["`fault[0].hosts`", "\"client\" is the client host"],
    );
    Ok(())
}

#[test]
fn a_link_fault_between_a_host_and_itself_is_bad_input() -> Result {
    // The second entry comes first in time: the error still names the file's own index.
    let text = format!(
        "{GOOD}\n[[fault]]\nat = \"2s\"\nkind = \"partition\"\nhosts = [\"client\", \"server\"]\n\n\
         [[fault]]\nat = \"1s\"\nkind = \"hold\"\nhosts = [\"server\", \"server\"]\n"
    );
    let (ran, path, _dir) = run_file("self.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        27,
        9,
        &["`fault[1].hosts`", "a link joins two different hosts"],
    );
    Ok(())
}

#[test]
fn more_requests_than_fit_in_memory_are_bad_input() -> Result {
    let text = GOOD.replace("requests = 2", "requests = 9223372036854775807");
    let (ran, path, _dir) = run_file("huge.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        14,
        12,
        &["`workload.requests`", "expected: at most 1000000 requests"],
    );
    Ok(())
}

#[test]
fn a_rate_too_small_to_space_requests_is_bad_input() -> Result {
    let text = GOOD.replace(
        "requests = 2",
        "requests = 2\nkind = \"rate\"\nrate = 1e-300",
    );
    let (ran, path, _dir) = run_file("rate.toml", &text)?;
    assert_bad(&ran, &path, 16, 8, &["`workload.rate`", "rate 1e-300"]);
    Ok(())
}

#[test]
fn a_chunk_too_large_for_memory_is_bad_input() -> Result {
    let text = with_server("handler = { kind = \"fixed\", chunk_bytes = 9000000000000 }");
    let (ran, path, _dir) = run_file("chunk.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        7,
        43,
        &["`server.handler.chunk_bytes`", "between 1 byte and 16 MiB"],
    );
    Ok(())
}

#[test]
fn a_duration_beyond_a_year_is_bad_input() -> Result {
    let text = GOOD.replace("duration = \"10s\"", "duration = \"5000000h\"");
    let (ran, path, _dir) = run_file("long.toml", &text)?;
    assert_bad(&ran, &path, 3, 12, &["`duration`", "at most 365 days"]);
    Ok(())
}
