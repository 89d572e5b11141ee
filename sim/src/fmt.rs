//! Times as people read them, in one place: every report, check message, trace line and error
//! formats durations through these.
//!
//! - [`fmt_ms`] — a trace timestamp: `1500.000ms` (µs, three decimals; the trace's form).
//! - [`ms`] — a figure in a report: `850ms`, `4.012s`, `3m 10.000s`.
//! - [`secs`] — a time in a check's message: `180 s`, `2.5 s`.
//! - [`duration`] — a configured duration as the scenario format writes it: `250ms`, `1h 30m`;
//!   [`duration_str`] and [`opt_duration_str`] read and write it with serde.

use std::time::Duration;

/// Formats microseconds as milliseconds with three decimals.
pub fn fmt_ms(t_us: u64) -> String {
    format!("{}.{:03}ms", t_us / 1000, t_us % 1000)
}

/// A millisecond count as people read it: `850ms`, `4.012s`, `3m 10.000s`.
pub fn ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}.{:03}s", ms / 1000, ms % 1000)
    } else {
        format!(
            "{}m {}.{:03}s",
            ms / 60_000,
            (ms % 60_000) / 1000,
            ms % 1000
        )
    }
}

/// Formats µs as seconds for messages: `180 s`, `2.5 s`, `0.012 s`.
pub fn secs(us: u64) -> String {
    if us.is_multiple_of(1_000_000) {
        format!("{} s", us / 1_000_000)
    } else {
        let s = format!("{:.3}", us as f64 / 1e6);
        format!("{} s", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// A configured duration as the scenario format writes it (`250ms`, `1h 30m`).
pub fn duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// `Duration` as a humantime string (`"250ms"`, `"3s"`).
pub mod duration_str {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `d` as a humantime string.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    /// Reads a humantime string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid duration {s:?} ({e}); expected e.g. \"250ms\", \"3s\", \"2m\""
            ))
        })
    }
}

/// `Option<Duration>` as an optional humantime string.
pub mod opt_duration_str {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `d` as a humantime string.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::duration_str::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    /// Reads a humantime string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "super::duration_str")] Duration);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}
