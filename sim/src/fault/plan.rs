//! Fault schedules for property tests: a [`Fault`] enum with preconditions and proptest
//! strategies that generate schedules and shrink them to their essence.
//!
//! A [`Plan`] is a list of steps, each a gap and a [`Fault`] between one client host and one
//! server host. [`Plan::schedule`] walks the steps through a small model of the link and the
//! server (partitioned? held? crashed?) and keeps only the steps whose precondition holds (no
//! repair without a partition, no bounce without a crash). Because filtering happens after
//! generation, proptest may drop or simplify any step while shrinking and the result is still a
//! valid schedule. A plan always ends healed: every open partition, hold or crash is undone at
//! its end, so a workload can finish.

use std::time::Duration;

use proptest::prelude::*;

use super::{NetAction, Schedule};

/// One fault between the client host and the server host.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// Partition the link, both ways or only client → server.
    Partition {
        /// Only client → server.
        oneway: bool,
    },
    /// Heal the link. Precondition: partitioned.
    Repair,
    /// Hold messages on the link. Precondition: not held.
    Hold,
    /// Release held messages. Precondition: held.
    Release,
    /// Crash the server (`fin = false`: its sockets vanish). Precondition: running.
    Crash {
        /// Whether peers see FIN.
        fin: bool,
    },
    /// Restart the server. Precondition: crashed.
    Bounce,
    /// Set the link latency, in milliseconds.
    Latency(u64),
    /// Set the link's break probability per message, in thousandths.
    FailRate(u32),
}

/// The state [`Fault`] preconditions are checked against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Model {
    /// Partitioned, and whether one way only.
    pub partitioned: Option<bool>,
    /// Messages held.
    pub held: bool,
    /// Server crashed.
    pub crashed: bool,
}

impl Fault {
    /// Whether this fault makes sense in `m`.
    pub fn precondition(&self, m: &Model) -> bool {
        match self {
            Fault::Partition { .. } => m.partitioned.is_none(),
            Fault::Repair => m.partitioned.is_some(),
            Fault::Hold => !m.held,
            Fault::Release => m.held,
            Fault::Crash { .. } => !m.crashed,
            Fault::Bounce => m.crashed,
            Fault::Latency(_) | Fault::FailRate(_) => true,
        }
    }

    /// Applies this fault to `m`.
    pub fn apply(&self, m: &mut Model) {
        match self {
            Fault::Partition { oneway } => m.partitioned = Some(*oneway),
            Fault::Repair => m.partitioned = None,
            Fault::Hold => m.held = true,
            Fault::Release => m.held = false,
            Fault::Crash { .. } => m.crashed = true,
            Fault::Bounce => m.crashed = false,
            Fault::Latency(_) | Fault::FailRate(_) => {}
        }
    }

    /// The world action for this fault in model state `m` (before [`Fault::apply`]).
    pub fn action(&self, m: &Model, client: &str, server: &str) -> NetAction {
        let (a, b) = (client.to_string(), server.to_string());
        match *self {
            Fault::Partition { oneway } => NetAction::Partition { a, b, oneway },
            Fault::Repair => NetAction::Repair {
                a,
                b,
                oneway: m.partitioned == Some(true),
            },
            Fault::Hold => NetAction::Hold { a, b },
            Fault::Release => NetAction::Release { a, b },
            Fault::Crash { fin: true } => NetAction::Crash { host: b },
            Fault::Crash { fin: false } => NetAction::Vanish { host: b },
            Fault::Bounce => NetAction::Bounce { host: b },
            Fault::Latency(ms) => NetAction::Latency {
                a,
                b,
                latency: Duration::from_millis(ms),
            },
            Fault::FailRate(per_mille) => NetAction::FailRate {
                a,
                b,
                rate: f64::from(per_mille) / 1000.0,
            },
        }
    }
}

/// A generated fault schedule: gaps and faults, preconditions applied by [`Plan::schedule`].
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Each step waits its gap after the previous one, then applies its fault.
    pub steps: Vec<(Duration, Fault)>,
}

impl Plan {
    /// The schedule between `client` and `server`: steps whose precondition fails are skipped,
    /// and whatever is still broken after the last step is healed one gap of 1 s later (the
    /// link's fail rate is set back to 0 too).
    pub fn schedule(&self, client: &str, server: &str) -> Schedule {
        let mut m = Model::default();
        let mut t = Duration::ZERO;
        let mut out = Vec::new();
        let mut fail_rate_set = false;
        for (gap, f) in &self.steps {
            t += *gap;
            if f.precondition(&m) {
                out.push((t, f.action(&m, client, server)));
                f.apply(&mut m);
                fail_rate_set |= matches!(f, Fault::FailRate(_));
            }
        }
        t += Duration::from_secs(1);
        for f in [Fault::Repair, Fault::Release, Fault::Bounce] {
            if f.precondition(&m) {
                out.push((t, f.action(&m, client, server)));
                f.apply(&mut m);
            }
        }
        if fail_rate_set {
            out.push((t, Fault::FailRate(0).action(&m, client, server)));
        }
        Schedule(out)
    }
}

/// Any fault: partitions and repairs most often, the rest less; crashes only when `crashes`.
pub fn fault(crashes: bool) -> BoxedStrategy<Fault> {
    let mut choices: Vec<(u32, BoxedStrategy<Fault>)> = vec![
        (
            4,
            any::<bool>()
                .prop_map(|oneway| Fault::Partition { oneway })
                .boxed(),
        ),
        (4, Just(Fault::Repair).boxed()),
        (1, Just(Fault::Hold).boxed()),
        (1, Just(Fault::Release).boxed()),
        (1, (1u64..50).prop_map(Fault::Latency).boxed()),
        (2, (0u32..30).prop_map(Fault::FailRate).boxed()),
    ];
    if crashes {
        choices.push((
            1,
            any::<bool>().prop_map(|fin| Fault::Crash { fin }).boxed(),
        ));
        choices.push((1, Just(Fault::Bounce).boxed()));
    }
    proptest::strategy::Union::new_weighted(choices).boxed()
}

/// Plans of up to `max_steps` steps with gaps of up to `max_gap`.
pub fn plan(max_steps: usize, max_gap: Duration, crashes: bool) -> impl Strategy<Value = Plan> {
    let max_ms = max_gap.as_millis().max(1) as u64;
    proptest::collection::vec(
        ((0..=max_ms).prop_map(Duration::from_millis), fault(crashes)),
        0..=max_steps,
    )
    .prop_map(|steps| Plan { steps })
}
