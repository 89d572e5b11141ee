use std::path::{Path, PathBuf};

use super::HIDDEN_RACE;
use crate::{args, httpsim, Result};

/// The finding line of `explore --format json`.
struct Found {
    seed: u64,
    invariant: String,
    diagnosis: String,
    file: PathBuf,
    from: (u64, u64),
    to: (u64, u64),
}

fn found(line: &str) -> Result<Found> {
    let v: serde_json::Value = serde_json::from_str(line)?;
    let size = |s: &serde_json::Value| -> Result<(u64, u64)> {
        Ok((
            s["entries"].as_u64().ok_or("entries")?,
            s["weight"].as_u64().ok_or("weight")?,
        ))
    };
    assert_eq!(v["scenario"], "idle-reuse-explore");
    Ok(Found {
        seed: v["seed"].as_u64().ok_or("seed")?,
        invariant: v["invariant"].as_str().ok_or("invariant")?.to_string(),
        diagnosis: v["diagnosis"].as_str().ok_or("diagnosis")?.to_string(),
        file: PathBuf::from(v["file"].as_str().ok_or("file")?),
        from: size(&v["shrunk"]["from"])?,
        to: size(&v["shrunk"]["to"])?,
    })
}

/// What broke in one `run --format json` line, as explore names it: the first broken
/// invariant's first message, else the first missed `[expect]` key's detail.
fn broken(line: &str) -> Result<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(line)?;
    for i in v["invariants"].as_array().ok_or("invariants")? {
        if i["passed"] == false {
            let m = i["violations"][0]["message"].as_str().unwrap_or("");
            return Ok((i["name"].as_str().unwrap_or("").into(), m.into()));
        }
    }
    for e in v["expectations"].as_array().ok_or("expectations")? {
        if e["passed"] == false && e["key"] != "invariants" {
            return Ok((
                format!("expect.{}", e["key"].as_str().unwrap_or("")),
                e["detail"].as_str().unwrap_or("").into(),
            ));
        }
    }
    Err(format!("nothing broke in {line}").into())
}

fn explore(out: &Path) -> crate::Ran {
    httpsim(args![
        "explore",
        HIDDEN_RACE,
        "--seeds",
        "1..2001",
        "--format",
        "json",
        "--out",
        out
    ])
}

#[test]
fn the_catalog_passes_as_written_and_explore_finds_the_hidden_idle_reuse_race() -> Result {
    let tmp = tempfile::tempdir()?;
    // As written, the scenario passes: `run` ignores [explore].
    let base = httpsim(args![
        "run",
        HIDDEN_RACE,
        "--report-dir",
        tmp.path().join("base")
    ]);
    assert_eq!(base.code, 0, "{}\n{}", base.out, base.err);

    let out = tmp.path().join("findings");
    let ran = explore(&out);
    assert_eq!(ran.code, 1, "a finding exits 1: {}\n{}", ran.out, ran.err);
    let lines: Vec<&str> = ran.out.lines().collect();
    assert_eq!(lines.len(), 1, "stops at the first finding: {}", ran.out);
    let f = found(lines[0])?;
    assert!(f.seed < 2001);
    // The race: a request fails on a socket the server closed as it was sent.
    assert_eq!(f.invariant, "no-idle-reuse-race");
    assert!(
        f.diagnosis.contains("closed") || f.diagnosis.contains("reset"),
        "{}",
        f.diagnosis
    );
    assert!(f.to < f.from, "shrunk: {:?} -> {:?}", f.from, f.to);
    assert!(f.file.starts_with(&out) && f.file.is_file());
    let text = std::fs::read_to_string(&f.file)?;
    assert!(
        !text.contains("[explore]"),
        "a finding is a fixed case:\n{text}"
    );
    assert!(text.contains(&format!("seed = {}", f.seed)), "{text}");
    let name = f.file.file_stem().and_then(|s| s.to_str()).ok_or("name")?;
    assert!(out.join(name).join("report.md").is_file());
    assert!(out.join("index.md").is_file());

    // The written file replays it: exit 1, the same check, the same diagnosis.
    let replay = httpsim(args![
        "run",
        &f.file,
        "--format",
        "json",
        "--report-dir",
        tmp.path().join("replay")
    ]);
    assert_eq!(replay.code, 1, "{}", replay.err);
    assert_eq!(
        broken(replay.out.trim())?,
        (f.invariant.clone(), f.diagnosis.clone())
    );

    // The findings folder is a corpus as it stands, and a file moved elsewhere (into a
    // `scenarios/`) is a regression scenario like any other.
    let corpus = httpsim(args![
        "run",
        &out,
        "--format",
        "json",
        "--report-dir",
        tmp.path().join("corpus")
    ]);
    assert_eq!(corpus.code, 1, "{}", corpus.err);
    assert_eq!(corpus.out.lines().count(), 1);
    let moved = tmp.path().join("scenarios").join("race.toml");
    std::fs::create_dir_all(moved.parent().ok_or("parent")?)?;
    std::fs::rename(&f.file, &moved)?;
    let regression = httpsim(args![
        "run",
        moved.parent().ok_or("parent")?,
        "--format",
        "json",
        "--report-dir",
        tmp.path().join("regression")
    ]);
    assert_eq!(regression.code, 1, "{}", regression.err);
    assert_eq!(broken(regression.out.trim())?, (f.invariant, f.diagnosis));

    // Deterministic: the same sweep finds the same seed and writes the same file.
    let again = explore(&tmp.path().join("again"));
    let g = found(again.out.lines().next().ok_or("a finding")?)?;
    assert_eq!((g.seed, g.from, g.to), (f.seed, f.from, f.to));
    let again_text = std::fs::read_to_string(&g.file)?;
    assert_eq!(
        again_text.replace(&tmp.path().join("again").display().to_string(), ""),
        text.replace(&out.display().to_string(), "")
    );
    Ok(())
}
