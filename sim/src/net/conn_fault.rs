//! Per-connection faults, applied by the socket layer, deterministic and seeded.
//!
//! These are what toxiproxy offers over real sockets, made deterministic: each [`ConnFault`]
//! has a [`Direction`] (the bytes it shapes: toward the server, or toward the client) and a
//! probability that it applies to a given connection. Whether it applies is drawn once per
//! connection from a generator seeded by the run seed, the connection id and the fault's
//! position in the list, so the choice does not depend on which end is created first.
//!
//! Every fault acts on the *sending* end of its direction (the client socket for `to-server`,
//! the server socket for `to-client`):
//!
//! | kind | effect |
//! |---|---|
//! | `latency` | each write leaves `latency` later (plus a uniform `jitter` in `[0, jitter]`), order kept |
//! | `bandwidth` | bytes leave at `bytes_per_sec` (in pieces of at most 10 ms worth) |
//! | `slicer` | each write leaves in pieces of `average ± variation` bytes, `delay` apart |
//! | `slow-close` | the FIN leaves `delay` after the socket is closed or shut down |
//! | `reset` | after `after_bytes` bytes sent or `after` since the connect, the sender resets: its own reads and writes fail with `ConnectionReset`, the peer gets an RST behind the data already sent |
//! | `limit-data` | after `bytes` bytes the direction is closed (FIN); later writes fail with `BrokenPipe` |
//! | `half-open` | after `after_bytes` bytes sent or `after` since the connect, the sender vanishes: no FIN, no RST ever reaches the peer, whose reads wait until a timeout of its own notices and whose writes go nowhere; the vanished end's own socket fails with `ConnectionReset` |
//!
//! Applying them is `net/wire.rs`'s job; this file says what the faults are and which
//! connections get them.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::conn::Side;
use crate::fmt::{duration_str, opt_duration_str};
use crate::trace::ConnId;

/// Which bytes a fault shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Bytes the client sends (requests); the fault acts on the client's socket.
    ToServer,
    /// Bytes the server sends (responses); the fault acts on the server's socket.
    ToClient,
}

fn one() -> f64 {
    1.0
}

/// A per-connection fault: what, which direction, how likely.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnFault {
    /// What happens to the bytes.
    pub fault: ConnFaultKind,
    /// Which bytes.
    pub direction: Direction,
    /// Probability that a connection gets this fault. The default is 1.
    #[serde(default = "one")]
    pub probability: f64,
}

impl ConnFault {
    /// `fault` on every connection in `direction`.
    pub fn always(fault: ConnFaultKind, direction: Direction) -> Self {
        Self {
            fault,
            direction,
            probability: 1.0,
        }
    }
}

/// What a [`ConnFault`] does. See the module docs for the exact effect of each.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ConnFaultKind {
    /// Added latency per write.
    Latency {
        /// Fixed part.
        #[serde(with = "duration_str")]
        latency: Duration,
        /// Uniform extra in `[0, jitter]`. The default is 0.
        #[serde(default, with = "duration_str")]
        jitter: Duration,
    },
    /// A bandwidth limit.
    Bandwidth {
        /// Bytes per second.
        bytes_per_sec: u64,
    },
    /// Writes split into small pieces with delays between them.
    Slicer {
        /// Average piece size, bytes.
        average: usize,
        /// Pieces are `average ± variation` bytes. The default is 0.
        #[serde(default)]
        variation: usize,
        /// Delay between pieces.
        #[serde(with = "duration_str")]
        delay: Duration,
    },
    /// The FIN is delayed.
    SlowClose {
        /// How long.
        #[serde(with = "duration_str")]
        delay: Duration,
    },
    /// The sender resets the connection.
    Reset {
        /// After this many bytes sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_bytes: Option<u64>,
        /// After this long since the connect.
        #[serde(
            default,
            with = "opt_duration_str",
            skip_serializing_if = "Option::is_none"
        )]
        after: Option<Duration>,
    },
    /// The direction closes after a number of bytes.
    LimitData {
        /// Bytes let through.
        bytes: u64,
    },
    /// The sender vanishes without FIN or RST.
    HalfOpen {
        /// After this many bytes sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_bytes: Option<u64>,
        /// After this long since the connect.
        #[serde(
            default,
            with = "opt_duration_str",
            skip_serializing_if = "Option::is_none"
        )]
        after: Option<Duration>,
    },
}

