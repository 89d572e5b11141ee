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
//! Link kinds take exactly two different hosts; `crash` and `bounce` take exactly one. Unknown
//! keys and keys that do not belong to the kind are errors; `oneway = false` and `fin = true`,
//! being the defaults, are accepted on any kind. The scenario format reads this struct
//! directly: this file is the one model of a `[[fault]]` (docs/SCENARIOS.md). Whether the hosts
//! exist is [`Setup::validate`](crate::setup::Setup::validate)'s rule.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::NetAction;

/// What a [`FaultEntry`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
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
    /// Stop the host's software. With `fin = false` its sockets vanish silently.
    Crash,
    /// Restart the host's software.
    Bounce,
    /// Set the latency of the link (`latency`).
    Latency,
    /// Set the probability per message that the link breaks (`rate`).
    FailRate,
}

impl FaultKind {
    /// Every kind, in the order error messages list them.
    pub const ALL: [FaultKind; 8] = [
        FaultKind::Partition,
        FaultKind::Repair,
        FaultKind::Hold,
        FaultKind::Release,
        FaultKind::Crash,
        FaultKind::Bounce,
        FaultKind::Latency,
        FaultKind::FailRate,
    ];

    /// The name the scenario format uses (`fail-rate`).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Repair => "repair",
            FaultKind::Hold => "hold",
            FaultKind::Release => "release",
            FaultKind::Crash => "crash",
            FaultKind::Bounce => "bounce",
            FaultKind::Latency => "latency",
            FaultKind::FailRate => "fail-rate",
        }
    }

    /// Whether this kind acts on a link between two hosts (rather than on one host).
    pub fn is_link(self) -> bool {
        !matches!(self, FaultKind::Crash | FaultKind::Bounce)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Read from its name; an unknown name lists the known ones (the scenario loader shows the
/// part after "expected" as the expected form).
impl<'de> Deserialize<'de> for FaultKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                serde::de::Error::custom(format!(
                    "unknown fault kind {name:?}, expected one of {}",
                    names.join(", ")
                ))
            })
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
    /// The hosts it applies to: two for link kinds, one for `crash` and `bounce`.
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

    /// The world action this entry stands for, or what is wrong with it.
    pub fn action(&self) -> Result<NetAction, FaultError> {
        let err = |key: &'static str, message: String, expected: &str| FaultError {
            at: self.at,
            kind: self.kind,
            key,
            message,
            expected: expected.to_string(),
        };
        let (want, form) = if self.kind.is_link() {
            (
                2,
                "hosts = [\"client\", \"server\"] (the two ends of a link)",
            )
        } else {
            (1, "hosts = [\"server\"] (one host)")
        };
        if self.hosts.len() != want {
            return Err(err(
                "hosts",
                format!(
                    "fault kind \"{}\" takes {want} host(s), got {}",
                    self.kind,
                    self.hosts.len()
                ),
                form,
            ));
        }
        if want == 2 && self.hosts[0] == self.hosts[1] {
            return Err(err(
                "hosts",
                format!(
                    "a link joins two different hosts; got {:?} twice",
                    self.hosts[0]
                ),
                form,
            ));
        }
        let refuse = |key: &'static str| {
            err(
                key,
                format!("`{key}` does not apply to fault kind \"{}\"", self.kind),
                "only the keys of that kind (see docs/SCENARIOS.md, [[fault]])",
            )
        };
        if self.oneway && !matches!(self.kind, FaultKind::Partition | FaultKind::Repair) {
            return Err(refuse("oneway"));
        }
        if !self.fin && self.kind != FaultKind::Crash {
            return Err(refuse("fin"));
        }
        if self.latency.is_some() && self.kind != FaultKind::Latency {
            return Err(refuse("latency"));
        }
        if self.rate.is_some() && self.kind != FaultKind::FailRate {
            return Err(refuse("rate"));
        }
        let a = self.hosts[0].clone();
        let b = self.hosts.get(1).cloned().unwrap_or_default();
        let oneway = self.oneway;
        Ok(match self.kind {
            FaultKind::Partition => NetAction::Partition { a, b, oneway },
            FaultKind::Repair => NetAction::Repair { a, b, oneway },
            FaultKind::Hold => NetAction::Hold { a, b },
            FaultKind::Release => NetAction::Release { a, b },
            FaultKind::Crash if self.fin => NetAction::Crash { host: a },
            FaultKind::Crash => NetAction::Vanish { host: a },
            FaultKind::Bounce => NetAction::Bounce { host: a },
            FaultKind::Latency => match self.latency {
                Some(latency) => NetAction::Latency { a, b, latency },
                None => {
                    return Err(err(
                        "",
                        "missing field `latency`".into(),
                        "latency = \"250ms\", a duration",
                    ))
                }
            },
            FaultKind::FailRate => match self.rate {
                Some(rate) if (0.0..=1.0).contains(&rate) => NetAction::FailRate { a, b, rate },
                Some(rate) => {
                    return Err(err(
                        "rate",
                        format!("{rate} is not a probability"),
                        "a number between 0 and 1",
                    ))
                }
                None => {
                    return Err(err(
                        "",
                        "missing field `rate`".into(),
                        "rate = 0.01, a probability between 0 and 1",
                    ))
                }
            },
        })
    }

    /// [`FaultEntry::action`] as a list (one action per entry).
    pub fn actions(&self) -> Result<Vec<NetAction>, FaultError> {
        self.action().map(|a| vec![a])
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
    /// The offending key of the entry (`hosts`, `rate`); empty for the entry as a whole (a
    /// missing key).
    pub key: &'static str,
    /// What is wrong.
    pub message: String,
    /// What would be right.
    pub expected: String,
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[[fault]] at = \"{}\", kind = \"{}\": ",
            humantime::format_duration(self.at),
            self.kind,
        )?;
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        write!(f, "{}; expected {}", self.message, self.expected)
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
            out.push((e.at, e.action()?));
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

pub use crate::fmt::{duration_str, opt_duration_str};
