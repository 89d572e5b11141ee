//! The `[explore]` table of the scenario format: what `httpsim explore` may vary.
//!
//! ```toml
//! [explore]
//! faults = { min = 0, max = 3 }           # how many scheduled faults per seed
//! kinds = ["partition", "latency"]        # partition | hold | crash | latency | fail-rate
//! window = { min = "0s", max = "20s" }    # when each fault starts
//! outage = { min = "10ms", max = "2s" }   # how long a partition, hold, crash or fail rate lasts
//! latency = { min = "1ms", max = "100ms" }  # the latency a `latency` fault sets
//! rate = { min = 0.0, max = 0.05 }        # the break probability a `fail-rate` fault sets
//! conn_faults = { min = 0, max = 1 }      # how many per-connection faults per seed
//! conn_kinds = ["latency", "reset"]       # latency | reset | half-open | slow-close
//! probability = { min = 0.1, max = 1.0 }  # probability a connection gets each of them
//! server_idle_timeout = { min = "1s", max = "9s" }  # replaces [server] idle_timeout
//! ```
//!
//! Every key is optional; the defaults are written on each field. A scenario run with
//! `httpsim run` ignores the table (it runs the base scenario); `httpsim explore` draws from it.
//! The table is checked when the file is loaded, by either command, so a malformed one exits 2
//! with file:line:col before anything runs.

use std::time::Duration;

use serde::Deserialize;

use crate::scenario::format::{Range, ScenarioFile};
use crate::scenario::{Ctx, ErrorClass, ScenarioError};

/// `[explore]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExploreTable {
    /// How many scheduled faults a seed draws (uniformly). The default is `{ min = 0, max = 3 }`
    /// when `kinds` is given, else none.
    pub faults: Option<CountRange>,
    /// Scheduled fault kinds to draw from: `partition | hold | crash | latency | fail-rate`
    /// (a partition, hold or crash is undone — repair, release, bounce — after its outage). The
    /// default is none.
    pub kinds: Option<Vec<String>>,
    /// When a drawn fault starts. The default is from 0 to the scenario's duration.
    pub window: Option<Range>,
    /// How long a partition, hold, crash or fail rate lasts. The default is 10 ms to 2 s.
    pub outage: Option<Range>,
    /// The link latency a `latency` fault sets (and a per-connection `latency` adds). The
    /// default is 1 ms to 100 ms.
    pub latency: Option<Range>,
    /// The break probability per message a `fail-rate` fault sets. The default is 0 to 0.05.
    pub rate: Option<ProbRange>,
    /// How many per-connection faults a seed draws. The default is `{ min = 0, max = 1 }` when
    /// `conn_kinds` is given, else none.
    pub conn_faults: Option<CountRange>,
    /// Per-connection fault kinds to draw from: `latency | reset | half-open | slow-close`
    /// (`reset` and `half-open` strike after a time drawn from `outage`; `slow-close` delays the
    /// FIN by one). The default is none.
    pub conn_kinds: Option<Vec<String>>,
    /// The probability that a connection gets a drawn per-connection fault. The default is 1.
    pub probability: Option<ProbRange>,
    /// The server's idle timeout, drawn per seed in place of `[server] idle_timeout`. The
    /// default is the file's own.
    pub server_idle_timeout: Option<Range>,
}

/// `{ min = 0, max = 3 }` (either may be left out: `min` defaults to 0, `max` to `min`).
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountRange {
    /// Lower bound.
    pub min: Option<u32>,
    /// Upper bound.
    pub max: Option<u32>,
}

/// `{ min = 0.0, max = 0.05 }`, probabilities in `[0, 1]`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbRange {
    /// Lower bound. The default is 0.
    pub min: Option<f64>,
    /// Upper bound. The default is 1.
    pub max: Option<f64>,
}

/// Scheduled fault kinds explore draws.
pub const KINDS: &[&str] = &["partition", "hold", "crash", "latency", "fail-rate"];
/// Per-connection fault kinds explore draws.
pub const CONN_KINDS: &[&str] = &["latency", "reset", "half-open", "slow-close"];

/// The most faults of either sort one seed may draw: a schedule is data to shrink, not a storm.
pub const MAX_COUNT: u32 = 64;

