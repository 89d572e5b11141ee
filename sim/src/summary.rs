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

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::ErrorKind;
use crate::trace::timeline::IdSet;
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
        let mut arrivals = Arrivals {
            arrived: IdSet::new(records.len()),
            highest: None,
        };
        let mut stalls = Stalls::new(records.len());
        let mut statuses = Statuses::default();
        for (i, r) in records.iter().enumerate() {
            if let Event::ServerRequest { seq: Some(seq), .. } = &r.event {
                if arrivals.out_of_order(*seq) {
                    s.reordered.push(*seq);
                }
            }
            s.count(r, &mut started, &mut statuses);
            if let Some((req, ended)) = progress_of(r) {
                stalls.progress(i, r.t_us, req, ended);
            }
        }
        s.statuses = statuses.into_map();
        let (stall, unfinished) = stalls.finish(records, end_us);
        s.longest_stall_ms = stall.ms();
        s.stall = stall;
        s.unfinished = unfinished;
        s
    }

    /// Counts what `r` says about requests, errors, statuses and the shutdown.
    fn count(&mut self, r: &Record, started: &mut IdSet, statuses: &mut Statuses) {
        match &r.event {
            Event::RequestStart { req, attempt, .. } if *attempt == 1 && started.insert(*req) => {
                self.requests.sent += 1;
            }
            Event::ResponseHead { status, .. } => {
                self.requests.completed += 1;
                statuses.add(*status);
                self.last_completion_ms = r.t_us / 1000;
            }
            Event::RequestFailed {
                req,
                kind,
                retrying: false,
                ..
            } => {
                self.requests.failed += 1;
                *self.requests.errors.entry(kind.to_string()).or_default() += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(FirstError {
                        request: *req,
                        kind: *kind,
                        at_ms: r.t_us / 1000,
                    });
                }
            }
            Event::ShutdownStart { .. } if self.shutdown.is_none() => {
                self.shutdown = Some(ShutdownSpan {
                    started_ms: r.t_us / 1000,
                    ended_ms: None,
                });
            }
            Event::ShutdownEnd { .. } => {
                if let Some(sd) = self.shutdown.as_mut() {
                    sd.ended_ms.get_or_insert(r.t_us / 1000);
                }
            }
            _ => {}
        }
    }
}

/// Response heads by status code, counted by number and named once at the end (a name made
/// per response was an allocation per request).
#[derive(Default)]
struct Statuses(Vec<(u16, u64)>);

impl Statuses {
    fn add(&mut self, status: u16) {
        match self.0.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => self.0.push((status, 1)),
        }
    }

    fn into_map(self) -> BTreeMap<String, u64> {
        let mut map = BTreeMap::new();
        for (status, n) in self.0 {
            *map.entry(status.to_string()).or_default() += n;
        }
        map
    }
}

/// The order requests reached the server in, by their sequence numbers.
struct Arrivals {
    arrived: IdSet,
    highest: Option<ReqId>,
}

impl Arrivals {
    /// Notes that request `seq` reached the server; true when it is the first arrival of a
    /// request numbered below one that arrived before it.
    fn out_of_order(&mut self, seq: ReqId) -> bool {
        if !self.arrived.insert(seq) {
            return false;
        }
        let reordered = self.highest.is_some_and(|h| h > seq);
        self.highest = self.highest.max(Some(seq));
        reordered
    }
}

/// The request `r` moves on (started an attempt, got its head, had an attempt fail), and
/// whether that request is over (`None`: no request progressed).
fn progress_of(r: &Record) -> Option<(ReqId, bool)> {
    match &r.event {
        Event::RequestStart { req, .. } => Some((*req, false)),
        Event::ResponseHead { req, .. } => Some((*req, true)),
        Event::RequestFailed { req, retrying, .. } => Some((*req, !retrying)),
        _ => None,
    }
}

/// The longest time in which requests were pending and none progressed.
///
/// The requests pending during the longest stall are listed once, at the end, by replaying the
/// trace up to the record that ended it: a list made at every longer stall was an allocation
/// per request in a run whose gaps grow.
struct Stalls {
    pending: IdSet,
    last_progress: u64,
    /// The longest stall so far, `(from, to)`.
    best: (u64, u64),
    /// What ended it.
    best_end: StallEnd,
}

/// What ended the longest stall so far.
#[derive(Clone, Copy)]
enum StallEnd {
    /// There was no stall.
    None,
    /// The progress in this record (by index in the trace).
    Record(usize),
    /// The end of the run.
    RunEnd,
}

impl Stalls {
    fn new(records: usize) -> Self {
        Self {
            pending: IdSet::new(records),
            last_progress: 0,
            best: (0, 0),
            best_end: StallEnd::None,
        }
    }

    /// Request `req` progressed at `t` in record `at` (started, or `ended`): the gap since the
    /// last progress is a stall if anything was pending through it.
    fn progress(&mut self, at: usize, t: u64, req: ReqId, ended: bool) {
        self.gap_to(StallEnd::Record(at), t);
        self.last_progress = t;
        if ended {
            self.pending.remove(req);
        } else {
            self.pending.insert(req);
        }
    }

    fn gap_to(&mut self, end: StallEnd, t: u64) {
        let (from, to) = self.best;
        if !self.pending.is_empty() && t.saturating_sub(self.last_progress) > to - from {
            self.best = (self.last_progress, t);
            self.best_end = end;
        }
    }

    /// The longest stall, the run's end counting as the last instant, and the requests still
    /// pending then.
    fn finish(mut self, records: &[Record], end_us: u64) -> (Stall, Vec<ReqId>) {
        self.gap_to(StallEnd::RunEnd, end_us);
        let (from_us, to_us) = self.best;
        let pending = match self.best_end {
            StallEnd::None => Vec::new(),
            StallEnd::RunEnd => self.pending.iter().collect(),
            // What was pending just before record `at` progressed.
            StallEnd::Record(at) => {
                let mut then = IdSet::new(records.len());
                for (req, ended) in records[..at].iter().filter_map(progress_of) {
                    if ended {
                        then.remove(req);
                    } else {
                        then.insert(req);
                    }
                }
                then.iter().collect()
            }
        };
        let stall = Stall {
            from_us,
            to_us,
            pending,
        };
        (stall, self.pending.iter().collect())
    }
}
