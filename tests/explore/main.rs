//! Bug hunting at scale: `httpsim explore`, `--shard K/N` and `httpsim merge`, driven through
//! `httpsim::cli::main_with` (the function the binary calls).
//!
//! - `shard` — four shards of a sweep run every (scenario, seed) pair once, and `merge` joins
//!   them into the unsharded `index.md` and `junit.xml`; bad `--shard` values and missing or
//!   doubled parts are bad input.
//! - `hunt` — explore finds the idle-reuse race the catalog hides behind random latency and
//!   idle timeouts, shrinks it, and the written file replays it as a scenario like any other.
//! - `table` — a malformed `[explore]` table exits 2 with file:line:col before anything runs;
//!   `--runs`, `--budget`, `--keep-going`.
//!
//! Assertions are properties (a violation found, the same diagnosis on replay, the shards'
//! union equal to the whole), never trace hashes, so they hold across engine changes.

mod hunt;
mod shard;
mod table;

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

/// `OsString` arguments from anything path- or string-like.
#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        vec![$(std::ffi::OsString::from($a)),*]
    };
}

/// The catalog file that hides the idle-reuse race.
pub const HIDDEN_RACE: &str = "scenarios/idle-reuse-explore.toml";
