//! `httpsim merge`: the report folders, JUnit files and JSON lines of `httpsim run --shard K/N`
//! jobs joined into what one unsharded run would have written.
//!
//! Inputs are told apart by what they are: a folder is a shard's report folder (its
//! `shard.json`, `index.md`, `junit.xml` and scenario folders), a `*.xml` file a JUnit file, any
//! other file the JSON lines a run printed with `--format json`. The result is
//!
//! - `index.md`: per scenario, the run the unsharded report shows — the first failing seed over
//!   every shard, else the first seed — with the row that shard wrote, and that shard's
//!   scenario folder copied beside it;
//! - `junit.xml`: every shard's test cases in run order (scenario order, then seed);
//! - the JSON lines, in the same order, on standard output.
//!
//! Run order comes from the shards' manifests ([`crate::shard::Manifest`]). Without a report
//! folder among the inputs there is none, and runs are ordered by scenario file then seed: the
//! order of `httpsim run` over one folder. Merge refuses — bad input, nothing written — shards
//! of different sweeps, a part missing or given twice, and a (scenario, seed) pair seen twice.
//!
//! Nothing is re-run: every byte of the joined reports comes from the shards, and the rows and
//! test cases are the functions of a run that the unsharded report uses, so the joined
//! `index.md` and `junit.xml` are byte-identical to the unsharded ones.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use quick_junit::{Report, TestCase, TestSuite};

use super::markdown::index_page;
use crate::cli::{Console, EXIT_BAD_INPUT, EXIT_FAIL, EXIT_PASS};
use crate::shard::{Manifest, Pick, MANIFEST};

/// `httpsim merge INPUT...`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Shard report folders, JUnit files (`*.xml`) and JSON-lines files (`run --format json`
    /// output), in any order.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Where the joined report folder is written. The default is `reports`
    /// (`HTTPSIM_REPORT_DIR`).
    #[arg(long, env = "HTTPSIM_REPORT_DIR", default_value = "reports")]
    pub report_dir: PathBuf,
}

/// Why inputs cannot be merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeError {
    /// The input at fault, when there is one.
    pub path: Option<PathBuf>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl MergeError {
    fn at(path: &Path, message: impl Into<String>) -> Self {
        Self {
            path: Some(path.to_path_buf()),
            message: message.into(),
        }
    }

    fn new(message: impl Into<String>) -> Self {
        Self {
            path: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}: ", p.display())?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for MergeError {}

/// The joined result, before it is written.
#[derive(Clone, Debug, Default)]
pub struct Merged {
    /// `index.md`, when report folders were given.
    pub index: Option<String>,
    /// Per scenario shown in `index.md`: the folder whose copy of its report folder is used.
    pub folders: Vec<(String, PathBuf)>,
    /// `junit.xml`, when report folders or JUnit files were given.
    pub junit: Option<String>,
    /// The JSON lines, in run order.
    pub json_lines: Vec<String>,
    /// Runs seen (JUnit test cases, else JSON lines).
    pub runs: usize,
    /// Runs that failed.
    pub failed: usize,
}

/// Where a run sits in the unsharded order.
struct Order {
    /// Scenario file → rank, from the manifests; empty without one.
    rank: BTreeMap<String, usize>,
}

impl Order {
    fn key(&self, file: &str, seed: u64) -> (usize, String, u64) {
        // Without a manifest every rank is 0 and the file name orders.
        let rank = self.rank.get(file).copied().unwrap_or(0);
        (rank, file.to_string(), seed)
    }
}

/// Joins `inputs` (see the module doc).
pub fn merge(inputs: &[PathBuf]) -> Result<Merged, MergeError> {
    let mut shards: Vec<(PathBuf, Manifest)> = Vec::new();
    let mut xml: Vec<PathBuf> = Vec::new();
    let mut jsonl: Vec<PathBuf> = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let m = p.join(MANIFEST);
            let text = std::fs::read_to_string(&m).map_err(|e| {
                MergeError::at(
                    p,
                    format!(
                        "cannot read {MANIFEST} ({e}); expected the report folder of an \
                         `httpsim run --shard K/N`"
                    ),
                )
            })?;
            let manifest: Manifest = serde_json::from_str(&text)
                .map_err(|e| MergeError::at(&m, format!("not a shard manifest: {e}")))?;
            shards.push((p.clone(), manifest));
            xml.push(p.join("junit.xml"));
        } else if p.is_file() {
            if p.extension().is_some_and(|x| x == "xml") {
                xml.push(p.clone());
            } else {
                jsonl.push(p.clone());
            }
        } else {
            return Err(MergeError::at(
                p,
                "no such file or folder; expected a shard report folder, a JUnit file or a \
                 JSON-lines file",
            ));
        }
    }
    let order = check_shards(&shards)?;
    let mut merged = Merged::default();
    if !shards.is_empty() {
        let (index, folders) = join_index(&shards);
        merged.index = Some(index);
        merged.folders = folders;
    }
    if !xml.is_empty() {
        let (junit, runs, failed) = join_junit(&xml, &order)?;
        merged.junit = Some(junit);
        merged.runs = runs;
        merged.failed = failed;
    }
    if !jsonl.is_empty() {
        let (lines, failed) = join_json(&jsonl, &order)?;
        if xml.is_empty() {
            merged.runs = lines.len();
            merged.failed = failed;
        }
        merged.json_lines = lines;
    }
    Ok(merged)
}

