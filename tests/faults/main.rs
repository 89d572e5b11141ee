//! Faults: hardship applied repeatably, and what a user of httpsim sees under it.
//!
//! - `schedule` — the `[[fault]]` table: serde, validation, proptest plans that shrink.
//! - `ordering` — 200 sequential POSTs under partitions and link breaks arrive in order, once;
//!   200 concurrent POSTs reorder and the reorderings are listed; a property test runs
//!   sequential POSTs under generated fault plans (`HTTPSIM_CASES`, default 12 cases).
//! - `crash` — a server that vanishes without FIN under an idle pooled socket.
//! - `lost_data` — a segment lost to a partition stalls its stream; the trace names it.
//! - `connect` — connect across a partition: SYN retransmission (default) or turmoil's refusal.
//! - `limits` — turmoil's panics (ports exhausted, listen queue full) are
//!   prevented or become findings; the same seed under faults gives the same trace.
//! - `conn_faults` — each per-connection fault and its effect in the trace.

mod conn_faults;
mod connect;
mod crash;
mod limits;
mod lost_data;
mod ordering;
mod schedule;

use httpsim::trace::{Event, Record};

/// Test result: every test can use `?`.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Simulated time of the first record matching `f`, in ms.
pub fn first_ms(records: &[Record], f: impl Fn(&Event) -> bool) -> Option<f64> {
    records
        .iter()
        .find(|r| f(&r.event))
        .map(|r| r.t_us as f64 / 1000.0)
}

/// Every record matching `f`.
pub fn all<'a>(records: &'a [Record], f: impl Fn(&Event) -> bool + 'a) -> Vec<&'a Record> {
    records.iter().filter(|r| f(&r.event)).collect()
}
