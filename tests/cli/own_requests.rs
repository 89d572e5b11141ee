//! `[[workload.request]]` and `[expect] status`: requests of the user's own reach the server as
//! written, their statuses are counted in the JSON line, and bad values are refused with exit 2
//! and the key's position.

use crate::{httpsim, Result};

const OWN: &str = r#"name = "own"
[server]
handler = { kind = "echo", status = 201 }
[workload]
requests = 5
[[workload.request]]
method = "PUT"
path = "/items/1"
headers = { content-type = "application/json", x-team = "a" }
body = '{"a":1}'
[[workload.request]]
method = "PATCH"
path = "/items/2"
[expect]
status = { 201 = 5, 503 = { max = 0 } }
no_stall_bound = "5s"
invariants = ["ordering", "no-stall"]
"#;

fn run(text: &str) -> Result<(crate::Ran, std::path::PathBuf, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("own.toml");
    std::fs::write(&path, text)?;
    let reports = dir.path().join("reports");
    let ran = httpsim([
        "run".into(),
        path.clone().into_os_string(),
        "--format".into(),
        "json".into(),
        "--report-dir".into(),
        reports.into_os_string(),
    ]);
    Ok((ran, path, dir))
}

#[test]
fn own_requests_are_sent_cycled_and_counted_by_status() -> Result {
    let (ran, _, dir) = run(OWN)?;
    assert_eq!(ran.code, 0, "{}\n{}", ran.out, ran.err);
    let line: serde_json::Value = serde_json::from_str(ran.out.lines().next().unwrap_or(""))?;
    assert_eq!(line["statuses"], serde_json::json!({ "201": 5 }));
    assert_eq!(line["invariants"][0]["verdict"], "pass");
    let trace = std::fs::read_to_string(dir.path().join("reports/own/trace.jsonl"))?;
    let methods: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("\"server_request\""))
        .map(|l| {
            if l.contains("\"PUT\"") {
                "PUT"
            } else {
                "PATCH"
            }
        })
        .collect();
    assert_eq!(methods, ["PUT", "PATCH", "PUT", "PATCH", "PUT"]);
    Ok(())
}

#[test]
fn a_status_expectation_that_misses_fails_the_run() -> Result {
    let (ran, _, _) = run(&OWN.replace("201 = 5", "201 = 4"))?;
    assert_eq!(ran.code, 1, "{}", ran.err);
    assert!(
        ran.out
            .contains("5 responses with status 201 (expected exactly 4)"),
        "{}",
        ran.out
    );
    Ok(())
}

#[test]
fn bad_requests_and_statuses_are_refused_with_their_position() -> Result {
    for (from, to, line, needle) in [
        (
            "method = \"PATCH\"",
            "method = \"NO WAY\"",
            12,
            "workload.request[1].method",
        ),
        (
            "path = \"/items/2\"",
            "path = \"items\"",
            13,
            "workload.request[1].path",
        ),
        ("503 = { max = 0 }", "99 = 1", 15, "expect.status.99"),
        ("503 = { max = 0 }", "503 = { most = 1 }", 15, "most"),
        ("body = '{\"a\":1}'", "bdy = 'x'", 10, "bdy"),
    ] {
        let (ran, path, _) = run(&OWN.replace(from, to))?;
        assert_eq!(ran.code, 2, "{to}: {}", ran.err);
        let at = format!("{}:{line}:", path.display());
        assert!(ran.err.contains(&at), "{to}: names {at}; {}", ran.err);
        assert!(
            ran.err.contains(needle),
            "{to}: mentions {needle}; {}",
            ran.err
        );
    }
    Ok(())
}
