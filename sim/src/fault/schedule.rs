//! The `[[fault]]` table: one scheduled network or host event per entry.
//!
//! ```toml
//! [[fault]]
//! at = "2s"
//! kind = "partition"        # partition | repair | hold | release | crash | bounce | latency | fail-rate
//! hosts = ["client", "server"]
//! oneway = true             # partition / repair only: only hosts[0] -> hosts[1]
//!
//! [[fault]]
//! at = "3s"
//! kind = "crash"
//! hosts = ["server"]
//! fin = false               # crash only: the host's sockets vanish, peers see no FIN (half-open)
//!
//! [[fault]]
//! at = "4s"
//! kind = "latency"          # latency = "250ms" (fixed latency of the link)
//! hosts = ["client", "server"]
//! latency = "250ms"
//!
//! [[fault]]
//! at = "5s"
//! kind = "fail-rate"        # rate = probability per message that the link breaks
//! hosts = ["client", "server"]
//! rate = 0.01
//! ```
//!
//! Link kinds take exactly two hosts; `crash` and `bounce` take one or more. Unknown keys and
//! keys that do not belong to the kind are errors.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::NetAction;

/// What a [`FaultEntry`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Drop every message between the two hosts (or one way, with `oneway`).
    Partition,
    /// Undo a partition.
    Repair,
    /// Hold messages between the two hosts; they are delivered on `release`.
    Hold,
    /// Deliver held messages and stop holding.
    Release,
    /// Stop the hosts' software. With `fin = false` their sockets vanish silently.
    Crash,
    /// Restart the hosts' software.
    Bounce,
    /// Set the latency of the link (`latency`).
    Latency,
    /// Set the probability per message that the link breaks (`rate`).
    FailRate,
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = serde_json::to_value(self).unwrap_or_default();
        f.write_str(v.as_str().unwrap_or("?"))
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One entry of the `[[fault]]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultEntry {
    /// Simulated time at which it applies, e.g. `"2s"`.
    #[serde(with = "duration_str")]
    pub at: Duration,
    /// What happens.
    pub kind: FaultKind,
    /// The hosts it applies to: two for link kinds, one or more for `crash` and `bounce`.
    pub hosts: Vec<String>,
    /// `partition` / `repair` only: only `hosts[0]` → `hosts[1]`. The default is `false`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub oneway: bool,
    /// `crash` only: whether peers see the crashed host's sockets close (FIN). `false` makes the
    /// sockets vanish: peers' reads wait until a timeout notices. The default is `true`
    /// (turmoil's behaviour).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub fin: bool,
    /// `latency` only: the link's new fixed latency, e.g. `"250ms"`.
    #[serde(
        default,
        with = "opt_duration_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub latency: Option<Duration>,
    /// `fail-rate` only: the link's new probability per message of breaking, in `[0, 1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

impl FaultEntry {
    /// An entry of `kind` at `at` on `hosts`, every optional key at its default.
    pub fn new(at: Duration, kind: FaultKind, hosts: &[&str]) -> Self {
        Self {
            at,
            kind,
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            oneway: false,
            fin: true,
            latency: None,
            rate: None,
        }
    }

    /// The world actions this entry stands for (one per host for `crash` / `bounce`).
    pub fn actions(&self) -> Result<Vec<NetAction>, FaultError> {
        let err = |msg: String| FaultError {
            at: self.at,
            kind: self.kind,
            message: msg,
        };
        let link = matches!(
            self.kind,
            FaultKind::Partition
                | FaultKind::Repair
                | FaultKind::Hold
                | FaultKind::Release
                | FaultKind::Latency
                | FaultKind::FailRate
        );
        if link && self.hosts.len() != 2 {
            return Err(err(format!(
                "expected exactly two hosts, e.g. hosts = [\"client\", \"server\"]; got {}",
                self.hosts.len()
            )));
        }
        if !link && self.hosts.is_empty() {
            return Err(err(
                "expected one or more hosts, e.g. hosts = [\"server\"]".into()
            ));
        }
        if link && self.hosts[0] == self.hosts[1] {
            return Err(err(format!(
                "a link joins two different hosts; got {:?} twice",
                self.hosts[0]
            )));
        }
        if self.oneway && !matches!(self.kind, FaultKind::Partition | FaultKind::Repair) {
            return Err(err("`oneway` applies to partition and repair only".into()));
        }
        if !self.fin && self.kind != FaultKind::Crash {
            return Err(err("`fin` applies to crash only".into()));
        }
        if self.latency.is_some() != (self.kind == FaultKind::Latency) {
            return Err(err(if self.kind == FaultKind::Latency {
                "expected `latency`, e.g. latency = \"250ms\"".into()
            } else {
                "`latency` applies to kind = \"latency\" only".into()
            }));
        }
        if self.rate.is_some() != (self.kind == FaultKind::FailRate) {
            return Err(err(if self.kind == FaultKind::FailRate {
                "expected `rate`, a probability, e.g. rate = 0.01".into()
            } else {
                "`rate` applies to kind = \"fail-rate\" only".into()
            }));
        }
        if let Some(r) = self.rate {
            if !(0.0..=1.0).contains(&r) {
                return Err(err(format!("`rate` must be within [0, 1]; got {r}")));
            }
        }
        let (a, b) = if link {
            (self.hosts[0].clone(), self.hosts[1].clone())
        } else {
            (String::new(), String::new())
        };
        let oneway = self.oneway;
        Ok(match self.kind {
            FaultKind::Partition => vec![NetAction::Partition { a, b, oneway }],
            FaultKind::Repair => vec![NetAction::Repair { a, b, oneway }],
            FaultKind::Hold => vec![NetAction::Hold { a, b }],
            FaultKind::Release => vec![NetAction::Release { a, b }],
            FaultKind::Latency => vec![NetAction::Latency {
                a,
                b,
                latency: self.latency.unwrap_or_default(),
            }],
            FaultKind::FailRate => vec![NetAction::FailRate {
                a,
                b,
                rate: self.rate.unwrap_or_default(),
            }],
            FaultKind::Crash => self
                .hosts
                .iter()
                .map(|h| match self.fin {
                    true => NetAction::Crash { host: h.clone() },
                    false => NetAction::Vanish { host: h.clone() },
                })
                .collect(),
            FaultKind::Bounce => self
                .hosts
                .iter()
                .map(|h| NetAction::Bounce { host: h.clone() })
                .collect(),
        })
    }

    /// The entry that stands for `action` at `at` (the inverse of [`FaultEntry::actions`] for a
    /// single action).
    pub fn from_action(at: Duration, action: &NetAction) -> Self {
        let link = |kind, a: &str, b: &str| FaultEntry::new(at, kind, &[a, b]);
        match action {
            NetAction::Partition { a, b, oneway } => FaultEntry {
                oneway: *oneway,
                ..link(FaultKind::Partition, a, b)
            },
            NetAction::Repair { a, b, oneway } => FaultEntry {
                oneway: *oneway,
                ..link(FaultKind::Repair, a, b)
            },
            NetAction::Hold { a, b } => link(FaultKind::Hold, a, b),
            NetAction::Release { a, b } => link(FaultKind::Release, a, b),
            NetAction::Crash { host } => FaultEntry::new(at, FaultKind::Crash, &[host]),
            NetAction::Vanish { host } => FaultEntry {
                fin: false,
                ..FaultEntry::new(at, FaultKind::Crash, &[host])
            },
            NetAction::Bounce { host } => FaultEntry::new(at, FaultKind::Bounce, &[host]),
            NetAction::Latency { a, b, latency } => FaultEntry {
                latency: Some(*latency),
                ..link(FaultKind::Latency, a, b)
            },
            NetAction::FailRate { a, b, rate } => FaultEntry {
                rate: Some(*rate),
                ..link(FaultKind::FailRate, a, b)
            },
        }
    }
}

/// A `[[fault]]` entry that does not make sense, with what was expected.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultError {
    /// The entry's time.
    pub at: Duration,
    /// The entry's kind.
    pub kind: FaultKind,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[[fault]] at = \"{}\", kind = \"{}\": {}",
            humantime::format_duration(self.at),
            self.kind,
            self.message
        )
    }
}

impl std::error::Error for FaultError {}

/// A fault schedule: time-stamped world actions, in time order (stable for equal times).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schedule(pub Vec<(Duration, NetAction)>);

impl Schedule {
    /// Validates `entries` and expands them into actions.
    pub fn from_entries(entries: &[FaultEntry]) -> Result<Self, FaultError> {
        let mut out = Vec::new();
        for e in entries {
            for a in e.actions()? {
                out.push((e.at, a));
            }
        }
        out.sort_by_key(|(t, _)| *t);
        Ok(Schedule(out))
    }

    /// The schedule as `[[fault]]` entries, one per action.
    pub fn to_entries(&self) -> Vec<FaultEntry> {
        self.0
            .iter()
            .map(|(at, a)| FaultEntry::from_action(*at, a))
            .collect()
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, a) in &self.0 {
            writeln!(f, "{:>10} {a}", humantime::format_duration(*at).to_string())?;
        }
        Ok(())
    }
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
