use std::collections::BTreeSet;

use super::HIDDEN_RACE;
use crate::{args, httpsim, Result};

/// A fast scenario with an `[explore]` table, to build bad variants from.
const BASE: &str = r#"name = "tiny-explore"
duration = "10s"

[workload]
requests = 2

[expect]
failed = 0
invariants = ["no-lost-request"]

[explore]
faults = { min = 0, max = 2 }
kinds = ["partition", "latency"]
"#;

#[test]
fn a_malformed_explore_table_exits_2_with_its_position_before_anything_runs() -> Result {
    let cases: &[(&str, &str, (usize, usize), &str)] = &[
        (
            "kinds = [\"partition\", \"latency\"]",
            "kinds = [\"partition\", \"meteor\"]",
            (13, 23),
            "explore.kinds[1]",
        ),
        (
            "faults = { min = 0, max = 2 }",
            "faults = { min = 3, max = 2 }",
            (12, 18),
            "explore.faults.min",
        ),
        (
            "faults = { min = 0, max = 2 }",
            "faults = { min = 0, max = 2, most = 4 }",
            (12, 30),
            "explore.faults.most",
        ),
        (
            "faults = { min = 0, max = 2 }",
            "faults = { min = 0, max = 2 }\nrate = { max = 2.0 }",
            (13, 16),
            "explore.rate.max",
        ),
        (
            "faults = { min = 0, max = 2 }",
            "faults = { min = 0, max = 2 }\nwindow = { min = \"3s\", max = \"1s\" }",
            (13, 18),
            "explore.window.min",
        ),
        (
            "faults = { min = 0, max = 2 }",
            "faults = { min = 0, max = 2 }\nlatency = \"5ms\"",
            (13, 11),
            "explore.latency",
        ),
        (
            "faults = { min = 0, max = 2 }",
            "faults = { min = 0, max = 2 }\nconn_kinds = [\"bandwidth\"]",
            (13, 15),
            "explore.conn_kinds[0]",
        ),
        (
            "faults = { min = 0, max = 2 }",
            "faults = { min = 0, max = 2 }\nseeds = 5",
            (13, 1),
            "explore.seeds",
        ),
    ];
    for (from, to, (line, col), needle) in cases {
        let tmp = tempfile::tempdir()?;
        let path = tmp.path().join("bad.toml");
        std::fs::write(&path, BASE.replace(from, to))?;
        let findings = tmp.path().join("findings");
        for cmd in ["explore", "run"] {
            let ran = httpsim(
                args![
                    cmd,
                    &path,
                    "--out",
                    &findings,
                    "--report-dir",
                    tmp.path().join("reports")
                ]
                .into_iter()
                .filter(|a| {
                    // `run` has no --out, `explore` no --report-dir.
                    !(cmd == "run" && (a == "--out" || a == findings.as_os_str()))
                        && !(cmd == "explore"
                            && (a == "--report-dir" || a == tmp.path().join("reports").as_os_str()))
                }),
            );
            assert_eq!(ran.code, 2, "{cmd} {to}: {}", ran.err);
            let at = format!("{}:{line}:{col}", path.display());
            assert!(ran.err.contains(&at), "{cmd} {to}: names {at}: {}", ran.err);
            assert!(
                ran.err.contains(needle),
                "{cmd} {to}: {needle}: {}",
                ran.err
            );
            assert!(ran.err.contains("nothing was run"), "{}", ran.err);
            assert!(ran.out.is_empty());
        }
        assert!(!findings.exists() && !tmp.path().join("reports").exists());
    }
    Ok(())
}

#[test]
fn runs_and_budget_bound_the_sweep() -> Result {
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("tiny.toml");
    // Latency changes only: nothing can fail.
    std::fs::write(&path, BASE.replace("\"partition\", ", ""))?;
    let out = tmp.path().join("findings");
    let ran = httpsim(args![
        "explore", &path, "--seeds", "1..100", "--runs", "7", "--out", &out
    ]);
    assert_eq!(ran.code, 0, "{}", ran.err);
    assert!(ran.err.contains("7 seed(s) tried"), "{}", ran.err);
    assert!(ran.err.contains("stopped by --runs"), "{}", ran.err);
    assert!(ran.out.is_empty() && !out.exists());
    let ran = httpsim(args![
        "explore", &path, "--seeds", "1..100", "--budget", "0s", "--out", &out
    ]);
    assert_eq!(ran.code, 0, "{}", ran.err);
    assert!(ran.err.contains("0 seed(s) tried"), "{}", ran.err);
    assert!(ran.err.contains("stopped by --budget"), "{}", ran.err);
    let bad = httpsim(args!["explore", &path, "--budget", "soon"]);
    assert_eq!(bad.code, 2, "{}", bad.err);
    assert!(bad.err.contains("expected e.g."), "{}", bad.err);
    Ok(())
}

#[test]
fn keep_going_writes_each_distinct_violation_once() -> Result {
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("findings");
    let ran = httpsim(args![
        "explore",
        HIDDEN_RACE,
        "--seeds",
        "1..400",
        "--keep-going",
        "--format",
        "json",
        "--out",
        &out
    ]);
    assert_eq!(ran.code, 1, "{}", ran.err);
    let mut seen = BTreeSet::new();
    let mut files = 0;
    for line in ran.out.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let shape = httpsim::explore::shape(v["diagnosis"].as_str().ok_or("diagnosis")?);
        assert!(
            seen.insert((v["invariant"].to_string(), shape)),
            "the same bug twice: {}",
            ran.out
        );
        assert!(std::path::Path::new(v["file"].as_str().ok_or("file")?).is_file());
        files += 1;
    }
    assert!(files >= 1);
    assert!(
        ran.err.contains("more failing seed(s) with the same bug"),
        "{}",
        ran.err
    );
    Ok(())
}

#[test]
fn shards_of_an_exploration_try_every_seed_once() -> Result {
    // The union of the parts finds what the whole finds, each finding in one part only.
    let tmp = tempfile::tempdir()?;
    let sweep = |extra: Vec<std::ffi::OsString>, out: &str| {
        let mut a = args![
            "explore",
            HIDDEN_RACE,
            "--seeds",
            "1..200",
            "--keep-going",
            "--format",
            "json",
            "--out",
            tmp.path().join(out)
        ];
        a.extend(extra);
        let r = httpsim(a);
        let seeds: BTreeSet<u64> = r
            .out
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["seed"].as_u64())
            .collect();
        (r, seeds)
    };
    let (whole, _) = sweep(vec![], "whole");
    let tried = |err: &str| -> u64 {
        err.split(" seed(s) tried")
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(tried(&whole.err), 199, "{}", whole.err);
    let mut total = 0;
    for k in 1..=3 {
        let (part, _) = sweep(args!["--shard", format!("{k}/3")], &format!("p{k}"));
        assert!(part.code <= 1, "{}", part.err);
        total += tried(&part.err);
    }
    assert_eq!(total, 199);
    Ok(())
}

#[test]
fn the_explore_benchmark_covers_every_catalog_shape() -> Result {
    let catalog: BTreeSet<String> =
        httpsim::scenario::discover(&[std::path::PathBuf::from("scenarios")])?
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(String::from))
            .collect();
    let shapes: BTreeSet<String> = httpsim::bench::explore::SHAPES
        .iter()
        .map(|(f, _)| f.to_string())
        .collect();
    assert_eq!(shapes, catalog, "add new catalog files to bench/explore.rs");
    for (f, text) in httpsim::bench::explore::SHAPES {
        assert_eq!(std::fs::read_to_string(format!("scenarios/{f}"))?, *text);
    }
    Ok(())
}