/// The manifests agree on one sweep and every part is there once; the run order they give.
fn check_shards(shards: &[(PathBuf, Manifest)]) -> Result<Order, MergeError> {
    let Some((first_path, first)) = shards.first() else {
        return Ok(Order {
            rank: BTreeMap::new(),
        });
    };
    let mut seen: BTreeMap<u64, &Path> = BTreeMap::new();
    for (p, m) in shards {
        if m.shard.count != first.shard.count
            || m.scenarios != first.scenarios
            || m.pairs != first.pairs
            || m.sweep != first.sweep
        {
            return Err(MergeError::at(
                p,
                format!(
                    "shard {} is not a part of the same sweep as {} (shard {}): every part must \
                     be run with the same paths, seeds and N",
                    m.shard,
                    first_path.display(),
                    first.shard
                ),
            ));
        }
        if let Some(other) = seen.insert(m.shard.index, p) {
            return Err(MergeError::at(
                p,
                format!(
                    "shard {} is given twice (also {}); each part must be given once",
                    m.shard,
                    other.display()
                ),
            ));
        }
    }
    let missing: Vec<String> = (1..=first.shard.count)
        .filter(|k| !seen.contains_key(k))
        .map(|k| format!("{k}/{}", first.shard.count))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::new(format!(
            "shard(s) {} missing: the merge of a sweep needs all {} parts",
            missing.join(", "),
            first.shard.count
        )));
    }
    Ok(Order {
        rank: first
            .scenarios
            .iter()
            .enumerate()
            .map(|(i, s)| (s.file.clone(), i))
            .collect(),
    })
}

/// `index.md` and the report folder to copy per scenario: over every shard, the first failing
/// seed, else the first seed, as the unsharded run picks.
fn join_index(shards: &[(PathBuf, Manifest)]) -> (String, Vec<(String, PathBuf)>) {
    let mut rows = Vec::new();
    let mut folders = Vec::new();
    for s in &shards[0].1.scenarios {
        let best: Option<(&Pick, &PathBuf)> = shards
            .iter()
            .flat_map(|(p, m)| {
                m.picks
                    .iter()
                    .filter(|k| k.name == s.name)
                    .map(move |k| (k, p))
            })
            .min_by_key(|(k, _)| (k.passed, k.seed));
        if let Some((pick, dir)) = best {
            rows.push((pick.passed, pick.row.clone()));
            folders.push((pick.name.clone(), dir.clone()));
        }
    }
    (index_page(&rows), folders)
}

