//! `--shard K/N`: one of N parts of a sweep, so that N CI jobs together run every
//! (scenario, seed) pair exactly once.
//!
//! The partition is round-robin over the sweep's pairs in run order — scenarios in the order
//! they were loaded (a folder's files sorted by name), each scenario's seeds ascending: pair
//! number `i` (from 0) belongs to shard `i mod N + 1`. It depends only on the arguments, so every
//! job given the same paths and seeds agrees on it without talking to the others; round-robin
//! spreads each scenario's seeds evenly, so a costly scenario does not land on one job.
//! `cargo nextest run --partition count:K/N` splits tests the same way.
//!
//! A sharded `httpsim run` also writes a [`Manifest`] (`shard.json`) into its report folder:
//! which part it was and the whole sweep's scenario list, so that
//! [`report::merge`](crate::report::merge) can put the parts back together in the order the
//! unsharded run would have written, and notice a missing or doubled part.
//!
//! This module only decides who runs what; it runs nothing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The file name of a shard's [`Manifest`] inside its report folder.
pub const MANIFEST: &str = "shard.json";

/// Part `index` (1-based) of `count` parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which part, from 1 to `count`.
    pub index: u64,
    /// How many parts.
    pub count: u64,
}

impl Shard {
    /// The whole sweep: one part of one.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Whether pair number `i` (from 0, in run order) belongs to this part.
    pub fn owns(&self, i: u64) -> bool {
        i % self.count == self.index - 1
    }
}

/// The expected form of a shard, as error messages print it.
pub const SHARD_FORM: &str = "K/N with 1 <= K <= N, such as 1/4";

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("{s:?} is not a shard: {why}; expected {SHARD_FORM}");
        let (k, n) = s.split_once('/').ok_or_else(|| bad("no `/`"))?;
        let k: u64 = k.trim().parse().map_err(|_| bad("K is not a number"))?;
        let n: u64 = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        if n == 0 {
            return Err(bad("N is 0"));
        }
        if k == 0 || k > n {
            return Err(bad(&format!("K must be between 1 and {n}")));
        }
        Ok(Shard { index: k, count: n })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What a sharded run writes next to its reports (`shard.json`), for `httpsim merge`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Which part this was.
    pub shard: Shard,
    /// Every scenario of the whole sweep, in run order (not only those this part ran).
    pub scenarios: Vec<ManifestScenario>,
    /// Pairs in the whole sweep.
    pub pairs: u64,
    /// Whether several seeds ran (test cases are then named `name@seed`).
    pub sweep: bool,
    /// Per scenario this part ran at least once: the run its report shows.
    pub picks: Vec<Pick>,
}

/// One scenario of the sweep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestScenario {
    /// Its name (its report folder).
    pub name: String,
    /// Its file, as given.
    pub file: String,
}

/// The run a part's report shows for one scenario: its first failing seed, else its first seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pick {
    /// The scenario's name.
    pub name: String,
    /// The seed.
    pub seed: u64,
    /// Whether that run passed.
    pub passed: bool,
    /// Its row of `index.md`, as written.
    pub row: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_every_pair_once() {
        for n in 1..=5 {
            for i in 0..40 {
                let owners = (1..=n)
                    .filter(|k| {
                        Shard {
                            index: *k,
                            count: n,
                        }
                        .owns(i)
                    })
                    .count();
                assert_eq!(owners, 1, "pair {i} of {n} parts");
            }
        }
    }

    #[test]
    fn bad_shards_say_the_form() {
        for s in ["0/4", "5/4", "x", "1/0", "1/x", "-1/4"] {
            let e = s.parse::<Shard>().unwrap_err();
            assert!(e.contains("K/N"), "{s}: {e}");
        }
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
    }
}
