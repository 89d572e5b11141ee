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

/// The catalog file that hides the idle-reuse race.
pub const HIDDEN_RACE: &str = "scenarios/idle-reuse-explore.toml";
