//! The `httpsim` command line, driven in-process through `httpsim::cli::main_with` (the very
//! function the binary calls), so exit codes and output are those a user sees.
//!
//! - `malformed` — every kind of bad input exits 2 naming file, line, column, key and the
//!   expected form; nothing runs, nothing panics.
//! - `setup_rules` — each rule of `Setup::validate` through a scenario file: exit 2 with the
//!   key's position.
//! - `catalog` — the runnable catalog passes with `--check-determinism`, prints valid JSON with
//!   every contract field, and regenerates the committed `reports/` byte for byte.
//! - `fuzz` — mutated catalog files exit 0, 1 or 2, never 101 or 134 (`HTTPSIM_FUZZ_CASES`).
//! - `verdicts` — failing expectations exit 1 with the replay command; seeds and sweeps.
//! - `h2_rules` — HTTP/2 keys on an HTTP/1 side, HTTP/1 pools against an h2-only server: exit 2.
//! - `own_requests` — `[[workload.request]]` and `[expect] status`: sent, counted, refused when bad.
//! - `explore` — `httpsim explore`, `--shard K/N` and `httpsim merge` (bug hunting at scale).

mod catalog;
mod explore;
mod fuzz;
mod h2_rules;
mod malformed;
mod own_requests;
mod setup_rules;
mod verdicts;

use std::ffi::OsString;

/// Test result: every test can use `?`.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// What one CLI invocation did.
pub struct Ran {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub out: String,
    /// Standard error.
    pub err: String,
}

/// Runs `httpsim ARGS...` in-process.
pub fn httpsim<I, S>(args: I) -> Ran
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once(OsString::from("httpsim")).chain(args.into_iter().map(Into::into));
    let code = httpsim::cli::main_with(
        argv,
        &mut httpsim::cli::Console {
            out: &mut out,
            err: &mut err,
            terminal: false,
        },
    );
    Ran {
        code,
        out: String::from_utf8_lossy(&out).into_owned(),
        err: String::from_utf8_lossy(&err).into_owned(),
    }
}

/// A scenario that runs in milliseconds, to build bad variants from.
pub const GOOD: &str = r#"name = "tiny"
seed = 1
duration = "10s"

[server]
fd_limit = 64

[client]
fd_limit = 64
fd_in_use = 3
pool = { kind = "hyper-util" }

[workload]
requests = 2

[expect]
completed = 2
"#;

/// `OsString` arguments from anything path- or string-like.
#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        vec![$(std::ffi::OsString::from($a)),*]
    };
}

/// Every file under `dir`, by path relative to it.
pub fn files(
    dir: &std::path::Path,
) -> Result<std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir)?.to_path_buf(), std::fs::read(&p)?);
            }
        }
    }
    Ok(out)
}
