//! Mutated catalog files through the CLI: whatever the input, `httpsim run` exits 0, 1 or 2 —
//! never a panic (101) or an abort (134).
//!
//! Each case takes a catalog scenario, applies one to three mutations (a value replaced by one
//! of a pool of awkward values, a line deleted, duplicated, moved or borrowed from another
//! file, a character changed, the text cut short) and runs it in-process. The pool's values
//! keep a run short: counts stay small or are far too large to be accepted, durations never
//! ask for hours of busy simulation, and every file's own `duration` is cut to 10 s first.
//!
//! `HTTPSIM_FUZZ_CASES` sets the number of cases (the CI default is 500); `HTTPSIM_SEED` the
//! seed of the mutations (the default is 1). A case that panics is printed in full, with the
//! command that replays the sweep.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;

use crate::{httpsim, Result};

/// Values a mutation puts where a value was.
const VALUES: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "64",
    "1000",
    "-1",
    "1000001",
    "9223372036854775807",
    "-9223372036854775808",
    "0.5",
    "1.5",
    "-0.0",
    "1e300",
    "1e-300",
    "nan",
    "inf",
    "true",
    "false",
    "\"\"",
    "\" \"",
    "\"my server\"",
    "\"server\"",
    "\"client\"",
    "\"10.0.0.1\"",
    "\"x\"",
    "\"/\"",
    "\"items page\"",
    "\"0ms\"",
    "\"1ms\"",
    "\"250ms\"",
    "\"3s\"",
    "\"5000000h\"",
    "\"crash\"",
    "\"bounce\"",
    "\"partition\"",
    "\"hold\"",
    "\"latency\"",
    "\"fail-rate\"",
    "\"rate\"",
    "\"parallel\"",
    "\"agent\"",
    "\"none\"",
    "\"hyper-util\"",
    "\"echo\"",
    "\"cpu\"",
    "\"POST\"",
    "\"hold\"",
    "\"close-idle\"",
    "\"ordering\"",
    "[]",
    "[\"server\"]",
    "[\"client\"]",
    "[\"server\", \"server\"]",
    "[\"client\", \"server\", \"client\"]",
    "{}",
    "{ kind = \"agent\", max_sockets = 0 }",
    "{ kind = \"fixed\", body_bytes = 9000000000000, chunk_bytes = 1 }",
    "{ min = \"5ms\", max = \"1ms\" }",
];

/// Whole lines a mutation may insert.
const LINES: &[&str] = &[
    "[[fault]]\nat = \"1s\"\nkind = \"crash\"\nhosts = [\"server\"]",
    "[[fault]]\nat = \"1s\"\nkind = \"partition\"\nhosts = [\"client\", \"server\"]",
    "[[fault]]\nat = \"2s\"\nkind = \"bounce\"\nhosts = [\"server\", \"client\"]",
    "[[conn_fault]]\ndirection = \"to-client\"\nfault = { kind = \"bandwidth\", bytes_per_sec = 0 }",
    "[[conn_fault]]\ndirection = \"to-server\"\nfault = { kind = \"slicer\", average = 0, delay = \"1ms\" }",
    "[server]\nhost = \"client\"",
    "host = \"server\"",
    "port = 0",
    "fd_limit = 0",
    "fd_in_use = 100000",
    "kind = \"rate\"",
    "rate = 0.0000001",
    "path = \"\"",
    "tick = \"0ms\"",
    "invariants = [\"no-such\"]",
];

