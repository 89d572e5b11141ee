//! Scheduled changes to the network and hosts, and how a run ends.

use std::time::Duration;

/// A change to the network or a host, applied at a scheduled simulated time.
#[derive(Clone, Debug, PartialEq)]
pub enum NetAction {
    /// Drop messages between `a` and `b` (both ways unless `oneway`, then only `a` → `b`).
    Partition {
        /// One side.
        a: String,
        /// The other side.
        b: String,
        /// Only `a` → `b`.
        oneway: bool,
    },
    /// Undo a partition.
    Repair {
        /// One side.
        a: String,
        /// The other side.
        b: String,
        /// Only `a` → `b`.
        oneway: bool,
    },
    /// Hold messages between `a` and `b` (delivered on release).
    Hold {
        /// One side.
        a: String,
        /// The other side.
        b: String,
    },
    /// Release held messages.
    Release {
        /// One side.
        a: String,
        /// The other side.
        b: String,
    },
    /// Stop a host's software; its sockets close (FIN, or RST where data was unread).
    Crash {
        /// The host.
        host: String,
    },
    /// Stop a host's software with no FIN or RST reaching its peers (power loss, a pulled
    /// cable): its sockets vanish, peers' reads wait until a timeout of theirs notices and
    /// their writes go nowhere. `[[fault]] kind = "crash", fin = false`.
    Vanish {
        /// The host.
        host: String,
    },
    /// Restart a host's software.
    Bounce {
        /// The host.
        host: String,
    },
    /// Set the latency of the link between `a` and `b` to a fixed value.
    Latency {
        /// One side.
        a: String,
        /// The other side.
        b: String,
        /// The new latency.
        latency: Duration,
    },
    /// Set the failure rate of the link between `a` and `b`.
    FailRate {
        /// One side.
        a: String,
        /// The other side.
        b: String,
        /// The new probability per message.
        rate: f64,
    },
}

impl std::fmt::Display for NetAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetAction::Partition { a, b, oneway } => {
                write!(
                    f,
                    "partition {a} {} {b}",
                    if *oneway { "->" } else { "<->" }
                )
            }
            NetAction::Repair { a, b, oneway } => {
                write!(f, "repair {a} {} {b}", if *oneway { "->" } else { "<->" })
            }
            NetAction::Hold { a, b } => write!(f, "hold {a} <-> {b}"),
            NetAction::Release { a, b } => write!(f, "release {a} <-> {b}"),
            NetAction::Crash { host } => write!(f, "crash {host}"),
            NetAction::Vanish { host } => write!(f, "crash {host} without fin"),
            NetAction::Bounce { host } => write!(f, "bounce {host}"),
            NetAction::Latency { a, b, latency } => {
                write!(f, "latency {a} <-> {b} = {}ms", latency.as_millis())
            }
            NetAction::FailRate { a, b, rate } => write!(f, "fail-rate {a} <-> {b} = {rate}"),
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// Every client finished.
    Completed,
    /// The simulated duration was reached with clients still running.
    DurationReached,
    /// The simulation hit one of its limits; the message says which.
    Limit(String),
    /// A host's software returned an error.
    HostError(String),
}
