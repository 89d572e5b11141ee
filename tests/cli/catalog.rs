use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use httpsim::scenario;

use crate::{files, httpsim, Result};

/// The catalog files this build runs (the others are refused as "not supported yet"; the
/// catalog test binary pins that list).
fn runnable() -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for f in scenario::discover(&[PathBuf::from("scenarios")])? {
        match scenario::load(&f) {
            Ok(_) => out.push(f),
            Err(e) if e.is_unsupported() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

const REQUIRED: &[&str] = &[
    "name",
    "seed",
    "passed",
    "sim_ms",
    "wall_ms",
    "trace_hash",
    "requests",
    "first_error",
    "longest_stall_ms",
    "last_completion_ms",
    "max_open_fds",
    "shutdown",
    "invariants",
    "expectations",
];

#[test]
fn the_catalog_passes_deterministically_and_regenerates_the_committed_reports() -> Result {
    let files_run = runnable()?;
    assert!(
        files_run.len() >= 10,
        "most of the catalog runs: {files_run:?}"
    );
    let tmp = tempfile::tempdir()?;
    let mut args: Vec<std::ffi::OsString> = vec!["run".into()];
    args.extend(files_run.iter().map(|f| f.clone().into_os_string()));
    args.extend([
        "--check-determinism".into(),
        "--format".into(),
        "json".into(),
    ]);
    args.extend(["--report-dir".into(), tmp.path().as_os_str().to_owned()]);
    let ran = httpsim(args);
    assert_eq!(
        ran.code, 0,
        "every catalog scenario passes:\n{}\n{}",
        ran.out, ran.err
    );

    // One JSON object per run, with every field of the contract.
    let lines: Vec<&str> = ran.out.lines().collect();
    assert_eq!(lines.len(), files_run.len());
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line)?;
        for key in REQUIRED {
            assert!(v.get(key).is_some(), "field {key} missing in {line}");
        }
        for key in ["sent", "completed", "failed", "errors"] {
            assert!(
                v["requests"].get(key).is_some(),
                "requests.{key} missing in {line}"
            );
        }
        if !v["first_error"].is_null() {
            for key in ["request", "kind", "at_ms"] {
                assert!(
                    v["first_error"].get(key).is_some(),
                    "first_error.{key} missing"
                );
            }
        }
        for i in v["invariants"].as_array().ok_or("invariants is a list")? {
            assert!(
                i["name"].is_string() && i["passed"].is_boolean() && i["violations"].is_array()
            );
        }
        let exps = v["expectations"]
            .as_array()
            .ok_or("expectations is a list")?;
        assert!(
            !exps.is_empty(),
            "every catalog scenario has expectations: {line}"
        );
        for e in exps {
            assert!(e["key"].is_string() && e["passed"].is_boolean() && e["detail"].is_string());
        }
        assert_eq!(v["deterministic"], true, "{}", v["name"]);
        assert_eq!(v["passed"], true);
    }

    // The committed reports are exactly what the catalog generates.
    let generated = files(tmp.path())?;
    let committed_dir = Path::new("reports");
    if std::env::var_os("HTTPSIM_UPDATE_REPORTS").is_some() {
        let _ = std::fs::remove_dir_all(committed_dir);
        for (rel, bytes) in &generated {
            let p = committed_dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap())?;
            std::fs::write(p, bytes)?;
        }
    }
    let committed = files(committed_dir).unwrap_or_default();
    let names = |m: &BTreeMap<PathBuf, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    let hint =
        "reports/ is stale: regenerate it with `HTTPSIM_UPDATE_REPORTS=1 cargo test --test cli` \
                (or, once the whole catalog runs, the README's main command)";
    assert_eq!(names(&committed), names(&generated), "{hint}");
    for (rel, bytes) in &generated {
        assert!(
            committed[rel] == *bytes,
            "reports/{} differs. {hint}",
            rel.display()
        );
    }
    Ok(())
}
