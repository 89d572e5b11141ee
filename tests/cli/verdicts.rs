use crate::{httpsim, Result, GOOD};

fn write(text: &str) -> Result<(tempfile::TempDir, std::path::PathBuf)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("s.toml");
    std::fs::write(&path, text)?;
    Ok((dir, path))
}

#[test]
fn a_broken_expectation_exits_1_and_prints_the_replay_command() -> Result {
    let (dir, path) = write(&GOOD.replace("completed = 2", "completed = 3"))?;
    let reports = dir.path().join("out");
    let ran = httpsim([
        "run".into(),
        path.clone().into_os_string(),
        "--report-dir".into(),
        reports.clone().into_os_string(),
    ]);
    assert_eq!(ran.code, 1, "{}", ran.err);
    assert!(ran.out.starts_with("FAIL tiny (seed 1)"), "{}", ran.out);
    assert!(
        ran.out
            .contains("FAILED completed: 2 of 2 requests completed (expected 3)"),
        "{}",
        ran.out
    );
    let replay = format!("replay: httpsim run {} --seed 1", path.display());
    assert!(ran.out.contains(&replay), "{}", ran.out);

    let report = std::fs::read_to_string(reports.join("tiny/report.md"))?;
    assert!(report.starts_with("# tiny — FAIL"), "{report}");
    assert!(
        report.contains("| `completed` | FAIL | 2 of 2 requests completed (expected 3) |"),
        "{report}"
    );
    let junit = std::fs::read_to_string(reports.join("junit.xml"))?;
    assert!(
        junit.contains("<failure") && junit.contains("completed: 2 of 2"),
        "{junit}"
    );
    let index = std::fs::read_to_string(reports.join("index.md"))?;
    assert!(index.contains("| tiny | FAIL | 1 |"), "{index}");
    Ok(())
}

#[test]
fn a_stall_nobody_expected_fails_the_run() -> Result {
    let text = GOOD.replace(
        "[expect]",
        "[[fault]]\nat = \"0ms\"\nkind = \"hold\"\nhosts = [\"client\", \"server\"]\n\n[expect]",
    );
    let (dir, path) = write(&text)?;
    let ran = httpsim([
        "run".into(),
        path.into_os_string(),
        "--report-dir".into(),
        dir.path().join("r").into_os_string(),
        "--format".into(),
        "json".into(),
    ]);
    assert_eq!(ran.code, 1, "{}", ran.err);
    let v: serde_json::Value = serde_json::from_str(ran.out.trim())?;
    assert_eq!(v["end"], "duration-reached");
    assert_eq!(v["longest_stall_ms"], 10_000);
    let end = v["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "end")
        .ok_or("end check")?;
    assert_eq!(end["passed"], false);
    assert!(
        end["detail"]
            .as_str()
            .unwrap()
            .contains("with 1 request(s) pending: a stall"),
        "{end}"
    );
    Ok(())
}

#[test]
fn a_seed_sweep_runs_every_seed_and_names_each_in_junit() -> Result {
    let (dir, path) = write(GOOD)?;
    let reports = dir.path().join("r");
    let ran = httpsim([
        "run".into(),
        path.into_os_string(),
        "--seeds".into(),
        "4..=6".into(),
        "--format".into(),
        "json".into(),
        "--report-dir".into(),
        reports.clone().into_os_string(),
    ]);
    assert_eq!(ran.code, 0, "{}", ran.err);
    let seeds: Vec<u64> = ran
        .out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).map(|v| v["seed"].as_u64().unwrap()))
        .collect::<std::result::Result<_, _>>()?;
    assert_eq!(seeds, [4, 5, 6]);
    let junit = std::fs::read_to_string(reports.join("junit.xml"))?;
    for s in 4..=6 {
        assert!(junit.contains(&format!("name=\"tiny@{s}\"")), "{junit}");
    }
    assert!(
        ran.err.contains("seeds: 4..=6"),
        "the seeds are printed: {}",
        ran.err
    );
    Ok(())
}

#[test]
fn the_seed_flag_overrides_the_file() -> Result {
    let (dir, path) = write(GOOD)?;
    let ran = httpsim([
        "run".into(),
        path.into_os_string(),
        "--seed".into(),
        "42".into(),
        "--report-dir".into(),
        dir.path().join("r").into_os_string(),
    ]);
    assert_eq!(ran.code, 0, "{}", ran.err);
    assert!(ran.out.starts_with("PASS tiny (seed 42)"), "{}", ran.out);
    Ok(())
}