/// The seed of a test case, from its `system-out` (`seed N; ...`).
fn case_seed(c: &TestCase) -> Option<u64> {
    let out = c.system_out.as_ref()?;
    let rest = out.as_str().strip_prefix("seed ")?;
    rest.split(|ch: char| !ch.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn join_junit(files: &[PathBuf], order: &Order) -> Result<(String, usize, usize), MergeError> {
    let mut cases: BTreeMap<(usize, String, u64), (TestCase, &Path)> = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| MergeError::at(f, format!("cannot read the JUnit file: {e}")))?;
        let report = Report::deserialize_from_str(&text)
            .map_err(|e| MergeError::at(f, format!("not a JUnit file: {e}")))?;
        for suite in report.test_suites {
            for case in suite.test_cases {
                let file = case
                    .classname
                    .as_ref()
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default();
                let seed = case_seed(&case).ok_or_else(|| {
                    MergeError::at(
                        f,
                        format!(
                            "test case {:?} does not say its seed; expected a junit.xml written \
                             by httpsim",
                            case.name.as_str()
                        ),
                    )
                })?;
                let key = order.key(&file, seed);
                if let Some((_, other)) = cases.get(&key) {
                    return Err(MergeError::at(
                        f,
                        format!(
                            "{file} at seed {seed} ran twice (also in {}): shards must not \
                             overlap",
                            other.display()
                        ),
                    ));
                }
                cases.insert(key, (case, f));
            }
        }
    }
    let failed = cases
        .values()
        .filter(|(c, _)| !matches!(c.status, quick_junit::TestCaseStatus::Success { .. }))
        .count();
    let runs = cases.len();
    let mut suite = TestSuite::new("httpsim scenarios");
    suite.add_test_cases(cases.into_values().map(|(c, _)| c));
    let mut report = Report::new("httpsim");
    report.add_test_suite(suite);
    Ok((report.to_string().unwrap_or_default(), runs, failed))
}

fn join_json(files: &[PathBuf], order: &Order) -> Result<(Vec<String>, usize), MergeError> {
    let mut lines: BTreeMap<(usize, String, u64), (String, &Path)> = BTreeMap::new();
    let mut failed = 0;
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| MergeError::at(f, format!("cannot read the JSON lines: {e}")))?;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
                MergeError::at(
                    f,
                    format!(
                        "line {}: not JSON ({e}); expected the output of `httpsim run --format json`",
                        n + 1
                    ),
                )
            })?;
            let (Some(file), Some(seed)) = (v["file"].as_str(), v["seed"].as_u64()) else {
                return Err(MergeError::at(
                    f,
                    format!(
                        "line {}: no `file` and `seed`; expected the output of `httpsim run \
                         --format json`",
                        n + 1
                    ),
                ));
            };
            let key = order.key(file, seed);
            if let Some((_, other)) = lines.get(&key) {
                return Err(MergeError::at(
                    f,
                    format!(
                        "{file} at seed {seed} ran twice (also in {}): shards must not overlap",
                        other.display()
                    ),
                ));
            }
            if v["passed"] == serde_json::Value::Bool(false) {
                failed += 1;
            }
            lines.insert(key, (line.to_string(), f));
        }
    }
    Ok((lines.into_values().map(|(l, _)| l).collect(), failed))
}

/// Writes `merged` into the report folder `dir`: `index.md` and the scenario folders,
/// `junit.xml`.
pub fn write(merged: &Merged, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, from) in &merged.folders {
        let to = dir.join(name);
        std::fs::create_dir_all(&to)?;
        for e in std::fs::read_dir(from.join(name))? {
            let e = e?;
            if e.file_type()?.is_file() {
                std::fs::copy(e.path(), to.join(e.file_name()))?;
            }
        }
    }
    if let Some(index) = &merged.index {
        std::fs::write(dir.join("index.md"), index)?;
    }
    if let Some(junit) = &merged.junit {
        std::fs::write(dir.join("junit.xml"), junit)?;
    }
    Ok(())
}

/// `httpsim merge`: exit 0 when every run passed, 1 when one failed, 2 on bad input.
pub fn merge_command(args: MergeArgs, c: &mut Console) -> i32 {
    let merged = match merge(&args.inputs) {
        Ok(m) => m,
        Err(e) => {
            let _ = writeln!(c.err, "error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    for l in &merged.json_lines {
        let _ = writeln!(c.out, "{l}");
    }
    if merged.index.is_some() || merged.junit.is_some() {
        if let Err(e) = write(&merged, &args.report_dir) {
            let _ = writeln!(
                c.err,
                "error: cannot write reports to {}: {e}",
                args.report_dir.display()
            );
            return EXIT_BAD_INPUT;
        }
    }
    let _ = writeln!(
        c.err,
        "httpsim merge: {} run(s), {} passed, {} failed; reports in {}",
        merged.runs,
        merged.runs - merged.failed,
        merged.failed,
        args.report_dir.display()
    );
    if merged.failed > 0 {
        EXIT_FAIL
    } else {
        EXIT_PASS
    }
}
