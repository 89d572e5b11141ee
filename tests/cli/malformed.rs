use std::path::PathBuf;

use crate::{httpsim, Result, GOOD};

/// Writes `text` as `name` in a fresh folder and runs `httpsim run` on it.
pub(crate) fn run_file(name: &str, text: &str) -> Result<(crate::Ran, PathBuf, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(name);
    std::fs::write(&path, text)?;
    let reports = dir.path().join("reports");
    let ran = httpsim([
        "run".into(),
        path.clone().into_os_string(),
        "--report-dir".into(),
        reports.into_os_string(),
    ]);
    Ok((ran, path, dir))
}

/// Asserts a bad-input exit: code 2, `file:line:col` of the problem, every `needle`, nothing run.
pub(crate) fn assert_bad(
    ran: &crate::Ran,
    path: &std::path::Path,
    line: usize,
    col: usize,
    needles: &[&str],
) {
    assert_eq!(ran.code, 2, "exit 2 on bad input; stderr:\n{}", ran.err);
    let at = format!("{}:{line}:{col}", path.display());
    assert!(ran.err.contains(&at), "names {at}; stderr:\n{}", ran.err);
    for n in needles {
        assert!(ran.err.contains(n), "mentions {n:?}; stderr:\n{}", ran.err);
    }
    assert!(ran.out.is_empty(), "nothing ran: {}", ran.out);
    assert!(ran.err.contains("nothing was run"), "{}", ran.err);
}

#[test]
fn a_good_file_runs_and_passes() -> Result {
    let (ran, _, dir) = run_file("tiny.toml", GOOD)?;
    assert_eq!(ran.code, 0, "{}", ran.err);
    assert!(ran.out.starts_with("PASS tiny (seed 1)"), "{}", ran.out);
    assert!(dir.path().join("reports/tiny/report.md").is_file());
    Ok(())
}

#[test]
fn a_missing_file_is_bad_input() -> Result {
    let ran = httpsim(["run", "no/such/scenario.toml"]);
    assert_eq!(ran.code, 2);
    assert!(
        ran.err
            .contains("no/such/scenario.toml: no such file or folder"),
        "{}",
        ran.err
    );
    assert!(
        ran.err.contains("expected: a scenario file (*.toml)"),
        "{}",
        ran.err
    );
    Ok(())
}

#[test]
fn an_empty_or_unreadable_file_is_bad_input() -> Result {
    let (ran, path, _dir) = run_file("binary.toml", "")?;
    assert_bad(&ran, &path, 1, 1, &["missing field `name`"]);
    std::fs::write(&path, [0xff, 0xfe, 0x00, 0x41])?;
    let ran2 = httpsim(["run".into(), path.clone().into_os_string()]);
    assert_eq!(ran2.code, 2);
    assert!(ran2.err.contains("cannot read the file"), "{}", ran2.err);
    assert!(
        ran2.err.contains("expected: a readable UTF-8 TOML file"),
        "{}",
        ran2.err
    );
    Ok(())
}

#[test]
fn bad_toml_names_line_and_column() -> Result {
    let text = GOOD.replace("requests = 2", "requests = = 2");
    let (ran, path, _dir) = run_file("bad.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        14,
        12,
        &["invalid string", "expected: valid TOML: `\"`, `'`"],
    );
    Ok(())
}

#[test]
fn an_unknown_key_names_the_key_and_the_keys_allowed() -> Result {
    let text = GOOD.replace("fd_in_use = 3", "fd_in_use = 3\nfd_limt = 10");
    let (ran, path, _dir) = run_file("typo.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        11,
        1,
        &[
            "`client.fd_limt`",
            "unknown field `fd_limt`",
            "expected: one of `host`, `fd_limit`",
        ],
    );
    Ok(())
}

#[test]
fn a_wrong_type_names_the_key_and_the_type_expected() -> Result {
    let text = GOOD.replace("requests = 2", "requests = \"two\"");
    let (ran, path, _dir) = run_file("type.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        14,
        12,
        &[
            "`workload.requests`",
            "invalid type: string \"two\"",
            "expected: u64",
        ],
    );
    Ok(())
}

#[test]
fn a_bad_duration_says_what_a_duration_looks_like() -> Result {
    let text = GOOD.replace("duration = \"10s\"", "duration = \"10 seconds or so\"");
    let (ran, path, _dir) = run_file("dur.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        3,
        12,
        &[
            "`duration`",
            "expected: a duration string such as \"250ms\", \"3s\", \"2m\" or \"30h\"",
        ],
    );
    Ok(())
}

#[test]
fn fds_in_use_at_the_limit_are_impossible() -> Result {
    let text = GOOD.replace("fd_in_use = 3", "fd_in_use = 64");
    let (ran, path, _dir) = run_file("fds.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        10,
        13,
        &[
            "`client.fd_in_use`",
            "fd_in_use (64) is not below fd_limit (64)",
            "expected: fd_in_use < fd_limit (64)",
        ],
    );
    Ok(())
}

#[test]
fn a_minimum_latency_above_the_maximum_is_impossible() -> Result {
    let text = GOOD.replace(
        "[server]",
        "[network]\nlatency = { min = \"20ms\", max = \"5ms\" }\n\n[server]",
    );
    let (ran, path, _dir) = run_file("latency.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        6,
        19,
        &[
            "`network.latency.min`",
            "min (20ms) is greater than max (5ms)",
            "expected: min <= max",
        ],
    );
    Ok(())
}

