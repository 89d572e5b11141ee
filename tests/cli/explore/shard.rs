use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

use crate::{args, files, httpsim, Result};

/// Catalog files too slow to sweep 50 seeds of in CI (together about 39 s of the catalog's
/// 43 s at 50 seeds in a debug build); the whole catalog × 50 split in four was checked by hand
/// the same way (docs/SHARDING.md).
const SLOW: &[&str] = &[
    "emfile-storm-bounded-pool.toml",
    "emfile-storm-no-pool.toml",
    "timeout-none-hangs.toml",
    "ordering-sequential-posts.toml",
];

fn sweep_files() -> Result<Vec<OsString>> {
    let mut out = Vec::new();
    for f in httpsim::scenario::discover(&[PathBuf::from("scenarios")])? {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !SLOW.contains(&name) {
            out.push(f.into_os_string());
        }
    }
    assert!(out.len() >= 10, "most of the catalog: {out:?}");
    Ok(out)
}

/// (name, seed, trace hash, passed) of each JSON line, in order.
fn runs(out: &str) -> Result<Vec<(String, u64, String, bool)>> {
    let mut v = Vec::new();
    for line in out.lines() {
        let j: serde_json::Value = serde_json::from_str(line)?;
        v.push((
            j["name"].as_str().ok_or("name")?.to_string(),
            j["seed"].as_u64().ok_or("seed")?,
            j["trace_hash"].as_str().ok_or("trace_hash")?.to_string(),
            j["passed"].as_bool().ok_or("passed")?,
        ));
    }
    Ok(v)
}

#[test]
fn four_shards_run_every_pair_once_and_merge_into_the_unsharded_reports() -> Result {
    let files_run = sweep_files()?;
    let tmp = tempfile::tempdir()?;
    let sweep = |extra: Vec<OsString>| {
        let mut a: Vec<OsString> = args!["run"];
        a.extend(files_run.iter().cloned());
        a.extend(args!["--seeds", "1..51", "--format", "json"]);
        a.extend(extra);
        httpsim(a)
    };
    let whole_dir = tmp.path().join("whole");
    let whole = sweep(args!["--report-dir", &whole_dir]);
    assert!(whole.code <= 1, "{}", whole.err);
    let whole_runs = runs(&whole.out)?;
    assert_eq!(whole_runs.len(), files_run.len() * 50);

    let mut union: Vec<(String, u64, String, bool)> = Vec::new();
    let mut inputs: Vec<OsString> = Vec::new();
    for k in 1..=4 {
        let dir = tmp.path().join(format!("shard-{k}"));
        let part = sweep(args!["--shard", format!("{k}/4"), "--report-dir", &dir]);
        assert_eq!(part.code, whole.code, "shard {k}: {}", part.err);
        assert!(
            part.err.contains(&format!("(shard {k}/4 of")),
            "{}",
            part.err
        );
        let r = runs(&part.out)?;
        // Round-robin: each part gets a quarter, give or take one pair.
        assert!(r.len().abs_diff(whole_runs.len() / 4) <= 1, "{}", r.len());
        union.extend(r);
        let jsonl = tmp.path().join(format!("shard-{k}.jsonl"));
        std::fs::write(&jsonl, &part.out)?;
        inputs.push(dir.into_os_string());
        inputs.push(jsonl.into_os_string());
    }
    // No pair twice, and together exactly the whole sweep, each pair the same run.
    let pairs: BTreeSet<(String, u64)> = union.iter().map(|r| (r.0.clone(), r.1)).collect();
    assert_eq!(pairs.len(), union.len(), "a pair ran in two shards");
    let mut sorted_union = union.clone();
    sorted_union.sort();
    let mut sorted_whole = whole_runs.clone();
    sorted_whole.sort();
    assert_eq!(sorted_union, sorted_whole);

    // merge: the unsharded index.md, junit.xml and report folders, and the JSON lines in the
    // unsharded order.
    let merged_dir = tmp.path().join("merged");
    let mut a = args!["merge"];
    a.extend(inputs);
    a.extend(args!["--report-dir", &merged_dir]);
    let merged = httpsim(a);
    assert_eq!(merged.code, whole.code, "{}", merged.err);
    assert_eq!(runs(&merged.out)?, whole_runs);
    for f in ["index.md", "junit.xml"] {
        assert_eq!(
            std::fs::read_to_string(merged_dir.join(f))?,
            std::fs::read_to_string(whole_dir.join(f))?,
            "{f}"
        );
    }
    assert_eq!(files(&merged_dir)?, files(&whole_dir)?);
    Ok(())
}