/// Checks the `[explore]` table of `f`, if any, pointing at the offending key.
pub(crate) fn validate(f: &ScenarioFile, ctx: &Ctx) -> Result<(), ScenarioError> {
    let Some(t) = &f.explore else {
        return Ok(());
    };
    let bad = |field: &str, message: String, expected: &str| {
        ctx.error(ErrorClass::Impossible, &format!("explore.{field}"), message)
            .expected(expected)
    };
    for (key, list, known) in [
        ("kinds", &t.kinds, KINDS),
        ("conn_kinds", &t.conn_kinds, CONN_KINDS),
    ] {
        for (i, k) in list.iter().flatten().enumerate() {
            if !known.contains(&k.as_str()) {
                return Err(ctx
                    .error(
                        ErrorClass::Field,
                        &format!("explore.{key}[{i}]"),
                        format!("explore cannot draw {k:?}"),
                    )
                    .expected(format!("one of {}", known.join(", "))));
            }
        }
    }
    for (key, r) in [("faults", &t.faults), ("conn_faults", &t.conn_faults)] {
        if let Some(r) = r {
            let (min, max) = counts(Some(*r), 0);
            if min > max {
                return Err(bad(
                    &format!("{key}.min"),
                    format!("min ({min}) is greater than max ({max})"),
                    "min <= max",
                ));
            }
            if max > MAX_COUNT {
                return Err(bad(
                    &format!("{key}.max"),
                    format!("{max} faults per seed"),
                    "at most 64",
                ));
            }
        }
    }
    for (key, r) in [
        ("window", &t.window),
        ("outage", &t.outage),
        ("latency", &t.latency),
        ("server_idle_timeout", &t.server_idle_timeout),
    ] {
        if let Some(Range {
            min: Some(a),
            max: Some(b),
        }) = r
        {
            if a > b {
                return Err(bad(
                    &format!("{key}.min"),
                    format!(
                        "min ({}) is greater than max ({})",
                        humantime::format_duration(a.0),
                        humantime::format_duration(b.0)
                    ),
                    "min <= max",
                ));
            }
        }
    }
    if let Some(Range { max: Some(m), .. }) = &t.latency {
        if m.0.is_zero() {
            return Err(bad(
                "latency.max",
                "a maximum latency of 0".into(),
                "a positive duration such as \"50ms\"",
            ));
        }
    }
    if let Some(Range { max: Some(m), .. }) = &t.server_idle_timeout {
        if m.0.is_zero() {
            return Err(bad(
                "server_idle_timeout.max",
                "a maximum idle timeout of 0".into(),
                "a positive duration such as \"5s\"",
            ));
        }
    }
    for (key, r) in [("rate", &t.rate), ("probability", &t.probability)] {
        if let Some(r) = r {
            for (end, v) in [("min", r.min), ("max", r.max)] {
                if let Some(v) = v {
                    if !(0.0..=1.0).contains(&v) {
                        return Err(bad(
                            &format!("{key}.{end}"),
                            format!("{v} is not a probability"),
                            "a number between 0 and 1",
                        ));
                    }
                }
            }
            if let (Some(a), Some(b)) = (r.min, r.max) {
                if a > b {
                    return Err(bad(
                        &format!("{key}.min"),
                        format!("min ({a}) is greater than max ({b})"),
                        "min <= max",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A count range with its defaults: `min` 0, `max` `min`; `default_max` when absent.
pub fn counts(r: Option<CountRange>, default_max: u32) -> (u32, u32) {
    match r {
        None => (0, default_max),
        Some(r) => {
            let min = r.min.unwrap_or(0);
            (min, r.max.unwrap_or(min.max(default_max)))
        }
    }
}

/// A duration range with its defaults.
pub fn durations(r: Option<Range>, min: Duration, max: Duration) -> (Duration, Duration) {
    match r {
        None => (min, max),
        Some(r) => {
            let a = r.min.map_or(min.min(r.max.map_or(min, |m| m.0)), |d| d.0);
            let b = r.max.map_or(a.max(max), |d| d.0);
            (a, b.max(a))
        }
    }
}

/// A probability range with its defaults.
pub fn probabilities(r: Option<ProbRange>, min: f64, max: f64) -> (f64, f64) {
    match r {
        None => (min, max),
        Some(r) => {
            let a = r.min.unwrap_or(min);
            let b = r.max.unwrap_or(max.max(a));
            (a, b.max(a))
        }
    }
}