/// What trips a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trip {
    Reset,
    Vanish,
    Limit,
}

/// The faults one socket's writes are subject to.
#[derive(Clone, Debug, Default)]
pub(crate) struct Active {
    pub(crate) latency: Option<(Duration, Duration)>,
    pub(crate) bandwidth: Option<u64>,
    pub(crate) slicer: Option<(usize, usize, Duration)>,
    pub(crate) slow_close: Option<Duration>,
    /// Byte-count triggers: `(after bytes, what)`, the smallest first.
    pub(crate) byte_trips: Vec<(u64, Trip)>,
    /// Time triggers since the connect.
    pub(crate) time_trips: Vec<(Duration, Trip)>,
}

impl Active {
    /// No fault.
    pub(crate) const NONE: Active = Active {
        latency: None,
        bandwidth: None,
        slicer: None,
        slow_close: None,
        byte_trips: Vec::new(),
        time_trips: Vec::new(),
    };

    /// Draws which of `faults` apply to `side` of connection `conn` in a run seeded `seed`.
    pub(crate) fn roll(faults: &[ConnFault], seed: u64, conn: ConnId, side: Side) -> Self {
        let mut a = Active::default();
        for (i, f) in faults.iter().enumerate() {
            let mine = matches!(
                (f.direction, side),
                (Direction::ToServer, Side::Client) | (Direction::ToClient, Side::Server)
            );
            if !mine {
                continue;
            }
            let mut rng = rng_for(seed, conn, i as u64);
            if f.probability < 1.0 && !rng.gen_bool(f.probability.clamp(0.0, 1.0)) {
                continue;
            }
            match &f.fault {
                ConnFaultKind::Latency { latency, jitter } => a.latency = Some((*latency, *jitter)),
                ConnFaultKind::Bandwidth { bytes_per_sec } => {
                    a.bandwidth = Some((*bytes_per_sec).max(1))
                }
                ConnFaultKind::Slicer {
                    average,
                    variation,
                    delay,
                } => a.slicer = Some(((*average).max(1), *variation, *delay)),
                ConnFaultKind::SlowClose { delay } => a.slow_close = Some(*delay),
                ConnFaultKind::Reset { after_bytes, after } => {
                    a.add_trip(*after_bytes, *after, Trip::Reset)
                }
                ConnFaultKind::LimitData { bytes } => a.byte_trips.push((*bytes, Trip::Limit)),
                ConnFaultKind::HalfOpen { after_bytes, after } => {
                    a.add_trip(*after_bytes, *after, Trip::Vanish)
                }
            }
        }
        a.byte_trips.sort_by_key(|(n, _)| *n);
        a
    }

    fn add_trip(&mut self, bytes: Option<u64>, after: Option<Duration>, t: Trip) {
        if let Some(n) = bytes {
            self.byte_trips.push((n, t));
        }
        if let Some(d) = after {
            self.time_trips.push((d, t));
        }
        if bytes.is_none() && after.is_none() {
            self.byte_trips.push((0, t));
        }
    }

    pub(crate) fn shaped(&self) -> bool {
        self.latency.is_some() || self.bandwidth.is_some() || self.slicer.is_some()
    }
}

pub(crate) fn rng_for(seed: u64, conn: ConnId, i: u64) -> SmallRng {
    // splitmix-style mixing so neighbouring connections get unrelated streams.
    let mut z =
        seed ^ conn.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    SmallRng::seed_from_u64(z ^ (z >> 31))
}