#[test]
fn a_single_seed_sweep_splits_by_scenario_and_merges_back() -> Result {
    // One seed each: three pairs over four parts, so a part may hold no run at all.
    let tmp = tempfile::tempdir()?;
    let whole_dir = tmp.path().join("whole");
    let files = args![
        "scenarios/idle-reuse-race.toml",
        "scenarios/idle-reuse-retry.toml",
        "scenarios/idle-reuse-short-client-idle.toml"
    ];
    let mut a = args!["run"];
    a.extend(files.clone());
    a.extend(args!["--report-dir", &whole_dir]);
    assert_eq!(httpsim(a).code, 0);
    let mut m = args!["merge", "--report-dir", tmp.path().join("merged")];
    for k in 1..=4 {
        let dir = tmp.path().join(format!("s{k}"));
        let mut a = args!["run"];
        a.extend(files.clone());
        a.extend(args!["--shard", format!("{k}/4"), "--report-dir", &dir]);
        let r = httpsim(a);
        assert_eq!(r.code, 0, "{}", r.err);
        m.push(dir.into_os_string());
    }
    let merged = httpsim(m);
    assert_eq!(merged.code, 0, "{}", merged.err);
    for f in ["index.md", "junit.xml"] {
        assert_eq!(
            std::fs::read(tmp.path().join("merged").join(f))?,
            std::fs::read(whole_dir.join(f))?,
            "{f}"
        );
    }
    Ok(())
}

#[test]
fn bad_shard_values_exit_2_with_the_form() -> Result {
    for bad in ["0/4", "5/4", "x", "1/0", "2"] {
        for cmd in ["run", "explore"] {
            let r = httpsim(args![cmd, "scenarios/idle-reuse-race.toml", "--shard", bad]);
            assert_eq!(r.code, 2, "{cmd} --shard {bad}: {}", r.err);
            assert!(
                r.err.contains("--shard") && r.err.contains("K/N with 1 <= K <= N"),
                "{cmd} --shard {bad}: {}",
                r.err
            );
            assert!(r.out.is_empty());
        }
    }
    Ok(())
}

#[test]
fn merge_refuses_missing_doubled_and_foreign_parts() -> Result {
    let tmp = tempfile::tempdir()?;
    let part = |k: u64, n: u64, seeds: &str| -> Result<PathBuf> {
        let dir = tmp.path().join(format!("{k}-of-{n}-{seeds}"));
        let r = httpsim(args![
            "run",
            "scenarios/idle-reuse-retry.toml",
            "--seeds",
            seeds,
            "--shard",
            format!("{k}/{n}"),
            "--report-dir",
            &dir
        ]);
        assert_eq!(r.code, 0, "{}", r.err);
        Ok(dir)
    };
    let (a, b) = (part(1, 2, "1..5")?, part(2, 2, "1..5")?);
    let out = tmp.path().join("merged");
    let missing = httpsim(args!["merge", &a, "--report-dir", &out]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.err.contains("shard(s) 2/2 missing"),
        "{}",
        missing.err
    );
    let twice = httpsim(args!["merge", &a, &a, &b, "--report-dir", &out]);
    assert_eq!(twice.code, 2);
    assert!(twice.err.contains("given twice"), "{}", twice.err);
    let other = part(2, 2, "1..7")?;
    let foreign = httpsim(args!["merge", &a, &other, "--report-dir", &out]);
    assert_eq!(foreign.code, 2);
    assert!(
        foreign.err.contains("not a part of the same sweep"),
        "{}",
        foreign.err
    );
    let overlap = httpsim(args![
        "merge",
        &a,
        &b,
        a.join("junit.xml"),
        "--report-dir",
        &out
    ]);
    assert_eq!(overlap.code, 2);
    assert!(overlap.err.contains("ran twice"), "{}", overlap.err);
    assert!(!out.exists(), "nothing written on bad input");
    let ok = httpsim(args!["merge", &b, &a, "--report-dir", &out]);
    assert_eq!(ok.code, 0, "{}", ok.err);
    assert!(ok.err.contains("4 run(s), 4 passed"), "{}", ok.err);
    Ok(())
}