/// splitmix64: a tiny seeded generator, so the sweep replays without extra dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The catalog's files, each with its own `duration` cut to 10 s.
fn catalog() -> Result<Vec<String>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("scenarios")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)?;
            Ok(text
                .lines()
                .map(|l| {
                    if l.starts_with("duration = ") {
                        "duration = \"10s\""
                    } else {
                        l
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"))
        })
        .collect()
}

/// One mutation of `text`.
fn mutate(text: &str, others: &[String], rng: &mut Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return text.to_string();
    }
    let i = rng.below(lines.len());
    match rng.below(8) {
        // A value replaced (the most common: it reaches validation rather than the parser).
        0..=2 => {
            if let Some((key, _)) = lines[i].split_once(" = ") {
                lines[i] = format!("{key} = {}", rng.pick(VALUES));
            }
        }
        3 => {
            lines.remove(i);
        }
        4 => {
            let l = lines[i].clone();
            lines.insert(rng.below(lines.len() + 1), l);
        }
        5 => {
            let other = rng.pick(others);
            let borrowed: Vec<&str> = other.lines().collect();
            if !borrowed.is_empty() {
                lines.insert(i, rng.pick(&borrowed).to_string());
            }
        }
        6 => lines.insert(i, rng.pick(LINES).to_string()),
        _ => {
            // A character changed, or the text cut short.
            let mut chars: Vec<char> = lines.join("\n").chars().collect();
            let at = rng.below(chars.len().max(1));
            if rng.below(4) == 0 {
                chars.truncate(at);
            } else if let Some(c) = chars.get_mut(at) {
                *c = *rng.pick(&['"', '=', '[', ']', '{', '}', '0', '9', '-', ' ', '\n', 'é']);
            }
            return chars.into_iter().collect();
        }
    }
    lines.join("\n") + "\n"
}

/// Runs `cases` mutated files; `Err` on the first exit code other than 0, 1, 2, or a panic.
fn sweep(cases: u64, seed: u64) -> Result<BTreeMap<i32, u64>> {
    let files = catalog()?;
    let dir = tempfile::tempdir()?;
    let reports = dir.path().join("reports");
    let mut rng = Rng(seed);
    let mut codes = BTreeMap::new();
    // `HTTPSIM_FUZZ_TRACE=1` prints every case before it runs (to find one that hangs).
    let trace = std::env::var_os("HTTPSIM_FUZZ_TRACE").is_some();
    for case in 0..cases {
        let mut text = rng.pick(&files).clone();
        for _ in 0..1 + rng.below(3) {
            text = mutate(&text, &files, &mut rng);
        }
        let path = dir.path().join("fuzz.toml");
        std::fs::write(&path, &text)?;
        if trace {
            eprintln!("fuzz: case {case}:\n{text}\n");
        }
        let started = std::time::Instant::now();
        let ran = panic::catch_unwind(AssertUnwindSafe(|| {
            httpsim([
                "run".into(),
                path.clone().into_os_string(),
                "--report-dir".into(),
                reports.clone().into_os_string(),
            ])
        }));
        let code = match ran {
            Ok(ran) => ran.code,
            Err(_) => 101,
        };
        // Wall time only watches the sweep (no run reads it): a slow case is shown so the
        // value pool can be kept to short runs.
        let took = started.elapsed();
        if took > std::time::Duration::from_secs(2) {
            eprintln!("fuzz: case {case} took {took:?} (exit {code}):\n{text}");
        }
        if !matches!(code, 0..=2) {
            return Err(format!(
                "case {case} (HTTPSIM_SEED={seed}) exited {code}; the file:\n{text}"
            )
            .into());
        }
        *codes.entry(code).or_insert(0) += 1;
        if (case + 1) % 10_000 == 0 {
            eprintln!("fuzz: {} cases, {codes:?}", case + 1);
        }
    }
    Ok(codes)
}

#[test]
fn mutated_catalog_files_exit_0_1_or_2_and_never_panic() -> Result {
    let cases = env_or("HTTPSIM_FUZZ_CASES", 500);
    let seed = env_or("HTTPSIM_SEED", 1);
    let codes = sweep(cases, seed)?;
    eprintln!("fuzz: {cases} cases at seed {seed}, exit codes {codes:?}");
    // The sweep reaches every outcome, or it would test less than it claims.
    for code in [0, 1, 2] {
        assert!(
            codes.get(&code).is_some_and(|&n| n > 0),
            "no case exited {code}: {codes:?}"
        );
    }
    Ok(())
}
