//! The figures of one run, computed from its trace alone.
//!
//! These are the numbers the JSON contract names (`requests`, `first_error`, `longest_stall_ms`,
//! `last_completion_ms`, `max_open_fds`, `shutdown`) and the `[expect]` table checks. Definitions
//! (docs/CLI.md):
//! - a request is *completed* when its response head arrived, *failed* when its last attempt
//!   ended in an error (a retried attempt is not a failure the caller sees);
//! - *pending* from its first attempt's start until it completed or failed;
//! - the *longest stall* is the longest interval during which at least one request was pending
//!   and no request started an attempt, got its response head, or had an attempt fail. A run that
//!   ends with requests pending stalls until its end.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::error::ErrorKind;
use crate::trace::{Event, Record, ReqId};

/// Request counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Requests {
    /// Requests started.
    pub sent: u64,
    /// Requests whose response head arrived.
    pub completed: u64,
    /// Requests whose last attempt failed.
    pub failed: u64,
    /// Failed requests by error kind.
    pub errors: BTreeMap<String, u64>,
}

/// The first request that failed (its last attempt), in time order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FirstError {
    /// Request id.
    pub request: ReqId,
    /// Error kind.
    pub kind: ErrorKind,
    /// Simulated time, ms.
    pub at_ms: u64,
}

/// When a shutdown ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShutdownSpan {
    /// Start, ms.
    pub started_ms: u64,
    /// End, ms; `None` if it never ended.
    pub ended_ms: Option<u64>,
}

/// The longest stall and what was waiting during it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stall {
    /// Start, µs.
    pub from_us: u64,
    /// End, µs.
    pub to_us: u64,
    /// Requests pending during it.
    pub pending: Vec<ReqId>,
}

impl Stall {
    /// Its length in ms.
    pub fn ms(&self) -> u64 {
        (self.to_us - self.from_us) / 1000
    }
}

/// The figures of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Request counts.
    pub requests: Requests,
    /// The first failure, if any.
    pub first_error: Option<FirstError>,
    /// Length of the longest stall, ms.
    pub longest_stall_ms: u64,
    /// When the last response head arrived, ms (0 when none did).
    pub last_completion_ms: u64,
    /// Peak open fds per host.
    pub max_open_fds: BTreeMap<String, usize>,
    /// Response heads by status code (`"200": 8`).
    pub statuses: BTreeMap<String, u64>,
    /// The shutdown, if one started.
    pub shutdown: Option<ShutdownSpan>,
    /// Requests that first reached the server after a request sent later had reached it (by
    /// their `x-seq`): where concurrent or retried requests were reordered.
    pub reordered: Vec<ReqId>,
    /// Details of the longest stall (not part of the JSON contract's required fields).
    #[serde(skip)]
    pub stall: Stall,
    /// Requests still pending when the run ended.
    #[serde(skip)]
    pub unfinished: Vec<ReqId>,
}

impl Summary {
    /// Computes the figures from a trace. `end_us` is when the run ended; `peak_fds` the peak
    /// fds per host (from the fd tables).
    pub fn from_records(
        records: &[Record],
        end_us: u64,
        peak_fds: BTreeMap<String, usize>,
    ) -> Summary {
        let mut s = Summary {
            max_open_fds: peak_fds,
            ..Summary::default()
        };
        let mut started = IdSet::new(records.len());
        let mut pending: BTreeSet<ReqId> = BTreeSet::new();
        let mut last_progress = 0u64;
        let mut best = Stall::default();
        let mut arrived = IdSet::new(records.len());
        let mut highest_arrived: Option<ReqId> = None;
        for r in records {
            if let Event::ServerRequest { seq: Some(seq), .. } = &r.event {
                if arrived.insert(*seq) {
                    if highest_arrived.is_some_and(|h| h > *seq) {
                        s.reordered.push(*seq);
                    }
                    highest_arrived = highest_arrived.max(Some(*seq));
                }
            }
            let progress = match &r.event {
                Event::RequestStart { req, attempt, .. } => {
                    if *attempt == 1 && started.insert(*req) {
                        s.requests.sent += 1;
                    }
                    Some((*req, false))
                }
                Event::ResponseHead { req, status, .. } => {
                    s.requests.completed += 1;
                    *s.statuses.entry(status.to_string()).or_default() += 1;
                    s.last_completion_ms = r.t_us / 1000;
                    Some((*req, true))
                }
                Event::RequestFailed {
                    req,
                    kind,
                    retrying,
                    ..
                } => {
                    if !retrying {
                        s.requests.failed += 1;
                        *s.requests.errors.entry(kind.to_string()).or_default() += 1;
                        if s.first_error.is_none() {
                            s.first_error = Some(FirstError {
                                request: *req,
                                kind: *kind,
                                at_ms: r.t_us / 1000,
                            });
                        }
                    }
                    Some((*req, !retrying))
                }
                Event::ShutdownStart { .. } => {
                    if s.shutdown.is_none() {
                        s.shutdown = Some(ShutdownSpan {
                            started_ms: r.t_us / 1000,
                            ended_ms: None,
                        });
                    }
                    None
                }
                Event::ShutdownEnd { .. } => {
                    if let Some(sd) = s.shutdown.as_mut() {
                        sd.ended_ms.get_or_insert(r.t_us / 1000);
                    }
                    None
                }
                _ => None,
            };
            if let Some((req, ended)) = progress {
                if !pending.is_empty()
                    && r.t_us.saturating_sub(last_progress) > best.to_us - best.from_us
                {
                    best = Stall {
                        from_us: last_progress,
                        to_us: r.t_us,
                        pending: pending.iter().copied().collect(),
                    };
                }
                last_progress = r.t_us;
                if ended {
                    pending.remove(&req);
                } else {
                    pending.insert(req);
                }
            }
        }
        if !pending.is_empty() && end_us.saturating_sub(last_progress) > best.to_us - best.from_us {
            best = Stall {
                from_us: last_progress,
                to_us: end_us,
                pending: pending.iter().copied().collect(),
            };
        }
        s.longest_stall_ms = best.ms();
        s.stall = best;
        s.unfinished = pending.into_iter().collect();
        s
    }
}

/// A set of request ids that are mostly small and dense: a flag per id up to a bound, a tree
/// above it (a tree insert per record was most of what a summary cost).
struct IdSet {
    flags: Vec<bool>,
    bound: u64,
    rest: BTreeSet<u64>,
}

impl IdSet {
    fn new(bound: usize) -> Self {
        Self {
            flags: Vec::new(),
            bound: bound.min(1 << 20) as u64,
            rest: BTreeSet::new(),
        }
    }

    /// Adds `id`; whether it was new.
    fn insert(&mut self, id: u64) -> bool {
        if id > self.bound {
            return self.rest.insert(id);
        }
        let i = id as usize;
        if i >= self.flags.len() {
            self.flags.resize(i + 1, false);
        }
        !std::mem::replace(&mut self.flags[i], true)
    }
}
