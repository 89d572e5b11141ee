//! One seed's draw from an `[explore]` table: a [`Case`], the faults and knobs added to the
//! base scenario, as data that [`super::shrink`] can make smaller and [`super::write`] can
//! write down.
//!
//! The draw uses its own generator, seeded from the seed alone, apart from the simulation's: the
//! same seed gives the same case and, run at that seed, the same trace. Values are drawn in
//! whole milliseconds (and thousandths for probabilities) so that the written file says exactly
//! what ran.
//!
//! The fault kinds are those of the property suites' `fault::plan::Fault` (partition, hold,
//! server crash, latency, fail rate), drawn as episodes — a partition with its repair, a crash
//! with its restart — so every drawn schedule is valid as it stands and stays valid when a
//! shrink drops or shortens any part of it.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::table::{self, ExploreTable};
use crate::fault::{ConnFault, ConnFaultKind, Direction, FaultEntry, FaultKind};

/// A fault that lasts until it is undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutageKind {
    /// The link drops everything, then is repaired.
    Partition,
    /// The link holds messages, then releases them.
    Hold,
    /// The server crashes, then restarts.
    Crash,
}

/// One drawn scheduled fault.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Drawn {
    /// A partition, hold or crash from `at`, undone `lasts` later.
    Outage {
        /// Which.
        kind: OutageKind,
        /// When it starts.
        at: Duration,
        /// How long it lasts.
        lasts: Duration,
    },
    /// The link's latency set to `latency` at `at` (for the rest of the run).
    Latency {
        /// When.
        at: Duration,
        /// The new latency.
        latency: Duration,
    },
    /// The link's break probability set to `rate` at `at`, and back to 0 `lasts` later.
    FailRate {
        /// When it starts.
        at: Duration,
        /// Probability per message, in thousandths.
        per_mille: u32,
        /// How long it lasts.
        lasts: Duration,
    },
}

/// Per-connection fault kinds explore draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnKind {
    /// Added latency per write (`value`).
    Latency,
    /// The sender resets `value` after the connect.
    Reset,
    /// The sender vanishes `value` after the connect.
    HalfOpen,
    /// The FIN leaves `value` late.
    SlowClose,
}

/// One drawn per-connection fault.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DrawnConn {
    /// What.
    pub kind: ConnKind,
    /// Which bytes.
    pub direction: Direction,
    /// Probability that a connection gets it, in thousandths.
    pub per_mille: u32,
    /// Its one duration (latency, delay, or time after the connect).
    pub value: Duration,
}

/// What one seed adds to the base scenario.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Case {
    /// Scheduled faults, in draw order.
    pub faults: Vec<Drawn>,
    /// Per-connection faults.
    pub conn_faults: Vec<DrawnConn>,
    /// The server's idle timeout, when the table draws it.
    pub server_idle_timeout: Option<Duration>,
}

/// How big a case is, to compare a shrunk case with the first failing one: entries first
/// (`[[fault]]` and `[[conn_fault]]` lines written), then the sum of every time and magnitude
/// in milliseconds (thousandths for probabilities). Smaller is simpler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Size {
    /// Entries written.
    pub entries: usize,
    /// Sum of times and magnitudes.
    pub weight: u64,
}

/// The bounds a draw and a shrink stay within, from the table with its defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    /// Fault count.
    pub faults: (u32, u32),
    /// Fault kinds (empty: none drawn).
    pub kinds: Vec<String>,
    /// Start times.
    pub window: (Duration, Duration),
    /// Outage lengths.
    pub outage: (Duration, Duration),
    /// Latencies.
    pub latency: (Duration, Duration),
    /// Fail rates, thousandths.
    pub rate: (u32, u32),
    /// Per-connection fault count.
    pub conn_faults: (u32, u32),
    /// Per-connection fault kinds.
    pub conn_kinds: Vec<String>,
    /// Per-connection probabilities, thousandths.
    pub probability: (u32, u32),
    /// Server idle timeouts, when drawn.
    pub server_idle_timeout: Option<(Duration, Duration)>,
}

fn per_mille(p: f64) -> u32 {
    (p * 1000.0).round() as u32
}

impl Space {
    /// The space of `t` for a scenario of `duration`.
    pub fn new(t: &ExploreTable, duration: Duration) -> Self {
        let kinds = t.kinds.clone().unwrap_or_default();
        let conn_kinds = t.conn_kinds.clone().unwrap_or_default();
        let default_count = |k: &Vec<String>| if k.is_empty() { 0 } else { 3 };
        let mut faults = table::counts(t.faults, default_count(&kinds));
        if kinds.is_empty() {
            faults = (0, 0);
        }
        let mut conn_faults = table::counts(t.conn_faults, default_count(&conn_kinds).min(1));
        if conn_kinds.is_empty() {
            conn_faults = (0, 0);
        }
        let rate = table::probabilities(t.rate, 0.0, 0.05);
        let probability = table::probabilities(t.probability, 1.0, 1.0);
        Space {
            faults,
            kinds,
            window: table::durations(t.window, Duration::ZERO, duration),
            outage: table::durations(t.outage, Duration::from_millis(10), Duration::from_secs(2)),
            latency: table::durations(
                t.latency,
                Duration::from_millis(1),
                Duration::from_millis(100),
            ),
            rate: (per_mille(rate.0), per_mille(rate.1)),
            conn_faults,
            conn_kinds,
            probability: (per_mille(probability.0), per_mille(probability.1)),
            server_idle_timeout: t.server_idle_timeout.map(|r| {
                table::durations(Some(r), Duration::from_millis(1), Duration::from_secs(60))
            }),
        }
    }
}

