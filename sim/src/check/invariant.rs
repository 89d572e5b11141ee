//! The invariants as one enum: what a scenario's `invariants = [...]` names, what
//! [`Run::check`](crate::setup::Run::check) takes, and the one place a name maps to its check.
//!
//! The names (`ordering`, `no-stall`, ...) are a contract of the scenario format and the JSON
//! output; [`Invariant::name`] and serde use the same kebab-case spelling.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use super::{
    bounded_timeouts, fd_limit, idle_reuse, judge, no_lost_request, no_stall, ordering, shutdown,
    CheckContext, InvariantResult,
};

/// One invariant over a run's trace. Each module of [`crate::check`] states its rules exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invariant {
    /// [`ordering`]: sequential requests reach the server in send order, each once.
    Ordering,
    /// [`no_stall`]: no request waits without progress beyond the bound.
    NoStall,
    /// [`shutdown`]: a scheduled shutdown ends, by its deadline, losing no in-flight request.
    Shutdown,
    /// [`fd_limit`]: open fds never exceed a host's limit.
    FdLimit,
    /// [`no_lost_request`]: every request ends in a response head or an error.
    NoLostRequest,
    /// [`bounded_timeouts`]: a request with a timeout never outlives it.
    BoundedTimeouts,
    /// [`idle_reuse`]: no request fails on a pooled socket the server closed as idle.
    NoIdleReuseRace,
}

impl Invariant {
    /// Every invariant, in the order [`Run::check_all`](crate::setup::Run::check_all) reports
    /// them.
    pub const ALL: [Invariant; 7] = [
        Invariant::Ordering,
        Invariant::NoStall,
        Invariant::Shutdown,
        Invariant::FdLimit,
        Invariant::NoLostRequest,
        Invariant::BoundedTimeouts,
        Invariant::NoIdleReuseRace,
    ];

    /// The name the scenario format and the JSON output use (`no-stall`).
    pub fn name(self) -> &'static str {
        match self {
            Invariant::Ordering => "ordering",
            Invariant::NoStall => "no-stall",
            Invariant::Shutdown => "shutdown",
            Invariant::FdLimit => "fd-limit",
            Invariant::NoLostRequest => "no-lost-request",
            Invariant::BoundedTimeouts => "bounded-timeouts",
            Invariant::NoIdleReuseRace => "no-idle-reuse-race",
        }
    }

    /// Evaluates this invariant over `ctx`: a verdict, or "cannot judge" when the trace lacks
    /// the events it needs (see [`judge`]).
    pub fn check(self, ctx: &CheckContext) -> InvariantResult {
        if let Some(reason) = judge::cannot_judge(self.name(), ctx) {
            return InvariantResult {
                name: self.name().to_string(),
                passed: false,
                verdict: judge::Verdict::CannotJudge,
                reason: Some(reason),
                violations: vec![],
            };
        }
        let violations = match self {
            Invariant::Ordering => ordering::check(ctx),
            Invariant::NoStall => no_stall::check(ctx),
            Invariant::Shutdown => shutdown::check(ctx),
            Invariant::FdLimit => fd_limit::check(ctx),
            Invariant::NoLostRequest => no_lost_request::check(ctx),
            Invariant::BoundedTimeouts => bounded_timeouts::check(ctx),
            Invariant::NoIdleReuseRace => idle_reuse::check(ctx),
        };
        InvariantResult {
            name: self.name().to_string(),
            passed: violations.is_empty(),
            verdict: match violations.is_empty() {
                true => judge::Verdict::Pass,
                false => judge::Verdict::Violation,
            },
            reason: None,
            violations,
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no [`Invariant`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownInvariant(pub String);

impl fmt::Display for UnknownInvariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Invariant::ALL.iter().map(|i| i.name()).collect();
        write!(
            f,
            "unknown invariant {:?}, expected one of {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownInvariant {}

impl FromStr for Invariant {
    type Err = UnknownInvariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Invariant::ALL
            .into_iter()
            .find(|i| i.name() == s)
            .ok_or_else(|| UnknownInvariant(s.to_string()))
    }
}

/// Read from its name; an unknown name says which names exist (the scenario loader shows the
/// part after "expected" as the expected form).
impl<'de> Deserialize<'de> for Invariant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}