#[test]
fn an_unknown_fault_kind_lists_the_known_ones() -> Result {
    let text = format!("{GOOD}\n[[fault]]\nat = \"1s\"\nkind = \"meteor\"\nhosts = [\"server\"]\n");
    let (ran, path, _dir) = run_file("meteor.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        21,
        8,
        &["fault[0].kind", "\"meteor\"", "one of partition, repair"],
    );
    Ok(())
}

#[test]
fn a_conn_fault_of_unknown_kind_is_refused_with_its_position() -> Result {
    let text = format!(
        "{GOOD}\n[[conn_fault]]\ndirection = \"to-client\"\nfault = {{ kind = \"gremlins\" }}\n"
    );
    let (ran, path, _dir) = run_file("gremlins.toml", &text)?;
    assert_eq!(ran.code, 2, "{}", ran.err);
    assert!(ran.err.contains(&path.display().to_string()), "{}", ran.err);
    assert!(ran.err.contains("conn_fault"), "{}", ran.err);
    assert!(ran.err.contains("gremlins"), "{}", ran.err);
    assert!(ran.out.is_empty());
    Ok(())
}

#[test]
fn an_unknown_invariant_lists_the_known_ones() -> Result {
    let text = GOOD.replace(
        "completed = 2",
        "completed = 2\ninvariants = [\"fd-limit\", \"fd-limits\"]",
    );
    let (ran, path, _dir) = run_file("inv.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        18,
        27,
        &[
            "`expect.invariants[1]`",
            "unknown invariant \"fd-limits\"",
            "expected: one of ordering",
        ],
    );
    Ok(())
}

#[test]
fn every_bad_file_is_reported_before_anything_runs() -> Result {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("a.toml"), GOOD)?;
    std::fs::write(
        dir.path().join("b.toml"),
        GOOD.replace("seed = 1", "seed = -1"),
    )?;
    std::fs::write(
        dir.path().join("c.toml"),
        GOOD.replace("[workload]", "[workload]\nkind = \"burst\""),
    )?;
    let ran = httpsim(["run".into(), dir.path().as_os_str().to_owned()]);
    assert_eq!(ran.code, 2);
    assert!(ran.err.contains("b.toml:2:8"), "{}", ran.err);
    assert!(ran.err.contains("c.toml:14:8"), "{}", ran.err);
    assert!(
        ran.err
            .contains("unknown variant `burst`, expected one of `sequential`, `parallel`, `rate`")
            || ran
                .err
                .contains("expected: one of `sequential`, `parallel`, `rate`"),
        "{}",
        ran.err
    );
    assert!(ran.err.contains("2 bad scenario file(s)"), "{}", ran.err);
    assert!(ran.out.is_empty());
    Ok(())
}

#[test]
fn bad_arguments_exit_2() -> Result {
    let ran = httpsim(["run", "scenarios", "--seeds", "5..5"]);
    assert_eq!(ran.code, 2);
    assert!(ran.err.contains("holds no seed"), "{}", ran.err);
    let ran = httpsim(["run", "scenarios", "--format", "yaml"]);
    assert_eq!(ran.code, 2);
    let ran = httpsim(["bench", "--format", "xml"]);
    assert_eq!(ran.code, 2);
    assert!(ran.err.contains("xml"), "{}", ran.err);
    Ok(())
}

#[test]
fn a_zero_backlog_is_impossible() -> Result {
    let text = GOOD.replace(
        "fd_limit = 64\n\n[client]",
        "fd_limit = 64\nbacklog = 0\n\n[client]",
    );
    let (ran, path, _dir) = run_file("backlog.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        7,
        11,
        &["server.backlog", "expected: at least 1"],
    );
    Ok(())
}

#[test]
fn the_server_kernel_keys_run() -> Result {
    let text = GOOD.replace(
        "fd_limit = 64\n\n[client]",
        "fd_limit = 64\nbacklog = 8\nbacklog_overflow = \"refuse\"\nmax_requests_per_socket = 1\naccept_backoff = \"5ms\"\n\n[client]",
    );
    let (ran, _path, _dir) = run_file("kernel.toml", &text)?;
    assert_eq!(ran.code, 0, "{}", ran.err);
    Ok(())
}

#[test]
fn a_path_that_is_not_a_request_path_is_bad_input() -> Result {
    let text = GOOD.replace("requests = 2", "requests = 2\npath = \"items page\"");
    let (ran, path, _dir) = run_file("path.toml", &text)?;
    assert_bad(
        &ran,
        &path,
        15,
        8,
        &[
            "`workload.path`",
            "\"items page\" is not a request path",
            "expected: a path starting with `/`",
        ],
    );
    Ok(())
}

#[test]
fn a_read_pause_of_zero_or_in_unknown_units_is_bad_input() -> Result {
    let zero = GOOD.replace(
        "pool = { kind = \"hyper-util\" }",
        "pool = { kind = \"agent\", read_pause = 0 }",
    );
    let (ran, path, _dir) = run_file("pause.toml", &zero)?;
    assert_bad(
        &ran,
        &path,
        11,
        39,
        &["client.pool.read_pause", "expected: at least 1 byte"],
    );
    let units = GOOD.replace(
        "pool = { kind = \"hyper-util\" }",
        "pool = { kind = \"agent\", read_pause = \"16 kib\" }",
    );
    let (ran, path, _dir) = run_file("units.toml", &units)?;
    assert_bad(
        &ran,
        &path,
        11,
        8,
        &["\"16 kib\"", "expected: a size in bytes"],
    );
    Ok(())
}
