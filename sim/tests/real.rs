//! `httpsim run --real`, as a user runs it: the built `httpsim` binary, real child processes on
//! loopback, real timers (docs/FIDELITY.md). Kept few and short: each real run takes wall time.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn httpsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_httpsim"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("httpsim runs")
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `httpsim run --real --compare --format json FILE` with `extra` flags: the output, and the
/// one object it printed.
fn compare(file: &str, extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["run", "--real", "--compare", "--format", "json"];
    args.extend_from_slice(extra);
    args.push(file);
    let out = httpsim(&args);
    let mut lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{}", stderr(&out));
    (out, lines.remove(0))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A scenario file of the test's own, in a folder of its own.
fn scenario(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("httpsim-real-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn real_emfile_storm_reports_the_real_first_emfile_and_peak_fds_beside_the_simulated() {
    let out = httpsim(&[
        "run",
        "--real",
        "--format",
        "json",
        "scenarios/emfile-storm-no-pool.toml",
    ]);
    let runs = json_lines(&out);
    assert_eq!(runs.len(), 1, "{}", stderr(&out));
    let r = &runs[0];
    assert_eq!(r["mode"], "real");
    let baseline = r["fds_at_start"]["client"]["baseline"].as_u64().unwrap();
    assert_eq!(r["fds_at_start"]["client"]["limit"], 256);
    // The kernel's EMFILE, at the request the simulation (started from the same baseline)
    // predicts: 256 - 14 = 242 sockets, so request 243, whenever the process had at most the
    // scenario's 14 descriptors open at start.
    assert_eq!(r["first_error"]["kind"], "emfile");
    assert_eq!(
        r["first_error"]["request"],
        r["sim"]["first_error"]["request"]
    );
    if baseline <= 14 {
        assert_eq!(r["first_error"]["request"], 243);
    }
    assert_eq!(r["max_open_fds"]["client"], 256);
    assert_eq!(r["sim"]["max_open_fds"]["client"], 256);
    assert_eq!(
        r["requests"]["errors"]["emfile"],
        r["sim"]["requests"]["errors"]["emfile"]
    );
}

#[test]
fn compare_agrees_on_the_pool_stall_at_a_hundredth_of_the_time() {
    let (out, c) = compare(
        "scenarios/pool-stall-unconsumed.toml",
        &["--time-scale", "100"],
    );
    assert_eq!(c["name"], "pool-stall-unconsumed");
    let figures = c["figures"].as_array().unwrap();
    let fig = |n: &str| figures.iter().find(|f| f["name"] == n).unwrap().clone();
    // Four batches of five, 180 s / 100 apart, in both.
    assert_eq!(fig("batches")["sim"], serde_json::json!([5, 5, 5, 5]));
    assert_eq!(fig("batches")["real"], serde_json::json!([5, 5, 5, 5]));
    assert_eq!(c["real"]["mode"], "real");
    assert_eq!(c["sim"]["requests"]["completed"], 20);
    assert_eq!(c["agree"], true, "{c:#}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn what_loopback_cannot_carry_exits_2_before_anything_starts() {
    let crash = scenario(
        "crash",
        "name = \"crash\"\nduration = \"2s\"\n[[fault]]\nat = \"1s\"\nkind = \"crash\"\n\
         hosts = [\"server\"]\nfin = false\n",
    );
    let out = httpsim(&["run", "--real", crash.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("loopback cannot carry fault[0] kind = \"crash\""),
        "{err}"
    );
    assert!(err.contains("nothing was run"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_time_scale_that_makes_a_duration_shorter_than_1ms_exits_2_at_its_line() {
    let short = scenario(
        "short",
        "name = \"short\"\n[client]\ntimeout = { response = \"50ms\" }\n",
    );
    let out = httpsim(&[
        "run",
        "--real",
        "--time-scale",
        "100",
        short.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("short.toml:3:24"), "{err}");
    assert!(err.contains("client.timeout.response"), "{err}");
    assert!(err.contains("shorter than 1 ms"), "{err}");
    for bad in [
        &["run", "--compare", "scenarios/pool-stall-unconsumed.toml"][..],
        &[
            "run",
            "--real",
            "--time-scale",
            "0.5",
            "scenarios/pool-stall-unconsumed.toml",
        ][..],
        &[
            "run",
            "--real",
            "--seeds",
            "1..3",
            "scenarios/pool-stall-unconsumed.toml",
        ][..],
    ] {
        let out = httpsim(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
    }
}

#[test]
fn a_hold_blocks_the_relay_and_times_out_as_simulated() {
    // `[[fault]] hold` at 0: the relay holds the SYN, the client's 300 ms response timeout
    // fires in both runs.
    let hold = scenario(
        "hold",
        "name = \"hold\"\nduration = \"2s\"\n[client]\ntimeout = { response = \"300ms\" }\n\
         [workload]\nrequests = 1\n[[fault]]\nat = \"0s\"\nkind = \"hold\"\n\
         hosts = [\"client\", \"server\"]\n",
    );
    let (out, c) = compare(hold.to_str().unwrap(), &[]);
    assert_eq!(c["partial"], false);
    assert_eq!(c["real"]["requests"]["errors"]["timeout"], 1, "{c:#}");
    assert_eq!(c["agree"], true, "{c:#}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_partial_run_that_disagrees_exits_1_and_says_so() {
    // The crash without FIN is simulated, not carried: the simulated requests time out, the
    // real ones do not, and the verdict says so.
    let partition = scenario(
        "partial",
        "name = \"partial\"\nduration = \"3s\"\n[client]\ntimeout = { response = \"500ms\" }\n\
         [workload]\nrequests = 3\n[[fault]]\nat = \"0s\"\nkind = \"crash\"\n\
         hosts = [\"server\"]\nfin = false\n",
    );
    let (out, c) = compare(partition.to_str().unwrap(), &["--partial"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(c["partial"], true);
    assert_eq!(c["agree"], false);
    let completed = c["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "completed")
        .unwrap();
    assert_eq!(completed["sim"], 0);
    assert_eq!(completed["real"], 3);
    assert_eq!(completed["agree"], false);
}
