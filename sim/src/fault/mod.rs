//! Faults as data: what goes wrong, when, and to which hosts or connections.
//!
//! - [`schedule`] — the `[[fault]]` table of the scenario format: time-stamped network and host
//!   events ([`FaultEntry`]), validated and turned into the [`NetAction`]s the world applies.
//!   Start here.
//! - `plan` — (feature `proptest`) the same events as a `plan::Fault` enum with
//!   preconditions, and strategies that generate schedules proptest can shrink.
//! - [`ConnFault`] — per-connection faults (latency, bandwidth, slicer, slow close, reset, limit
//!   data, half-open) applied by the socket layer; defined in [`crate::net::conn_fault`] and
//!   re-exported here because they are faults as data too.
//!
//! This module only describes faults. Applying them belongs to `world` (scheduled actions) and
//! `net` (per-connection faults); both stay the only doors to turmoil.
//!
//! ## What a user sees when turmoil loses data
//! turmoil 0.7 does not retransmit. A segment sent while a link is partitioned, or in flight
//! when a link breaks at random (`fail_rate`), is gone; the receiver keeps every later segment
//! in its reorder buffer waiting for the missing one, so the stream stalls for good: reads on
//! that connection wait, a FIN behind the gap never arrives. A client with a response timeout
//! sees that request fail with `timeout`; without one the request stays pending. Either way, at
//! the end of the run the world records an `undelivered` event per connection and direction
//! with bytes written but never received (host, connection, bytes, FIN, since when), and the
//! client socket records which request was written on which connection (`request_written`), so
//! a stall is always reported on a named connection, never as a silent run to the duration
//! limit.

#[cfg(feature = "proptest")]
pub mod plan;
pub mod schedule;

pub use crate::net::conn_fault::{ConnFault, ConnFaultKind, Direction};
pub use schedule::{FaultEntry, FaultError, FaultKind, Schedule};

use crate::world::NetAction;