fn ms(rng: &mut SmallRng, (a, b): (Duration, Duration)) -> Duration {
    let (a, b) = (a.as_millis() as u64, b.as_millis() as u64);
    Duration::from_millis(rng.gen_range(a..=b.max(a)))
}

/// The case `space` gives at `seed`.
pub fn draw(space: &Space, seed: u64) -> Case {
    // "explore" in ASCII, so the draw's stream is not the simulation's.
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x6578_706c_6f72_6500);
    let mut case = Case::default();
    let n = rng.gen_range(space.faults.0..=space.faults.1);
    for _ in 0..n {
        let kind = &space.kinds[rng.gen_range(0..space.kinds.len())];
        let at = ms(&mut rng, space.window);
        case.faults.push(match kind.as_str() {
            "latency" => Drawn::Latency {
                at,
                latency: ms(&mut rng, space.latency),
            },
            "fail-rate" => Drawn::FailRate {
                at,
                per_mille: rng.gen_range(space.rate.0..=space.rate.1),
                lasts: ms(&mut rng, space.outage),
            },
            k => Drawn::Outage {
                kind: match k {
                    "hold" => OutageKind::Hold,
                    "crash" => OutageKind::Crash,
                    _ => OutageKind::Partition,
                },
                at,
                lasts: ms(&mut rng, space.outage),
            },
        });
    }
    let n = rng.gen_range(space.conn_faults.0..=space.conn_faults.1);
    for _ in 0..n {
        let kind = match space.conn_kinds[rng.gen_range(0..space.conn_kinds.len())].as_str() {
            "reset" => ConnKind::Reset,
            "half-open" => ConnKind::HalfOpen,
            "slow-close" => ConnKind::SlowClose,
            _ => ConnKind::Latency,
        };
        let value = match kind {
            ConnKind::Latency => ms(&mut rng, space.latency),
            _ => ms(&mut rng, space.outage),
        };
        case.conn_faults.push(DrawnConn {
            kind,
            direction: if rng.gen_bool(0.5) {
                Direction::ToServer
            } else {
                Direction::ToClient
            },
            per_mille: rng.gen_range(space.probability.0..=space.probability.1),
            value,
        });
    }
    case.server_idle_timeout = space.server_idle_timeout.map(|r| ms(&mut rng, r));
    case
}

impl Case {
    /// The scheduled faults as `[[fault]]` entries between `client` and `server`, in draw
    /// order (an outage's undoing right after it).
    pub fn entries(&self, client: &str, server: &str) -> Vec<FaultEntry> {
        let link = [client, server];
        let mut out = Vec::new();
        for f in &self.faults {
            match *f {
                Drawn::Outage { kind, at, lasts } => {
                    let (start, end, hosts): (_, _, &[&str]) = match kind {
                        OutageKind::Partition => (FaultKind::Partition, FaultKind::Repair, &link),
                        OutageKind::Hold => (FaultKind::Hold, FaultKind::Release, &link),
                        OutageKind::Crash => (FaultKind::Crash, FaultKind::Bounce, &[server]),
                    };
                    out.push(FaultEntry::new(at, start, hosts));
                    out.push(FaultEntry::new(at + lasts, end, hosts));
                }
                Drawn::Latency { at, latency } => out.push(FaultEntry {
                    latency: Some(latency),
                    ..FaultEntry::new(at, FaultKind::Latency, &link)
                }),
                Drawn::FailRate {
                    at,
                    per_mille,
                    lasts,
                } => {
                    out.push(FaultEntry {
                        rate: Some(f64::from(per_mille) / 1000.0),
                        ..FaultEntry::new(at, FaultKind::FailRate, &link)
                    });
                    out.push(FaultEntry {
                        rate: Some(0.0),
                        ..FaultEntry::new(at + lasts, FaultKind::FailRate, &link)
                    });
                }
            }
        }
        out
    }

    /// The per-connection faults as `[[conn_fault]]` entries.
    pub fn conn_entries(&self) -> Vec<ConnFault> {
        self.conn_faults
            .iter()
            .map(|c| ConnFault {
                fault: match c.kind {
                    ConnKind::Latency => ConnFaultKind::Latency {
                        latency: c.value,
                        jitter: Duration::ZERO,
                    },
                    ConnKind::Reset => ConnFaultKind::Reset {
                        after_bytes: None,
                        after: Some(c.value),
                    },
                    ConnKind::HalfOpen => ConnFaultKind::HalfOpen {
                        after_bytes: None,
                        after: Some(c.value),
                    },
                    ConnKind::SlowClose => ConnFaultKind::SlowClose { delay: c.value },
                },
                direction: c.direction,
                probability: f64::from(c.per_mille) / 1000.0,
            })
            .collect()
    }

    /// How big the case is.
    pub fn size(&self) -> Size {
        let m = |d: Duration| d.as_millis() as u64;
        let mut entries = self.conn_faults.len();
        let mut weight: u64 = 0;
        for f in &self.faults {
            match *f {
                Drawn::Outage { at, lasts, .. } => {
                    entries += 2;
                    weight += m(at) + m(lasts);
                }
                Drawn::Latency { at, latency } => {
                    entries += 1;
                    weight += m(at) + m(latency);
                }
                Drawn::FailRate {
                    at,
                    per_mille,
                    lasts,
                } => {
                    entries += 2;
                    weight += m(at) + m(lasts) + u64::from(per_mille);
                }
            }
        }
        for c in &self.conn_faults {
            weight += m(c.value) + u64::from(c.per_mille);
        }
        weight += self.server_idle_timeout.map_or(0, m);
        Size { entries, weight }
    }
}
