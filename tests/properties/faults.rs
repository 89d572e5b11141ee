//! Fault schedules as data, so proptest can shrink a failing schedule to its essence.
//!
//! A schedule is a list of [`Fault`]s, each with a start time and a kind that lasts for a while
//! (a partition and its repair, a crash and its bounce, a latency change and its restore).
//! Shrinking removes faults and shortens them; the shrunk schedule is printed with a failure.

use std::fmt;
use std::time::Duration;

use proptest::prelude::*;

use httpsim::NetAction;

/// What a fault does, for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Messages between client and server are dropped, then the link is repaired.
    Partition {
        /// How long, ms.
        for_ms: u64,
    },
    /// The server host crashes (its sockets close), then restarts.
    Crash {
        /// How long it stays down, ms.
        for_ms: u64,
    },
    /// The link's latency is set to `ms`, then back to the base latency.
    Latency {
        /// The new one-way latency, ms.
        ms: u64,
        /// How long, ms.
        for_ms: u64,
    },
}

/// One fault at a time.
#[derive(Clone, PartialEq, Eq)]
pub struct Fault {
    /// When it starts, ms.
    pub at_ms: u64,
    /// What it is.
    pub kind: FaultKind,
}

impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FaultKind::Partition { for_ms } => {
                write!(f, "partition at {}ms for {for_ms}ms", self.at_ms)
            }
            FaultKind::Crash { for_ms } => {
                write!(f, "crash server at {}ms for {for_ms}ms", self.at_ms)
            }
            FaultKind::Latency { ms, for_ms } => {
                write!(f, "latency {ms}ms at {}ms for {for_ms}ms", self.at_ms)
            }
        }
    }
}

/// Which fault kinds a schedule may hold.
#[derive(Clone, Copy, Debug)]
pub struct Allow {
    /// Partitions.
    pub partition: bool,
    /// Server crashes.
    pub crash: bool,
    /// Latency changes.
    pub latency: bool,
}

/// Schedules of up to `max` faults starting within `span_ms`.
pub fn schedule(allow: Allow, max: usize, span_ms: u64) -> impl Strategy<Value = Vec<Fault>> {
    let mut kinds: Vec<BoxedStrategy<FaultKind>> = Vec::new();
    if allow.partition {
        kinds.push(
            (10u64..1500)
                .prop_map(|for_ms| FaultKind::Partition { for_ms })
                .boxed(),
        );
    }
    if allow.crash {
        kinds.push(
            (1u64..600)
                .prop_map(|for_ms| FaultKind::Crash { for_ms })
                .boxed(),
        );
    }
    if allow.latency {
        kinds.push(
            (1u64..100, 10u64..2000)
                .prop_map(|(ms, for_ms)| FaultKind::Latency { ms, for_ms })
                .boxed(),
        );
    }
    let kind = proptest::strategy::Union::new(kinds);
    proptest::collection::vec(
        (0..span_ms, kind).prop_map(|(at_ms, kind)| Fault { at_ms, kind }),
        0..=max,
    )
}

/// The schedule as timed network actions between `client` and `server`; `base` is the latency
/// a latency fault returns to.
pub fn actions(faults: &[Fault], base: Duration) -> Vec<(Duration, NetAction)> {
    let ms = Duration::from_millis;
    let (c, s) = ("client".to_string(), "server".to_string());
    let mut out = Vec::new();
    for f in faults {
        match f.kind {
            FaultKind::Partition { for_ms } => {
                out.push((
                    ms(f.at_ms),
                    NetAction::Partition {
                        a: c.clone(),
                        b: s.clone(),
                        oneway: false,
                    },
                ));
                out.push((
                    ms(f.at_ms + for_ms),
                    NetAction::Repair {
                        a: c.clone(),
                        b: s.clone(),
                        oneway: false,
                    },
                ));
            }
            FaultKind::Crash { for_ms } => {
                out.push((ms(f.at_ms), NetAction::Crash { host: s.clone() }));
                out.push((ms(f.at_ms + for_ms), NetAction::Bounce { host: s.clone() }));
            }
            FaultKind::Latency { ms: l, for_ms } => {
                out.push((
                    ms(f.at_ms),
                    NetAction::Latency {
                        a: c.clone(),
                        b: s.clone(),
                        latency: ms(l),
                    },
                ));
                out.push((
                    ms(f.at_ms + for_ms),
                    NetAction::Latency {
                        a: c.clone(),
                        b: s.clone(),
                        latency: base,
                    },
                ));
            }
        }
    }
    out.sort_by_key(|(t, _)| *t);
    out
}
